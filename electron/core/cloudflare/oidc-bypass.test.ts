import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Cloudflare from 'cloudflare';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StackSettings } from '../../contract/stack';
import { CloudflareStore } from './cloudflare-store';
import { ensureOidcBypass, removeOidcBypass } from './oidc-bypass';
import { oidcAppName, oidcBypass } from './publish-plan';
import type { CloudflareContext } from './run';

type Obj = Record<string, unknown> & { id: string };

/** Just the Access calls the bypass makes, in memory, counting writes. */
function fakeAccess(): { cf: Cloudflare; apps: Map<string, Obj>; policies: Map<string, Obj>; writes: string[] } {
  const apps = new Map<string, Obj>();
  const policies = new Map<string, Obj>();
  const writes: string[] = [];
  let n = 0;
  const list = (m: Map<string, Obj>) => async function* () {
    yield* [...m.values()];
  };
  const crud = (m: Map<string, Obj>, kind: string, view: (o: Obj) => Obj) => ({
    list: () => list(m)(),
    create: async ({ account_id: _a, ...body }: Record<string, unknown>) => {
      writes.push(`create ${kind}`);
      const o = { ...body, id: `${kind}-${++n}` };
      m.set(o.id, o);
      return view(o);
    },
    update: async (id: string, { account_id: _a, ...body }: Record<string, unknown>) => {
      writes.push(`update ${kind}`);
      m.set(id, { ...body, id });
      return view(m.get(id) as Obj);
    },
    delete: async (id: string) => {
      writes.push(`delete ${kind}`);
      m.delete(id);
      return { id };
    },
  });
  const appView = (a: Obj): Obj => ({ ...a, policies: ((a.policies as Array<{ id: string; precedence: number }>) ?? []).map((l) => ({ ...policies.get(l.id), ...l })) });
  const cf = {
    zeroTrust: {
      access: {
        policies: crud(policies, 'policy', (p) => p),
        applications: { ...crud(apps, 'app', appView), list: async function* () { yield* [...apps.values()].map(appView); } },
      },
    },
  };
  return { cf: cf as unknown as Cloudflare, apps, policies, writes };
}

const both = StackSettings.parse({});
let dir: string;
let cx: CloudflareContext;
let fake: ReturnType<typeof fakeAccess>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'm2-oidc-'));
  fake = fakeAccess();
  cx = { cf: fake.cf, profileId: 'home', store: new CloudflareStore(dir) };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('the bypass for Authentik’s OIDC endpoints', () => {
  it('is planned only while both Nextcloud and Authentik are on, for the auth host’s /application/o', () => {
    expect(oidcBypass(both)).toEqual({ hostname: 'auth.example.com', domain: 'auth.example.com/application/o' });
    expect(oidcBypass(StackSettings.parse({ modules: { nextcloud: { enabled: false } } }))).toBeNull();
    expect(oidcBypass(StackSettings.parse({ modules: { authentik: { enabled: false } } }))).toBeNull();
  });

  it('creates one bypass policy for everyone and one path application linking only it; a second run writes nothing', async () => {
    const first = await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    expect(first.status).toBe('done');
    expect([...fake.policies.values()]).toEqual([expect.objectContaining({ decision: 'bypass', include: [{ everyone: {} }] })]);
    const policyId = [...fake.policies.keys()][0];
    expect([...fake.apps.values()]).toEqual([
      expect.objectContaining({ type: 'self_hosted', domain: 'auth.example.com/application/o', name: oidcAppName('home'), policies: [{ id: policyId, precedence: 1 }] }),
    ]);
    fake.writes.length = 0;
    const second = await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    expect(second.status).toBe('unchanged');
    expect(fake.writes).toEqual([]);
  });

  it('puts a policy changed outside the app back to bypass, and leaves a host-wide app of the same host alone', async () => {
    fake.apps.set('host', { id: 'host', type: 'self_hosted', domain: 'auth.example.com', name: 'M2 Authentik (home)', policies: [] });
    await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    const [pid] = [...fake.policies.keys()];
    fake.policies.set(pid as string, { ...(fake.policies.get(pid as string) as Obj), decision: 'allow' });
    fake.writes.length = 0;
    expect((await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h')).status).toBe('done');
    expect(fake.writes).toEqual(['update policy']);
    expect(fake.apps.get('host')).toEqual({ id: 'host', type: 'self_hosted', domain: 'auth.example.com', name: 'M2 Authentik (home)', policies: [] });
  });

  it('is removed when Nextcloud is turned off, and by removal; then nothing is left to remove', async () => {
    await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    expect(await ensureOidcBypass(cx, 'acc', null, '24h')).toMatchObject({ status: 'done' });
    expect([fake.apps.size, fake.policies.size]).toEqual([0, 0]);
    expect((await cx.store.read('home')).managed.oidcBypass).toBeNull();
    expect(await ensureOidcBypass(cx, 'acc', null, '24h')).toMatchObject({ status: 'unchanged' });
    await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    expect(await removeOidcBypass(cx)).toBe(true);
    expect([fake.apps.size, fake.policies.size, await removeOidcBypass(cx)]).toEqual([0, 0, false]);
  });

  it('moves its application to the new path when Authentik’s hostname changes: none left behind, removal leaves nothing', async () => {
    await ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h');
    const moved = StackSettings.parse({ hostnames: { authentik: 'login.example.com' } });
    fake.writes.length = 0;
    expect(await ensureOidcBypass(cx, 'acc', oidcBypass(moved), '24h')).toMatchObject({ status: 'done' });
    expect(fake.writes).toEqual(['update app']);
    expect([...fake.apps.values()].map((a) => a.domain)).toEqual(['login.example.com/application/o']);
    expect(await removeOidcBypass(cx)).toBe(true);
    expect([fake.apps.size, fake.policies.size]).toEqual([0, 0]);
  });

  it('refuses to take over a path application made outside the app, naming what to do', async () => {
    fake.apps.set('theirs', { id: 'theirs', type: 'self_hosted', domain: 'auth.example.com/application/o', name: 'mine', policies: [] });
    await expect(ensureOidcBypass(cx, 'acc', oidcBypass(both), '24h')).rejects.toMatchObject({ code: 'cloudflare.conflict', userMessage: expect.stringContaining('auth.example.com/application/o') });
  });
});
