/**
 * The Authentik stand-in's core directory (API v3): users, groups, group membership and recovery links, modelled on
 * what a running authentik 2026.8 answers (recorded calls: `POST /core/users/` 201 with an integer `pk`, `uuid` and
 * `uid`; a second one 400 `{"username":["This field must be unique."]}`; `GET /core/users/?username=` exact and
 * case-sensitive; groups keyed by UUID with `num_pk`, `users`, `users_obj`; a duplicate group 400
 * `{"name":["Group with this name already exists."]}`; `add_user`/`remove_user` `{"pk": N}` 204, also for a
 * non-member; `DELETE` 204 then 404; `POST /core/users/{pk}/recovery/` 400 `{"non_field_errors":"No recovery flow
 * set."}` on a fresh install, which has no recovery flow). Only the server process writes this state, in its own
 * file beside the worker's, so the two never overwrite each other.
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
}

export interface CoreOptions {
  /** Throws the API's 403 when the bearer token is missing or wrong. */
  readonly requireToken: (req: http.IncomingMessage) => void;
  /** Whether an applied blueprint declares a recovery flow (designation recovery). */
  readonly blueprintRecoveryFlow: () => string | null;
  /** The bootstrap admin's email, for the seeded akadmin. */
  readonly bootstrapEmail: () => string;
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
    sendJson(res, 200, { recoveryFlow: s.recoveryFlow, users: s.users.map((u) => userView(s, u)), groups: s.groups.map((g) => groupView(s, g)), tokens: s.tokens.length });
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
      save(s);
      return empty(res, 204);
    }
    return empty(res, 405);
  }
  return false;
}
