/**
 * The Household page's work: a person added with a role becomes an Authentik user in their role's group, then
 * Cloudflare Access is brought in line (the role's Access group gets their address); a person removed loses
 * Cloudflare Access first (so the edge lets them in nowhere), then their Authentik user. Each change is noted
 * before it starts (`adding`/`removing`), so one that stopped half-way shows as unfinished and is finished by doing
 * it again; doing a finished one again changes nothing.
 */
import type { CloudflareRunReport } from '../../contract/cloudflare';
import type { HouseholdMember, HouseholdResult, HouseholdStep, HouseholdView, MemberInvite, NewMember } from '../../contract/household';
import { ROLE_INFO } from '../../contract/household';
import type { StackSettings } from '../../contract/stack';
import { AppError, toErrorShape } from '../errors';
import type { Logger } from '../log';
import { ensureAppAccess } from './authentik-bindings';
import { AuthentikDirectory, AUTHENTIK_ROLE_GROUPS } from './authentik-directory';
import type { AuthentikSession } from './authentik-transport';
import type { HouseholdStore } from './household-store';

/** What Cloudflare settings say about Access for this server. */
export interface AccessFacts {
  /** A token, an account and a zone: Access can be changed now. */
  readonly ready: boolean;
  /** Let in everywhere by the household policy (the admin's own addresses and domain). */
  readonly emails: readonly string[];
  readonly domain: string | null;
}

export interface HouseholdDeps {
  readonly store: HouseholdStore;
  readonly stackSettings: (profileId: string) => Promise<StackSettings>;
  /** A session with the server's Authentik (the caller's to close). */
  readonly authentik: (profileId: string) => Promise<AuthentikSession>;
  readonly cloudflare: {
    /** Access in line with the household's members; null when Cloudflare is not set up for the server. */
    syncHousehold(profileId: string): Promise<CloudflareRunReport | null>;
    access(profileId: string): Promise<AccessFacts>;
  };
  readonly log: Logger;
  readonly now?: () => Date;
}

/** Who Cloudflare Access should know: people whose Authentik user exists and who are not being removed. */
export const accessMembers = (members: readonly HouseholdMember[]): Array<{ email: string; role: HouseholdMember['role'] }> =>
  members.filter((m) => m.state !== 'removing' && m.authentik !== null).map((m) => ({ email: m.email, role: m.role }));

/** Whether the household policy already lets this address in everywhere (whatever role it is given). */
export function letInEverywhere(email: string, access: Pick<AccessFacts, 'emails' | 'domain'>): string | null {
  const e = email.toLowerCase();
  if (access.emails.some((x) => x.toLowerCase() === e)) return `${e} is one of the addresses Cloudflare settings let in everywhere`;
  if (access.domain && e.endsWith(`@${access.domain.toLowerCase()}`)) return `Cloudflare settings let in anyone @${access.domain} everywhere`;
  return null;
}

type Outcome = { status: HouseholdStep['status']; detail: string };

export class HouseholdService {
  readonly #d: HouseholdDeps;
  readonly #busy = new Set<string>();

  constructor(deps: HouseholdDeps) {
    this.#d = deps;
  }

  async view(profileId: string): Promise<HouseholdView> {
    const [file, settings, access] = await Promise.all([this.#d.store.read(profileId), this.#d.stackSettings(profileId), this.#d.cloudflare.access(profileId)]);
    return {
      profileId,
      members: file.members,
      authentikEnabled: settings.modules.authentik.enabled,
      cloudflareReady: access.ready,
      everywhere: { emails: [...access.emails], domain: access.domain },
    };
  }

  async #exclusive<T>(profileId: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy.has(profileId)) {
      throw new AppError('household.busy', 'The household of this server is already being changed.', { hint: 'Wait for that change to finish, then try again.' });
    }
    this.#busy.add(profileId);
    try {
      return await fn();
    } finally {
      this.#busy.delete(profileId);
    }
  }

  async #step(steps: HouseholdStep[], id: string, title: string, fn: () => Promise<Outcome>): Promise<boolean> {
    try {
      const out = await fn();
      steps.push({ id, title, ...out });
      return out.status !== 'failed';
    } catch (err) {
      const error = toErrorShape(err);
      if (error.code === 'internal') this.#d.log.error(`household: ${id} failed`, { error: err });
      steps.push({ id, title, status: 'failed', detail: error.userMessage, error });
      return false;
    }
  }

  /** Cloudflare's run, its steps as the household's; false when it did not finish. */
  async #cloudflare(profileId: string, steps: HouseholdStep[], why: string): Promise<boolean> {
    let report: CloudflareRunReport | null = null;
    const started = await this.#step(steps, 'cloudflare', 'Cloudflare Access', async () => {
      report = await this.#d.cloudflare.syncHousehold(profileId);
      if (!report) return { status: 'skipped', detail: `Cloudflare is not set up for this server yet: ${why}` };
      if (!report.ok) return { status: 'failed', detail: 'Some Access changes did not go through (below); do it again to finish.' };
      const changed = report.steps.some((s) => s.status === 'done');
      return { status: changed ? 'done' : 'unchanged', detail: changed ? 'Access is in line with the household.' : 'Access already was as the household says.' };
    });
    const r = report as CloudflareRunReport | null;
    if (r) for (const s of r.steps) steps.push({ ...s, id: `cloudflare:${s.id}` });
    return started;
  }

  async add(profileId: string, input: NewMember): Promise<HouseholdResult> {
    return this.#exclusive(profileId, async () => {
      const settings = await this.#d.stackSettings(profileId);
      if (!settings.modules.authentik.enabled) {
        throw new AppError('household.authentik-off', 'Household members sign in through Authentik, which this server’s stack does not run.', {
          hint: 'Turn Authentik on in the stack settings and install, then add people here.',
        });
      }
      const access = await this.#d.cloudflare.access(profileId);
      const everywhere = input.role === 'admin' ? null : letInEverywhere(input.email, access);
      if (everywhere) {
        throw new AppError('household.everywhere', `Email: ${everywhere}, so a ${ROLE_INFO[input.role].title.toLowerCase()} role would not hold them back.`, {
          field: 'member.email',
          hint: 'Use another address for them, give them the Admin role, or take the address (or domain) out of who may sign in under Domain & Cloudflare.',
        });
      }
      const before = (await this.#d.store.read(profileId)).members.find((m) => m.email === input.email);
      const now = (this.#d.now ?? (() => new Date()))().toISOString();
      await this.#d.store.update(profileId, (f) => {
        f.members = [
          ...f.members.filter((m) => m.email !== input.email),
          { email: input.email, name: input.name, role: input.role, state: before?.state === 'active' && before.role === input.role ? 'active' : 'adding', addedAt: before?.addedAt ?? now, authentik: before?.authentik ?? null },
        ];
      });
      this.#d.log.info('household: add', { profileId, role: input.role, again: before !== undefined });
      const steps: HouseholdStep[] = [];
      let invite: MemberInvite | null = null;
      const authentikOk = await this.#step(steps, 'authentik', `Authentik user and group (${AUTHENTIK_ROLE_GROUPS[input.role].name})`, async () => {
        const session = await this.#d.authentik(profileId);
        try {
          const dir = new AuthentikDirectory(session.http);
          const { groups, created: newGroups } = await dir.ensureGroups();
          // Who may use each application, before the person is in any group.
          const access = await ensureAppAccess(dir, groups);
          let user = await dir.findUser(input.email);
          const changed: string[] = [...newGroups.map((g) => `made the group ${g}`), ...access];
          let origin = before?.authentik ?? null;
          if (!user) {
            user = await dir.createUser({ username: input.email, name: input.name, email: input.email });
            origin = 'created';
            changed.push(`made the user ${input.email}`);
          } else {
            origin ??= user.managed ? 'created' : 'existing';
            if (origin === 'created' && user.name !== input.name) {
              await dir.rename(user.pk, input.name);
              changed.push('changed the name');
            }
          }
          const moves = await dir.setRole(user.pk, input.role, groups);
          if (moves) changed.push(`put them in ${AUTHENTIK_ROLE_GROUPS[input.role].name}`);
          // A person the app made and never gave a link gets one; a re-run of a finished add gives none again.
          if (origin === 'created' && before?.authentik !== 'created') {
            const r = await dir.recoveryLink(user.pk);
            invite =
              'link' in r
                ? { kind: 'link', link: r.link, expires: null }
                : { kind: 'none', reason: `Authentik made no invite link (${r.none.replace(/\.$/, '')}). Set a first password for ${input.email} in Authentik’s admin interface (Directory → Users), or add a recovery flow to Authentik and add them again.` };
          }
          const kept = origin;
          await this.#d.store.update(profileId, (f) => {
            f.members = f.members.map((m) => (m.email === input.email ? { ...m, authentik: kept } : m));
          });
          if (origin === 'existing' && !changed.length) return { status: 'unchanged', detail: `${input.email} was already in Authentik (made outside M2 Companion) and in ${AUTHENTIK_ROLE_GROUPS[input.role].name}.` };
          return changed.length
            ? { status: 'done', detail: `${changed.join(', ')}.`.replace(/^./, (c) => c.toUpperCase()) }
            : { status: 'unchanged', detail: `${input.email} is in Authentik and in ${AUTHENTIK_ROLE_GROUPS[input.role].name}.` };
        } finally {
          await session.close();
        }
      });
      let cloudflareOk = false;
      if (authentikOk) cloudflareOk = await this.#cloudflare(profileId, steps, 'publishing gives each role its services.');
      else steps.push({ id: 'cloudflare', title: 'Cloudflare Access', status: 'skipped', detail: 'Needs the Authentik user.' });
      const ok = authentikOk && cloudflareOk;
      const after = await this.#d.store.update(profileId, (f) => {
        f.members = f.members.map((m) => (m.email === input.email && ok ? { ...m, state: 'active' } : m));
      });
      return { profileId, ok, steps, member: after.members.find((m) => m.email === input.email) ?? null, invite };
    });
  }

  async remove(profileId: string, email: string): Promise<HouseholdResult> {
    return this.#exclusive(profileId, async () => {
      const member = (await this.#d.store.read(profileId)).members.find((m) => m.email === email);
      if (!member) {
        throw new AppError('household.not-found', `Email: ${email} is not in this server’s household.`, { field: 'email', hint: 'Reload the page: someone may have removed them already.' });
      }
      await this.#d.store.update(profileId, (f) => {
        f.members = f.members.map((m) => (m.email === email ? { ...m, state: 'removing' } : m));
      });
      this.#d.log.info('household: remove', { profileId, role: member.role });
      const steps: HouseholdStep[] = [];
      const cloudflareOk = await this.#cloudflare(profileId, steps, 'there is no Access to take away.');
      let authentikOk = false;
      if (!cloudflareOk) {
        steps.push({ id: 'authentik', title: 'Authentik user', status: 'skipped', detail: 'Waits until Cloudflare Access no longer lets them in.' });
      } else {
        const settings = await this.#d.stackSettings(profileId);
        authentikOk = await this.#step(steps, 'authentik', 'Authentik user', async () => {
          if (member.authentik === null) return { status: 'unchanged', detail: 'No Authentik user was made for them.' };
          if (!settings.modules.authentik.enabled) return { status: 'skipped', detail: 'This server’s stack no longer runs Authentik.' };
          const session = await this.#d.authentik(profileId);
          try {
            const dir = new AuthentikDirectory(session.http);
            const { groups } = await dir.ensureGroups();
            const access = await ensureAppAccess(dir, groups);
            const also = access.length ? ` Also: ${access.join('; ')}.` : '';
            const user = await dir.findUser(email);
            if (!user) return { status: access.length ? 'done' : 'unchanged', detail: `${email} is not in Authentik any more.${also}` };
            if (member.authentik === 'created') {
              await dir.deleteUser(user.pk);
              return { status: 'done', detail: `Deleted the Authentik user ${email}.${also}` };
            }
            const moves = await dir.setRole(user.pk, null, groups);
            return moves || access.length
              ? { status: 'done', detail: `Took ${email} out of the household’s groups; their Authentik user was made outside M2 Companion and stays.${also}` }
              : { status: 'unchanged', detail: `${email} is in none of the household’s groups; their Authentik user was made outside M2 Companion and stays.` };
          } finally {
            await session.close();
          }
        });
      }
      const ok = cloudflareOk && authentikOk;
      if (ok) {
        await this.#d.store.update(profileId, (f) => {
          f.members = f.members.filter((m) => m.email !== email);
        });
      }
      const left = (await this.#d.store.read(profileId)).members.find((m) => m.email === email) ?? null;
      return { profileId, ok, steps, member: left, invite: null };
    });
  }
}
