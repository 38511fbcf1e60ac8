/**
 * Household roles in Cloudflare Access: one Access group per role that has people (its include: their email
 * addresses), and per published service one reusable policy that includes the groups of the roles reaching it,
 * linked to the service's application beside the server's household policy. People are never named in a policy:
 * adding or removing one changes one group. A group or policy nobody needs any more is deleted only after the
 * applications no longer link it (cleanup runs last).
 */
import { roleReaches, householdRoles, ROLE_INFO, type HouseholdRole } from '../../contract/household';
import { toCloudflareError } from './cf-errors';
import { collect } from './client';
import { SERVICE_LABEL, sameRules, type HostPlan, type PublishedService } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { PERMISSION } from './token-check';

/** Access groups need their own permission group (stack-facts §4.7: "Organizations, Identity Providers, and Groups"). */
export const GROUPS_PERMISSION = {
  read: 'Access: Organizations, Identity Providers, and Groups Read',
  write: 'Access: Organizations, Identity Providers, and Groups Write',
} as const;

/** Who is in the household for Access: everyone not on their way out. */
export interface AccessMember {
  readonly email: string;
  readonly role: HouseholdRole;
}

export type EmailRule = { email: { email: string } };
export type GroupRule = { group: { id: string } };

export const roleGroupName = (role: HouseholdRole, profileId: string): string => `M2 ${ROLE_INFO[role].title} (${profileId})`;
export const rolePolicyName = (service: PublishedService, profileId: string): string => `M2 ${SERVICE_LABEL[service]} by role (${profileId})`;

export interface WantedGroup {
  readonly role: HouseholdRole;
  readonly name: string;
  readonly include: EmailRule[];
}

/** One group per role that has at least one person, its people sorted (so the same household reads the same). */
export function wantedGroups(members: readonly AccessMember[], profileId: string): WantedGroup[] {
  return householdRoles.flatMap((role) => {
    const emails = [...new Set(members.filter((m) => m.role === role).map((m) => m.email.toLowerCase()))].sort();
    return emails.length ? [{ role, name: roleGroupName(role, profileId), include: emails.map((email) => ({ email: { email } })) }] : [];
  });
}

export interface WantedPolicy {
  readonly service: PublishedService;
  readonly hostname: string;
  readonly name: string;
  readonly include: GroupRule[];
}

/** Per published service, the groups of the roles that reach it; a service no existing group reaches gets none. */
export function wantedRolePolicies(hosts: readonly HostPlan[], groups: ReadonlyMap<HouseholdRole, string>, profileId: string): WantedPolicy[] {
  return hosts.flatMap((h) => {
    const include = householdRoles.filter((r) => roleReaches(r, h.service) && groups.has(r)).map((r) => ({ group: { id: groups.get(r) as string } }));
    return include.length ? [{ service: h.service, hostname: h.hostname, name: rolePolicyName(h.service, profileId), include }] : [];
  });
}

export type Decision<T> = { kind: 'create' } | { kind: 'unchanged'; existing: T } | { kind: 'update'; existing: T };

interface Named {
  id?: string | undefined;
  name?: string | undefined;
  include?: readonly unknown[] | undefined;
  exclude?: readonly unknown[] | undefined;
  require?: readonly unknown[] | undefined;
}

/** Found by the id the app kept, else by its name; the same when its name and rules are as wanted. */
export function decide<T extends Named>(existing: readonly T[], knownId: string | undefined, name: string, include: readonly unknown[], extra: (e: T) => boolean = () => true): Decision<T> {
  const found = existing.find((e) => knownId !== undefined && e.id === knownId) ?? existing.find((e) => e.name === name);
  if (!found?.id) return { kind: 'create' };
  const same =
    found.name === name &&
    sameRules(found.include, include as never) &&
    (found.exclude ?? []).length === 0 &&
    (found.require ?? []).length === 0 &&
    extra(found);
  return same ? { kind: 'unchanged', existing: found } : { kind: 'update', existing: found };
}

const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The role groups, created or brought in line; the ids of those in use come back for the policies. */
export async function ensureRoleGroups(
  cx: CloudflareContext,
  account_id: string,
  members: readonly AccessMember[],
  onGroups: (groups: Map<HouseholdRole, string>) => void,
): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  const wanted = wantedGroups(members, profileId);
  const kept = (await store.read(profileId)).managed.household.groups;
  let existing;
  try {
    existing = await collect(cf.zeroTrust.access.groups.list({ account_id }), 1000);
  } catch (err) {
    throw toCloudflareError(err, 'list Access groups', GROUPS_PERMISSION.read);
  }
  const ids = new Map<HouseholdRole, string>();
  const changed: string[] = [];
  try {
    for (const g of wanted) {
      const d = decide(existing, kept.find((k) => k.role === g.role)?.id, g.name, g.include);
      let id: string;
      if (d.kind === 'create') {
        id = (await cf.zeroTrust.access.groups.create({ account_id, name: g.name, include: g.include })).id ?? '';
        changed.push(`created ${g.name}`);
      } else if (d.kind === 'update') {
        id = (await cf.zeroTrust.access.groups.update(d.existing.id as string, { account_id, name: g.name, include: g.include, exclude: [], require: [] })).id ?? (d.existing.id as string);
        changed.push(`updated ${g.name}`);
      } else id = d.existing.id as string;
      ids.set(g.role, id);
      // Noted at once, so a run that stops after this write still knows the group is the app's.
      await store.update(profileId, (f) => {
        f.managed.household.groups = [...f.managed.household.groups.filter((k) => k.role !== g.role), { role: g.role, id, name: g.name }];
      });
    }
  } catch (err) {
    throw toCloudflareError(err, 'create or update the household’s Access groups', GROUPS_PERMISSION.write);
  }
  onGroups(ids);
  const people = wanted.reduce((n, g) => n + g.include.length, 0);
  if (wanted.length === 0) return { status: 'unchanged', detail: 'Nobody in the household has a role yet.' };
  return {
    status: changed.length ? 'done' : 'unchanged',
    detail: `${changed.length ? `${changed.join(', ')}; ` : 'In place: '}${count(wanted.length, 'group', 'groups')} for ${count(people, 'person', 'people')} (${wanted.map((g) => `${ROLE_INFO[g.role].title}: ${g.include.length}`).join(', ')}).`,
  };
}

/** Per service, its policy by role; the policy id for each host comes back to be linked to its application. */
export async function ensureRolePolicies(
  cx: CloudflareContext,
  account_id: string,
  hosts: readonly HostPlan[],
  groups: ReadonlyMap<HouseholdRole, string>,
  session_duration: string,
  onPolicies: (byHost: Map<string, string>) => void,
): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  const wanted = wantedRolePolicies(hosts, groups, profileId);
  const kept = (await store.read(profileId)).managed.household.policies;
  let existing;
  try {
    existing = await collect(cf.zeroTrust.access.policies.list({ account_id }), 1000);
  } catch (err) {
    throw toCloudflareError(err, 'list Access policies', PERMISSION.accessRead);
  }
  const byHost = new Map<string, string>();
  const changed: string[] = [];
  try {
    for (const p of wanted) {
      const d = decide(existing, kept.find((k) => k.service === p.service)?.id, p.name, p.include, (e) => e.decision === 'allow' && e.session_duration === session_duration);
      const body = { account_id, name: p.name, decision: 'allow' as const, include: p.include, session_duration };
      let id: string;
      if (d.kind === 'create') {
        id = (await cf.zeroTrust.access.policies.create(body)).id ?? '';
        changed.push(`created ${p.name}`);
      } else if (d.kind === 'update') {
        id = (await cf.zeroTrust.access.policies.update(d.existing.id as string, body)).id ?? (d.existing.id as string);
        changed.push(`updated ${p.name}`);
      } else id = d.existing.id as string;
      byHost.set(p.hostname, id);
      await store.update(profileId, (f) => {
        f.managed.household.policies = [...f.managed.household.policies.filter((k) => k.service !== p.service), { service: p.service, id, name: p.name }];
      });
    }
  } catch (err) {
    throw toCloudflareError(err, 'create or update the Access policies by role', PERMISSION.accessWrite);
  }
  onPolicies(byHost);
  if (wanted.length === 0) return { status: 'unchanged', detail: 'No service has a policy by role: nobody in the household has a role yet.' };
  const reach = wanted.map((p) => `${SERVICE_LABEL[p.service]}: ${householdRoles.filter((r) => roleReaches(r, p.service) && groups.has(r)).map((r) => ROLE_INFO[r].title).join(', ')}`);
  return { status: changed.length ? 'done' : 'unchanged', detail: `${changed.length ? `${changed.join(', ')}; ` : 'In place: '}${reach.join('; ')}.` };
}

/**
 * Delete the role policies and groups the app made that nothing needs any more (a role whose last person left, a
 * service no longer published). Runs after the applications were relinked, so nothing deleted is still linked.
 */
export async function cleanupHousehold(
  cx: CloudflareContext,
  account_id: string,
  keepGroups: ReadonlySet<string>,
  keepPolicies: ReadonlySet<string>,
): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  const kept = (await store.read(profileId)).managed.household;
  const policies = kept.policies.filter((p) => !keepPolicies.has(p.id));
  const groups = kept.groups.filter((g) => !keepGroups.has(g.id));
  if (policies.length === 0 && groups.length === 0) return { status: 'unchanged', detail: 'Nothing left over.' };
  const gone: string[] = [];
  try {
    for (const p of policies) {
      await ignoreMissing(() => cf.zeroTrust.access.policies.delete(p.id, { account_id }));
      await store.update(profileId, (f) => {
        f.managed.household.policies = f.managed.household.policies.filter((k) => k.id !== p.id);
      });
      gone.push(p.name);
    }
  } catch (err) {
    throw toCloudflareError(err, 'delete an Access policy by role nobody needs', PERMISSION.accessWrite);
  }
  try {
    for (const g of groups) {
      await ignoreMissing(() => cf.zeroTrust.access.groups.delete(g.id, { account_id }));
      await store.update(profileId, (f) => {
        f.managed.household.groups = f.managed.household.groups.filter((k) => k.id !== g.id);
      });
      gone.push(g.name);
    }
  } catch (err) {
    throw toCloudflareError(err, 'delete an Access group nobody is in', GROUPS_PERMISSION.write);
  }
  return { status: 'done', detail: `Deleted ${gone.join(', ')}.` };
}

/** A delete of something already gone (deleted by hand in the dashboard) is what was wanted. */
async function ignoreMissing(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if ((err as { status?: unknown }).status === 404) return;
    throw err;
  }
}
