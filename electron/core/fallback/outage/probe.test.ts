import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeResult } from '../../../contract/fallback';
import { Secret } from '../../secrets/secret';
import { cfErrorCode, coloOf, probeHostname } from './probe';

/**
 * A loopback server that answers as Cloudflare's edge does for each host name (fallback-and-day2-facts §5): the
 * probe is pointed at it through its `connect` seam, the Host header picks the answer.
 */
const CF = { server: 'cloudflare', 'cf-ray': '8f1c2a3b4d5e6f70-FRA' };
const seen: http.IncomingHttpHeaders[] = [];
let server: http.Server;
let port = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    const host = (req.headers.host ?? '').split(':')[0];
    switch (host) {
      case 'app.example.com':
        res.writeHead(200, { ...CF, 'content-type': 'text/html' });
        return res.end('<html>Jellyfin</html>');
      case 'login.example.com':
        res.writeHead(302, { ...CF, location: 'https://home-lab.cloudflareaccess.com/cdn-cgi/access/login/login.example.com?kid=abc&redirect_url=%2F' });
        return res.end();
      case 'service-auth.example.com':
        res.writeHead(403, { ...CF, 'cf-access-domain': 'service-auth.example.com', 'content-type': 'text/html' });
        return res.end('<html>Forbidden. You don’t have permission to view this. Cloudflare Access</html>');
      case 'tunnel.example.com':
        res.writeHead(530, { ...CF, 'content-type': 'text/plain; charset=UTF-8' });
        return res.end('error code: 1033');
      case 'tunnel-html.example.com':
        res.writeHead(530, { ...CF, 'content-type': 'text/html' });
        return res.end('<title>Cloudflare Tunnel error | tunnel-html.example.com | Cloudflare</title><span class="cf-error-code">1033</span> Error <span>1033</span>');
      case 'nodns.example.com':
        res.writeHead(530, { ...CF, 'content-type': 'text/plain; charset=UTF-8' });
        return res.end('error code: 1001');
      case 'origin.example.com':
        res.writeHead(502, { ...CF, 'content-type': 'text/html' });
        return res.end('<html><title>502 Bad Gateway</title></html>');
      case 'edge.example.com':
        res.writeHead(503, { ...CF, 'content-type': 'text/html' });
        return res.end('Service Temporarily Unavailable');
      case 'reset.example.com':
        return req.socket.destroy();
      case 'hang.example.com':
        return; // never answered
      default:
        res.writeHead(404);
        return res.end();
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const token = { id: 'abc123.access', secret: new Secret('s3cr3t-service-token-value-0123456789') };
const probe = (host: string, extra: Partial<Parameters<typeof probeHostname>[1]> = {}) =>
  probeHostname(host, { timeoutMs: 1_500, connect: { host: '127.0.0.1', port, tls: false }, serviceToken: token, ...extra });

describe('probeHostname reads each answer of the edge', () => {
  it('the service answering through Access with the service token is `app`, with the colo from cf-ray', async () => {
    const r = await probe('app.example.com');
    expect(ProbeResult.parse(r)).toEqual(r);
    expect(r).toMatchObject({ hostname: 'app.example.com', outcome: 'app', httpStatus: 200, cfError: null, colo: 'FRA' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('sends the service token as CF-Access-Client-Id/Secret and keeps it out of the result', async () => {
    seen.length = 0;
    const r = await probe('app.example.com');
    expect(seen[0]?.['cf-access-client-id']).toBe('abc123.access');
    expect(seen[0]?.['cf-access-client-secret']).toBe(token.secret.reveal());
    expect(JSON.stringify(r)).not.toContain(token.secret.reveal());
    seen.length = 0;
    await probe('app.example.com', { serviceToken: undefined });
    expect(seen[0]?.['cf-access-client-secret']).toBeUndefined();
  });

  it('a 302 to <team>.cloudflareaccess.com is Access’s login, never followed', async () => {
    seen.length = 0;
    const r = await probe('login.example.com');
    expect(r).toMatchObject({ outcome: 'access-login', httpStatus: 302 });
    expect(seen).toHaveLength(1);
  });

  it('a 403 from Access (service-auth-only apps) is Access too', async () => {
    expect(await probe('service-auth.example.com')).toMatchObject({ outcome: 'access-login', httpStatus: 403 });
  });

  it('530 with "error code: 1033" (text or HTML) is a tunnel that is not connected', async () => {
    expect(await probe('tunnel.example.com')).toMatchObject({ outcome: 'tunnel-error', httpStatus: 530, cfError: 1033, colo: 'FRA' });
    expect(await probe('tunnel-html.example.com')).toMatchObject({ outcome: 'tunnel-error', httpStatus: 530, cfError: 1033 });
  });

  it('530 with another 1xxx code (1001: no such name at Cloudflare) is the edge’s error, not the tunnel’s', async () => {
    expect(await probe('nodns.example.com')).toMatchObject({ outcome: 'edge-error', httpStatus: 530, cfError: 1001 });
  });

  it('502 from the edge is the service behind the tunnel; another 5xx is an edge error', async () => {
    expect(await probe('origin.example.com')).toMatchObject({ outcome: 'origin-error', httpStatus: 502 });
    expect(await probe('edge.example.com')).toMatchObject({ outcome: 'edge-error', httpStatus: 503 });
  });

  it('a refused connection is connect-failure, a reset after connecting too, each with no status', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await probeHostname('app.example.com', { timeoutMs: 1_500, connect: { host: '127.0.0.1', port: closedPort, tls: false } });
    expect(refused).toMatchObject({ outcome: 'connect-failure', httpStatus: null });
    expect(refused.detail).toMatch(/ECONNREFUSED/);
    expect(await probe('reset.example.com')).toMatchObject({ outcome: 'connect-failure', httpStatus: null });
  });

  it('an edge that never answers is a timeout within the time given', async () => {
    const t0 = Date.now();
    const r = await probe('hang.example.com', { timeoutMs: 400 });
    expect(r.outcome).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('a name that does not resolve is dns-failure (the resolver is injectable)', async () => {
    const nx = async (): Promise<string> => {
      throw Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const r = await probeHostname('gone.example.com', { timeoutMs: 1_000, resolve: nx });
    expect(r).toMatchObject({ outcome: 'dns-failure', httpStatus: null });
    expect(r.detail).toMatch(/ENOTFOUND/);
    expect(await probe('app.example.com', { resolve: nx })).toMatchObject({ outcome: 'dns-failure' });
  });

  it('a TLS handshake that fails is tls-failure (HTTPS spoken to a plain listener)', async () => {
    const r = await probe('app.example.com', { connect: { host: '127.0.0.1', port, tls: true } });
    expect(r.outcome).toBe('tls-failure');
  });
});

describe('the parts of an answer', () => {
  it('finds Cloudflare’s 1xxx code in its error pages and nowhere else', () => {
    expect(cfErrorCode('error code: 1033')).toBe(1033);
    expect(cfErrorCode('<span class="cf-error-code">1016</span>')).toBe(1016);
    expect(cfErrorCode('Error <span>1033</span>')).toBe(1033);
    expect(cfErrorCode('<html>Jellyfin 10.11 on port 1033</html>')).toBeNull();
  });
  it('takes the colo from cf-ray', () => {
    expect(coloOf('8f1c2a3b4d5e6f70-AMS')).toBe('AMS');
    expect(coloOf(undefined)).toBeNull();
    expect(coloOf('garbage')).toBeNull();
  });
});
