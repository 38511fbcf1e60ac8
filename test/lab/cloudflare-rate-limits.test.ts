import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retryingInWords, type CloudflareRetrying, type PublishReport } from '../../electron/contract/cloudflare';
import { API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { dnsMarker } from '../../electron/core/cloudflare/publish-plan';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { makeHarness, type Harness } from './cloudflare-support';

/**
 * Rate limits and cancels against the lab's Cloudflare stand-in, with the app's own retry policy (10 attempts,
 * 2 minutes a request, Retry-After honoured) on real time: a 30-second storm is ridden out and shown as it goes;
 * a cancel during a storm, or with a create in flight, ends cleanly, and the next publish converges without
 * creating anything twice.
 */
let standIn: CloudflareStandIn;
const keychain = new KeyringSecretStore();
const used: string[] = [];
const harnesses: Harness[] = [];
const HOSTS = ['media.example.com', 'cloud.example.com', 'auth.example.com'];
const settings = {
  accountId: DEFAULT_ACCOUNT_ID,
  zoneId: DEFAULT_ZONE_ID,
  zoneName: 'example.com',
  access: { emails: ['alice@example.com'], emailDomain: null, sessionDuration: '24h' },
};

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  standIn = await startCloudflareStandIn();
});
afterAll(async () => {
  await standIn?.close();
  for (const p of used) for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET]) await keychain.delete(p, n).catch(() => undefined);
});
afterEach(() => {
  standIn.faults.clear();
  for (const h of harnesses.splice(0)) rmSync(h.dataDir, { recursive: true, force: true });
});

async function fresh(): Promise<{ h: Harness; profileId: string }> {
  standIn.reset();
  const profileId = `rl-${randomBytes(4).toString('hex')}`;
  used.push(profileId);
  // The app's own policy: nothing shortened for the test.
  const h = makeHarness({ standIn, secrets: keychain, retry: {} });
  harnesses.push(h);
  await h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all });
  await h.call('cloudflare:save-settings', { profileId, settings });
  standIn.requests.clear();
  return { h, profileId };
}

const until = async (what: string, ok: () => boolean, limitMs = 20_000): Promise<void> => {
  const end = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const waits = (h: Harness): CloudflareRetrying[] => h.events.filter((e): e is CloudflareRetrying => e.kind === 'retrying');
const statusOf = (r: PublishReport): Record<string, string> => Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

/** What the profile owns in the stand-in, counted: a duplicate shows as a count above one. */
function owned(profileId: string): { tunnels: number; policies: number; apps: Record<string, number>; dns: Record<string, number> } {
  const snap = standIn.state.snapshot();
  const apps: Record<string, number> = {};
  for (const a of snap.accessApps as Array<{ name?: string; domain?: string }>) if (a.name?.includes(`(${profileId})`)) apps[a.domain ?? ''] = (apps[a.domain ?? ''] ?? 0) + 1;
  const dns: Record<string, number> = {};
  for (const r of snap.dnsRecords) if (r.comment === dnsMarker(profileId)) dns[r.name] = (dns[r.name] ?? 0) + 1;
  return {
    tunnels: snap.tunnels.filter((t) => t.name === `m2-${profileId}` && !t.deleted_at).length,
    policies: (snap.accessPolicies as Array<{ name?: string }>).filter((p) => p.name === `M2 household (${profileId})`).length,
    apps,
    dns,
  };
}
const ONE_EACH: ReturnType<typeof owned> = {
  tunnels: 1,
  policies: 1,
  // The hosts' applications and the path application for Authentik's sign-in endpoints (Nextcloud's OIDC).
  apps: Object.fromEntries([...HOSTS, 'auth.example.com/application/o'].map((x) => [x, 1])),
  dns: Object.fromEntries(HOSTS.map((x) => [x, 1])),
};

describe('rate limits', () => {
  it('rides out a 30-second rate-limit storm: waits what Cloudflare asks, says so with the attempt, and finishes', async () => {
    const { h, profileId } = await fresh();
    // Every request refused for 30 s, each 429 asking for 8 s (Cloudflare sends whole seconds).
    const storm = standIn.faults.add({ kind: 'rateLimited', path: '**', times: 'always', retryAfter: 8 });
    const stormStarted = Date.now();
    const lift = setTimeout(() => standIn.faults.remove(storm.id), 30_000);
    let r: PublishReport;
    try {
      r = await h.call<PublishReport>('cloudflare:publish', { profileId });
    } finally {
      clearTimeout(lift);
    }
    expect(Date.now() - stormStarted).toBeGreaterThanOrEqual(30_000);
    expect(r.ok).toBe(true);
    expect(r.cancelled).toBe(false);
    expect(statusOf(r).token).toBe('unchanged');
    expect(owned(profileId)).toEqual(ONE_EACH);

    // The waits, as the Cloudflare step shows them: attempt 2, 3, … of 10, never less than the 8 s asked for.
    const seen = waits(h);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.map((w) => w.attempt)).toEqual(seen.map((_, i) => i + 2));
    for (const w of seen) {
      expect(w).toMatchObject({ operation: 'Check the API token', cause: 'rate-limited', maxAttempts: 10, retryAfterMs: 8000 });
      expect(w.waitMs).toBeGreaterThanOrEqual(8000);
    }
    expect(retryingInWords(seen[1] as CloudflareRetrying)).toMatch(/^Cloudflare is rate-limiting; retrying in \d+ s — attempt 3 of 10$/);
    expect(retryingInWords(seen[1] as CloudflareRetrying, 8)).toBe('Cloudflare is rate-limiting; retrying in 8 s — attempt 3 of 10');

    // Cloudflare saw one request per attempt (the SDK does not retry on top), each at least 8 s after the 429 before it.
    const verify = standIn.requests.filter({ path: '/user/tokens/verify' });
    expect(verify.map((e) => e.status)).toEqual([...seen.map(() => 429), 200]);
    const at = verify.map((e) => Date.parse(e.at));
    for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBeGreaterThanOrEqual(8000 - 2); // ms timestamps
  }, 120_000);

  it('a cancel during a storm ends at once and cleanly; a cancel with a create in flight is continued without a duplicate', async () => {
    const { h, profileId } = await fresh();
    // 1. A storm on Access applications only: tunnel, routes and policy go through, the first application waits.
    standIn.faults.add({ kind: 'rateLimited', path: 're:^/accounts/[^/]+/access/apps', times: 'always', retryAfter: 8 });
    const first = h.call<PublishReport>('cloudflare:publish', { profileId });
    await until('a wait before a retry', () => waits(h).length > 0);
    const appRequests = standIn.requests.count({ path: '/accounts/*/access/apps' });
    expect(await h.call('cloudflare:cancel-publish', { profileId })).toEqual({ cancelled: true });
    const stopped = await first;
    expect(stopped).toMatchObject({ ok: false, cancelled: true });
    expect(stopped.steps.find((s) => s.id === 'access:media.example.com')).toMatchObject({ status: 'failed', error: { code: 'cloudflare.cancelled' } });
    expect(HOSTS.slice(1).map((x) => statusOf(stopped)[`access:${x}`])).toEqual(['skipped', 'skipped']);
    expect(statusOf(stopped).deploy).toBe('skipped');
    expect(HOSTS.map((x) => statusOf(stopped)[`dns:${x}`])).toEqual(['skipped', 'skipped', 'skipped']);
    // Nothing more was sent after the cancel, and no hostname points anywhere without Access in front.
    expect(standIn.requests.count({ path: '/accounts/*/access/apps' })).toBe(appRequests);
    expect(owned(profileId).dns).toEqual({});
    expect(h.redeploys).toEqual([]);
    // Nothing is running now: a second cancel has nothing to stop.
    expect(await h.call('cloudflare:cancel-publish', { profileId })).toEqual({ cancelled: false });

    // 2. The storm is over; this time the application's create is slow, and the cancel comes while it is in flight.
    //    The stand-in still creates it after the app stopped listening: the next run must find it, not make another.
    standIn.faults.clear();
    standIn.faults.add({ kind: 'delay', method: 'POST', path: '/accounts/*/access/apps', delayMs: 1500 });
    const second = h.call<PublishReport>('cloudflare:publish', { profileId });
    await until('the create in flight', () => standIn.requests.count({ method: 'POST', path: '/accounts/*/access/apps' }) === 1);
    expect(await h.call('cloudflare:cancel-publish', { profileId })).toEqual({ cancelled: true });
    const cut = await second;
    expect(cut.cancelled).toBe(true);
    expect(statusOf(cut)['access:media.example.com']).toBe('failed');
    await until('the stand-in finished the create', () => owned(profileId).apps['media.example.com'] === 1);

    // 3. Publish again: it continues where it stopped and converges, one of everything.
    const done = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(done).toMatchObject({ ok: true, cancelled: false });
    expect(statusOf(done)).toMatchObject({ tunnel: 'unchanged', 'access-policy': 'unchanged', 'access:media.example.com': 'unchanged', 'access:cloud.example.com': 'done' });
    expect(owned(profileId)).toEqual(ONE_EACH);
    expect(h.redeploys).toEqual([profileId]);

    // 4. And once more: nothing left to do.
    standIn.requests.clear();
    const again = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(new Set(Object.values(statusOf(again)))).toEqual(new Set(['unchanged']));
    expect(standIn.requests.all().filter((e) => e.method !== 'GET')).toEqual([]);
  }, 120_000);
});
