/**
 * Access: one reusable policy per server (who may sign in: the household's email addresses or domain) and one
 * self-hosted application per published host name linking it — with the outage probe's policy beside it when set up.
 */
import type { CloudflareSettings, StepStatus } from '../../contract/cloudflare';
import { AppError } from '../errors';
import { toCloudflareError } from './cf-errors';
import { collect } from './client';
import type { CloudflareFile, ManagedApp } from './cloudflare-store';
import { appConfirmKey, appName, includeRules, policyName, sameRules, type HostPlan } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { selfHostedView, type SelfHostedView } from './sdk-views';
import type { TakeOvers } from './take-over';
import { PERMISSION } from './token-check';

/** The server's reusable policy: found by the id the app kept or by its name, else created; brought in line when changed. */
export async function ensurePolicy(cx: CloudflareContext, account_id: string, settings: CloudflareSettings): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  const include = includeRules(settings.access);
  if (include.length === 0) {
    throw new AppError('cloudflare.not-configured', 'Name who may sign in before publishing: at least one email address or an email domain.', {
      hint: 'Add the household’s email addresses (or your email domain) under Access in the Domain & Cloudflare step.',
    });
  }
  const name = policyName(profileId);
  const session_duration = settings.access.sessionDuration;
  let existing;
  try {
    const known = (await store.read(profileId)).managed.policy?.id;
    existing = (await collect(cf.zeroTrust.access.policies.list({ account_id }), 1000)).find((p) => (known !== undefined && p.id === known) || p.name === name);
  } catch (err) {
    throw toCloudflareError(err, 'list Access policies', PERMISSION.accessRead);
  }
  const body = { account_id, name, decision: 'allow' as const, include, session_duration };
  let id: string;
  let status: StepStatus;
  try {
    if (!existing?.id) {
      id = (await cf.zeroTrust.access.policies.create(body)).id ?? '';
      status = 'done';
    } else if (existing.name === name && existing.decision === 'allow' && existing.session_duration === session_duration && sameRules(existing.include, include) && (existing.exclude ?? []).length === 0 && (existing.require ?? []).length === 0) {
      id = existing.id;
      status = 'unchanged';
    } else {
      id = (await cf.zeroTrust.access.policies.update(existing.id, body)).id ?? existing.id;
      status = 'done';
    }
  } catch (err) {
    throw toCloudflareError(err, 'create or update the Access policy', PERMISSION.accessWrite);
  }
  await store.update(profileId, (f) => {
    f.managed.policy = { id, name, accountId: account_id };
  });
  const who = [...settings.access.emails, ...(settings.access.emailDomain ? [`anyone @${settings.access.emailDomain}`] : [])].join(', ');
  return { status, detail: `${status === 'unchanged' ? 'In place' : existing ? 'Updated' : 'Created'}: ${who}; sessions last ${session_duration}.` };
}

/**
 * The host name's application: the app's own is kept in line; one made outside the app is taken over only with the
 * admin's yes (what it was is kept, to put back on removal); else one is created.
 */
export async function ensureApp(
  cx: CloudflareContext,
  account_id: string,
  settings: CloudflareSettings,
  h: HostPlan,
  policyId: string,
  takeOvers: TakeOvers,
  extraPolicyIds: readonly string[] = [],
): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  const name = appName(h.service, profileId);
  const session_duration = settings.access.sessionDuration;
  const state = (await store.read(profileId)).managed.apps.find((a) => a.hostname === h.hostname);
  let apps: SelfHostedView[];
  try {
    apps = (await collect(cf.zeroTrust.access.applications.list({ account_id, domain: h.hostname, exact: true }), 200))
      .map(selfHostedView)
      .filter((a): a is SelfHostedView => a !== null && a.domain.toLowerCase() === h.hostname);
  } catch (err) {
    throw toCloudflareError(err, 'list Access applications', PERMISSION.accessRead);
  }
  const ours = apps.find((a) => a.id === state?.id) ?? apps.find((a) => a.name === name);
  const wantedPolicies = [policyId, ...extraPolicyIds].map((id, i) => ({ id, precedence: i + 1 }));
  const save = (entry: ManagedApp): Promise<CloudflareFile> =>
    store.update(profileId, (f) => {
      f.managed.apps = [...f.managed.apps.filter((a) => a.hostname !== entry.hostname), entry];
    });
  const params = (base: SelfHostedView | null): Record<string, unknown> => ({
    ...(base?.raw ?? { app_launcher_visible: true, auto_redirect_to_identity: false }),
    account_id,
    type: 'self_hosted',
    domain: h.hostname,
    name,
    session_duration,
    policies: wantedPolicies,
  });
  try {
    if (ours) {
      const same = ours.name === name && ours.sessionDuration === session_duration && ours.policyIds.length === wantedPolicies.length && wantedPolicies.every((p, i) => ours.policyIds[i] === p.id);
      await save({ hostname: h.hostname, id: ours.id, origin: state?.origin ?? 'created', previous: state?.previous ?? null });
      if (same) return { status: 'unchanged', detail: `${name} protects ${h.hostname}.` };
      await cf.zeroTrust.access.applications.update(ours.id, params(ours) as never);
      return { status: 'done', detail: `Updated ${name}: the household policy, sessions of ${session_duration}.` };
    }
    const foreign = apps[0];
    if (foreign) {
      const waiting = takeOvers.ask(
        {
          key: appConfirmKey(h.hostname, foreign.id),
          kind: 'access-app',
          hostname: h.hostname,
          existing: `Access application "${foreign.name}" for ${foreign.domain}, made outside M2 Companion, with ${foreign.policyIds.length} polic${foreign.policyIds.length === 1 ? 'y' : 'ies'}`,
          action: `Rename it to "${name}" and replace its policies with the household policy (they are put back if you remove the app from Cloudflare).`,
        },
        `An Access application for ${h.hostname} already exists ("${foreign.name}"); the app changes it only after you confirm.`,
      );
      if (waiting) return waiting;
      await cf.zeroTrust.access.applications.update(foreign.id, params(foreign) as never);
      await save({
        hostname: h.hostname,
        id: foreign.id,
        origin: 'adopted',
        previous: { name: foreign.name, sessionDuration: foreign.sessionDuration, policies: foreign.policyLinks },
      });
      return { status: 'done', detail: `Took over "${foreign.name}" for ${h.hostname} as you confirmed.` };
    }
    const created = await cf.zeroTrust.access.applications.create(params(null) as never);
    const id = (created as { id?: string }).id ?? '';
    await save({ hostname: h.hostname, id, origin: 'created', previous: null });
    return { status: 'done', detail: `Created ${name} for ${h.hostname}.` };
  } catch (err) {
    throw toCloudflareError(err, `set up Access for ${h.hostname}`, PERMISSION.accessWrite);
  }
}
