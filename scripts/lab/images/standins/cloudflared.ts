/**
 * cloudflared stand-in (image cloudflare/cloudflared): the CLI shape the compose file and healthcheck use
 * (`cloudflared --no-autoupdate tunnel --metrics 0.0.0.0:2000 run`, `cloudflared tunnel --metrics 127.0.0.1:2000 ready`,
 * `version`), the remotely-managed token from --token / TUNNEL_TOKEN / --token-file / TUNNEL_TOKEN_FILE, and the
 * metrics server (/ready, /healthcheck, /metrics) per stack-facts §3. Edge connections are simulated and set by tests.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { HttpError, env, handleControl, labStartupSwitches, parseFlags, patchField, promMetric, send, sendJson, serve, tcpReachable, imageTag } from './lib/common';

const version = imageTag(pinnedImages.cloudflared.tag);
const valued = new Set([
  'metrics', 'token', 'token-file', 'loglevel', 'transport-loglevel', 'logfile', 'log-directory', 'protocol', 'edge-ip-version',
  'region', 'origincert', 'credentials-file', 'cred-file', 'config', 'url', 'ha-connections', 'grace-period', 'retries',
  'edge-bind-address', 'tag', 'label', 'pidfile', 'autoupdate-freq', 'metrics-update-freq', 'output', 'features',
  'compression-quality', 'max-edge-addr-retries', 'icmpv4-src', 'icmpv6-src', 'management-hostname', 'service-op-ip', 'name',
  'hostname', 'origin-server-name', 'http-host-header', 'origin-ca-pool', 'unix-socket', 'connect-timeout', 'tls-timeout',
  'tcp-keepalive', 'keepalive-connections', 'keepalive-timeout', 'proxy-connect-timeout', 'rpc-timeout', 'write-stream-timeout',
  'dns-resolver-addrs', 'max-active-flows', 'edge',
]);
const bools = new Set([
  'no-autoupdate', 'no-tls-verify', 'post-quantum', 'pq', 'management-diagnostics', 'no-prechecks', 'no-chunked-encoding',
  'overwrite-dns', 'is-autoupdated', 'quick-service', 'ui', 'help', 'h', 'version', 'v', 'disable-chunked-encoding', 'http2-origin',
  'no-happy-eyeballs', 'bastion', 'socks5',
]);

const log = (level: 'INF' | 'WRN' | 'ERR', msg: string): void => {
  process.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${level} ${msg}\n`);
};

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

interface TunnelToken {
  a: string;
  t: string;
  s: string;
  e?: string;
}

/** connection/connection.go TunnelToken: base64 of JSON {a,t,s[,e]} with t a UUID and s base64 bytes. */
export function decodeToken(raw: string): TunnelToken | undefined {
  try {
    const text = Buffer.from(raw.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const v = JSON.parse(text) as Partial<TunnelToken>;
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    if (typeof v.a !== 'string' || v.a === '' || typeof v.t !== 'string' || !uuid.test(v.t)) return undefined;
    if (typeof v.s !== 'string' || v.s === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v.s)) return undefined;
    return { a: v.a, t: v.t, s: v.s, ...(typeof v.e === 'string' ? { e: v.e } : {}) };
  } catch {
    return undefined;
  }
}

// ---- simulated edge ----
interface Conn {
  index: number;
  id: string;
  location: string;
  ip: string;
  up: boolean;
}
const state = {
  healthy: true,
  tokenAccepted: true,
  targetConnections: 4,
  totalRequests: 0,
  requestErrors: 0,
  rttMs: 23,
  registrations: 0,
  locations: ['fra08', 'ams01', 'fra10', 'ams08'],
};
const connectorId = randomUUID();
const conns: Conn[] = [];
let connectDelayMs = Number(env('M2_STANDIN_CONNECT_DELAY_MS', '300'));
let reconcileTimer: NodeJS.Timeout | undefined;

const active = (): Conn[] => conns.filter((c) => c.up);

function reconcile(): void {
  const want = state.tokenAccepted ? Math.max(0, Math.min(4, state.targetConnections)) : 0;
  const up = active();
  if (up.length > want) {
    for (const c of up.slice(want)) {
      c.up = false;
      log('ERR', `Connection terminated error="lab: edge connection dropped" connIndex=${c.index}`);
    }
    return;
  }
  if (up.length < want) {
    // Bring connections up one at a time, like the supervisor registering them in turn.
    let c = conns.find((x) => !x.up);
    if (!c) {
      c = { index: conns.length, id: randomUUID(), location: '', ip: '', up: false };
      conns.push(c);
    }
    c.up = true;
    c.id = randomUUID();
    c.location = state.locations[c.index % state.locations.length] ?? 'fra08';
    c.ip = `198.41.${c.index % 2 === 0 ? 192 : 200}.${7 + c.index * 20}`;
    state.registrations++;
    log('INF', `Registered tunnel connection connIndex=${c.index} connection=${c.id} event=0 ip=${c.ip} location=${c.location} protocol=quic`);
    if (active().length < want) scheduleReconcile(connectDelayMs / 4);
  }
}

function scheduleReconcile(ms: number): void {
  if (reconcileTimer) clearTimeout(reconcileTimer);
  reconcileTimer = setTimeout(() => {
    reconcileTimer = undefined;
    reconcile();
  }, ms);
}

function metricsText(): string {
  const up = active();
  const ok = Math.max(0, state.totalRequests - state.requestErrors);
  return (
    [
      promMetric('build_info', 'gauge', 'Build and version information', [{ labels: { goversion: 'go1.24.6', revision: `${version}-standin`, type: '', version }, value: 1 }]),
      promMetric('cloudflared_tunnel_ha_connections', 'gauge', 'Number of active ha connections', [{ value: up.length }]),
      promMetric('cloudflared_tunnel_total_requests', 'counter', 'Amount of requests proxied through all the tunnels', [{ value: state.totalRequests }]),
      promMetric('cloudflared_tunnel_request_errors', 'counter', 'Count of error proxying to origin', [{ value: state.requestErrors }]),
      promMetric('cloudflared_tunnel_concurrent_requests_per_tunnel', 'gauge', 'Concurrent requests proxied through each tunnel', [{ value: 0 }]),
      promMetric('cloudflared_tunnel_response_by_code', 'counter', 'Count of responses by HTTP status code', [
        { labels: { status_code: '200' }, value: ok },
        ...(state.requestErrors > 0 ? [{ labels: { status_code: '502' }, value: state.requestErrors }] : []),
      ]),
      // Like the real gauge: a connection's last location stays set after it drops; read ha_connections for liveness.
      promMetric(
        'cloudflared_tunnel_server_locations',
        'gauge',
        'Where each tunnel is connected to. 1 means current location, 0 means previous locations.',
        conns.filter((c) => c.location !== '').map((c) => ({ labels: { connection_id: String(c.index), edge_location: c.location }, value: 1 })),
      ),
      promMetric('cloudflared_tunnel_tunnel_register_success', 'counter', 'Count of successful tunnel registrations', [
        { labels: { rpcName: 'register_connection' }, value: state.registrations },
      ]),
      promMetric('cloudflared_orchestration_config_version', 'gauge', 'Configuration Version', [{ value: 1 }]),
      promMetric('quic_client_smoothed_rtt', 'gauge', 'Calculated smoothed RTT measured on a connection in millisec', up.map((c) => ({ labels: { conn_index: String(c.index) }, value: state.rttMs + c.index }))),
      promMetric('quic_client_latest_rtt', 'gauge', 'Latest RTT measured on a connection', up.map((c) => ({ labels: { conn_index: String(c.index) }, value: state.rttMs + c.index }))),
      promMetric('quic_client_min_rtt', 'gauge', 'Lowest RTT measured on a connection in millisec', up.map((c) => ({ labels: { conn_index: String(c.index) }, value: Math.max(1, state.rttMs - 3) }))),
      promMetric('quic_client_total_connections', 'counter', 'Number of connections initiated', [{ value: state.registrations }]),
    ].join('\n') + '\n'
  );
}

function controlGet(): Record<string, unknown> {
  return {
    healthy: state.healthy,
    tokenAccepted: state.tokenAccepted,
    connections: active().length,
    targetConnections: state.targetConnections,
    totalRequests: state.totalRequests,
    requestErrors: state.requestErrors,
    edgeLocations: state.locations,
    rttMs: state.rttMs,
    connectorId,
  };
}

function controlSet(patch: Record<string, unknown>): void {
  const connections = patchField(patch, 'connections', 'number');
  if (connections !== undefined && (connections < 0 || connections > 4 || !Number.isInteger(connections))) throw new HttpError(400, 'connections must be an integer 0..4');
  const fields = {
    healthy: patchField(patch, 'healthy', 'boolean'),
    tokenAccepted: patchField(patch, 'tokenAccepted', 'boolean'),
    totalRequests: patchField(patch, 'totalRequests', 'number'),
    requestErrors: patchField(patch, 'requestErrors', 'number'),
    addRequests: patchField(patch, 'addRequests', 'number'),
    addErrors: patchField(patch, 'addErrors', 'number'),
    rttMs: patchField(patch, 'rttMs', 'number'),
    connectDelayMs: patchField(patch, 'connectDelayMs', 'number'),
  };
  if ('edgeLocations' in patch) {
    const l = patch.edgeLocations;
    if (!Array.isArray(l) || l.length === 0 || l.some((x) => typeof x !== 'string')) throw new HttpError(400, 'edgeLocations must be a non-empty array of strings');
    state.locations = l as string[];
  }
  if (fields.healthy !== undefined) state.healthy = fields.healthy;
  if (fields.tokenAccepted !== undefined) state.tokenAccepted = fields.tokenAccepted;
  if (fields.totalRequests !== undefined) state.totalRequests = fields.totalRequests;
  if (fields.requestErrors !== undefined) state.requestErrors = fields.requestErrors;
  // Each error is also a request, as in the real counters.
  if (fields.addRequests !== undefined) state.totalRequests += fields.addRequests;
  if (fields.addErrors !== undefined) {
    state.totalRequests += fields.addErrors;
    state.requestErrors += fields.addErrors;
  }
  if (fields.rttMs !== undefined) state.rttMs = fields.rttMs;
  if (fields.connectDelayMs !== undefined) connectDelayMs = fields.connectDelayMs;
  if (connections !== undefined) state.targetConnections = connections;
  // Drops apply at once; new connections register immediately, one after another.
  while (active().length > (state.tokenAccepted ? state.targetConnections : 0)) reconcile();
  while (active().length < (state.tokenAccepted ? state.targetConnections : 0)) reconcile();
  if (!state.tokenAccepted && fields.tokenAccepted === false) log('ERR', 'Register tunnel error from server side error="Unauthorized: Invalid tunnel secret"');
}

async function metricsHandler(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (await handleControl(req, res, url, { get: controlGet, set: controlSet })) return;
  switch (url.pathname) {
    case '/ready': {
      const n = active().length;
      return sendJson(res, n > 0 ? 200 : 503, { status: n > 0 ? 200 : 503, readyConnections: n, connectorId });
    }
    case '/healthcheck':
      return send(res, state.healthy ? 200 : 503, state.healthy ? 'OK\n' : 'unhealthy\n', { 'content-type': 'text/plain; charset=utf-8' });
    case '/metrics':
      return send(res, 200, metricsText(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    case '/quicktunnel':
      return sendJson(res, 200, { hostname: '' });
    case '/config':
      return sendJson(res, 200, { version: 1, config: { ingress: [{ service: 'http_status:404' }], 'warp-routing': { enabled: false } } });
    case '/debug/pprof/cmdline':
      return send(res, 403, 'forbidden\n');
  }
}

/** Default metrics address of a container build: the first free of 0.0.0.0:20241..20245. */
async function defaultMetricsAddress(): Promise<string> {
  for (let p = 20241; p <= 20245; p++) if (!(await tcpReachable('127.0.0.1', p, 300))) return `0.0.0.0:${p}`;
  return '0.0.0.0:0';
}

function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host: host === 'localhost' ? '127.0.0.1' : host, port: Number(addr.slice(i + 1)) };
}

function readToken(flags: Map<string, string>): string | undefined {
  const direct = flags.get('token') ?? (env('TUNNEL_TOKEN') || undefined);
  if (direct !== undefined) return direct;
  const file = flags.get('token-file') ?? (env('TUNNEL_TOKEN_FILE') || undefined);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    return fail(`Failed to read token file ${file}: ${(err as Error).message}`);
  }
}

async function tunnelRun(flags: Map<string, string>, positional: string[]): Promise<void> {
  const raw = readToken(flags);
  if (raw === undefined) {
    if (positional.length === 0) {
      fail('"cloudflared tunnel run" requires the ID or name of the tunnel to run as the last command line argument or in the configuration file.\nSee \'cloudflared tunnel run --help\'.');
    }
    fail(`Cannot determine default origin certificate path. No file cert.pem in [~/.cloudflared ~/.cloudflare-warp ~/cloudflare-warp /etc/cloudflared /usr/local/etc/cloudflared]. You need to specify the origin certificate path by specifying the origincert option in the configuration file, or set TUNNEL_ORIGIN_CERT environment variable originCertPath=`);
  }
  const token = decodeToken(raw);
  if (!token) fail('Provided Tunnel token is not valid.');
  state.healthy = labStartupSwitches().healthy;
  const metricsAddr = flags.get('metrics') ?? (env('TUNNEL_METRICS') || (await defaultMetricsAddress()));
  const { host, port } = splitHostPort(metricsAddr);
  log('INF', `Starting tunnel tunnelID=${token.t}`);
  log('INF', `Version ${version} (Checksum standin)`);
  log('INF', 'GOOS: linux, GOVersion: go1.24.6, GoArch: amd64');
  log('INF', `Generated Connector ID: ${connectorId}`);
  const server = await serve(port, host, metricsHandler);
  const addr = server.address();
  log('INF', `Starting metrics server on ${typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : metricsAddr}/metrics`);
  log('INF', 'Initial protocol quic');
  const want = Number(env('M2_STANDIN_CONNECTIONS', '4'));
  state.targetConnections = Number.isInteger(want) && want >= 0 && want <= 4 ? want : 4;
  scheduleReconcile(connectDelayMs / 4);
}

async function tunnelReady(flags: Map<string, string>): Promise<void> {
  const metrics = flags.get('metrics') ?? (env('TUNNEL_METRICS') || undefined);
  if (!metrics) fail('--metrics has to be provided');
  const { host, port } = splitHostPort(metrics);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/ready`;
  await new Promise<void>((resolve) => {
    const req = http.get(url, { timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) process.exit(0);
        fail(`http://${metrics}/ready endpoint returned status code ${res.statusCode ?? 0}\n${Buffer.concat(chunks).toString('utf8')}`);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      fail(`Get "http://${metrics}/ready": ${err.message}`);
      resolve();
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { flags, rest, unknown } = parseFlags(argv, valued, bools);
  if (unknown.length > 0) fail(`Incorrect Usage: flag provided but not defined: -${(unknown[0] ?? '').replace(/^-+/, '').split('=')[0] ?? ''}`);
  const [cmd, sub, ...positional] = rest;
  if (flags.has('version') || flags.has('v') || cmd === 'version') {
    process.stdout.write(`cloudflared version ${version} (built 2026-08-20-1200 UTC)\n`);
    return;
  }
  if (cmd === undefined || cmd === 'help' || flags.has('help') || flags.has('h')) {
    process.stdout.write('NAME:\n   cloudflared - Cloudflare\'s command-line tool and agent\n\nCOMMANDS:\n   tunnel   Use Cloudflare Tunnel to expose private services to the Internet or to Cloudflare connected private users.\n   version  Print the version\n');
    return;
  }
  if (cmd === 'update') fail('cloudflared was installed by a package manager. Please update using the same method.');
  if (cmd !== 'tunnel') fail(`Incorrect Usage: command ${cmd} not found`);
  switch (sub) {
    case 'run':
      return tunnelRun(flags, positional);
    case 'ready':
      return tunnelReady(flags);
    case undefined:
      // `cloudflared tunnel` with a token behaves like `tunnel run`.
      if (readToken(flags) !== undefined) return tunnelRun(flags, []);
      return fail('Use "cloudflared tunnel run" to start tunnel');
    case 'info':
    case 'list':
    case 'create':
    case 'delete':
    case 'route':
    case 'login':
      return fail(`Cannot determine default origin certificate path. No file cert.pem in [~/.cloudflared ~/.cloudflare-warp ~/cloudflare-warp /etc/cloudflared /usr/local/etc/cloudflared]`);
    default:
      return fail(`Incorrect Usage: command ${sub} not found`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(String((err as Error)?.stack ?? err)));
