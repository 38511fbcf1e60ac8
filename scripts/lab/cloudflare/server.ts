// The Cloudflare API stand-in: a small stateful HTTP server (node:http) serving the v4 endpoints the app
// calls under /client/v4, with fault injection and a request log, plus lab control endpoints under /__lab/.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CfError, compile, type CompiledRoute, type Ctx, isObj } from './api';
import { Faults, RequestLog, parseFaultSpec } from './faults';
import { satisfies } from './permissions';
import { accessRoutes } from './routes-access';
import { accountRoutes } from './routes-accounts';
import { dnsRoutes } from './routes-dns';
import { tunnelRoutes } from './routes-tunnels';
import { StandInState, defaultSeed, fingerprint, type TokenRecord } from './state';
import type { ActiveFault, Envelope, FaultSpec, RequestFilter, ResponseInfo, StandInSeed } from './types';

export const API_PREFIX = '/client/v4';
export const CONTROL_PREFIX = '/__lab';
const MAX_BODY = 1024 * 1024;

export interface CloudflareStandInOptions {
  /** Port on 127.0.0.1; default: any free port. */
  port?: number;
  host?: string;
  /** Initial accounts/zones/tokens; default: defaultSeed(). `reset()` returns to it. */
  seed?: StandInSeed;
}

export interface FaultsApi {
  /** Queue a fault (see FaultSpec); returns it with its id. */
  add(spec: FaultSpec): ActiveFault;
  remove(id: number): boolean;
  list(): ActiveFault[];
  clear(): void;
  /** Every API request fails at the network level (socket destroyed) until networkDown(false). */
  networkDown(on: boolean): void;
}

export interface RequestsApi {
  all(): ReturnType<RequestLog['all']>;
  filter(f?: RequestFilter): ReturnType<RequestLog['filter']>;
  count(f?: RequestFilter): number;
  clear(): void;
}

export interface CloudflareStandIn {
  /** SDK baseURL, e.g. http://127.0.0.1:PORT/client/v4 */
  url: string;
  /** http://127.0.0.1:PORT/__lab */
  controlUrl: string;
  port: number;
  state: StandInState;
  /** label → bearer value of the seeded tokens (lab-only values). */
  tokens: Record<string, string>;
  faults: FaultsApi;
  requests: RequestsApi;
  /** Back to the initial seed; clears faults and the request log. */
  reset(seed?: StandInSeed): void;
  close(): Promise<void>;
}

const envelopeError = (errors: ResponseInfo[]): Envelope<null> => ({ success: false, errors, messages: [], result: null });

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new CfError(413, 10000, 'Request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startCloudflareStandIn(opts: CloudflareStandInOptions = {}): Promise<CloudflareStandIn> {
  const state = new StandInState(opts.seed ?? defaultSeed());
  const faults = new Faults();
  const log = new RequestLog();
  const routes: CompiledRoute[] = [...accountRoutes, ...tunnelRoutes, ...dnsRoutes, ...accessRoutes].map(compile);
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const tokenLabel = (auth: string | undefined): { label: string | null; token?: TokenRecord } => {
    const m = /^Bearer\s+(.+)$/i.exec(auth ?? '');
    if (!m?.[1]) return { label: auth ? `unknown:${fingerprint(auth)}` : null };
    const token = state.tokens.get(m[1].trim());
    return token ? { label: token.name, token } : { label: `unknown:${fingerprint(m[1].trim())}` };
  };

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams, rawQuery: string): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const { label, token } = tokenLabel(req.headers.authorization);
    const entry = log.start({ method, path, query: rawQuery, token: label });
    const started = Date.now();
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      entry.durationMs = Date.now() - started;
      send(res, status, body, headers);
    };
    const fail = (e: CfError): void => reply(e.status, envelopeError([{ code: e.code, message: e.message }]), e.headers);

    // Read the body as it arrives, as a real server does: a request delayed by a fault is still carried out after
    // its client has gone (an answer lost in flight), which is what a retry or a cancel must cope with.
    const bodyText = method === 'POST' || method === 'PUT' || method === 'PATCH' ? readBody(req) : Promise.resolve('');
    bodyText.catch(() => undefined);
    const fault = faults.take(method, path);
    if (fault) {
      entry.fault = fault.kind;
      if (fault.delayMs) await sleep(fault.delayMs);
      switch (fault.kind) {
        case 'networkDown':
          entry.durationMs = Date.now() - started;
          req.socket.destroy();
          return;
        case 'hang':
          return; // never answered; close() destroys the socket
        case 'unauthorized':
          return fail(new CfError(401, fault.code ?? 10000, fault.message ?? 'Authentication error'));
        case 'forbidden':
          return fail(new CfError(403, fault.code ?? 10000, fault.message ?? `Authentication error: the API token lacks the "${fault.permission ?? 'required'}" permission`));
        case 'rateLimited': {
          const headers: Record<string, string> = { 'retry-after': String(fault.retryAfter ?? 1) };
          if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
          return fail(new CfError(429, fault.code ?? 971, fault.message ?? 'Please wait and consider throttling your request speed', headers));
        }
        case 'serverError':
          return fail(new CfError(fault.status ?? 500, fault.code ?? 10001, fault.message ?? 'Internal server error'));
        case 'delay':
          break; // answer normally below
      }
    }

    try {
      let matched: { route: CompiledRoute; params: Record<string, string> } | undefined;
      let pathKnown = false;
      for (const r of routes) {
        const m = r.re.exec(path);
        if (!m) continue;
        pathKnown = true;
        if (r.method !== method) continue;
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
        matched = { route: r, params };
        break;
      }
      if (!token) {
        throw req.headers.authorization
          ? new CfError(401, 10000, 'Authentication error')
          : new CfError(401, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
      }
      if (!matched) throw pathKnown ? new CfError(405, 10405, `Method ${method} not allowed for ${path}`) : new CfError(404, 7000, 'No route for that URI');
      const { route: r, params } = matched;
      if (token.status !== 'active' && !r.allowInactive) throw new CfError(401, 10000, 'Authentication error');

      // Scope: the account (or the zone's account) must exist and be one this token may touch.
      const accountId = params.account_id ?? (params.zone_id ? state.zones.get(params.zone_id)?.account.id : undefined);
      if (params.account_id !== undefined && !state.accounts.has(params.account_id)) {
        throw new CfError(404, 7003, `Could not route to /accounts/${params.account_id}, perhaps your object identifier is invalid?`);
      }
      if (params.zone_id !== undefined && accountId === undefined) {
        throw new CfError(404, 7003, `Could not route to /zones/${params.zone_id}, perhaps your object identifier is invalid?`);
      }
      if (accountId !== undefined && token.accountIds && !token.accountIds.includes(accountId) && !r.allowInactive) {
        throw new CfError(403, 9109, 'Unauthorized to access requested resource');
      }
      if (r.need && !satisfies(token.permissions, r.need)) {
        throw new CfError(403, 10000, `Authentication error: the API token lacks the "${r.need.name}" permission`);
      }

      let body: Record<string, unknown> = {};
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
        const text = await bodyText;
        if (text.trim() !== '') {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            throw new CfError(400, 6007, 'Malformed JSON in request body');
          }
          if (!isObj(parsed)) throw new CfError(400, 6007, 'Request body must be a JSON object');
          body = parsed;
        }
      }
      const ctx: Ctx = { method, path, params, query, body, token, state };
      const out = r.handler(ctx);
      const envelope: Envelope<unknown> = { success: true, errors: [], messages: [], result: out.result };
      if (out.result_info) envelope.result_info = out.result_info;
      reply(out.status ?? 200, envelope);
    } catch (e) {
      if (e instanceof CfError) return fail(e);
      console.error('[cloudflare stand-in] handler error:', e);
      fail(new CfError(500, 10001, `stand-in bug: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const ok = (result: unknown): void => send(res, 200, { ok: true, result });
    const bad = (status: number, message: string): void => send(res, status, { ok: false, error: message });
    let body: unknown;
    if (method === 'POST' || method === 'PUT') {
      const text = await readBody(req);
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        return bad(400, 'malformed JSON');
      }
    }
    const filterFromQuery = (): RequestFilter => ({
      method: query.get('method') ?? undefined,
      path: query.get('path') ?? undefined,
      status: query.get('status') === null ? undefined : Number(query.get('status')),
      token: query.get('token') ?? undefined,
    });
    try {
      const key = `${method} ${path}`;
      let m: RegExpExecArray | null;
      if (key === 'GET /health') return ok({ url: standIn.url });
      if (key === 'GET /state') return ok(state.snapshot());
      if (key === 'POST /reset') {
        standIn.reset(isObj(body) && isObj(body.seed) ? (body.seed as StandInSeed) : undefined);
        return ok(null);
      }
      if (key === 'POST /seed') {
        if (!isObj(body)) return bad(400, 'seed must be an object');
        state.seed(body as StandInSeed);
        return ok({ tokens: Object.keys(state.tokenValues()) });
      }
      if (key === 'GET /faults') return ok(faults.list());
      if (key === 'POST /faults') {
        const specs = Array.isArray(body) ? body : [body];
        return ok(specs.map((s) => faults.add(parseFaultSpec(s))));
      }
      if (key === 'DELETE /faults') {
        faults.clear();
        return ok(null);
      }
      if ((m = /^DELETE \/faults\/(\d+)$/.exec(key))) return ok(faults.remove(Number(m[1])));
      if (key === 'POST /network') {
        faults.networkDown(isObj(body) && body.down === true);
        return ok(faults.list());
      }
      if (key === 'GET /requests') return ok(log.filter(filterFromQuery()));
      if (key === 'GET /requests/count') return ok(log.count(filterFromQuery()));
      if (key === 'DELETE /requests') {
        log.clear();
        return ok(null);
      }
      // Simulate connectors: by tunnel token (what a cloudflared stand-in holds) or by tunnel id.
      if (key === 'POST /tunnels/connect') {
        if (!isObj(body)) return bad(400, 'body must be an object');
        const t =
          typeof body.token === 'string' ? state.tunnelForToken(body.token) : typeof body.tunnel_id === 'string' ? state.tunnels.get(body.tunnel_id) : undefined;
        if (!t) return bad(404, 'no live tunnel for that token / tunnel_id');
        const client = state.connectTunnel(t.tunnel.id, {
          conns: typeof body.conns === 'number' ? body.conns : undefined,
          version: typeof body.version === 'string' ? body.version : undefined,
          clientId: typeof body.client_id === 'string' ? body.client_id : undefined,
        });
        return ok({ tunnel_id: t.tunnel.id, account_tag: t.accountId, client_id: client.id, config: t.config ?? null });
      }
      if (key === 'POST /tunnels/disconnect') {
        if (!isObj(body)) return bad(400, 'body must be an object');
        const t =
          typeof body.token === 'string' ? state.tunnelForToken(body.token) : typeof body.tunnel_id === 'string' ? state.tunnels.get(body.tunnel_id) : undefined;
        if (!t) return bad(404, 'no tunnel for that token / tunnel_id');
        state.disconnectTunnel(t.tunnel.id, typeof body.client_id === 'string' ? body.client_id : undefined);
        return ok(state.tunnelView(t));
      }
      if (key === 'POST /tunnels/config') {
        // What a cloudflared stand-in would pull: the remote ingress for its token.
        const t = isObj(body) && typeof body.token === 'string' ? state.tunnelForToken(body.token) : undefined;
        if (!t) return bad(404, 'no live tunnel for that token');
        return ok({ tunnel_id: t.tunnel.id, version: t.config?.version ?? 0, config: t.config?.config ?? null });
      }
      return bad(404, `no control endpoint ${method} ${CONTROL_PREFIX}${path}`);
    } catch (e) {
      return bad(400, e instanceof Error ? e.message : String(e));
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const p = url.pathname;
    const rawQuery = url.search.replace(/^\?/, '');
    let work: Promise<void>;
    if (p === API_PREFIX || p.startsWith(`${API_PREFIX}/`)) work = handleApi(req, res, p.slice(API_PREFIX.length) || '/', url.searchParams, rawQuery);
    else if (p.startsWith(`${CONTROL_PREFIX}/`)) work = handleControl(req, res, p.slice(CONTROL_PREFIX.length), url.searchParams);
    else {
      send(res, 404, envelopeError([{ code: 7000, message: 'No route for that URI' }]));
      return;
    }
    work.catch((e: unknown) => {
      if (e instanceof CfError) send(res, e.status, envelopeError([{ code: e.code, message: e.message }]));
      else send(res, 500, envelopeError([{ code: 10001, message: String(e) }]));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const standIn: CloudflareStandIn = {
    url: `${origin}${API_PREFIX}`,
    controlUrl: `${origin}${CONTROL_PREFIX}`,
    port,
    state,
    get tokens() {
      return state.tokenValues();
    },
    faults: {
      add: (spec) => faults.add(spec),
      remove: (id) => faults.remove(id),
      list: () => faults.list(),
      clear: () => faults.clear(),
      networkDown: (on) => faults.networkDown(on),
    },
    requests: {
      all: () => log.all(),
      filter: (f) => log.filter(f),
      count: (f) => log.count(f),
      clear: () => log.clear(),
    },
    reset(seed) {
      state.reset(seed);
      faults.clear();
      log.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
  return standIn;
}
