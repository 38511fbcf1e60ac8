/**
 * The Authentik stand-in's core directory (API v3): users, groups, group membership and recovery links, modelled on
 * what a running authentik 2026.8 answers (recorded calls: `POST /core/users/` 201 with an integer `pk`, `uuid` and
 * `uid`; a second one 400 `{"username":["This field must be unique."]}`; `GET /core/users/?username=` exact and
 * case-sensitive; groups keyed by UUID with `num_pk`, `users`, `users_obj`; a duplicate group 400
 * `{"name":["Group with this name already exists."]}`; `add_user`/`remove_user` `{"pk": N}` 204, also for a
 * non-member; `DELETE` 204 then 404; `POST /core/users/{pk}/recovery/` 400 `{"non_field_errors":"No recovery flow
 * set."}` on a fresh install, which has no recovery flow). Only the server process writes this state, in its own
 * file beside the worker's, so the two never overwrite each other.
 *
 * Applications (from the applied blueprints) and their policy bindings (authentik/policies/api/bindings.py): an
 * application's `pk` is its policy-binding-model uuid, `policy_engine_mode` defaults to `any`, a binding names
 * exactly one of `policy`/`group`/`user` (else 400 `{"non_field_errors":["Only one of 'policy', 'group', 'user' can
 * be set."]}`), and deleting a group or user deletes its bindings (foreign keys on cascade). Access as
 * `check_access` judges it (authentik/policies/engine.py): no enabled binding → everyone passes; otherwise each
 * enabled binding passes when the user is in its group (direct membership only here — real Authentik also counts
 * parent groups [UNVERIFIED for this version]) or is its user, `negate` flips it, and mode `any` needs one to pass,
 * `all` every one. A superuser gets no exception; an inactive user never passes. Policy (expression) bindings are
 * not evaluated here [UNVERIFIED]: they fail closed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import path from 'node:path';
import { HttpError, env, isRecord, loadJson, readJson, saveJson, send, sendJson } from './common';

interface StoredUser {
  pk: number;
  uuid: string;
  username: string;
  name: string;
  email: string;
  is_active: boolean;
  last_login: string | null;
  date_joined: string;
  attributes: Record<string, unknown>;
  path: string;
  type: 'internal' | 'external' | 'service_account' | 'internal_service_account';
  password_change_date: string;
}

interface StoredGroup {
  pk: string;
  num_pk: number;
  name: string;
  is_superuser: boolean;
  parent: string | null;
  users: number[];
  attributes: Record<string, unknown>;
}

interface CoreState {
  nextUserPk: number;
  nextGroupNum: number;
  users: StoredUser[];
  groups: StoredGroup[];
  /** Lab switch: whether the brand has a recovery flow (a fresh Authentik has none). */
  recoveryFlow: boolean;
  /** Recovery tokens handed out (key → user pk), as FlowToken rows. */
  tokens: Array<{ key: string; pk: number; created: string }>;
  /** Policy bindings (absent in state files from before they were modelled). */
  bindings?: StoredBinding[];
  /** Application fields changed through the API (the blueprint declares the rest): slug → policy_engine_mode. */
  engineModes?: Record<string, 'any' | 'all'>;
}

interface StoredBinding {
  pk: string;
  target: string;
  policy: string | null;
  group: string | null;
  user: number | null;
  negate: boolean;
  enabled: boolean;
  order: number;
  timeout: number;
  failure_result: boolean;
}

export interface CoreOptions {
  /** Throws the API's 403 when the bearer token is missing or wrong. */
  readonly requireToken: (req: http.IncomingMessage) => void;
  /** Whether an applied blueprint declares a recovery flow (designation recovery). */
  readonly blueprintRecoveryFlow: () => string | null;
  /** The bootstrap admin's email, for the seeded akadmin. */
  readonly bootstrapEmail: () => string;
  /** The applications the applied blueprints declare (identifiers and attrs). */
  readonly applications: () => Array<Record<string, unknown>>;
}

/** An application's pk: a uuid fixed by its slug, as the blueprint makes it once. */
const appPk = (slug: string): string => createHash('sha256').update(`application:${slug}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');

function applicationView(s: CoreState, a: Record<string, unknown>): Record<string, unknown> {
  const slug = String(a.slug);
  // The blueprint's own attrs (provider and the rest) as the worker recorded them, then the API's computed fields.
  return {
    ...a,
    pk: appPk(slug),
    name: String(a.name ?? slug),
    slug,
    launch_url: typeof a.meta_launch_url === 'string' ? a.meta_launch_url : null,
    meta_launch_url: typeof a.meta_launch_url === 'string' ? a.meta_launch_url : '',
    open_in_new_tab: false,
    meta_description: '',
    meta_publisher: '',
    policy_engine_mode: s.engineModes?.[slug] ?? 'any',
    group: '',
  };
}

/** Whether the user may use the target, as the policy engine judges group and user bindings. */
export function passes(s: CoreState, target: string, userPk: number, mode: 'any' | 'all'): { passing: boolean; messages: string[] } {
  const u = s.users.find((x) => x.pk === userPk);
  if (!u?.is_active) return { passing: false, messages: ['User is inactive.'] };
  const bound = (s.bindings ?? []).filter((b) => b.target === target && b.enabled).sort((a, b) => a.order - b.order);
  if (!bound.length) return { passing: true, messages: [] };
  const results = bound.map((b) => {
    const hit = b.group !== null ? s.groups.some((g) => g.pk === b.group && g.users.includes(userPk)) : b.user !== null ? b.user === userPk : false;
    return b.negate ? !hit : hit;
  });
  const passing = mode === 'any' ? results.some(Boolean) : results.every(Boolean);
  return { passing, messages: passing ? [] : ['Policy binding(s) did not pass.'] };
}

function bindingView(s: CoreState, b: StoredBinding): Record<string, unknown> {
  const g = b.group ? s.groups.find((x) => x.pk === b.group) : undefined;
  const u = b.user !== null ? s.users.find((x) => x.pk === b.user) : undefined;
  return { ...b, policy_obj: null, group_obj: g ? partialGroup(g) : null, user_obj: u ? userView(s, u) : null };
}

const stateFile = (): string => path.join(env('M2_STANDIN_AUTHENTIK_STATE_DIR', '/data'), '.m2-standin', 'authentik-core.json');
const now = (): string => new Date().toISOString();

function seed(email: string): CoreState {
  const t = now();
  return {
    nextUserPk: 2,
    nextGroupNum: 2,
    users: [
      {
        pk: 1,
        uuid: randomUUID(),
        username: 'akadmin',
        name: 'authentik Default Admin',
        email,
        is_active: true,
        last_login: null,
        date_joined: t,
        attributes: {},
        path: 'users',
        type: 'internal',
        password_change_date: t,
      },
    ],
    groups: [{ pk: randomUUID(), num_pk: 1, name: 'authentik Admins', is_superuser: true, parent: null, users: [1], attributes: {} }],
    recoveryFlow: false,
    tokens: [],
  };
}

const load = (o: CoreOptions): CoreState => loadJson<CoreState>(stateFile()) ?? seed(o.bootstrapEmail());
const save = (s: CoreState): void => saveJson(stateFile(), s);

function paginated(results: unknown[]): Record<string, unknown> {
  return {
    pagination: { next: 0, previous: 0, count: results.length, current: 1, total_pages: 1, start_index: results.length ? 1 : 0, end_index: results.length },
    results,
    autocomplete: {},
  };
}

const uid = (u: StoredUser): string => createHash('sha256').update(`${u.pk}:${u.uuid}`).digest('hex');
const groupsOf = (s: CoreState, pk: number): StoredGroup[] => s.groups.filter((g) => g.users.includes(pk));

function partialGroup(g: StoredGroup): Record<string, unknown> {
  return { pk: g.pk, num_pk: g.num_pk, name: g.name, is_superuser: g.is_superuser, parent: g.parent, parent_name: null, attributes: g.attributes };
}

function userView(s: CoreState, u: StoredUser): Record<string, unknown> {
  const groups = groupsOf(s, u.pk);
  return {
    pk: u.pk,
    username: u.username,
    name: u.name,
    is_active: u.is_active,
    last_login: u.last_login,
    date_joined: u.date_joined,
    is_superuser: groups.some((g) => g.is_superuser),
    groups: groups.map((g) => g.pk),
    groups_obj: groups.map(partialGroup),
    roles: [],
    roles_obj: [],
    email: u.email,
    avatar: `data:image/svg+xml;base64,${Buffer.from(`<svg>${u.username.slice(0, 1)}</svg>`).toString('base64')}`,
    attributes: u.attributes,
    uid: uid(u),
    path: u.path,
    type: u.type,
    uuid: u.uuid,
    password_change_date: u.password_change_date,
  };
}

function groupView(s: CoreState, g: StoredGroup): Record<string, unknown> {
  return {
    ...partialGroup(g),
    users: [...g.users],
    users_obj: s.users
      .filter((u) => g.users.includes(u.pk))
      .map((u) => ({ pk: u.pk, username: u.username, name: u.name, is_active: u.is_active, last_login: u.last_login, email: u.email, attributes: u.attributes, uid: uid(u) })),
    roles: [],
    roles_obj: [],
  };
}

/** Answer and say the route was handled. */
const json = (res: http.ServerResponse, status: number, body: unknown): true => {
  sendJson(res, status, body);
  return true;
};
const empty = (res: http.ServerResponse, status: number): true => {
  send(res, status);
  return true;
};
const invalid = (res: http.ServerResponse, errors: Record<string, unknown>): true => json(res, 400, errors);
const USERNAME = /^[\w.@+-]+$/u;

/** Answers the core users and groups routes; false for any other path. */
export async function handleCore(req: http.IncomingMessage, res: http.ServerResponse, url: URL, o: CoreOptions): Promise<boolean> {
  const p = url.pathname;
  const method = req.method ?? 'GET';

  // Lab control: the directory as it is, and the recovery-flow switch.
  if (p === '/__lab/core') {
    const s = load(o);
    if (method === 'POST') {
      const body = await readJson(req);
      if (isRecord(body) && 'recoveryFlow' in body) {
        if (typeof body.recoveryFlow !== 'boolean') throw new HttpError(400, 'recoveryFlow must be a boolean');
        s.recoveryFlow = body.recoveryFlow;
        save(s);
      }
    }
    sendJson(res, 200, {
      recoveryFlow: s.recoveryFlow,
      users: s.users.map((u) => userView(s, u)),
      groups: s.groups.map((g) => groupView(s, g)),
      tokens: s.tokens.length,
      applications: o.applications().map((a) => applicationView(s, a)),
      bindings: (s.bindings ?? []).map((b) => bindingView(s, b)),
    });
    return true;
  }

  if (p === '/api/v3/core/users/') {
    o.requireToken(req);
    const s = load(o);
    if (method === 'GET') {
      const q = url.searchParams;
      const search = q.get('search')?.toLowerCase();
      const list = s.users
        .filter((u) => (['username', 'email', 'name'] as const).every((k) => q.get(k) === null || u[k] === q.get(k)))
        .filter((u) => search === undefined || `${u.username} ${u.name} ${u.email}`.toLowerCase().includes(search))
        .sort((a, b) => a.username.localeCompare(b.username))
        .map((u) => userView(s, u));
      sendJson(res, 200, paginated(list));
      return true;
    }
    if (method === 'POST') {
      const b = await readJson(req);
      if (!isRecord(b)) return invalid(res, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      const errors: Record<string, string[]> = {};
      if (typeof b.username !== 'string' || b.username === '') errors.username = ['This field is required.'];
      else if (b.username.length > 150) errors.username = ['Ensure this field has no more than 150 characters.'];
      else if (!USERNAME.test(b.username)) errors.username = ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'];
      else if (s.users.some((u) => u.username === b.username)) errors.username = ['This field must be unique.'];
      if (typeof b.name !== 'string') errors.name = ['This field is required.'];
      if (b.type !== undefined && !['internal', 'external', 'service_account'].includes(String(b.type))) errors.type = [`"${String(b.type)}" is not a valid choice.`];
      if (b.path !== undefined && (typeof b.path !== 'string' || b.path.startsWith('/') || b.path.endsWith('/'))) errors.path = ['No leading or trailing slashes allowed.'];
      if (Object.keys(errors).length) return invalid(res, errors);
      const t = now();
      const u: StoredUser = {
        pk: s.nextUserPk++,
        uuid: randomUUID(),
        username: String(b.username),
        name: String(b.name),
        email: typeof b.email === 'string' ? b.email : '',
        is_active: b.is_active !== false,
        last_login: null,
        date_joined: t,
        attributes: isRecord(b.attributes) ? b.attributes : {},
        path: typeof b.path === 'string' ? b.path : 'users',
        type: (b.type as StoredUser['type'] | undefined) ?? 'internal',
        password_change_date: t,
      };
      s.users.push(u);
      if (Array.isArray(b.groups)) for (const g of s.groups) if (b.groups.includes(g.pk)) g.users.push(u.pk);
      save(s);
      sendJson(res, 201, userView(s, u));
      return true;
    }
    return empty(res, 405);
  }

  const user = /^\/api\/v3\/core\/users\/(\d+)\/(recovery\/)?$/.exec(p);
  if (user) {
    o.requireToken(req);
    const s = load(o);
    const u = s.users.find((x) => x.pk === Number(user[1]));
    if (!u) return json(res, 404, { detail: 'No User matches the given query.' });
    if (user[2]) {
      if (method !== 'POST') return empty(res, 405);
      const slug = o.blueprintRecoveryFlow() ?? (s.recoveryFlow ? 'default-recovery-flow' : null);
      if (!slug) return invalid(res, { non_field_errors: 'No recovery flow set.' });
      const key = randomBytes(48).toString('base64url');
      s.tokens = [...s.tokens.filter((t) => t.pk !== u.pk), { key, pk: u.pk, created: now() }];
      save(s);
      const base = `${(req.headers['x-forwarded-proto'] as string | undefined) ?? 'http'}://${req.headers.host ?? 'localhost'}`;
      sendJson(res, 200, { link: `${base}/if/flow/${slug}/?flow_token=${key}` });
      return true;
    }
    if (method === 'GET') return json(res, 200, userView(s, u));
    if (method === 'PATCH') {
      const b = await readJson(req);
      if (isRecord(b)) {
        if (typeof b.name === 'string') u.name = b.name;
        if (typeof b.email === 'string') u.email = b.email;
        if (typeof b.is_active === 'boolean') u.is_active = b.is_active;
        if (isRecord(b.attributes)) u.attributes = b.attributes;
        if (Array.isArray(b.groups)) for (const g of s.groups) g.users = b.groups.includes(g.pk) ? [...new Set([...g.users, u.pk])] : g.users.filter((x) => x !== u.pk);
      }
      save(s);
      return json(res, 200, userView(s, u));
    }
    if (method === 'DELETE') {
      s.users = s.users.filter((x) => x.pk !== u.pk);
      for (const g of s.groups) g.users = g.users.filter((x) => x !== u.pk);
      s.tokens = s.tokens.filter((t) => t.pk !== u.pk);
      s.bindings = (s.bindings ?? []).filter((b) => b.user !== u.pk);
      save(s);
      return empty(res, 204);
    }
    return empty(res, 405);
  }

  if (p === '/api/v3/core/groups/') {
    o.requireToken(req);
    const s = load(o);
    if (method === 'GET') {
      const q = url.searchParams;
      const list = s.groups
        .filter((g) => q.get('name') === null || g.name === q.get('name'))
        .filter((g) => q.get('members_by_username') === null || s.users.some((u) => u.username === q.get('members_by_username') && g.users.includes(u.pk)))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((g) => groupView(s, g));
      sendJson(res, 200, paginated(list));
      return true;
    }
    if (method === 'POST') {
      const b = await readJson(req);
      if (!isRecord(b) || typeof b.name !== 'string' || b.name === '') return invalid(res, { name: ['This field is required.'] });
      if (s.groups.some((g) => g.name === b.name)) return invalid(res, { name: ['Group with this name already exists.'] });
      const users = Array.isArray(b.users) ? b.users.filter((x): x is number => typeof x === 'number' && s.users.some((u) => u.pk === x)) : [];
      const g: StoredGroup = { pk: randomUUID(), num_pk: s.nextGroupNum++, name: b.name, is_superuser: b.is_superuser === true, parent: null, users, attributes: isRecord(b.attributes) ? b.attributes : {} };
      s.groups.push(g);
      save(s);
      sendJson(res, 201, groupView(s, g));
      return true;
    }
    return empty(res, 405);
  }

  const group = /^\/api\/v3\/core\/groups\/([0-9a-f-]{36})\/(?:(add_user|remove_user)\/)?$/.exec(p);
  if (group) {
    o.requireToken(req);
    const s = load(o);
    const g = s.groups.find((x) => x.pk === group[1]);
    if (!g) return json(res, 404, { detail: 'No Group matches the given query.' });
    if (group[2]) {
      if (method !== 'POST') return empty(res, 405);
      const b = await readJson(req);
      const pk = isRecord(b) ? b.pk : undefined;
      if (typeof pk !== 'number') return invalid(res, { pk: ['This field is required.'] });
      if (!s.users.some((u) => u.pk === pk)) return json(res, 404, { detail: 'Not found.' });
      g.users = group[2] === 'add_user' ? [...new Set([...g.users, pk])] : g.users.filter((x) => x !== pk);
      save(s);
      return empty(res, 204);
    }
    if (method === 'GET') return json(res, 200, groupView(s, g));
    if (method === 'PATCH') {
      const b = await readJson(req);
      if (isRecord(b)) {
        if (typeof b.name === 'string') {
          if (s.groups.some((x) => x !== g && x.name === b.name)) return invalid(res, { name: ['Group with this name already exists.'] });
          g.name = b.name;
        }
        if (typeof b.is_superuser === 'boolean') g.is_superuser = b.is_superuser;
        if (isRecord(b.attributes)) g.attributes = b.attributes;
        if (Array.isArray(b.users)) g.users = b.users.filter((x): x is number => typeof x === 'number' && s.users.some((u) => u.pk === x));
      }
      save(s);
      return json(res, 200, groupView(s, g));
    }
    if (method === 'DELETE') {
      s.groups = s.groups.filter((x) => x !== g);
      s.bindings = (s.bindings ?? []).filter((b) => b.group !== g.pk);
      save(s);
      return empty(res, 204);
    }
    return empty(res, 405);
  }
  if (p === '/api/v3/core/applications/') {
    o.requireToken(req);
    if (method !== 'GET') return empty(res, 405);
    const s = load(o);
    const slug = url.searchParams.get('slug');
    // [UNVERIFIED] real Authentik lists only what the token's user may use unless superuser_full_list=true; the
    // bootstrap token is akadmin's, whom the app always lets in, so the full list is what it sees.
    sendJson(res, 200, paginated(o.applications().filter((a) => slug === null || a.slug === slug).map((a) => applicationView(s, a))));
    return true;
  }

  const app = /^\/api\/v3\/core\/applications\/([-\w]+)\/(check_access\/)?$/.exec(p);
  if (app) {
    o.requireToken(req);
    const s = load(o);
    const a = o.applications().find((x) => x.slug === app[1]);
    if (!a) return json(res, 404, { detail: 'No Application matches the given query.' });
    const view = applicationView(s, a);
    if (app[2]) {
      if (method !== 'GET') return empty(res, 405);
      const forUser = Number(url.searchParams.get('for_user'));
      if (!s.users.some((u) => u.pk === forUser)) return json(res, 400, { for_user: ['User does not exist.'] });
      const r = passes(s, String(view.pk), forUser, view.policy_engine_mode === 'all' ? 'all' : 'any');
      return json(res, 200, { ...r, log_messages: [] });
    }
    if (method === 'GET') return json(res, 200, view);
    if (method === 'PATCH') {
      const b = await readJson(req);
      if (isRecord(b) && b.policy_engine_mode !== undefined) {
        if (b.policy_engine_mode !== 'any' && b.policy_engine_mode !== 'all') return invalid(res, { policy_engine_mode: [`"${String(b.policy_engine_mode)}" is not a valid choice.`] });
        s.engineModes = { ...s.engineModes, [String(a.slug)]: b.policy_engine_mode };
        save(s);
      }
      return json(res, 200, applicationView(s, a));
    }
    return empty(res, 405);
  }

  if (p === '/api/v3/policies/bindings/') {
    o.requireToken(req);
    const s = load(o);
    if (method === 'GET') {
      const target = url.searchParams.get('target');
      const list = (s.bindings ?? []).filter((b) => target === null || b.target === target).sort((a, b) => a.target.localeCompare(b.target) || a.order - b.order);
      sendJson(res, 200, paginated(list.map((b) => bindingView(s, b))));
      return true;
    }
    if (method === 'POST') {
      const b = await readJson(req);
      if (!isRecord(b)) return invalid(res, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      const targets = o.applications().map((a) => appPk(String(a.slug)));
      if (typeof b.target !== 'string' || !b.target) return invalid(res, { target: ['This field is required.'] });
      if (!targets.includes(b.target)) return invalid(res, { target: [`Invalid pk "${b.target}" - object does not exist.`] });
      if (typeof b.order !== 'number' || !Number.isInteger(b.order)) return invalid(res, { order: ['This field is required.'] });
      if (b.group !== undefined && b.group !== null && !s.groups.some((g) => g.pk === b.group)) return invalid(res, { group: [`Invalid pk "${String(b.group)}" - object does not exist.`] });
      if (b.user !== undefined && b.user !== null && !s.users.some((u) => u.pk === b.user)) return invalid(res, { user: [`Invalid pk "${String(b.user)}" - object does not exist.`] });
      const count = [b.policy, b.group, b.user].filter(Boolean).length;
      if (count > 1) return invalid(res, { non_field_errors: ["Only one of 'policy', 'group', 'user' can be set."] });
      if (count < 1) return invalid(res, { non_field_errors: ["One of 'policy', 'group', 'user' must be set."] });
      const row: StoredBinding = {
        pk: randomUUID(),
        target: b.target,
        policy: typeof b.policy === 'string' ? b.policy : null,
        group: typeof b.group === 'string' ? b.group : null,
        user: typeof b.user === 'number' ? b.user : null,
        negate: b.negate === true,
        enabled: b.enabled !== false,
        order: b.order,
        timeout: typeof b.timeout === 'number' ? b.timeout : 30,
        failure_result: b.failure_result === true,
      };
      s.bindings = [...(s.bindings ?? []), row];
      save(s);
      sendJson(res, 201, bindingView(s, row));
      return true;
    }
    return empty(res, 405);
  }

  const binding = /^\/api\/v3\/policies\/bindings\/([0-9a-f-]{36})\/$/.exec(p);
  if (binding) {
    o.requireToken(req);
    const s = load(o);
    const row = (s.bindings ?? []).find((x) => x.pk === binding[1]);
    if (!row) return json(res, 404, { detail: 'No PolicyBinding matches the given query.' });
    if (method === 'GET') return json(res, 200, bindingView(s, row));
    if (method === 'PATCH') {
      const b = await readJson(req);
      if (isRecord(b)) {
        if (typeof b.enabled === 'boolean') row.enabled = b.enabled;
        if (typeof b.negate === 'boolean') row.negate = b.negate;
        if (typeof b.order === 'number') row.order = b.order;
      }
      save(s);
      return json(res, 200, bindingView(s, row));
    }
    if (method === 'DELETE') {
      s.bindings = (s.bindings ?? []).filter((x) => x !== row);
      save(s);
      return empty(res, 204);
    }
    return empty(res, 405);
  }
  return false;
}
