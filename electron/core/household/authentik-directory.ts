/**
 * The household in Authentik (API v3, core users and groups): one group per role, a user per person (username = their
 * email), membership in exactly their role's group, and a one-time recovery link for a new person to set their own
 * password. Every call looks before it writes, so a second run changes nothing. Spoken over an `AuthentikHttp` (the
 * product's is an SSH forward to the server's Authentik with the bootstrap token; tests give the stand-in).
 */
import type { HouseholdRole } from '../../contract/household';
import { householdRoles } from '../../contract/household';
import { AppError } from '../errors';

export interface AuthentikAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface AuthentikHttp {
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, json?: unknown): Promise<AuthentikAnswer>;
}

/**
 * The Authentik groups of the roles. The admin role's group is a superuser group: that is what opens Authentik's
 * own admin interface to them and to nobody else. Other parts (Nextcloud's and Jellyfin's sign-in) may read these
 * names in the `groups` claim.
 */
export const AUTHENTIK_ROLE_GROUPS: Record<HouseholdRole, { readonly name: string; readonly superuser: boolean }> = {
  media: { name: 'm2-media', superuser: false },
  power: { name: 'm2-power-users', superuser: false },
  admin: { name: 'm2-admins', superuser: true },
};

/** Marks what the app made, so it never deletes a user or group someone made by hand. */
export const MANAGED_ATTRIBUTE = 'm2-companion/household';

export interface RoleGroup {
  readonly pk: string;
  readonly name: string;
  readonly users: readonly number[];
}

export interface AuthentikUser {
  readonly pk: number;
  readonly username: string;
  readonly name: string;
  readonly email: string;
  readonly managed: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const results = (body: unknown): Record<string, unknown>[] => (isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : []);

/** Authentik's words for a refusal: `detail`, else the field errors on one line (`username: This field must be unique.`). */
export function authentikWords(body: unknown): string {
  if (!isRecord(body)) return '';
  if (typeof body.detail === 'string') return body.detail;
  return Object.entries(body)
    .map(([k, v]) => `${k === 'non_field_errors' ? '' : `${k}: `}${Array.isArray(v) ? v.map(String).join(' ') : String(v)}`)
    .join('; ')
    .slice(0, 300);
}

/** What changes the user's membership: into their role's group, out of the other role groups. */
export function membershipChanges(userPk: number, role: HouseholdRole | null, groups: ReadonlyMap<HouseholdRole, RoleGroup>): { add: RoleGroup[]; remove: RoleGroup[] } {
  const add: RoleGroup[] = [];
  const remove: RoleGroup[] = [];
  for (const r of householdRoles) {
    const g = groups.get(r);
    if (!g) continue;
    const member = g.users.includes(userPk);
    if (r === role && !member) add.push(g);
    if (r !== role && member) remove.push(g);
  }
  return { add, remove };
}

export interface Binding {
  readonly pk: string;
  readonly policy: string | null;
  readonly group: string | null;
  readonly user: number | null;
  readonly enabled: boolean;
  readonly negate: boolean;
  /** The group's attributes carry the app's mark: a binding of one of the app's groups. */
  readonly groupManaged: boolean;
}

/** One binding as the API lists it. */
export function toBinding(b: Record<string, unknown>): Binding {
  const groupObj = isRecord(b.group_obj) ? b.group_obj : null;
  const attrs = groupObj && isRecord(groupObj.attributes) ? groupObj.attributes : {};
  return {
    pk: String(b.pk),
    policy: typeof b.policy === 'string' && b.policy ? b.policy : null,
    group: typeof b.group === 'string' && b.group ? b.group : null,
    user: typeof b.user === 'number' ? b.user : null,
    enabled: b.enabled !== false,
    negate: b.negate === true,
    groupManaged: MANAGED_ATTRIBUTE in attrs,
  };
}

export class AuthentikDirectory {
  readonly #http: AuthentikHttp;

  constructor(http: AuthentikHttp) {
    this.#http = http;
  }

  async #call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, what: string, json?: unknown, ok: readonly number[] = [200, 201, 204]): Promise<AuthentikAnswer> {
    let r: AuthentikAnswer;
    try {
      r = await this.#http.request(method, path, json);
    } catch (err) {
      throw new AppError('household.authentik-failed', `Authentik did not answer while the app tried to ${what}.`, {
        cause: err,
        hint: 'Check on the Services page that Authentik is running and healthy, then try again.',
      });
    }
    if (r.status === 401 || r.status === 403) {
      throw new AppError('household.authentik-refused', `Authentik refused the bootstrap token kept in the keychain (HTTP ${r.status}) when the app tried to ${what}.`, {
        hint: 'Authentik reads its bootstrap token on its first start only: if its data is older than this token, create an API token for akadmin in Authentik and keep it as authentik.bootstrap-token.',
      });
    }
    if (!ok.includes(r.status)) {
      const said = authentikWords(r.body);
      throw new AppError('household.authentik-failed', `Authentik refused to ${what} (HTTP ${r.status}${said ? `: ${said}` : ''}).`, {
        hint: 'Nothing else was changed for this person; try again, and if it repeats, look at the authentik-server log on the Logs page.',
      });
    }
    return r;
  }

  /** The role groups, each created once (marked as the app's) and kept a superuser group exactly for admins. */
  async ensureGroups(): Promise<{ groups: Map<HouseholdRole, RoleGroup>; created: string[] }> {
    const groups = new Map<HouseholdRole, RoleGroup>();
    const created: string[] = [];
    for (const role of householdRoles) {
      const want = AUTHENTIK_ROLE_GROUPS[role];
      const found = results((await this.#call('GET', `/api/v3/core/groups/?name=${encodeURIComponent(want.name)}`, `look up the group ${want.name}`)).body).find((g) => g.name === want.name);
      let g: Record<string, unknown>;
      if (!found) {
        g = (await this.#call('POST', '/api/v3/core/groups/', `create the group ${want.name}`, { name: want.name, is_superuser: want.superuser, attributes: { [MANAGED_ATTRIBUTE]: role } })).body as Record<string, unknown>;
        created.push(want.name);
      } else if (found.is_superuser !== want.superuser) {
        g = (await this.#call('PATCH', `/api/v3/core/groups/${encodeURIComponent(String(found.pk))}/`, `set who administers Authentik in ${want.name}`, { is_superuser: want.superuser })).body as Record<string, unknown>;
      } else g = found;
      const users = Array.isArray(g.users) ? g.users.filter((u): u is number => typeof u === 'number') : [];
      groups.set(role, { pk: String(g.pk), name: want.name, users });
    }
    return { groups, created };
  }

  async findUser(username: string): Promise<AuthentikUser | null> {
    const r = await this.#call('GET', `/api/v3/core/users/?username=${encodeURIComponent(username)}`, `look up the user ${username}`);
    const u = results(r.body).find((x) => x.username === username);
    return u ? toUser(u) : null;
  }

  async createUser(p: { username: string; name: string; email: string }): Promise<AuthentikUser> {
    const r = await this.#call('POST', '/api/v3/core/users/', `create the user ${p.username}`, {
      username: p.username,
      name: p.name,
      email: p.email,
      is_active: true,
      path: 'users',
      type: 'internal',
      attributes: { [MANAGED_ATTRIBUTE]: true },
    });
    if (!isRecord(r.body) || typeof r.body.pk !== 'number') {
      throw new AppError('household.authentik-failed', `Authentik answered the new user ${p.username} without an id.`, { hint: 'Try again; Authentik’s admin interface shows whether the user was made.' });
    }
    return toUser(r.body);
  }

  async rename(pk: number, name: string): Promise<void> {
    await this.#call('PATCH', `/api/v3/core/users/${pk}/`, 'change the person’s name', { name });
  }

  /** Into the role's group and out of the other role groups; how many changes that took. */
  async setRole(pk: number, role: HouseholdRole | null, groups: ReadonlyMap<HouseholdRole, RoleGroup>): Promise<number> {
    const { add, remove } = membershipChanges(pk, role, groups);
    for (const g of add) await this.#call('POST', `/api/v3/core/groups/${encodeURIComponent(g.pk)}/add_user/`, `add the person to ${g.name}`, { pk });
    for (const g of remove) await this.#call('POST', `/api/v3/core/groups/${encodeURIComponent(g.pk)}/remove_user/`, `take the person out of ${g.name}`, { pk });
    return add.length + remove.length;
  }

  /** Deleted, or already gone (false). */
  async deleteUser(pk: number): Promise<boolean> {
    const r = await this.#call('DELETE', `/api/v3/core/users/${pk}/`, 'delete the person’s Authentik user', undefined, [204, 404]);
    return r.status === 204;
  }

  /** A group by its exact name (its pk), or null. */
  async findGroup(name: string): Promise<{ pk: string; name: string } | null> {
    const g = results((await this.#call('GET', `/api/v3/core/groups/?name=${encodeURIComponent(name)}`, `look up the group ${name}`)).body).find((x) => x.name === name);
    return g ? { pk: String(g.pk), name } : null;
  }

  /** An application by slug (retrieve is not filtered by who may use it, unlike the list), or null when absent. */
  async application(slug: string): Promise<{ pk: string; slug: string; name: string; policyEngineMode: string } | null> {
    const r = await this.#call('GET', `/api/v3/core/applications/${encodeURIComponent(slug)}/`, `look up the application ${slug}`, undefined, [200, 404]);
    if (r.status === 404 || !isRecord(r.body)) return null;
    return { pk: String(r.body.pk), slug, name: String(r.body.name ?? slug), policyEngineMode: String(r.body.policy_engine_mode ?? 'any') };
  }

  async setPolicyEngineMode(slug: string, mode: 'any' | 'all'): Promise<void> {
    await this.#call('PATCH', `/api/v3/core/applications/${encodeURIComponent(slug)}/`, `set who may use ${slug}`, { policy_engine_mode: mode });
  }

  /** The policy bindings on a target (an application's pk). */
  async bindings(target: string): Promise<Binding[]> {
    const r = await this.#call('GET', `/api/v3/policies/bindings/?target=${encodeURIComponent(target)}&page_size=1000`, 'look up who may use an application');
    return results(r.body).map(toBinding);
  }

  async createBinding(target: string, who: { group: string; order: number; name: string } | { user: number; order: number; name: string }): Promise<void> {
    await this.#call('POST', '/api/v3/policies/bindings/', `let ${who.name} use an application`, {
      target,
      ...('group' in who ? { group: who.group } : { user: who.user }),
      order: who.order,
      enabled: true,
      negate: false,
      timeout: 30,
      failure_result: false,
    });
  }

  async enableBinding(pk: string): Promise<void> {
    await this.#call('PATCH', `/api/v3/policies/bindings/${encodeURIComponent(pk)}/`, 'turn a binding back on', { enabled: true, negate: false });
  }

  async deleteBinding(pk: string): Promise<void> {
    await this.#call('DELETE', `/api/v3/policies/bindings/${encodeURIComponent(pk)}/`, 'take a binding no role needs off an application', undefined, [204, 404]);
  }

  /**
   * A one-time link into Authentik's recovery flow, where the person sets their password; null with Authentik's
   * reason when the brand has no recovery flow (a fresh Authentik has none).
   */
  async recoveryLink(pk: number): Promise<{ link: string } | { none: string }> {
    const r = await this.#call('POST', `/api/v3/core/users/${pk}/recovery/`, 'make an invite link', {}, [200, 400, 404]);
    if (r.status === 200 && isRecord(r.body) && typeof r.body.link === 'string' && r.body.link) return { link: r.body.link };
    return { none: authentikWords(r.body) || 'Authentik made no link.' };
  }
}

function toUser(u: Record<string, unknown>): AuthentikUser {
  const attrs = isRecord(u.attributes) ? u.attributes : {};
  return {
    pk: Number(u.pk),
    username: String(u.username ?? ''),
    name: String(u.name ?? ''),
    email: String(u.email ?? ''),
    managed: attrs[MANAGED_ATTRIBUTE] === true,
  };
}
