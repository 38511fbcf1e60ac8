/**
 * The bypass for Authentik's OIDC endpoints: a path application `<auth host>/application/o` linking a reusable
 * policy that lets everyone through (decision "bypass"), so Nextcloud's server-side requests for the discovery
 * document, token and keys are not answered by Access's login. Only while Nextcloud and Authentik are both on; taken
 * away when either is turned off, and by "Remove from Cloudflare".
 */
import { AppError } from '../errors';
import { isNotFound, toCloudflareError } from './cf-errors';
import { collect } from './client';
import { BYPASS_RULES, oidcAppName, oidcPolicyName, type OidcBypassPlan } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { selfHostedView, type SelfHostedView } from './sdk-views';
import { PERMISSION } from './token-check';

const isBypassEveryone = (p: { decision?: string; include?: unknown[]; exclude?: unknown[]; require?: unknown[] }): boolean =>
  p.decision === 'bypass' &&
  (p.include ?? []).length === 1 &&
  Object.keys((p.include ?? [])[0] as object)[0] === 'everyone' &&
  (p.exclude ?? []).length === 0 &&
  (p.require ?? []).length === 0;

export async function ensureOidcBypass(cx: CloudflareContext, account_id: string, plan: OidcBypassPlan | null, session_duration: string): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  if (!plan) {
    const gone = await removeOidcBypass(cx);
    return { status: gone ? 'done' : 'unchanged', detail: gone ? 'Removed: Nextcloud or Authentik is off.' : 'Not needed.' };
  }
  const kept = (await store.read(profileId)).managed.oidcBypass;
  const save = (patch: { appId?: string; policyId?: string }): Promise<unknown> =>
    store.update(profileId, (f) => {
      const was = f.managed.oidcBypass;
      f.managed.oidcBypass = { accountId: account_id, domain: plan.domain, appId: was?.appId ?? null, policyId: was?.policyId ?? null, ...patch };
    });
  let changed = false;

  // The policy: reusable, bypass, everyone.
  const policyName = oidcPolicyName(profileId);
  let policyId: string;
  try {
    const existing = (await collect(cf.zeroTrust.access.policies.list({ account_id }), 1000)).find((p) => (kept?.policyId != null && p.id === kept.policyId) || p.name === policyName);
    const body = { account_id, name: policyName, decision: 'bypass' as const, include: [...BYPASS_RULES] };
    if (!existing?.id) {
      policyId = (await cf.zeroTrust.access.policies.create(body)).id ?? '';
      changed = true;
    } else if (existing.name === policyName && isBypassEveryone(existing as never)) {
      policyId = existing.id;
    } else {
      policyId = (await cf.zeroTrust.access.policies.update(existing.id, body)).id ?? existing.id;
      changed = true;
    }
  } catch (err) {
    throw toCloudflareError(err, 'set up the Access policy for the sign-in endpoints', PERMISSION.accessWrite);
  }
  await save({ policyId });

  // The path application, linking only that policy.
  const name = oidcAppName(profileId);
  const at = (a: SelfHostedView): string => a.domain.toLowerCase().replace(/\/+$/, '');
  let all: SelfHostedView[];
  try {
    all = (await collect(cf.zeroTrust.access.applications.list({ account_id }), 1000)).map(selfHostedView).filter((a): a is SelfHostedView => a !== null);
  } catch (err) {
    throw toCloudflareError(err, 'list Access applications', PERMISSION.accessRead);
  }
  const apps = all.filter((a) => at(a) === plan.domain);
  // Ours by the id kept, wherever it points now: after Authentik's hostname changed it is moved to the new path (else
  // it stayed behind, untracked, still linking the policy).
  const ours = all.find((a) => a.id === kept?.appId) ?? apps.find((a) => a.name === name);
  if ((!ours || at(ours) !== plan.domain) && apps[0]) {
    throw new AppError('cloudflare.conflict', `An Access application for ${plan.domain} already exists ("${apps[0].name}"), made outside M2 Companion.`, {
      hint: 'Nextcloud signs in through these addresses without a person at the browser: give that application a Bypass policy for Everyone, or delete it and publish again.',
    });
  }
  const params = (base: SelfHostedView | null): Record<string, unknown> => ({
    ...(base?.raw ?? { app_launcher_visible: false, auto_redirect_to_identity: false }),
    account_id,
    type: 'self_hosted',
    domain: plan.domain,
    name,
    session_duration,
    policies: [{ id: policyId, precedence: 1 }],
  });
  try {
    if (!ours) {
      const created = (await cf.zeroTrust.access.applications.create(params(null) as never)) as { id?: string };
      await save({ appId: created.id ?? '' });
      changed = true;
    } else {
      await save({ appId: ours.id });
      if (!(ours.name === name && at(ours) === plan.domain && ours.policyIds.length === 1 && ours.policyIds[0] === policyId)) {
        await cf.zeroTrust.access.applications.update(ours.id, params(ours) as never);
        changed = true;
      }
    }
  } catch (err) {
    throw toCloudflareError(err, `set up Access for ${plan.domain}`, PERMISSION.accessWrite);
  }
  return changed
    ? { status: 'done', detail: `${plan.domain}/… lets Nextcloud's server fetch Authentik's sign-in endpoints; the rest of ${plan.hostname} stays behind Access.` }
    : { status: 'unchanged', detail: `${plan.domain}/… is open to Nextcloud's server; the rest of ${plan.hostname} stays behind Access.` };
}

/** Delete the path application, then its policy; true when anything was there. Forgotten as each goes. */
export async function removeOidcBypass(cx: CloudflareContext): Promise<boolean> {
  const { cf, profileId, store } = cx;
  const kept = (await store.read(profileId)).managed.oidcBypass;
  if (!kept) return false;
  const account_id = kept.accountId;
  if (kept.appId) {
    try {
      await cf.zeroTrust.access.applications.delete(kept.appId, { account_id });
    } catch (err) {
      if (!isNotFound(err)) throw toCloudflareError(err, `remove the Access application of ${kept.domain}`, PERMISSION.accessWrite);
    }
    await store.update(profileId, (f) => void (f.managed.oidcBypass = f.managed.oidcBypass && { ...f.managed.oidcBypass, appId: null }));
  }
  if (kept.policyId) {
    try {
      await cf.zeroTrust.access.policies.delete(kept.policyId, { account_id });
    } catch (err) {
      if (!isNotFound(err)) throw toCloudflareError(err, 'delete the Access policy of the sign-in endpoints', PERMISSION.accessWrite);
    }
  }
  await store.update(profileId, (f) => void (f.managed.oidcBypass = null));
  return true;
}
