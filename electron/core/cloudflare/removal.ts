/**
 * Removing the server from Cloudflare: exactly what the app made is deleted, what it took over with the admin's yes
 * is put back as it was, and what changed outside the app since is left alone. Each resource is forgotten by the
 * store as soon as it is gone, so a removal that stopped is continued by the next.
 */
import type { RemovalPlan } from '../../contract/cloudflare';
import { AppError } from '../errors';
import type { SecretStore } from '../secrets/keychain';
import type { AccessProbeTokens } from './access-service-token';
import { isNotFound, toCloudflareError } from './cf-errors';
import { cleanupHousehold } from './household-access';
import type { CloudflareFile, PreviousRecord } from './cloudflare-store';
import { removeOidcBypass } from './oidc-bypass';
import { describeRecord, isOurRecord, oidcPolicyName, type RecordView } from './publish-plan';
import type { CloudflareContext, Run } from './run';
import { recordBody, recordView, selfHostedView, type SelfHostedView } from './sdk-views';
import { PERMISSION } from './token-check';
import { TUNNEL_TOKEN_SECRET } from './tunnel';

/** What a removal would do, item by item, for the admin to read before saying yes. */
export function removalPlan(profileId: string, f: CloudflareFile, tunnelTokenStored: boolean): RemovalPlan {
  const m = f.managed;
  return {
    profileId,
    items: [
      ...m.dns.map((r) => ({ kind: 'dns-record' as const, name: r.hostname, action: r.origin === 'created' ? ('delete' as const) : ('restore' as const) })),
      ...m.apps.map((a) => ({ kind: 'access-app' as const, name: a.hostname, action: a.origin === 'created' ? ('delete' as const) : ('restore' as const) })),
      ...(m.policy ? [{ kind: 'access-policy' as const, name: m.policy.name, action: 'delete' as const }] : []),
      ...(m.oidcBypass?.appId ? [{ kind: 'access-app' as const, name: m.oidcBypass.domain, action: 'delete' as const }] : []),
      ...(m.oidcBypass?.policyId ? [{ kind: 'access-policy' as const, name: oidcPolicyName(profileId), action: 'delete' as const }] : []),
      ...(m.tunnel ? [{ kind: 'tunnel' as const, name: m.tunnel.name, action: 'delete' as const }] : []),
      ...(tunnelTokenStored ? [{ kind: 'keychain' as const, name: TUNNEL_TOKEN_SECRET, action: 'delete' as const }] : []),
    ],
  };
}

/** DNS records first (nothing points at the tunnel any more), then Access, the probe's token, the tunnel, the keychain. */
export async function removeManaged(run: Run, cx: CloudflareContext, deps: { secrets: () => SecretStore; probeAccess: AccessProbeTokens | undefined }): Promise<void> {
  const { cf, profileId, store } = cx;
  const f = await store.read(profileId);
  const account_id = f.managed.tunnel?.accountId ?? f.managed.policy?.accountId ?? f.settings?.accountId ?? null;

  for (const r of f.managed.dns) {
    await run.step(`dns:${r.hostname}`, `DNS record for ${r.hostname}`, async () => {
      let rec: RecordView | undefined;
      try {
        rec = recordView(await cf.dns.records.get(r.id, { zone_id: r.zoneId }));
      } catch (err) {
        if (!isNotFound(err)) throw toCloudflareError(err, `read the DNS record of ${r.hostname}`, PERMISSION.dnsRead);
      }
      const drop = (): Promise<CloudflareFile> => store.update(profileId, (file) => void (file.managed.dns = file.managed.dns.filter((x) => x.id !== r.id)));
      if (!rec) {
        await drop();
        return { status: 'unchanged', detail: 'Already gone.' };
      }
      if (!isOurRecord(rec.comment, profileId)) {
        await drop();
        return { status: 'skipped', detail: `Left alone: it was changed outside the app since (${describeRecord(rec)}).` };
      }
      try {
        if (r.origin === 'created' || r.previous.length === 0) {
          await cf.dns.records.delete(r.id, { zone_id: r.zoneId });
          await drop();
          return { status: 'done', detail: `Deleted the CNAME of ${r.hostname}.` };
        }
        const [first, ...rest] = r.previous as [PreviousRecord, ...PreviousRecord[]];
        await cf.dns.records.update(r.id, { zone_id: r.zoneId, ...recordBody(first) } as never);
        for (const p of rest) await cf.dns.records.create({ zone_id: r.zoneId, ...recordBody(p) } as never);
        await drop();
        return { status: 'done', detail: `Put back ${r.previous.map((p) => `${p.type} ${p.name} → ${p.content}`).join('; ')}.` };
      } catch (err) {
        throw toCloudflareError(err, `remove the DNS record of ${r.hostname}`, PERMISSION.dnsWrite);
      }
    });
  }

  if (f.managed.oidcBypass) {
    await run.step('access-oidc', `Access application for ${f.managed.oidcBypass.domain}`, async () => {
      await removeOidcBypass(cx);
      return { status: 'done', detail: `Deleted the bypass for Authentik’s sign-in endpoints.` };
    });
  }

  for (const a of f.managed.apps) {
    await run.step(`access:${a.hostname}`, `Access application for ${a.hostname}`, async () => {
      if (!account_id) throw new AppError('cloudflare.not-configured', 'The account of this Access application is not known.');
      const drop = (): Promise<CloudflareFile> => store.update(profileId, (file) => void (file.managed.apps = file.managed.apps.filter((x) => x.id !== a.id)));
      let app: SelfHostedView | null = null;
      try {
        app = selfHostedView(await cf.zeroTrust.access.applications.get(a.id, { account_id }));
      } catch (err) {
        if (!isNotFound(err)) throw toCloudflareError(err, `read the Access application of ${a.hostname}`, PERMISSION.accessRead);
      }
      if (!app) {
        await drop();
        return { status: 'unchanged', detail: 'Already gone.' };
      }
      try {
        if (a.origin === 'created' || !a.previous) {
          await cf.zeroTrust.access.applications.delete(a.id, { account_id });
          await drop();
          return { status: 'done', detail: `Deleted "${app.name}".` };
        }
        await cf.zeroTrust.access.applications.update(a.id, {
          ...app.raw,
          account_id,
          type: 'self_hosted',
          domain: app.domain,
          name: a.previous.name,
          session_duration: a.previous.sessionDuration,
          policies: a.previous.policies,
        } as never);
        await drop();
        return { status: 'done', detail: `Put "${a.previous.name}" back as it was.` };
      } catch (err) {
        throw toCloudflareError(err, `remove the Access application of ${a.hostname}`, PERMISSION.accessWrite);
      }
    });
  }

  const policy = f.managed.policy;
  if (policy) {
    await run.step('access-policy', `Access policy "${policy.name}"`, async () => {
      try {
        await cf.zeroTrust.access.policies.delete(policy.id, { account_id: policy.accountId });
      } catch (err) {
        if (!isNotFound(err)) throw toCloudflareError(err, 'delete the Access policy', PERMISSION.accessWrite);
      }
      await store.update(profileId, (file) => void (file.managed.policy = null));
      return { status: 'done', detail: `Deleted "${policy.name}".` };
    });
  }
  const household = f.managed.household;
  if (account_id && (household.groups.length > 0 || household.policies.length > 0)) {
    // After the applications: a policy by role still linked to one could not be deleted.
    await run.step('household-access', 'Household Access groups and policies by role', () => cleanupHousehold(cx, account_id, new Set(), new Set()));
  }
  const probeAccess = deps.probeAccess;
  if (probeAccess && account_id) await run.step('access-probe', 'Service token of the outage probe', () => probeAccess.remove(cf, profileId, account_id));

  const tunnel = f.managed.tunnel;
  if (tunnel) {
    await run.step('tunnel', `Tunnel ${tunnel.name}`, async () => {
      try {
        // A tunnel with live connectors cannot be deleted: drop their connections first (they cannot come back).
        await cf.zeroTrust.tunnels.cloudflared.connections.delete(tunnel.id, { account_id: tunnel.accountId });
        await cf.zeroTrust.tunnels.cloudflared.delete(tunnel.id, { account_id: tunnel.accountId });
      } catch (err) {
        if (!isNotFound(err)) throw toCloudflareError(err, 'delete the tunnel', PERMISSION.tunnelWrite);
      }
      await store.update(profileId, (file) => {
        file.managed.tunnel = null;
        file.managed.tunnelToken = null;
      });
      return { status: 'done', detail: `Deleted ${tunnel.name}. cloudflared on the server can no longer connect; turn it off in the stack.` };
    });
  }

  await run.step('keychain', 'Tunnel token in the keychain', async () => {
    const gone = await deps.secrets().delete(profileId, TUNNEL_TOKEN_SECRET);
    return { status: gone ? 'done' : 'unchanged', detail: gone ? 'Deleted the tunnel token.' : 'No tunnel token was stored.' };
  });
}
