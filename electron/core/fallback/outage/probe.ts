/**
 * The outside-in angle of outage detection: one HTTPS request from this computer to a published hostname through
 * Cloudflare's edge, read the way the edge answers (fallback-and-day2-facts §5): 530 with error 1033 = the tunnel
 * is not connected; 502 = the tunnel is up but the service is not; a 302 to `<team>.cloudflareaccess.com` or a 403
 * = Access answered (the edge is fine, the tunnel unknown); anything else from the service = it answered. No
 * answer at all (DNS, TCP, TLS, timeout) = Cloudflare could not be reached.
 *
 * The Access service token rides in the CF-Access-Client-Id/Secret headers so Access lets the probe through to
 * the tunnel; it is never logged and never part of the result. Redirects are never followed.
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { ProbeOutcome, ProbeResult } from '../../../contract/fallback';
import type { Secret } from '../../secrets/secret';

export interface ProbeOptions {
  /** The Access service token that lets the probe through Access to the tunnel; without it Access answers. */
  serviceToken?: { id: string; secret: Secret };
  timeoutMs: number;
  /** Where "the edge" is: a test seam. The product resolves the hostname and speaks HTTPS on 443. */
  connect?: { host: string; port: number; tls: boolean };
  /** Resolves the hostname to an address (the product: the system resolver). */
  resolve?: (host: string) => Promise<string>;
  /** Path to ask for; the service's root by default. */
  path?: string;
  now?: () => Date;
}

/** How much of the body is read: enough for Cloudflare's error page to name its 1xxx code. */
const BODY_LIMIT = 64 * 1024;

const systemResolve = async (host: string): Promise<string> => (await lookup(host)).address;

/** Cloudflare's 1xxx code from an error page body ("error code: 1033", "Error 1033", `<span>1033</span>`). */
export function cfErrorCode(body: string): number | null {
  const m = /error(?:\s+code)?:?\s*(?:<[^>]*>\s*)*(1\d{3})\b/i.exec(body) ?? /\bcf-error-code[^0-9]{0,40}(1\d{3})\b/i.exec(body);
  return m?.[1] ? Number(m[1]) : null;
}

/** The edge location from `cf-ray: <hex>-<COLO>`. */
export function coloOf(cfRay: string | string[] | undefined): string | null {
  const v = Array.isArray(cfRay) ? cfRay[0] : cfRay;
  const m = /^[0-9a-f]+-([A-Z]{3,4})$/i.exec((v ?? '').trim());
  return m?.[1] ? m[1].toUpperCase() : null;
}

const isAccessLogin = (location: string | undefined): boolean => {
  if (!location) return false;
  try {
    const u = new URL(location, 'https://placeholder.invalid');
    return u.hostname.endsWith('.cloudflareaccess.com') || u.pathname.startsWith('/cdn-cgi/access/');
  } catch {
    return false;
  }
};

/** Read an HTTP answer the way the edge means it. Pure, for tests and for the probe. */
export function classifyAnswer(a: { status: number; headers: http.IncomingHttpHeaders; body: string }): { outcome: ProbeOutcome; cfError: number | null; detail: string } {
  const cfError = cfErrorCode(a.body);
  const location = typeof a.headers.location === 'string' ? a.headers.location : undefined;
  const fromCloudflare = String(a.headers.server ?? '').toLowerCase() === 'cloudflare' || a.headers['cf-ray'] !== undefined;
  // 530 carries the tunnel's 1033 (or no code at all); another 1xxx (1001 DNS, 1016 origin DNS…) is the edge's own.
  if (cfError === 1033 || (a.status === 530 && cfError === null)) {
    return { outcome: 'tunnel-error', cfError: cfError ?? null, detail: `Cloudflare answered ${a.status}${cfError ? ` (error ${cfError})` : ''}: the tunnel is not connected.` };
  }
  if (a.status === 502 && fromCloudflare) {
    return { outcome: 'origin-error', cfError, detail: 'Cloudflare reached the tunnel, but the service behind it did not answer (502).' };
  }
  if (a.status >= 300 && a.status < 400 && isAccessLogin(location)) {
    return { outcome: 'access-login', cfError, detail: 'Cloudflare Access answered with its sign-in page: the edge is up; the tunnel cannot be seen from here.' };
  }
  if (a.status === 403 && fromCloudflare && (a.headers['cf-access-domain'] !== undefined || /access/i.test(a.body))) {
    return { outcome: 'access-login', cfError, detail: 'Cloudflare Access refused the probe (403): the edge is up; the tunnel cannot be seen from here.' };
  }
  if (a.status >= 500 && fromCloudflare) {
    return { outcome: 'edge-error', cfError, detail: `Cloudflare answered ${a.status}${cfError ? ` (error ${cfError})` : ''}.` };
  }
  return { outcome: 'app', cfError, detail: `The service answered (${a.status}) through Cloudflare.` };
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;

/** Probe one published hostname. Never throws: every way it can go wrong is an outcome. */
export async function probeHostname(hostname: string, opts: ProbeOptions): Promise<ProbeResult> {
  const now = opts.now ?? (() => new Date());
  const started = Date.now();
  const at = now().toISOString();
  const result = (outcome: ProbeOutcome, detail: string, extra: Partial<ProbeResult> = {}): ProbeResult => ({
    hostname,
    outcome,
    httpStatus: null,
    cfError: null,
    colo: null,
    detail,
    latencyMs: Date.now() - started,
    at,
    ...extra,
  });
  const deadline = AbortSignal.timeout(opts.timeoutMs);

  let address: string;
  if (opts.connect) address = opts.connect.host;
  else {
    try {
      address = await Promise.race([
        (opts.resolve ?? systemResolve)(hostname),
        new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), { once: true })),
      ]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      return result('dns-failure', `${hostname} could not be resolved${code ? ` (${code})` : ''}.`, { latencyMs: null });
    }
  }
  if (opts.resolve && opts.connect) {
    // A resolver given with a fixed edge still decides whether the name exists (tests of DNS failures).
    try {
      await opts.resolve(hostname);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      return result('dns-failure', `${hostname} could not be resolved${code ? ` (${code})` : ''}.`, { latencyMs: null });
    }
  }
  const tls = opts.connect?.tls ?? true;
  const port = opts.connect?.port ?? 443;
  const headers: Record<string, string> = { host: hostname, 'user-agent': 'M2-Companion-outage-probe', accept: 'text/html,application/json;q=0.9,*/*;q=0.8', 'cache-control': 'no-cache' };
  if (opts.serviceToken) {
    headers['cf-access-client-id'] = opts.serviceToken.id;
    headers['cf-access-client-secret'] = opts.serviceToken.secret.reveal();
  }

  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let phase: 'connect' | 'tls' | 'answer' = 'connect';
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const reqOpts: https.RequestOptions = {
      host: address,
      port,
      path: opts.path ?? '/',
      method: 'GET',
      headers,
      servername: tls && !/^[\d.:]+$/.test(hostname) ? hostname : undefined,
      agent: false,
    };
    const req = (tls ? https : http).request(reqOpts, (res) => {
      phase = 'answer';
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (): void => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        const c = classifyAnswer({ status, headers: res.headers, body });
        done(result(c.outcome, c.detail, { httpStatus: status, cfError: c.cfError, colo: coloOf(res.headers['cf-ray']) }));
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        if (size < BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
        if (size >= BODY_LIMIT) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('socket', (s) => {
      s.once('connect', () => {
        phase = tls ? 'tls' : 'answer';
      });
      s.once('secureConnect', () => {
        phase = 'answer';
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (TLS_CODES.test(code) || phase === 'tls') done(result('tls-failure', `The TLS handshake with Cloudflare for ${hostname} failed${code ? ` (${code})` : ''}.`));
      else if (phase === 'connect') done(result('connect-failure', `Cloudflare's edge for ${hostname} could not be reached${code ? ` (${code})` : ''}.`));
      else done(result('connect-failure', `Cloudflare's edge dropped the connection for ${hostname}${code ? ` (${code})` : ''}.`));
    });
    const timer = setTimeout(() => {
      const when = phase === 'connect' ? 'connecting' : phase === 'tls' ? 'in the TLS handshake' : 'waiting for an answer';
      done(result('timeout', `No answer for ${hostname} within ${(opts.timeoutMs / 1000).toFixed(1)} s (${when}).`));
      req.destroy();
    }, Math.max(1, opts.timeoutMs - (Date.now() - started)));
    req.end();
  });
}
