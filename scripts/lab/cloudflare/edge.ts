// Cloudflare's edge, played for the lab: an HTTP server on 127.0.0.1 that answers for the hostnames published
// through the API stand-in (by Host header), the way the real edge does (fallback-and-day2-facts §5):
//   no proxied CNAME for the name              → 530 "error code: 1001"
//   an Access application and no valid service token → 302 to <team>.cloudflareaccess.com (403 without a team);
//     the most specific application for host and path decides, and a bypass policy for everyone lets anyone in
//   the tunnel has no live connector          → 530 "error code: 1033"
//   the origin behind the ingress rule fails  → 502
//   otherwise                                 → the service's answer (proxied), or 200 as the app would answer
// Every answer carries `server: cloudflare` and `cf-ray: <16 hex>-LAB`. Faults: the edge refuses connections,
// resets them, or never answers.
//
// Whether a tunnel is live is the API stand-in's own record of connectors; `followCloudflared` keeps that record
// true to the lab's real cloudflared containers (Docker events: a started container with a tunnel token Cloudflare
// knows registers a connector, a stopped one drops it), so `docker stop` is what takes the tunnel down.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dockerApi, dockerSocket } from '../docker';
import type { StandInState, TunnelRecord } from './state';

export type EdgeFault = 'refuse' | 'reset' | 'hang';

export interface EdgeOptions {
  /** The API stand-in's state: DNS records, Access apps and policies, service tokens, tunnels and connectors. */
  state: StandInState;
  port?: number;
  host?: string;
  /**
   * Where an ingress rule's service answers as seen from this machine (e.g. http://jellyfin:8096 →
   * http://127.0.0.1:<published port>); null or absent: the edge answers 200 itself, as the app would.
   */
  origin?: (rule: { hostname: string; service: string }) => string | null;
}

export interface EdgeRequest {
  at: string;
  host: string;
  status: number | null;
  /** What decided the answer: dns, access, tunnel, origin, app, fault. */
  by: string;
  /** Whether a service token was sent (never its value). */
  serviceToken: boolean;
}

export interface EdgeStandIn {
  /** http://127.0.0.1:PORT — the probe's `connect` seam points here with tls: false. */
  url: string;
  host: string;
  port: number;
  fault(f: EdgeFault | null): Promise<void>;
  readonly currentFault: EdgeFault | null;
  requests: EdgeRequest[];
  close(): Promise<void>;
}

const ray = (): string => `${randomBytes(8).toString('hex')}-LAB`;

function liveConnectors(t: TunnelRecord): number {
  return t.clients.reduce((n, c) => n + (c.conns?.length ?? 0), 0);
}

/** The tunnel a proxied CNAME `<uuid>.cfargotunnel.com` for this host points at. */
function tunnelOf(state: StandInState, host: string): TunnelRecord | undefined {
  for (const { record } of state.dnsRecords.values()) {
    if (record.name?.toLowerCase() !== host || record.type !== 'CNAME' || record.proxied !== true) continue;
    const m = /^([0-9a-f-]{36})\.cfargotunnel\.com$/i.exec(String(record.content ?? ''));
    const t = m?.[1] ? state.tunnels.get(m[1]) : undefined;
    if (t && !t.tunnel.deleted_at) return t;
  }
  return undefined;
}

type Rule = { id?: string; service_token?: { token_id?: string }; any_valid_service_token?: unknown };

/** Whether Access lets this request through: a valid service token that a non_identity policy of the app names. */
/**
 * How long a prefix of this request an application's domain (`host` or `host/path`) covers; -1 when it does not.
 * The most specific application wins and nothing is inherited from the host-wide one (Cloudflare Zero Trust docs,
 * "Application paths"). Paths match whole segments, case-insensitively [UNVERIFIED]; no wildcards.
 */
function coverage(domain: string, host: string, path: string): number {
  const d = domain.toLowerCase().replace(/\/+$/, '');
  const slash = d.indexOf('/');
  const dHost = slash < 0 ? d : d.slice(0, slash);
  const dPath = slash < 0 ? '' : d.slice(slash);
  if (dHost !== host) return -1;
  const p = path.toLowerCase();
  return dPath === '' || p === dPath || p.startsWith(`${dPath}/`) ? dPath.length : -1;
}

/** Whether Access lets this request through: a bypass policy for everyone, or a valid service token a non_identity policy names. */
function accessDecision(state: StandInState, host: string, url: string, headers: http.IncomingHttpHeaders): { app: boolean; pass: boolean; team?: string; aud?: string } {
  const path = new URL(url, 'http://edge').pathname;
  const best = (a: { app: { domain: string; self_hosted_domains?: string[] } }): number =>
    Math.max(coverage(a.app.domain, host, path), ...(a.app.self_hosted_domains ?? []).map((d) => coverage(d, host, path)));
  const app = [...state.accessApps.values()].filter((a) => best(a) >= 0).sort((x, y) => best(y) - best(x))[0];
  if (!app) return { app: false, pass: true };
  const team = state.accounts.get(app.accountId)?.teamName;
  const linked = [
    ...app.policyLinks.map((l) => state.accessPolicies.get(l.id)?.policy),
    ...[...state.accessPolicies.values()].filter((p) => p.appId === app.app.id).map((p) => p.policy),
  ];
  if (linked.some((p) => p?.decision === 'bypass' && ((p.include ?? []) as Array<{ everyone?: unknown }>).some((r) => r.everyone !== undefined))) return { app: true, pass: true, team, aud: app.app.aud };
  const id = headers['cf-access-client-id'];
  const secret = headers['cf-access-client-secret'];
  if (typeof id !== 'string' || typeof secret !== 'string') return { app: true, pass: false, team, aud: app.app.aud };
  const token = [...state.serviceTokens.values()].find((t) => t.accountId === app.accountId && t.token.client_id === id && t.clientSecret === secret && t.token.enabled !== false);
  if (!token) return { app: true, pass: false, team, aud: app.app.aud };
  const pass = linked.some(
    (p) =>
      p?.decision === 'non_identity' &&
      ((p.include ?? []) as Rule[]).some((r) => r.service_token?.token_id === token.token.id || r.any_valid_service_token !== undefined),
  );
  return { app: true, pass, team, aud: app.app.aud };
}

function ingressFor(t: TunnelRecord, host: string): string | null {
  for (const r of t.config?.config.ingress ?? []) {
    const h = (r as { hostname?: string }).hostname;
    if (h === undefined || h === '' || h === '*' || h.toLowerCase() === host) return r.service;
  }
  return null;
}

export async function startEdgeStandIn(opts: EdgeOptions): Promise<EdgeStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const requests: EdgeRequest[] = [];
  let current: EdgeFault | null = null;

  const answer = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { server: 'cloudflare', 'cf-ray': ray(), 'content-type': 'text/plain; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const name = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const entry: EdgeRequest = { at: new Date().toISOString(), host: name, status: null, by: 'dns', serviceToken: typeof req.headers['cf-access-client-id'] === 'string' };
    requests.push(entry);
    if (requests.length > 5_000) requests.splice(0, requests.length - 5_000);
    const reply = (status: number, by: string, body: string, headers: Record<string, string> = {}): void => {
      entry.status = status;
      entry.by = by;
      answer(res, status, body, headers);
    };
    if (current === 'reset') {
      entry.by = 'fault';
      req.socket.destroy();
      return;
    }
    if (current === 'hang') {
      entry.by = 'fault';
      return;
    }
    const tunnel = tunnelOf(opts.state, name);
    if (!tunnel) return reply(530, 'dns', 'error code: 1001');
    const access = accessDecision(opts.state, name, req.url ?? '/', req.headers);
    if (!access.pass) {
      if (!access.team) return reply(403, 'access', 'Forbidden. Cloudflare Access', { 'cf-access-domain': name });
      const login = `https://${access.team}.cloudflareaccess.com/cdn-cgi/access/login/${name}?kid=${access.aud ?? ''}&redirect_url=${encodeURIComponent(req.url ?? '/')}`;
      return reply(302, 'access', '', { location: login, 'cf-access-domain': name });
    }
    if (liveConnectors(tunnel) === 0) return reply(530, 'tunnel', 'error code: 1033');
    const service = ingressFor(tunnel, name);
    if (service === null) return reply(502, 'origin', '<html><title>502 Bad Gateway</title></html>', { 'content-type': 'text/html' });
    const status = /^http_status:(\d{3})$/.exec(service);
    if (status?.[1]) return reply(Number(status[1]), 'origin', '');
    const target = opts.origin?.({ hostname: name, service }) ?? null;
    if (target === null) return reply(200, 'app', `<html><title>${name}</title>${service}</html>`, { 'content-type': 'text/html' });
    const u = new URL(req.url ?? '/', target);
    const up = http.request(u, { method: req.method, headers: { ...req.headers, host: u.host }, timeout: 5_000 }, (ores) => {
      entry.status = ores.statusCode ?? 502;
      entry.by = 'app';
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ores.headers)) if (v !== undefined && k !== 'connection' && k !== 'transfer-encoding') h[k] = v;
      res.writeHead(ores.statusCode ?? 502, { ...h, server: 'cloudflare', 'cf-ray': ray() });
      ores.pipe(res);
    });
    up.on('timeout', () => up.destroy(new Error('origin timeout')));
    up.on('error', () => reply(502, 'origin', '<html><title>502 Bad Gateway</title></html>', { 'content-type': 'text/html' }));
    req.pipe(up);
  };

  let server = http.createServer(handler);
  const track = (s: http.Server): void => {
    s.on('connection', (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
  };
  track(server);
  const listen = (s: http.Server, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
  const closeServer = (s: http.Server): Promise<void> =>
    new Promise((resolve) => {
      s.close(() => resolve());
      for (const sock of sockets) sock.destroy();
    });
  await listen(server, opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    host,
    port,
    requests,
    get currentFault() {
      return current;
    },
    async fault(f) {
      if (f === current) return;
      const wasRefusing = current === 'refuse';
      current = f;
      // Refused: nothing listens on the port; hung or reset connections are dropped when the fault ends.
      if (f === 'refuse') await closeServer(server);
      else if (wasRefusing) {
        server = http.createServer(handler);
        track(server);
        await listen(server, port);
      } else if (f === null) for (const sock of sockets) sock.destroy();
    },
    close: () => (current === 'refuse' ? Promise.resolve() : closeServer(server)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Connectors from the real lab

export interface CloudflaredFollower {
  /** Container ids registered as connectors now. */
  readonly connected: ReadonlySet<string>;
  stop(): void;
}

interface InspectedContainer {
  Id: string;
  State?: { Running?: boolean };
  Config?: { Env?: string[] };
}

/**
 * Keep the API stand-in's connectors true to the cloudflared containers of one Compose project: a running
 * container whose TUNNEL_TOKEN Cloudflare knows is a connector (client id = container id); when it dies, it is
 * gone. Follows Docker's event stream, so a `docker stop` shows at the edge within a moment.
 */
export async function followCloudflared(state: StandInState, project: string, service = 'cloudflared'): Promise<CloudflaredFollower> {
  const connected = new Set<string>();
  const labels = [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`];

  const connect = async (id: string): Promise<void> => {
    const r = await dockerApi('GET', `/containers/${encodeURIComponent(id)}/json`).catch(() => null);
    if (!r || r.status !== 200) return;
    const c = JSON.parse(r.body) as InspectedContainer;
    if (!c.State?.Running) return;
    const token = (c.Config?.Env ?? []).find((e) => e.startsWith('TUNNEL_TOKEN='))?.slice('TUNNEL_TOKEN='.length);
    const t = token ? state.tunnelForToken(token) : undefined;
    if (!t) return;
    state.connectTunnel(t.tunnel.id, { clientId: c.Id });
    connected.add(c.Id);
  };
  const disconnect = (id: string): void => {
    for (const t of state.tunnels.values()) if (t.clients.some((c) => c.id === id)) state.disconnectTunnel(t.tunnel.id, id);
    connected.delete(id);
  };

  const filters = encodeURIComponent(JSON.stringify({ type: ['container'], label: labels, event: ['start', 'die', 'destroy'] }));
  const events = http.request({ socketPath: dockerSocket, method: 'GET', path: `/events?filters=${filters}` });
  const ready = new Promise<void>((resolve, reject) => {
    events.on('response', (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            const e = JSON.parse(line) as { Action?: string; Actor?: { ID?: string } };
            const id = e.Actor?.ID;
            if (!id) continue;
            if (e.Action === 'start') void connect(id);
            else disconnect(id);
          } catch {
            // not a JSON line: ignored
          }
        }
      });
      resolve();
    });
    events.on('error', reject);
  });
  events.end();
  await ready;

  const listFilters = encodeURIComponent(JSON.stringify({ label: labels, status: ['running'] }));
  const list = await dockerApi('GET', `/containers/json?filters=${listFilters}`);
  for (const c of JSON.parse(list.body) as Array<{ Id: string }>) await connect(c.Id);

  return {
    connected,
    stop() {
      events.destroy();
    },
  };
}
