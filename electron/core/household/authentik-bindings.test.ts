import { describe, expect, it } from 'vitest';
import type { HouseholdRole } from '../../contract/household';
import { ensureAppAccess, planBindings, wantedAccess } from './authentik-bindings';
import { AuthentikDirectory, MANAGED_ATTRIBUTE, type AuthentikHttp, type Binding, type RoleGroup } from './authentik-directory';

const roleGroups = new Map<HouseholdRole, RoleGroup>([
  ['media', { pk: 'g-media', name: 'm2-media', users: [] }],
  ['power', { pk: 'g-power', name: 'm2-power-users', users: [] }],
  ['admin', { pk: 'g-admin', name: 'm2-admins', users: [] }],
]);
const admins = { group: 'g-ak-admins', user: 1 };
const names = (w: ReturnType<typeof wantedAccess>): string[] => [...w.groups.map((g) => g.name), ...w.users.map((u) => u.name)];

describe('who may use each application', () => {
  it('Nextcloud: power users, household admins and Authentik’s admins; never media-only people', () => {
    expect(names(wantedAccess('nextcloud', roleGroups, admins, []))).toEqual(['authentik Admins', 'm2-power-users', 'm2-admins', 'akadmin']);
  });

  it('Jellyfin: every role, Authentik’s admins and the LDAP bind account', () => {
    expect(names(wantedAccess('jellyfin', roleGroups, admins, [{ pk: 7, name: 'm2-ldap-bind' }]))).toEqual(['authentik Admins', 'm2-media', 'm2-power-users', 'm2-admins', 'akadmin', 'm2-ldap-bind']);
  });

  it('the admin stays in without the admins group (renamed) through akadmin, and without akadmin through the group', () => {
    expect(names(wantedAccess('nextcloud', roleGroups, { group: null, user: 1 }, []))).toContain('akadmin');
    expect(names(wantedAccess('nextcloud', roleGroups, { group: 'g', user: null }, []))).toContain('authentik Admins');
  });
});

const bind = (over: Partial<Binding>): Binding => ({ pk: `b-${Math.random()}`, policy: null, group: null, user: null, enabled: true, negate: false, groupManaged: false, ...over });

describe('the bindings plan', () => {
  const want = wantedAccess('nextcloud', roleGroups, admins, []);

  it('creates every binding on an application with none (which would let everyone in)', () => {
    const p = planBindings([], want);
    expect(p.create.map((c) => c.name)).toEqual(['authentik Admins', 'm2-power-users', 'm2-admins', 'akadmin']);
    expect(p.repair).toEqual([]);
    expect(p.remove).toEqual([]);
  });

  it('is empty when the bindings already are as wanted (a re-run writes nothing)', () => {
    const existing = [bind({ group: 'g-ak-admins' }), bind({ group: 'g-power', groupManaged: true }), bind({ group: 'g-admin', groupManaged: true }), bind({ user: 1 })];
    expect(planBindings(existing, want)).toEqual({ create: [], repair: [], remove: [] });
  });

  it('removes the app’s group bindings no role needs (m2-media on Nextcloud), keeps what someone bound by hand', () => {
    const media = bind({ group: 'g-media', groupManaged: true });
    const byHand = bind({ group: 'g-family' });
    const policy = bind({ policy: 'p-1' });
    const existing = [bind({ group: 'g-ak-admins' }), bind({ group: 'g-power', groupManaged: true }), bind({ group: 'g-admin', groupManaged: true }), bind({ user: 1 }), media, byHand, policy];
    expect(planBindings(existing, want)).toEqual({ create: [], repair: [], remove: [media] });
  });

  it('turns a disabled or negated binding of a wanted group back on instead of adding a second', () => {
    const off = bind({ group: 'g-power', groupManaged: true, enabled: false });
    const negated = bind({ user: 1, negate: true });
    const p = planBindings([bind({ group: 'g-ak-admins' }), off, bind({ group: 'g-admin', groupManaged: true }), negated], want);
    expect(p).toEqual({ create: [], repair: [off, negated], remove: [] });
  });
});

/** A small Authentik: groups, users, two applications and their bindings, counting writes. */
function fakeAuthentik(): { http: AuthentikHttp; writes: () => number; bindings: Array<Record<string, unknown>>; apps: Record<string, Record<string, unknown>> } {
  const groups = [
    { pk: 'g-ak-admins', name: 'authentik Admins', is_superuser: true, users: [1], attributes: {} },
    { pk: 'g-media', name: 'm2-media', is_superuser: false, users: [], attributes: { [MANAGED_ATTRIBUTE]: 'media' } },
    { pk: 'g-power', name: 'm2-power-users', is_superuser: false, users: [], attributes: { [MANAGED_ATTRIBUTE]: 'power' } },
    { pk: 'g-admin', name: 'm2-admins', is_superuser: true, users: [], attributes: { [MANAGED_ATTRIBUTE]: 'admin' } },
  ];
  const users = [
    { pk: 1, username: 'akadmin', attributes: {} },
    { pk: 7, username: 'm2-ldap-bind', attributes: {} },
  ];
  const apps: Record<string, Record<string, unknown>> = { nextcloud: { pk: 'app-nc', slug: 'nextcloud', name: 'Nextcloud', policy_engine_mode: 'all' }, jellyfin: { pk: 'app-jf', slug: 'jellyfin', name: 'Jellyfin', policy_engine_mode: 'any' } };
  const bindings: Array<Record<string, unknown>> = [];
  let writes = 0;
  let n = 0;
  const http: AuthentikHttp = {
    async request(method, path, json) {
      const url = new URL(path, 'http://x');
      if (method !== 'GET') writes++;
      const body = json as Record<string, unknown>;
      if (url.pathname === '/api/v3/core/groups/') return { status: 200, body: { results: groups.filter((g) => g.name === url.searchParams.get('name')) } };
      if (url.pathname === '/api/v3/core/users/') return { status: 200, body: { results: users.filter((u) => u.username === url.searchParams.get('username')) } };
      const app = /^\/api\/v3\/core\/applications\/([\w-]+)\/$/.exec(url.pathname);
      if (app) {
        const a = apps[app[1] ?? ''];
        if (!a) return { status: 404, body: { detail: 'Not found.' } };
        if (method === 'PATCH') Object.assign(a, body);
        return { status: 200, body: a };
      }
      if (url.pathname === '/api/v3/policies/bindings/') {
        if (method === 'POST') {
          const row = { pk: `b${++n}`, policy: null, group: null, user: null, ...body };
          bindings.push(row);
          return { status: 201, body: row };
        }
        const rows = bindings.filter((b) => b.target === url.searchParams.get('target')).map((b) => ({ ...b, group_obj: groups.find((g) => g.pk === b.group) ?? null }));
        return { status: 200, body: { results: rows } };
      }
      const one = /^\/api\/v3\/policies\/bindings\/([\w-]+)\/$/.exec(url.pathname);
      if (one) {
        const i = bindings.findIndex((b) => b.pk === one[1]);
        if (method === 'DELETE') bindings.splice(i, 1);
        if (method === 'PATCH') Object.assign(bindings[i] ?? {}, body);
        return { status: method === 'DELETE' ? 204 : 200, body: bindings[i] ?? {} };
      }
      throw new Error(`unexpected ${method} ${path}`);
    },
  };
  return { http, writes: () => writes, bindings, apps };
}

describe('ensureAppAccess against an Authentik', () => {
  it('binds both applications, sets mode any, and a second run writes nothing', async () => {
    const ak = fakeAuthentik();
    const dir = new AuthentikDirectory(ak.http);
    const first = await ensureAppAccess(dir, roleGroups);
    expect(first).toEqual([
      'let Nextcloud in by any of its bindings',
      'let authentik Admins, m2-power-users, m2-admins, akadmin into Nextcloud',
      'let authentik Admins, m2-media, m2-power-users, m2-admins, akadmin, m2-ldap-bind into Jellyfin',
    ]);
    expect(ak.apps.nextcloud?.policy_engine_mode).toBe('any');
    expect(ak.bindings.filter((b) => b.target === 'app-nc').map((b) => b.group ?? b.user)).toEqual(['g-ak-admins', 'g-power', 'g-admin', 1]);
    expect(ak.bindings.every((b) => b.enabled === true && b.negate === false && b.failure_result === false)).toBe(true);
    const writes = ak.writes();
    expect(await ensureAppAccess(dir, roleGroups)).toEqual([]);
    expect(ak.writes()).toBe(writes);
  });

  it('takes m2-media off Nextcloud when someone bound it there, and skips an application that is not installed', async () => {
    const ak = fakeAuthentik();
    delete ak.apps.jellyfin;
    const dir = new AuthentikDirectory(ak.http);
    await ensureAppAccess(dir, roleGroups);
    ak.bindings.push({ pk: 'stray', target: 'app-nc', policy: null, group: 'g-media', user: null, enabled: true, negate: false });
    expect(await ensureAppAccess(dir, roleGroups)).toEqual(['took 1 group no role needs off Nextcloud']);
    expect(ak.bindings.some((b) => b.group === 'g-media')).toBe(false);
    expect(ak.bindings.every((b) => b.target === 'app-nc')).toBe(true);
  });
});
