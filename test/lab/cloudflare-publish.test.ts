import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CloudflareRunReport, CloudflareView, PublishReport, RemovalPlan, TokenCheck } from '../../electron/contract/cloudflare';
import { API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { dnsMarker } from '../../electron/core/cloudflare/publish-plan';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, PERMISSIONS, startCloudflareStandIn, startEdgeStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { makeHarness, type Harness } from './cloudflare-support';

/**
 * The whole Cloudflare flow against the lab's API stand-in (typed with the SDK's own types) and the lab keychain
 * (gnome-keyring's Secret Service): through the contract dispatcher, as the renderer calls it.
 */
let standIn: CloudflareStandIn;
const keychain = new KeyringSecretStore();
const usedProfiles: string[] = [];
let h: Harness;
let profileId: string;

const newProfile = (): string => {
  const id = `cf-${randomBytes(4).toString('hex')}`;
  usedProfiles.push(id);
  return id;
};

const settings = {
  accountId: DEFAULT_ACCOUNT_ID,
  zoneId: DEFAULT_ZONE_ID,
  zoneName: 'example.com',
  access: { emails: ['alice@example.com', 'bob@example.org'], emailDomain: null, sessionDuration: '24h' },
};
const HOSTS = ['media.example.com', 'cloud.example.com', 'auth.example.com'];
const OIDC_DOMAIN = 'auth.example.com/application/o';

const writes = (): number =>
  standIn.requests.all().filter((e) => e.method !== 'GET' && (e.status ?? 0) < 300 && e.status !== null && !e.path.startsWith('/__lab')).length;
const statusOf = (r: { steps: Array<{ id: string; status: string }> }): Record<string, string> => Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

async function setUp(token: string = DEFAULT_TOKENS.all): Promise<void> {
  await h.call('cloudflare:set-token', { profileId, token });
  await h.call('cloudflare:save-settings', { profileId, settings });
}

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  standIn = await startCloudflareStandIn();
});
afterAll(async () => {
  await standIn?.close();
  for (const p of usedProfiles) for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET]) await keychain.delete(p, n).catch(() => undefined);
});
beforeEach(() => {
  standIn.reset();
  profileId = newProfile();
  h = makeHarness({ standIn, secrets: keychain });
});
afterEach(() => {
  rmSync(h.dataDir, { recursive: true, force: true });
});

describe('the API token', () => {
  it('is kept in the keychain only after Cloudflare verified it; expired, disabled, unknown tokens and a dead network change nothing', async () => {
    for (const [token, code] of [
      [DEFAULT_TOKENS.expired, 'cloudflare.token-invalid'],
      [DEFAULT_TOKENS.disabled, 'cloudflare.token-invalid'],
      ['m2lab_not_a_token_0123456789abcdef0123', 'cloudflare.token-invalid'],
    ] as const) {
      await expect(h.call('cloudflare:set-token', { profileId, token })).rejects.toMatchObject({ code });
    }
    standIn.faults.networkDown(true);
    await expect(h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all })).rejects.toMatchObject({ code: 'cloudflare.network' });
    standIn.faults.networkDown(false);
    expect(await keychain.get(profileId, API_TOKEN_SECRET)).toBeUndefined();
    expect((await h.call<CloudflareView>('cloudflare:view', { profileId })).token.stored).toBe(false);

    const check = await h.call<TokenCheck>('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all });
    expect(check).toMatchObject({ kind: 'user', replaced: false, accounts: [{ id: DEFAULT_ACCOUNT_ID, name: 'Home' }] });
    expect(check.features.map((f) => [f.feature, f.state])).toEqual([
      ['account', 'ok'],
      ['zone', 'ok'],
      ['tunnel', 'ok'],
      ['dns', 'unknown'], // two zones, none chosen yet
      ['access', 'ok'],
    ]);
    expect((await keychain.get(profileId, API_TOKEN_SECRET))?.reveal()).toBe(DEFAULT_TOKENS.all);
    // Probes never write anything.
    expect(standIn.state.snapshot()).toMatchObject({ tunnels: [], dnsRecords: [], accessApps: [], accessPolicies: [] });
  });

  it('verifies an account-owned token at its account, and replacing the token re-verifies it (rotation)', async () => {
    await setUp(DEFAULT_TOKENS.all);
    const check = await h.call<TokenCheck>('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.accountOwned });
    expect(check).toMatchObject({ kind: 'account', replaced: true });
    expect(check.features.every((f) => f.state === 'ok')).toBe(true);
    expect(standIn.requests.count({ method: 'GET', path: `/accounts/${DEFAULT_ACCOUNT_ID}/tokens/verify`, status: 200 })).toBe(1);
    expect((await keychain.get(profileId, API_TOKEN_SECRET))?.reveal()).toBe(DEFAULT_TOKENS.accountOwned);
    const again = await h.call<TokenCheck>('cloudflare:check-token', { profileId });
    expect(again.kind).toBe('account');
  });

  it('names each missing permission next to the feature that needs it', async () => {
    await h.call('cloudflare:save-settings', { profileId, settings });
    const byFeature = async (token: string): Promise<Record<string, string[]>> => {
      const c = await h.call<TokenCheck>('cloudflare:set-token', { profileId, token });
      return Object.fromEntries(c.features.map((f) => [f.feature, f.missing]));
    };
    expect(await byFeature(DEFAULT_TOKENS.noDns)).toMatchObject({ dns: [PERMISSIONS.dnsRead, PERMISSIONS.dnsWrite], tunnel: [], access: [] });
    expect(await byFeature(DEFAULT_TOKENS.noAccess)).toMatchObject({ access: [PERMISSIONS.accessRead, PERMISSIONS.accessWrite], dns: [], tunnel: [] });
    expect(await byFeature(DEFAULT_TOKENS.readOnly)).toMatchObject({
      zone: [],
      tunnel: [PERMISSIONS.tunnelWrite],
      dns: [PERMISSIONS.dnsWrite],
      access: [PERMISSIONS.accessWrite],
    });
  });
});

describe('publishing', () => {
  it('creates the tunnel, stores its token, sets routes, Access and DNS; a second run creates nothing', async () => {
    await setUp();
    const first = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(first.ok).toBe(true);
    expect(statusOf(first)).toEqual({
      token: 'unchanged',
      zone: 'unchanged',
      tunnel: 'done',
      'tunnel-token': 'done',
      ingress: 'done',
      'access-policy': 'done',
      ...Object.fromEntries(HOSTS.map((x) => [`access:${x}`, 'done'])),
      'access-oidc': 'done',
      deploy: 'done',
      ...Object.fromEntries(HOSTS.map((x) => [`dns:${x}`, 'done'])),
    });
    // DNS goes last: Access protects every hostname before it points at the tunnel.
    const ids = first.steps.map((s) => s.id);
    expect(Math.max(...HOSTS.map((x) => ids.indexOf(`access:${x}`)))).toBeLessThan(Math.min(...HOSTS.map((x) => ids.indexOf(`dns:${x}`))));

    const snap = standIn.state.snapshot();
    expect(snap.tunnels).toHaveLength(1);
    const tunnel = snap.tunnels[0]!;
    expect(tunnel).toMatchObject({ name: `m2-${profileId}`, config_src: 'cloudflare' });
    expect(first.tunnelId).toBe(tunnel.id);
    expect(tunnel.config?.config.ingress).toEqual([
      { hostname: 'media.example.com', service: 'http://jellyfin:8096' },
      { hostname: 'cloud.example.com', service: 'http://nextcloud:80' },
      { hostname: 'auth.example.com', service: 'http://authentik-server:9000' },
      { service: 'http_status:404' },
    ]);
    expect(snap.dnsRecords.map((r) => [r.name, r.type, r.content, r.proxied, r.comment]).sort()).toEqual(
      HOSTS.map((x) => [x, 'CNAME', `${tunnel.id}.cfargotunnel.com`, true, dnsMarker(profileId)]).sort(),
    );
    expect(snap.accessPolicies).toHaveLength(2);
    const household = snap.accessPolicies.find((p) => p.decision === 'allow');
    expect(household).toMatchObject({ session_duration: '24h', include: [{ email: { email: 'alice@example.com' } }, { email: { email: 'bob@example.org' } }] });
    // Nextcloud reads Authentik's OIDC endpoints server to server: a path application lets everyone through there only.
    const bypass = snap.accessPolicies.find((p) => p.decision === 'bypass');
    expect(bypass).toMatchObject({ include: [{ everyone: {} }] });
    expect(snap.accessApps.map((a) => a.domain).sort()).toEqual([...HOSTS, OIDC_DOMAIN].sort());
    expect(snap.accessApps.every((a) => a.type === 'self_hosted' && a.policyLinks.length === 1 && a.policyLinks[0]?.id === (a.domain === OIDC_DOMAIN ? bypass : household)?.id)).toBe(true);

    // The tunnel token is in the keychain, and it is the one the stand-in accepts for this tunnel.
    const tunnelToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    const accepted = await fetch(`${standIn.controlUrl}/tunnels/config`, { method: 'POST', body: JSON.stringify({ token: tunnelToken }) });
    expect(accepted.status).toBe(200);
    expect(h.redeploys).toEqual([profileId]);

    standIn.requests.clear();
    const second = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(second.ok).toBe(true);
    expect(new Set(Object.values(statusOf(second)))).toEqual(new Set(['unchanged']));
    expect(standIn.requests.count({ method: 'POST' })).toBe(0);
    expect(writes()).toBe(0);
    expect(h.redeploys).toHaveLength(1);
    expect(standIn.state.snapshot()).toMatchObject({ tunnels: [{ id: tunnel.id }] });
    expect(standIn.state.snapshot().dnsRecords).toHaveLength(3);
    expect(standIn.state.snapshot().accessApps).toHaveLength(4);

    // At the edge (tunnel live): the discovery document needs no sign-in; Authentik's admin pages still do.
    standIn.state.connectTunnel(tunnel.id ?? '');
    const edge = await startEdgeStandIn({ state: standIn.state });
    try {
      // fetch() drops a Host header; http.request sends it, as a browser or Nextcloud's server would for the name.
      const get = (p: string): Promise<{ status: number; location: string }> =>
        new Promise((resolve, reject) => {
          http.get({ host: edge.host, port: edge.port, path: p, headers: { host: 'auth.example.com' } }, (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, location: String(res.headers.location ?? '') });
          }).on('error', reject);
        });
      const discovery = await get('/application/o/nextcloud/.well-known/openid-configuration');
      expect([discovery.status, edge.requests.at(-1)?.by]).toEqual([200, 'app']);
      const admin = await get('/if/admin/');
      expect([admin.status, edge.requests.at(-1)?.by]).toEqual([302, 'access']);
      expect(admin.location).toContain('home-lab.cloudflareaccess.com/cdn-cgi/access/login/auth.example.com');
      expect((await get('/application/other')).status).toBe(302);
    } finally {
      await edge.close();
    }
  });

  it('asks before overwriting a DNS record or an Access application it did not create, and takes them over only after a yes', async () => {
    await setUp();
    const foreignRecord = await fetchSeedRecord({ type: 'A', name: 'media.example.com', content: '192.0.2.10', proxied: false, ttl: 300, comment: 'my old box' });
    const cf = await import('cloudflare');
    const admin = new cf.default({ apiToken: DEFAULT_TOKENS.all, baseURL: standIn.url, maxRetries: 0 });
    const foreignApp = await admin.zeroTrust.access.applications.create({ account_id: DEFAULT_ACCOUNT_ID, type: 'self_hosted', name: 'Family cloud', domain: 'cloud.example.com', session_duration: '6h' });
    const first = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(first.ok).toBe(false);
    expect(statusOf(first)['dns:media.example.com']).toBe('needs-confirmation');
    expect(statusOf(first)['access:cloud.example.com']).toBe('needs-confirmation');
    // Not pointed at the tunnel while Access does not protect it.
    expect(statusOf(first)['dns:cloud.example.com']).toBe('skipped');
    expect(statusOf(first)['dns:auth.example.com']).toBe('done');
    expect(first.confirmations).toEqual([
      expect.objectContaining({ kind: 'access-app', hostname: 'cloud.example.com', key: `access:cloud.example.com:${foreignApp.id}`, existing: expect.stringContaining('Family cloud') }),
      expect.objectContaining({ kind: 'dns-record', hostname: 'media.example.com', key: `dns:media.example.com:${foreignRecord}`, existing: expect.stringContaining('192.0.2.10') }),
    ]);
    expect(standIn.state.dnsRecords.get(foreignRecord)?.record).toMatchObject({ type: 'A', content: '192.0.2.10' });
    expect(standIn.state.accessApps.get(foreignApp.id ?? '')?.app).toMatchObject({ name: 'Family cloud', session_duration: '6h' });

    // A yes for a different record is not a yes for this one.
    const wrong = await h.call<PublishReport>('cloudflare:publish', { profileId, confirm: ['dns:media.example.com:0123'] });
    expect(statusOf(wrong)['dns:media.example.com']).toBe('needs-confirmation');

    const yes = await h.call<PublishReport>('cloudflare:publish', { profileId, confirm: first.confirmations.map((c) => c.key) });
    expect(yes.ok).toBe(true);
    expect(standIn.state.dnsRecords.get(foreignRecord)?.record).toMatchObject({ type: 'CNAME', comment: dnsMarker(profileId) });
    expect(standIn.state.accessApps.get(foreignApp.id ?? '')).toMatchObject({ app: { name: `M2 Nextcloud (${profileId})`, session_duration: '24h' }, policyLinks: [{ precedence: 1 }] });
    expect(standIn.state.snapshot().accessApps).toHaveLength(4); // and the path application for the sign-in endpoints
    const plan = await h.call<RemovalPlan>('cloudflare:removal-plan', { profileId });
    expect(plan.items).toContainEqual({ kind: 'dns-record', name: 'media.example.com', action: 'restore' });
    expect(plan.items).toContainEqual({ kind: 'access-app', name: 'cloud.example.com', action: 'restore' });

    // Removal puts the admin's record and application back as they were.
    const removed = await h.call<CloudflareRunReport>('cloudflare:remove', { profileId, confirm: true });
    expect(removed.ok).toBe(true);
    expect(standIn.state.dnsRecords.get(foreignRecord)?.record).toMatchObject({ type: 'A', content: '192.0.2.10', proxied: false, ttl: 300, comment: 'my old box' });
    expect(standIn.state.accessApps.get(foreignApp.id ?? '')).toMatchObject({ app: { name: 'Family cloud', session_duration: '6h' }, policyLinks: [] });
    expect(standIn.state.snapshot().accessApps).toHaveLength(1);
  });

  it('resumes after a failure: a missing permission is named, the next run finishes without duplicating anything', async () => {
    await setUp();
    standIn.faults.add({ kind: 'forbidden', method: 'POST', path: '/zones/*/dns_records', permission: PERMISSIONS.dnsWrite, times: 'always' });
    const first = await h.call<PublishReport>('cloudflare:publish', { profileId });
    const dns = first.steps.filter((s) => s.id.startsWith('dns:'));
    expect(dns.map((s) => s.status)).toEqual(['failed', 'failed', 'failed']);
    expect(dns[0]?.error).toMatchObject({ code: 'cloudflare.permission-missing', userMessage: expect.stringContaining('"DNS Write"') });
    expect(statusOf(first).tunnel).toBe('done');

    standIn.faults.clear();
    standIn.requests.clear();
    const second = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(second.ok).toBe(true);
    expect(standIn.requests.count({ method: 'POST' })).toBe(3); // the three CNAMEs, nothing else
    expect(standIn.state.snapshot().tunnels).toHaveLength(1);
    expect(standIn.state.snapshot().accessApps).toHaveLength(4);
  });

  it('401 in the middle says the token is invalid; nothing after the token check is attempted', async () => {
    await setUp();
    standIn.faults.add({ kind: 'unauthorized', path: '/user/tokens/verify' });
    const r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ id: 'token', status: 'failed', error: { code: 'cloudflare.token-invalid' } });
    expect(writes()).toBe(0);
  });

  it('429 and 5xx are retried by the app (not the SDK as well) and shown as "retrying"; 5xx that persists fails its step and DNS is held back', async () => {
    await setUp();
    standIn.faults.add({ kind: 'rateLimited', method: 'POST', path: '/accounts/*/cfd_tunnel', retryAfter: 1 });
    standIn.faults.add({ kind: 'serverError', status: 503, method: 'PUT', path: '/accounts/*/cfd_tunnel/*/configurations' });
    const started = Date.now();
    const r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(r.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const retries = h.events.filter((e) => e.kind === 'retrying');
    expect(retries).toEqual([
      expect.objectContaining({ operation: `Tunnel m2-${profileId}`, cause: 'rate-limited', attempt: 2, maxAttempts: 3, reason: 'Cloudflare is rate-limiting', waitMs: 1000, retryAfterMs: 1000 }),
      expect.objectContaining({ operation: 'Tunnel routes', cause: 'server-error', attempt: 2, reason: 'Cloudflare answered with a server error (503)', waitMs: 50, retryAfterMs: null }),
    ]);
    expect(standIn.requests.count({ method: 'POST', path: '/accounts/*/cfd_tunnel' })).toBe(2);
    expect(standIn.requests.count({ method: 'PUT', path: '/accounts/*/cfd_tunnel/*/configurations' })).toBe(2);
    expect(standIn.state.snapshot().tunnels).toHaveLength(1);

    const p2 = newProfile();
    await h.call('cloudflare:set-token', { profileId: p2, token: DEFAULT_TOKENS.all });
    await h.call('cloudflare:save-settings', { profileId: p2, settings });
    standIn.faults.add({ kind: 'serverError', status: 502, method: 'POST', path: '/accounts/*/access/policies', times: 'always' });
    standIn.requests.clear();
    const failed = await h.call<PublishReport>('cloudflare:publish', { profileId: p2 });
    expect(statusOf(failed)['access-policy']).toBe('failed');
    expect(failed.steps.find((s) => s.id === 'access-policy')?.error).toMatchObject({ code: 'cloudflare.api', userMessage: expect.stringContaining('502') });
    expect(HOSTS.map((x) => statusOf(failed)[`dns:${x}`])).toEqual(['skipped', 'skipped', 'skipped']);
    // A POST that got a 5xx may have created the policy: the whole step is run again (it looks first), 3 attempts in all.
    expect(standIn.requests.count({ method: 'POST', path: '/accounts/*/access/policies' })).toBe(3);
    const seq = standIn.requests.filter({ path: '/accounts/*/access/policies' }).map((e) => e.method).join(' ');
    expect(seq).toMatch(/^(GET )+POST (GET )+POST (GET )+POST$/);
    expect(standIn.state.snapshot().dnsRecords.filter((x) => x.comment === dnsMarker(p2))).toHaveLength(0);
  });

  it('with the network down says so and changes nothing', async () => {
    await setUp();
    const before = JSON.stringify(standIn.state.snapshot());
    const fileBefore = readFileSync(path.join(h.dataDir, 'cloudflare', `${profileId}.json`), 'utf8');
    standIn.faults.networkDown(true);
    const r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    standIn.faults.networkDown(false);
    expect(r.steps).toEqual([expect.objectContaining({ id: 'token', status: 'failed', error: expect.objectContaining({ code: 'cloudflare.network' }) })]);
    expect(h.events.filter((e) => e.kind === 'retrying').map((e) => e.kind === 'retrying' && e.reason)).toEqual(['the connection to Cloudflare dropped', 'the connection to Cloudflare dropped']);
    expect(JSON.stringify(standIn.state.snapshot())).toBe(before);
    expect(readFileSync(path.join(h.dataDir, 'cloudflare', `${profileId}.json`), 'utf8')).toBe(fileBefore);
    expect(await keychain.get(profileId, TUNNEL_TOKEN_SECRET)).toBeUndefined();
  });

  it('before the stack is installed, keeps the tunnel token for the install instead of redeploying', async () => {
    h = makeHarness({ standIn, secrets: keychain, isInstalled: async () => false });
    await setUp();
    const r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(r.ok).toBe(true);
    expect(r.steps.find((s) => s.id === 'deploy')).toMatchObject({ status: 'skipped', detail: expect.stringContaining('Install step') });
    expect(h.redeploys).toEqual([]);
    expect(await keychain.get(profileId, TUNNEL_TOKEN_SECRET)).toBeDefined();
  });

  it('reports the tunnel as the API sees it for live status: connectors, connections and colos; null without a tunnel or token', async () => {
    // Nothing to ask about yet: no token, then a token but no tunnel.
    expect(await h.service.tunnelStatus(profileId)).toBeNull();
    await setUp();
    expect(await h.service.tunnelStatus(profileId)).toBeNull();
    const r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(r.ok).toBe(true);
    const tunnelId = r.tunnelId ?? '';
    expect(await h.service.tunnelStatus(profileId)).toMatchObject({ status: 'inactive', connectors: 0, connections: 0, colos: [] });

    const a = standIn.state.connectTunnel(tunnelId, { conns: 4 });
    standIn.state.connectTunnel(tunnelId, { conns: 2 });
    expect(await h.service.tunnelStatus(profileId)).toMatchObject({ status: 'healthy', connectors: 2, connections: 6, colos: ['ams01', 'ams08', 'fra06', 'fra10'] });
    standIn.state.disconnectTunnel(tunnelId, a.id);
    expect(await h.service.tunnelStatus(profileId)).toMatchObject({ status: 'healthy', connectors: 1, connections: 2, colos: ['ams01', 'fra06'] });
    standIn.state.disconnectTunnel(tunnelId);
    expect(await h.service.tunnelStatus(profileId)).toMatchObject({ status: 'down', connectors: 0, connections: 0 });

    // Read-only and not retried at length: a Cloudflare outage is an error for the poller, and it changes nothing.
    standIn.requests.clear();
    standIn.faults.networkDown(true);
    await expect(h.service.tunnelStatus(profileId)).rejects.toMatchObject({ code: 'cloudflare.network' });
    standIn.faults.networkDown(false);
    expect(writes()).toBe(0);

    await h.call('cloudflare:forget-token', { profileId });
    expect(await h.service.tunnelStatus(profileId)).toBeNull();
  });

  it('refuses hostnames outside the chosen zone', async () => {
    await h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all });
    await expect(h.call('cloudflare:save-settings', { profileId, settings: { ...settings, zoneId: standIn.state.snapshot().zones.find((z) => z.name === 'example.net')?.id, zoneName: 'example.net' } })).rejects.toMatchObject({
      code: 'cloudflare.hostname-outside-zone',
      field: 'hostnames.jellyfin',
    });
  });
});

describe('removal and rotation', () => {
  it('"Remove from Cloudflare" deletes exactly what the app created; a foreign record and Access app stay', async () => {
    await setUp();
    const foreignRecord = await fetchSeedRecord({ type: 'A', name: 'nas.example.com', content: '192.0.2.20', proxied: false, ttl: 300 });
    const cf = await import('cloudflare');
    const admin = new cf.default({ apiToken: DEFAULT_TOKENS.all, baseURL: standIn.url, maxRetries: 0 });
    const foreignApp = await admin.zeroTrust.access.applications.create({ account_id: DEFAULT_ACCOUNT_ID, type: 'self_hosted', name: 'NAS', domain: 'nas.example.com' });
    const published = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(published.ok).toBe(true);

    const plan = await h.call<RemovalPlan>('cloudflare:removal-plan', { profileId });
    expect(plan.items.map((i) => `${i.kind}:${i.name}:${i.action}`).sort()).toEqual(
      [
        ...HOSTS.map((x) => `dns-record:${x}:delete`),
        ...HOSTS.map((x) => `access-app:${x}:delete`),
        `access-policy:M2 household (${profileId}):delete`,
        `access-app:${OIDC_DOMAIN}:delete`,
        `access-policy:M2 sign-in endpoints, no login (${profileId}):delete`,
        `tunnel:m2-${profileId}:delete`,
        `keychain:${TUNNEL_TOKEN_SECRET}:delete`,
      ].sort(),
    );
    await expect(h.call('cloudflare:remove', { profileId, confirm: false })).rejects.toMatchObject({ code: 'ipc.invalid' });
    expect(standIn.state.snapshot().dnsRecords).toHaveLength(4);

    // A connector is up (as cloudflared on the server would be): removal still deletes the tunnel.
    standIn.state.connectTunnel(published.tunnelId ?? '');
    const removed = await h.call<CloudflareRunReport>('cloudflare:remove', { profileId, confirm: true });
    expect(removed.ok).toBe(true);
    const snap = standIn.state.snapshot();
    expect(snap.dnsRecords.map((r) => r.id)).toEqual([foreignRecord]);
    expect(snap.accessApps.map((a) => a.id)).toEqual([foreignApp.id]);
    expect(snap.accessPolicies).toEqual([]);
    expect(snap.tunnels.every((t) => t.deleted_at)).toBe(true);
    expect(await keychain.get(profileId, TUNNEL_TOKEN_SECRET)).toBeUndefined();
    expect((await h.call<CloudflareView>('cloudflare:view', { profileId })).managed).toEqual([]);
    // The API token stays: the admin may publish again.
    expect(await keychain.get(profileId, API_TOKEN_SECRET)).toBeDefined();

    // Running it again finds nothing left to do.
    const again = await h.call<CloudflareRunReport>('cloudflare:remove', { profileId, confirm: true });
    expect(again.steps.map((s) => s.id)).toEqual(['keychain']);
  });

  it('rotates the tunnel token: new secret, new token in the keychain, old token refused, cloudflared redeployed', async () => {
    await setUp();
    await h.call<PublishReport>('cloudflare:publish', { profileId });
    const oldToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    const r = await h.call<CloudflareRunReport>('cloudflare:rotate-tunnel-token', { profileId });
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => [s.id, s.status])).toEqual([['rotate', 'done'], ['tunnel-token', 'done'], ['deploy', 'done']]);
    const newToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    expect(newToken).not.toBe(oldToken);
    const connect = (token: string): Promise<number> => fetch(`${standIn.controlUrl}/tunnels/connect`, { method: 'POST', body: JSON.stringify({ token }) }).then((x) => x.status);
    expect(await connect(oldToken)).toBe(404);
    expect(await connect(newToken)).toBe(200);
    expect(h.redeploys).toEqual([profileId, profileId]);
    expect(standIn.requests.count({ method: 'PATCH', path: '/accounts/*/cfd_tunnel/*' })).toBe(1);
  });
});

describe('secrets', () => {
  it('neither the API token nor the tunnel token appears in logs, events, contract outputs, errors or the settings file', async () => {
    await setUp();
    await h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.accountOwned });
    standIn.faults.add({ kind: 'rateLimited', method: 'GET', path: '/accounts/*/cfd_tunnel', retryAfterMs: 50 });
    await h.call('cloudflare:publish', { profileId });
    await h.call('cloudflare:rotate-tunnel-token', { profileId });
    await h.call('cloudflare:check-token', { profileId });
    await h.call('cloudflare:view', { profileId });
    await h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.expired }).catch(() => undefined);
    const tunnelToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    expect(tunnelToken.length).toBeGreaterThan(40);
    const files = readdirSync(path.join(h.dataDir, 'cloudflare')).map((f) => readFileSync(path.join(h.dataDir, 'cloudflare', f), 'utf8'));
    const everything = JSON.stringify([h.lines, h.events, h.outputs, h.errors, files]);
    expect(h.lines.length).toBeGreaterThan(10);
    expect(h.events.some((e) => e.kind === 'retrying')).toBe(true);
    for (const secret of [DEFAULT_TOKENS.all, DEFAULT_TOKENS.accountOwned, DEFAULT_TOKENS.expired, tunnelToken, JSON.parse(Buffer.from(tunnelToken, 'base64').toString()).s as string]) {
      expect(everything).not.toContain(secret);
    }
  });
});

/** Seed a record as the admin would have made it by hand (not through the app). */
async function fetchSeedRecord(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${standIn.url}/zones/${DEFAULT_ZONE_ID}/dns_records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEFAULT_TOKENS.all}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { result: { id: string } };
  standIn.requests.clear();
  return json.result.id;
}
