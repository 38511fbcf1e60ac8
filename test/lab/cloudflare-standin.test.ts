// The Cloudflare API stand-in, driven by the real `cloudflare` SDK pointed at it with baseURL.
import Cloudflare, {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
} from 'cloudflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_TOKENS,
  DEFAULT_ZONE_ID,
  DEFAULT_ZONE_NAME,
  PERMISSIONS,
  startCloudflareStandIn,
  type CloudflareStandIn,
} from '../../scripts/lab/cloudflare';

let standIn: CloudflareStandIn;
const account_id = DEFAULT_ACCOUNT_ID;
const zone_id = DEFAULT_ZONE_ID;

const client = (apiToken: string = DEFAULT_TOKENS.all, opts: { maxRetries?: number; timeout?: number } = {}): Cloudflare =>
  new Cloudflare({ apiToken, baseURL: standIn.url, maxRetries: opts.maxRetries ?? 0, timeout: opts.timeout ?? 10_000, logLevel: 'off' });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

beforeAll(async () => {
  standIn = await startCloudflareStandIn();
});
afterAll(async () => {
  await standIn?.close();
});
beforeEach(() => {
  standIn.reset();
});

describe('tokens, accounts, zones', () => {
  it('verifies user-owned and account-owned tokens at their own endpoints only', async () => {
    const user = await client().user.tokens.verify();
    expect(user).toMatchObject({ status: 'active' });
    expect(user.id).toMatch(/^[0-9a-f]{32}$/);

    const acct = await client(DEFAULT_TOKENS.accountOwned).accounts.tokens.verify({ account_id });
    expect(acct.status).toBe('active');

    expect(await rejection(client(DEFAULT_TOKENS.accountOwned).user.tokens.verify())).toBeInstanceOf(AuthenticationError);
    expect(await rejection(client().accounts.tokens.verify({ account_id }))).toBeInstanceOf(AuthenticationError);

    // An expired token still verifies (with its status) but cannot call anything else.
    expect((await client(DEFAULT_TOKENS.expired).user.tokens.verify()).status).toBe('expired');
    expect(await rejection(client(DEFAULT_TOKENS.expired).zones.list().then((p) => p.result))).toBeInstanceOf(AuthenticationError);
  });

  it('lists accounts and zones with filters and auto-pagination', async () => {
    const accounts = await collect(client().accounts.list());
    expect(accounts.map((a) => a.name)).toEqual(['Home']);
    expect(accounts[0]?.id).toBe(account_id);

    const zones = await collect(client().zones.list({ account: { id: account_id } }));
    expect(zones.map((z) => z.name).sort()).toEqual(['example.com', 'example.net']);
    const byName = await collect(client().zones.list({ account: { id: account_id }, name: DEFAULT_ZONE_NAME }));
    expect(byName.map((z) => z.id)).toEqual([zone_id]);

    // Five zones, two per page: three full/partial pages plus the empty page that ends the SDK's iteration.
    for (const n of ['a.test', 'b.test', 'c.test']) standIn.state.addZone({ name: n, accountId: account_id });
    standIn.requests.clear();
    const all = await collect(client().zones.list({ per_page: 2 }));
    expect(all).toHaveLength(5);
    expect(standIn.requests.count({ method: 'GET', path: '/zones' })).toBe(4);
  });
});

describe('tunnels', () => {
  it('creates a remotely managed tunnel, hands out its token and keeps its ingress', async () => {
    const cf = client();
    const tunnel = await cf.zeroTrust.tunnels.cloudflared.create({ account_id, name: 'home', config_src: 'cloudflare' });
    expect(tunnel).toMatchObject({ name: 'home', config_src: 'cloudflare', status: 'inactive', account_tag: account_id, tun_type: 'cfd_tunnel' });
    const id = tunnel.id ?? '';

    const token = await cf.zeroTrust.tunnels.cloudflared.token.get(id, { account_id });
    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { a: string; t: string; s: string };
    expect(decoded.a).toBe(account_id);
    expect(decoded.t).toBe(id);
    expect(Buffer.from(decoded.s, 'base64').length).toBeGreaterThanOrEqual(32);

    const ingress = [
      { hostname: 'jellyfin.example.com', service: 'http://jellyfin:8096' },
      { hostname: 'cloud.example.com', service: 'http://nextcloud:80', originRequest: { httpHostHeader: 'cloud.example.com' } },
      { hostname: '', service: 'http_status:404' },
    ];
    const put = await cf.zeroTrust.tunnels.cloudflared.configurations.update(id, { account_id, config: { ingress } });
    expect(put.version).toBe(1);
    const got = await cf.zeroTrust.tunnels.cloudflared.configurations.get(id, { account_id });
    expect(got.config?.ingress).toEqual(ingress);
    expect(got.version).toBe(1);

    // The last rule must be a catch-all.
    const badIngress = cf.zeroTrust.tunnels.cloudflared.configurations.update(id, { account_id, config: { ingress: ingress.slice(0, 2) } });
    expect(await rejection(badIngress)).toBeInstanceOf(BadRequestError);

    // Same name again: refused (409, which the SDK would retry: retries are off here).
    expect(await rejection(cf.zeroTrust.tunnels.cloudflared.create({ account_id, name: 'home', config_src: 'cloudflare' }))).toBeInstanceOf(ConflictError);

    const listed = await collect(cf.zeroTrust.tunnels.cloudflared.list({ account_id, name: 'home', is_deleted: false }));
    expect(listed.map((t) => t.id)).toEqual([id]);

    const edited = await cf.zeroTrust.tunnels.cloudflared.edit(id, { account_id, name: 'home-2' });
    expect(edited.name).toBe('home-2');
  });

  it('reports connectors, refuses to delete a connected tunnel, then deletes it', async () => {
    const cf = client();
    const t = await cf.zeroTrust.tunnels.cloudflared.create({ account_id, name: 'conn', config_src: 'cloudflare' });
    const id = t.id ?? '';
    standIn.state.connectTunnel(id, { conns: 4 });

    const clients = await collect(cf.zeroTrust.tunnels.cloudflared.connections.get(id, { account_id }));
    expect(clients).toHaveLength(1);
    expect(clients[0]?.conns).toHaveLength(4);
    const live = await cf.zeroTrust.tunnels.cloudflared.get(id, { account_id });
    expect(live.status).toBe('healthy');
    expect(live.connections).toHaveLength(4);

    expect(await rejection(cf.zeroTrust.tunnels.cloudflared.delete(id, { account_id }))).toBeInstanceOf(BadRequestError);
    standIn.state.disconnectTunnel(id);
    expect((await cf.zeroTrust.tunnels.cloudflared.get(id, { account_id })).status).toBe('down');

    const deleted = await cf.zeroTrust.tunnels.cloudflared.delete(id, { account_id });
    expect(deleted.deleted_at).toBeTruthy();
    expect(await collect(cf.zeroTrust.tunnels.cloudflared.list({ account_id, is_deleted: false }))).toHaveLength(0);
    // Without is_deleted the deleted tunnel is still listed, as with the real API.
    expect(await collect(cf.zeroTrust.tunnels.cloudflared.list({ account_id }))).toHaveLength(1);
    expect(await rejection(cf.zeroTrust.tunnels.cloudflared.token.get(id, { account_id }))).toBeInstanceOf(NotFoundError);
  });

  it('lets a connector stand-in connect with the tunnel token over the control API', async () => {
    const cf = client();
    const t = await cf.zeroTrust.tunnels.cloudflared.create({ account_id, name: 'ctl', config_src: 'cloudflare' });
    const token = await cf.zeroTrust.tunnels.cloudflared.token.get(t.id ?? '', { account_id });
    const res = await fetch(`${standIn.controlUrl}/tunnels/connect`, { method: 'POST', body: JSON.stringify({ token }) });
    expect(res.status).toBe(200);
    expect((await cf.zeroTrust.tunnels.cloudflared.get(t.id ?? '', { account_id })).status).toBe('healthy');
    const bogus = await fetch(`${standIn.controlUrl}/tunnels/connect`, { method: 'POST', body: JSON.stringify({ token: 'eyJhIjoieCJ9' }) });
    expect(bogus.status).toBe(404);
  });
});

describe('DNS records', () => {
  it('creates, lists, edits, updates and deletes a CNAME to the tunnel', async () => {
    const cf = client();
    const tunnelId = '6ff42ae2-765d-4adf-8112-31c55c1551ef';
    const rec = await cf.dns.records.create({
      zone_id,
      type: 'CNAME',
      name: 'jellyfin',
      content: `${tunnelId}.cfargotunnel.com`,
      proxied: true,
      ttl: 1,
      comment: 'managed-by:m2',
    });
    expect(rec).toMatchObject({ name: 'jellyfin.example.com', type: 'CNAME', proxied: true, ttl: 1, comment: 'managed-by:m2' });

    const found = await collect(cf.dns.records.list({ zone_id, name: { exact: 'jellyfin.example.com' }, type: 'CNAME' }));
    expect(found.map((r) => r.id)).toEqual([rec.id]);
    expect(await collect(cf.dns.records.list({ zone_id, type: 'A' }))).toHaveLength(0);

    const dup = cf.dns.records.create({ zone_id, type: 'CNAME', name: 'jellyfin.example.com', content: 'other.example.net', proxied: true, ttl: 1 });
    const dupErr = await rejection(dup);
    expect(dupErr).toBeInstanceOf(BadRequestError);
    expect((dupErr as BadRequestError).errors[0]).toMatchObject({ code: 81053 });

    const edited = await cf.dns.records.edit(rec.id, { zone_id, type: 'CNAME', name: 'jellyfin.example.com', proxied: false, ttl: 300 });
    expect(edited).toMatchObject({ proxied: false, ttl: 300, content: `${tunnelId}.cfargotunnel.com` });

    const updated = await cf.dns.records.update(rec.id, { zone_id, type: 'CNAME', name: 'media', content: 'x.cfargotunnel.com', proxied: true, ttl: 1 });
    expect(updated).toMatchObject({ name: 'media.example.com', content: 'x.cfargotunnel.com', proxied: true });

    expect(await cf.dns.records.delete(rec.id, { zone_id })).toEqual({ id: rec.id });
    expect(await rejection(cf.dns.records.get(rec.id, { zone_id }))).toBeInstanceOf(NotFoundError);
  });
});

describe('Access', () => {
  it('creates a reusable policy and an application that links it', async () => {
    const cf = client();
    const pol = await cf.zeroTrust.access.policies.create({
      account_id,
      name: 'home-users',
      decision: 'allow',
      include: [{ email: { email: 'alice@example.com' } }, { email_domain: { domain: 'example.com' } }],
      session_duration: '24h',
    });
    expect(pol).toMatchObject({ name: 'home-users', decision: 'allow', reusable: true, app_count: 0 });

    const app = await cf.zeroTrust.access.applications.create({
      account_id,
      type: 'self_hosted',
      name: 'Nextcloud',
      domain: 'cloud.example.com',
      session_duration: '24h',
      auto_redirect_to_identity: false,
      policies: [{ id: pol.id, precedence: 1 }],
    });
    expect(app).toMatchObject({ name: 'Nextcloud', domain: 'cloud.example.com', type: 'self_hosted' });
    expect('aud' in app && app.aud).toMatch(/^[0-9a-f]{64}$/);
    expect('policies' in app && app.policies?.map((p) => [p.id, 'precedence' in p ? p.precedence : undefined])).toEqual([[pol.id, 1]]);

    const apps = await collect(cf.zeroTrust.access.applications.list({ account_id, name: 'Nextcloud', exact: true }));
    expect(apps.map((a) => a.id)).toEqual([app.id]);
    const policies = await collect(cf.zeroTrust.access.policies.list({ account_id }));
    expect(policies.map((p) => [p.id, p.app_count])).toEqual([[pol.id, 1]]);

    const scoped = await cf.zeroTrust.access.applications.policies.create(app.id ?? '', {
      account_id,
      precedence: 2,
      ...({ name: 'admins', decision: 'allow', include: [{ email: { email: 'admin@example.com' } }] } as object),
    });
    expect(scoped).toMatchObject({ precedence: 2 });
    const appPolicies = await collect(cf.zeroTrust.access.applications.policies.list(app.id ?? '', { account_id }));
    expect(appPolicies.map((p) => p.name)).toEqual(['home-users', 'admins']);

    // A linked reusable policy cannot be deleted; after the app goes, it can.
    expect(await rejection(cf.zeroTrust.access.policies.delete(pol.id ?? '', { account_id }))).toBeInstanceOf(BadRequestError);
    expect(await cf.zeroTrust.access.applications.delete(app.id ?? '', { account_id })).toEqual({ id: app.id });
    expect(await cf.zeroTrust.access.policies.delete(pol.id ?? '', { account_id })).toEqual({ id: pol.id });
  });

  it('gives the team domain of the account', async () => {
    const orgs = await client().zeroTrust.organizations.list({ account_id });
    expect(orgs.auth_domain).toBe('home-lab.cloudflareaccess.com');
  });
});

describe('auth errors', () => {
  it('maps an unknown token to AuthenticationError and a missing permission to PermissionDeniedError naming it', async () => {
    expect(await rejection(client('not-a-real-token').user.tokens.verify())).toBeInstanceOf(AuthenticationError);
    expect(await rejection(client('not-a-real-token').zones.list().then((p) => p.result))).toBeInstanceOf(AuthenticationError);

    const noAccess = client(DEFAULT_TOKENS.noAccess).zeroTrust.access.applications.create({ account_id, type: 'self_hosted', domain: 'x.example.com' });
    const err = await rejection(noAccess);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).message).toContain(PERMISSIONS.accessWrite);

    const ro = client(DEFAULT_TOKENS.readOnly).dns.records.create({ zone_id, type: 'A', name: 'x', content: '192.0.2.1', ttl: 1 });
    const roErr = await rejection(ro);
    expect(roErr).toBeInstanceOf(PermissionDeniedError);
    expect((roErr as PermissionDeniedError).errors[0]?.message).toContain(PERMISSIONS.dnsWrite);

    // Read-only still reads.
    expect(await collect(client(DEFAULT_TOKENS.readOnly).dns.records.list({ zone_id }))).toEqual([]);
  });

  it('never keeps a raw token in the request log or the state snapshot', async () => {
    await client().user.tokens.verify();
    await rejection(client('secret-looking-unknown-token').user.tokens.verify());
    const logged = JSON.stringify(standIn.requests.all());
    const state = await (await fetch(`${standIn.controlUrl}/state`)).text();
    for (const text of [logged, state]) {
      expect(text).not.toContain(DEFAULT_TOKENS.all);
      expect(text).not.toContain('secret-looking-unknown-token');
    }
    expect(standIn.requests.all().map((e) => e.token)).toEqual(['all', expect.stringMatching(/^unknown:[0-9a-f]{12}$/)]);
  });
});

describe('fault injection', () => {
  it('429 with Retry-After is retried by the SDK after that many seconds, then succeeds', async () => {
    standIn.faults.add({ kind: 'rateLimited', method: 'GET', path: '/zones', retryAfter: 1 });
    const started = Date.now();
    const zones = await client(DEFAULT_TOKENS.all, { maxRetries: 2 }).zones.list();
    expect(zones.result.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(standIn.requests.count({ method: 'GET', path: '/zones' })).toBe(2);
    expect(standIn.requests.filter({ path: '/zones' }).map((e) => e.status)).toEqual([429, 200]);
  });

  it('5xx is retried; with retries exhausted it surfaces as InternalServerError', async () => {
    standIn.faults.add({ kind: 'serverError', status: 503, path: '/accounts/*/cfd_tunnel', method: 'POST' });
    const t = await client(DEFAULT_TOKENS.all, { maxRetries: 2 }).zeroTrust.tunnels.cloudflared.create({ account_id, name: 'retry', config_src: 'cloudflare' });
    expect(t.name).toBe('retry');
    expect(standIn.requests.filter({ method: 'POST', path: '/accounts/*/cfd_tunnel' }).map((e) => e.status)).toEqual([503, 200]);
    expect(standIn.state.tunnels.size).toBe(1);

    standIn.faults.add({ kind: 'serverError', times: 'always' });
    expect(await rejection(client().zones.list().then((p) => p.result))).toBeInstanceOf(InternalServerError);
  });

  it('delays answers, which the SDK timeout cuts short', async () => {
    standIn.faults.add({ kind: 'delay', delayMs: 1500, path: '/user/tokens/verify' });
    const err = await rejection(client(DEFAULT_TOKENS.all, { timeout: 200 }).user.tokens.verify());
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);

    standIn.faults.add({ kind: 'delay', delayMs: 150, path: '/user/tokens/verify' });
    const started = Date.now();
    expect((await client(DEFAULT_TOKENS.all, { timeout: 5000 }).user.tokens.verify()).status).toBe('active');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('network down: the socket is destroyed; the SDK retries a single drop and fails while it stays down', async () => {
    standIn.faults.add({ kind: 'networkDown', path: '/user/tokens/verify' });
    expect((await client(DEFAULT_TOKENS.all, { maxRetries: 1 }).user.tokens.verify()).status).toBe('active');
    expect(standIn.requests.filter({ path: '/user/tokens/verify' }).map((e) => e.status)).toEqual([null, 200]);

    standIn.faults.networkDown(true);
    expect(await rejection(client().user.tokens.verify())).toBeInstanceOf(APIConnectionError);
    standIn.faults.networkDown(false);
    expect((await client().user.tokens.verify()).status).toBe('active');
  });

  it('403 and 401 faults name what the test asked for, and faults can be set over HTTP', async () => {
    const res = await fetch(`${standIn.controlUrl}/faults`, {
      method: 'POST',
      body: JSON.stringify([{ kind: 'forbidden', permission: PERMISSIONS.dnsWrite, method: 'POST' }, { kind: 'unauthorized', method: 'GET' }]),
    });
    expect(res.status).toBe(200);
    const forbidden = await rejection(client().dns.records.create({ zone_id, type: 'A', name: 'x', content: '192.0.2.1', ttl: 1 }));
    expect(forbidden).toBeInstanceOf(PermissionDeniedError);
    expect((forbidden as PermissionDeniedError).message).toContain('DNS Write');
    expect(await rejection(client().accounts.list().then((p) => p.result))).toBeInstanceOf(AuthenticationError);
    // Both faults were one-shot.
    expect((await client().accounts.list()).result).toHaveLength(1);
    expect(standIn.faults.list()).toEqual([]);

    const bad = await fetch(`${standIn.controlUrl}/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).toBe(400);

    const counted = (await (await fetch(`${standIn.controlUrl}/requests/count?method=GET&path=/accounts`)).json()) as { result: number };
    expect(counted.result).toBe(2);
  });
});
