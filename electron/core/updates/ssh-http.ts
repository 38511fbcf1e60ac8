/**
 * HTTP(S) from the server's side: each request goes through a direct-tcpip channel of the profile's one SSH
 * connection (SshConnection.forward), so the update check reaches exactly the registries the server reaches (a
 * registry on the server's loopback, a mirror on its LAN) and needs no program on the server: Debian's docker.io
 * 20.10 has no `docker buildx imagetools`, `docker manifest inspect` cannot list tags, and curl is not a dependency
 * of Docker. TLS is spoken here, end to end with the registry (SNI and certificate checked against its host name).
 * Not followed: a proxy the server's Docker daemon may be configured with.
 */
import http from 'node:http';
import https from 'node:https';
import type { HttpGet, HttpResponse } from './registry';
import { Unreachable } from './registry';

export interface Forwarder {
  forward(host: string, port: number): Promise<{ port: number; close: () => Promise<void> }>;
}

/** Answers larger than this are cut off and refused (a tag list of 10 000 tags is well under 1 MiB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
export const REQUEST_TIMEOUT_MS = 20_000;

/**
 * An HttpGet through the server, and `close` for the forwards it opened (one per host:port, kept for the check).
 * `direct` (tests) skips the SSH hop.
 */
export function serverHttp(conn: Forwarder, opts: { timeoutMs?: number } = {}): { get: HttpGet; close: () => Promise<void> } {
  const forwards = new Map<string, Promise<{ port: number; close: () => Promise<void> }>>();
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const get: HttpGet = async (url, { method, headers }) => {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') throw new Unreachable(`unsupported scheme ${url.protocol}`);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || (secure ? 443 : 80));
    const key = `${host}:${String(port)}`;
    let fwd = forwards.get(key);
    if (!fwd) {
      fwd = conn.forward(host, port);
      forwards.set(key, fwd);
    }
    const local = await fwd.catch((err: unknown) => {
      forwards.delete(key);
      throw new Unreachable(err instanceof Error ? err.message : String(err));
    });
    return request({ secure, port: local.port, servername: host, hostHeader: url.host, path: `${url.pathname}${url.search}`, method, headers, timeoutMs });
  };
  const close = async (): Promise<void> => {
    const all = [...forwards.values()];
    forwards.clear();
    await Promise.all(all.map((f) => f.then((x) => x.close(), () => undefined)));
  };
  return { get, close };
}

function request(o: { secure: boolean; port: number; servername: string; hostHeader: string; path: string; method: 'GET' | 'HEAD'; headers: Readonly<Record<string, string>>; timeoutMs: number }): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const common = { host: '127.0.0.1', port: o.port, path: o.path, method: o.method, headers: { ...o.headers, host: o.hostHeader, 'user-agent': 'M2-Companion-update-check' }, agent: false as const };
    const req = o.secure ? https.request({ ...common, servername: o.servername }) : http.request(common);
    const timer = setTimeout(() => req.destroy(new Unreachable(`no answer within ${String(Math.round(o.timeoutMs / 1000))} s`)), o.timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          clearTimeout(timer);
          req.destroy();
          reject(new Error(`the answer was larger than ${String(MAX_BODY_BYTES / 1024 / 1024)} MiB`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(new Unreachable(err.message));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err instanceof Unreachable) return reject(err);
      // A certificate the registry's name does not match (or no trusted issuer): the registry answered, wrongly.
      if (/^(ERR_TLS|CERT_|DEPTH_ZERO|UNABLE_TO_|SELF_SIGNED)/.test(err.code ?? '')) return reject(new Error(`its TLS certificate was refused (${err.code ?? ''})`));
      // A channel the server could not open closes the local socket at once: "socket hang up" / ECONNRESET.
      reject(new Unreachable(/hang up|ECONNRESET|EPIPE/.test(err.message) ? 'no connection from the server' : err.message));
    });
    req.end();
  });
}
