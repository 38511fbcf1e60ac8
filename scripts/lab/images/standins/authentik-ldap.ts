/**
 * Authentik LDAP outpost stand-in (image ghcr.io/goauthentik/ldap): `/ldap` connects to AUTHENTIK_HOST's API with
 * AUTHENTIK_TOKEN as the real outpost does at start (`GET /api/v3/outposts/instances/`; an answer listing no outpost
 * for the token is fatal, "No outposts found with given token", and the container restarts; an unreachable server or
 * an API error is logged and retried), then
 * listens on 3389 (LDAP) and serves `/outpost.goauthentik.io/ping` (204 once connected) on 9300, which
 * `/ldap healthcheck` asks. The LDAP protocol itself is not spoken: connections are accepted and closed (the lab's
 * Jellyfin stand-in does not bind). Lab control on 9300: `GET /__lab/state` → `{ connected, outpost }`.
 */
import http from 'node:http';
import net from 'node:net';
import { env, handleControl, log, send, serve, sleep } from './lib/common';

let connected = false;
let outpost = '';

async function connect(): Promise<void> {
  const host = env('AUTHENTIK_HOST').replace(/\/+$/, '');
  const token = env('AUTHENTIK_TOKEN');
  if (!host || !token) {
    process.stderr.write('{"event":"AUTHENTIK_HOST and AUTHENTIK_TOKEN are required","level":"fatal"}\n');
    process.exit(1);
  }
  for (let i = 0; ; i++) {
    let res: Response | undefined;
    try {
      res = await fetch(`${host}/api/v3/outposts/instances/`, { headers: { authorization: `Bearer ${token}` } });
    } catch {
      if (i % 5 === 0) log(`{"event":"Failed to fetch outpost configuration, retrying in 3 seconds","host":${JSON.stringify(host)},"level":"error"}`);
      await sleep(1_000);
      continue;
    }
    const body = (await res.json().catch(() => ({}))) as { results?: Array<{ name?: string; type?: string }> };
    if (res.status !== 200) {
      // An API error (server starting, token refused) is logged and retried, as the real outpost does.
      if (i % 5 === 0) log(`{"event":"Failed to fetch outpost configuration, retrying in 3 seconds","status":${res.status},"level":"error"}`);
      await sleep(1_000);
      continue;
    }
    const first = body.results?.[0];
    if (!first) {
      process.stderr.write('{"event":"No outposts found with given token, ensure the given token corresponds to an authenitk Outpost","level":"fatal"}\n');
      process.exit(1);
    }
    outpost = String(first.name ?? '');
    connected = true;
    log(`{"event":"Successfully connected to authentik","outpost":${JSON.stringify(outpost)},"type":${JSON.stringify(first.type ?? '')}}`);
    return;
  }
}

async function run(): Promise<void> {
  await serve(9300, '0.0.0.0', async (req, res, url) => {
    if (await handleControl(req, res, url, { get: () => ({ connected, outpost }), set: () => undefined })) return;
    if (url.pathname === '/outpost.goauthentik.io/ping') return send(res, connected ? 204 : 503);
    if (url.pathname === '/metrics') return send(res, 200, '# HELP authentik_outpost_ldap_requests LDAP requests\n', { 'content-type': 'text/plain' });
  });
  await connect();
  net
    .createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end();
    })
    .listen(3389, '0.0.0.0');
  log('{"event":"Starting LDAP server","listen":"0.0.0.0:3389"}');
}

function healthcheck(): void {
  const req = http.get({ host: '127.0.0.1', port: 9300, path: '/outpost.goauthentik.io/ping', timeout: 3_000 }, (res) => {
    res.resume();
    process.exit(res.statusCode === 204 ? 0 : 1);
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => process.exit(1));
}

const [cmd] = process.argv.slice(2);
if (cmd === 'healthcheck') healthcheck();
else
  run().catch((err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
