/**
 * Who may use each of the stack's Authentik applications, enforced by Authentik itself (policy bindings), so roles
 * hold on every way in — the WireGuard fallback and the home network included, where Cloudflare Access is not in
 * the path. Each application the stack declares gets one group binding per role group that reaches it, plus
 * Authentik's own admins (the `authentik Admins` group and the install's `akadmin`, so the admin is never locked
 * out), with the policy engine mode `any`. An application with no bindings lets every Authentik user in, so these
 * exist from the install on (the configure step), before any person is added.
 *
 * API (authentik/policies/api/bindings.py): `GET/POST /api/v3/policies/bindings/` (filter `target` = the
 * application's pk, its policy-binding-model uuid), fields `target`, one of `policy`/`group`/`user`, `negate`,
 * `enabled`, `order`, `timeout`, `failure_result`; the answer carries `group_obj` with the group's attributes.
 * Bindings that are not the app's (a policy, a group or user someone bound by hand) are left alone.
 */
import type { HouseholdRole } from '../../contract/household';
import { householdRoles, roleReaches } from '../../contract/household';
import { ldapDirectory } from '../stack/modules/authentik';
import type { AuthentikDirectory, Binding, RoleGroup } from './authentik-directory';

/** The groups and users Authentik makes on its first start (its default blueprints and the bootstrap). */
export const AUTHENTIK_ADMINS_GROUP = 'authentik Admins';
export const AUTHENTIK_BOOTSTRAP_USER = 'akadmin';

/** The stack's applications (slugs in the M2 blueprint) and the service each one is, for `roleReaches`. */
export const STACK_APPLICATIONS = [
  { slug: 'nextcloud', service: 'nextcloud', users: [] as string[] },
  // Jellyfin's LDAP plugin binds as this service account; every LDAP bind is checked against the application.
  { slug: 'jellyfin', service: 'jellyfin', users: [ldapDirectory.bindUser] },
] as const;

/** Spacing the app's bindings apart; the order does not matter in mode `any`, it only keeps the list readable. */
const ORDER = { admins: 0, akadmin: 1, role: (r: HouseholdRole): number => 10 + 10 * householdRoles.indexOf(r), user: 100 };

/** Who should be let in: group pks and user pks, each with its order and a name for the step's words. */
export interface WantedAccess {
  readonly groups: ReadonlyArray<{ pk: string; name: string; order: number }>;
  readonly users: ReadonlyArray<{ pk: number; name: string; order: number }>;
}

export interface BindingPlan {
  readonly create: Array<{ group: string; order: number; name: string } | { user: number; order: number; name: string }>;
  /** Disabled or negated bindings of a group or user that should be let in: set back to enabled, not negated. */
  readonly repair: Binding[];
  /** The app's group bindings no role needs any more. */
  readonly remove: Binding[];
}

/** The role groups (and admins) that reach an application's service. */
export function wantedAccess(service: string, roleGroups: ReadonlyMap<HouseholdRole, RoleGroup>, admins: { group: string | null; user: number | null }, users: ReadonlyArray<{ pk: number; name: string }>): WantedAccess {
  const groups: Array<{ pk: string; name: string; order: number }> = [];
  if (admins.group) groups.push({ pk: admins.group, name: AUTHENTIK_ADMINS_GROUP, order: ORDER.admins });
  for (const role of householdRoles) {
    const g = roleGroups.get(role);
    if (g && roleReaches(role, service)) groups.push({ pk: g.pk, name: g.name, order: ORDER.role(role) });
  }
  const us: Array<{ pk: number; name: string; order: number }> = [];
  if (admins.user !== null) us.push({ pk: admins.user, name: AUTHENTIK_BOOTSTRAP_USER, order: ORDER.akadmin });
  for (const u of users) us.push({ pk: u.pk, name: u.name, order: ORDER.user });
  return { groups, users: us };
}

/** What to write so the application's bindings are exactly `want` among the app's own; nothing when they already are. */
export function planBindings(existing: readonly Binding[], want: WantedAccess): BindingPlan {
  const create: BindingPlan['create'] = [];
  const repair: Binding[] = [];
  const ok = (b: Binding): boolean => b.enabled && !b.negate;
  for (const g of want.groups) {
    const mine = existing.filter((b) => b.policy === null && b.group === g.pk);
    if (mine.some(ok)) continue;
    if (mine[0]) repair.push(mine[0]);
    else create.push({ group: g.pk, order: g.order, name: g.name });
  }
  for (const u of want.users) {
    const mine = existing.filter((b) => b.policy === null && b.user === u.pk);
    if (mine.some(ok)) continue;
    if (mine[0]) repair.push(mine[0]);
    else create.push({ user: u.pk, order: u.order, name: u.name });
  }
  const wanted = new Set(want.groups.map((g) => g.pk));
  const remove = existing.filter((b) => b.policy === null && b.group !== null && b.groupManaged && !wanted.has(b.group));
  return { create, repair, remove };
}

/**
 * Each of the stack's applications present in Authentik bound to the groups that may use it, in mode `any`.
 * Returns what it changed, in words (empty when nothing was to do). Applications not installed are skipped.
 */
export async function ensureAppAccess(dir: AuthentikDirectory, roleGroups: ReadonlyMap<HouseholdRole, RoleGroup>): Promise<string[]> {
  const changed: string[] = [];
  const adminsGroup = await dir.findGroup(AUTHENTIK_ADMINS_GROUP);
  const akadmin = await dir.findUser(AUTHENTIK_BOOTSTRAP_USER);
  for (const app of STACK_APPLICATIONS) {
    const found = await dir.application(app.slug);
    if (!found) continue;
    const users: Array<{ pk: number; name: string }> = [];
    for (const name of app.users) {
      const u = await dir.findUser(name);
      if (u) users.push({ pk: u.pk, name });
    }
    const want = wantedAccess(app.service, roleGroups, { group: adminsGroup?.pk ?? null, user: akadmin?.pk ?? null }, users);
    // Mode `all` would ask a person to be in every bound group at once: nobody is.
    if (found.policyEngineMode !== 'any') {
      await dir.setPolicyEngineMode(app.slug, 'any');
      changed.push(`let ${found.name} in by any of its bindings`);
    }
    const plan = planBindings(await dir.bindings(found.pk), want);
    // Grant before taking away, so nobody who keeps access loses it in between.
    for (const c of plan.create) await dir.createBinding(found.pk, c);
    for (const b of plan.repair) await dir.enableBinding(b.pk);
    for (const b of plan.remove) await dir.deleteBinding(b.pk);
    const names = [...plan.create.map((c) => c.name), ...plan.repair.map((b) => want.groups.find((g) => g.pk === b.group)?.name ?? want.users.find((u) => u.pk === b.user)?.name ?? b.pk)];
    if (names.length) changed.push(`let ${names.join(', ')} into ${found.name}`);
    if (plan.remove.length) changed.push(`took ${plan.remove.length} group${plan.remove.length > 1 ? 's' : ''} no role needs off ${found.name}`);
  }
  return changed;
}
