/**
 * Publishing a server through Cloudflare, per profile: the API token (api-token.ts), account and zone (zone.ts), a
 * remotely-managed tunnel and its token (tunnel.ts), its routes (ingress.ts), Access (access.ts) and, last, the
 * proxied CNAMEs (dns.ts); removal (removal.ts) undoes exactly what the app made. Each resource's step runs inside one
 * Run (run.ts), and records made outside the app are taken over only with the admin's yes (take-over.ts).
 *
 * Every step looks before it writes, so a second run changes nothing and a run that stopped is continued by the
 * next. DNS goes last on purpose: a hostname is only pointed at the tunnel once Access protects it.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type Cloudflare from 'cloudflare';
import type { CloudflareProgress, CloudflareRunReport, CloudflareSettings, CloudflareView, PublishReport, RemovalPlan, TokenCheck } from '../../contract/cloudflare';
import { CloudflareSettings as CloudflareSettingsSchema } from '../../contract/cloudflare';
import type { ApplyResult, StackSettings } from '../../contract/stack';
import type { TunnelApiStatus } from '../../contract/status';
import type { HouseholdRole } from '../../contract/household';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { ensureApp, ensurePolicy } from './access';
import { probePolicyName, type AccessProbeTokens } from './access-service-token';
import { toCloudflareError } from './cf-errors';
import { API_TOKEN_SECRET, inspectToken, storedApiToken, tokenStillActive } from './api-token';
import { collect, createCloudflareClient, type ClientOptions } from './client';
import type { CloudflareStore } from './cloudflare-store';
import { ensureDns } from './dns';
import { cleanupHousehold, ensureRoleGroups, ensureRolePolicies, type AccessMember } from './household-access';
import { ensureIngress } from './ingress';
import { ensureOidcBypass } from './oidc-bypass';
import { inZone, oidcBypass, publishedHosts, tunnelName, tunnelTarget } from './publish-plan';
import { removalPlan, removeManaged } from './removal';
import { DEFAULT_RETRY_POLICY, systemClock, type Clock, type RetryPolicy } from './retry-policy';
import { Run, passed, type CloudflareContext } from './run';
import { TakeOvers } from './take-over';
import { PERMISSION } from './token-check';
import { TUNNEL_TOKEN_SECRET, deliverTunnelToken, ensureTunnel, keepRotatedToken, keepTunnelToken, readTunnelStatus, rotateTunnelSecret } from './tunnel';
import { checkZone, listZones, refuseHostsOutsideZone } from './zone';

export { API_TOKEN_SECRET } from './api-token';
export { TUNNEL_TOKEN_SECRET } from './tunnel';

export interface CloudflareServiceDeps {
  readonly store: CloudflareStore;
  /** The OS keychain; without one, nothing that needs a token runs. */
  readonly secrets: SecretStore | undefined;
  /** The stack settings of a profile (hostnames, enabled modules). */
  readonly stackSettings: (profileId: string) => Promise<StackSettings>;
  /** Render and apply the stack: the tunnel token reaches the server in cloudflared's 0600 env file. */
  readonly redeploy: (profileId: string) => Promise<ApplyResult>;
  /** Whether the stack is installed on the server yet (before the first install, the install delivers the token). */
  readonly isInstalled?: (profileId: string) => Promise<boolean>;
  readonly log: Logger;
  readonly onProgress: (p: CloudflareProgress) => void;
  readonly client?: Omit<ClientOptions, 'retry'>;
  /** How long a run keeps trying through rate limits and flaky networks (default: 10 attempts, 2 minutes a request). */
  readonly retry?: Partial<RetryPolicy>;
  readonly clock?: Clock;
  /** Jitter for the backoff; Math.random unless a test fixes it. */
  readonly random?: () => number;
  readonly randomBytes?: (n: number) => Buffer;
  /** The outage probe's Access service token and its policy, linked to each application; absent = not set up. */
  readonly probeAccess?: AccessProbeTokens;
  /** The household's people and roles (the Household page's bookkeeping); absent = roles are not managed. */
  readonly household?: (profileId: string) => Promise<readonly AccessMember[]>;
}

export class CloudflareService {
  readonly #d: CloudflareServiceDeps;
  readonly #busy = new Set<string>();
  /** The publish under way per profile, to cancel it. */
  readonly #publishing = new Map<string, AbortController>();

  constructor(deps: CloudflareServiceDeps) {
    this.#d = deps;
  }

  // ---- keychain, client, one change at a time --------------------------------------------------------------------

  #secrets(): SecretStore {
    if (!this.#d.secrets) {
      throw new AppError('secrets.unavailable', 'No keychain is available, so M2 Companion cannot keep a Cloudflare token.', {
        hint: 'Unlock or install your system keychain, then try again.',
      });
    }
    return this.#d.secrets;
  }

  #apiToken(profileId: string): Promise<Secret> {
    return storedApiToken(this.#secrets(), profileId);
  }

  #client(token: Secret, run?: Run): Cloudflare {
    if (!run) return createCloudflareClient(token, this.#d.client);
    return createCloudflareClient(token, {
      ...this.#d.client,
      retry: { policy: run.policy, clock: run.clock, random: run.random, signal: run.signal, onRetry: run.onRetry, onUnsafeToRepeat: run.onUnsafeToRepeat },
    });
  }

  #run(profileId: string, kind: string, signal?: AbortSignal): Run {
    const policy = { ...DEFAULT_RETRY_POLICY, ...this.#d.retry };
    return new Run(profileId, this.#d, kind, policy, this.#d.clock ?? systemClock, this.#d.random ?? Math.random, signal);
  }

  #context(profileId: string, cf: Cloudflare): CloudflareContext {
    return { cf, profileId, store: this.#d.store };
  }

  async #exclusive<T>(profileId: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy.has(profileId)) {
      throw new AppError('cloudflare.conflict', 'Cloudflare is already being changed for this server.', { hint: 'Wait for the running step to finish, then try again.' });
    }
    this.#busy.add(profileId);
    try {
      return await fn();
    } finally {
      this.#busy.delete(profileId);
    }
  }

  // ---- view, token, zones, settings ----------------------------------------------------------------------------

  async view(profileId: string): Promise<CloudflareView> {
    const f = await this.#d.store.read(profileId);
    const stack = await this.#d.stackSettings(profileId);
    const settings = f.settings ?? CloudflareSettingsSchema.parse({});
    const zone = settings.zoneName;
    const stored = this.#d.secrets ? (await this.#d.secrets.get(profileId, TUNNEL_TOKEN_SECRET)) !== undefined : false;
    return {
      profileId,
      token: { stored: f.token !== null, kind: f.token?.kind ?? null, masked: f.token?.masked ?? null },
      settings,
      saved: f.settings !== null,
      hostnames: publishedHosts(stack).map((h) => ({ ...h, inZone: zone ? inZone(h.hostname, zone) : null })),
      tunnel: f.managed.tunnel ? { id: f.managed.tunnel.id, name: f.managed.tunnel.name } : null,
      tunnelTokenStored: stored,
      managed: [
        ...(f.managed.tunnel ? [{ kind: 'tunnel' as const, id: f.managed.tunnel.id, name: f.managed.tunnel.name, origin: 'created' as const }] : []),
        ...(f.managed.policy ? [{ kind: 'access-policy' as const, id: f.managed.policy.id, name: f.managed.policy.name, origin: 'created' as const }] : []),
        ...f.managed.apps.map((a) => ({ kind: 'access-app' as const, id: a.id, name: a.hostname, origin: a.origin })),
        ...f.managed.dns.map((r) => ({ kind: 'dns-record' as const, id: r.id, name: r.hostname, origin: r.origin })),
      ],
    };
  }

  /**
   * Verify a new token, learn what it may do, then (only then) keep it in the keychain, replacing any earlier one.
   * A token that fails verification, or a check that cannot reach Cloudflare, changes nothing.
   */
  async setToken(profileId: string, tokenValue: string, accountHint?: string): Promise<TokenCheck> {
    const token = new Secret(tokenValue);
    const secrets = this.#secrets();
    return this.#exclusive(profileId, async () => {
      const f = await this.#d.store.read(profileId);
      const { verified, check } = await inspectToken(this.#client(token), token, accountHint ?? f.settings?.accountId ?? undefined, f.settings);
      const replaced = (await secrets.get(profileId, API_TOKEN_SECRET)) !== undefined;
      await secrets.set(profileId, API_TOKEN_SECRET, token);
      await this.#d.store.update(profileId, (file) => {
        file.token = { kind: verified.kind, id: verified.id, accountId: verified.accountId, masked: token.masked() };
      });
      this.#d.log.info('cloudflare: API token verified and stored', { profileId, kind: verified.kind, replaced, missing: check.features.flatMap((x) => x.missing) });
      return { ...check, replaced };
    });
  }

  /** Verify the stored token again and report what it may do now. */
  async checkToken(profileId: string): Promise<TokenCheck> {
    const token = await this.#apiToken(profileId);
    const f = await this.#d.store.read(profileId);
    const { check } = await inspectToken(this.#client(token), token, f.token?.accountId ?? f.settings?.accountId ?? undefined, f.settings);
    return { ...check, replaced: false };
  }

  async forgetToken(profileId: string): Promise<void> {
    await this.#secrets().delete(profileId, API_TOKEN_SECRET);
    await this.#d.store.update(profileId, (f) => {
      f.token = null;
    });
  }

  async zones(profileId: string, accountId: string): Promise<Array<{ id: string; name: string; status: string; accountId: string }>> {
    return listZones(this.#client(await this.#apiToken(profileId)), accountId);
  }

  /** Save the account, zone and Access choices; every published hostname must lie inside the zone. */
  async saveSettings(profileId: string, settings: CloudflareSettings): Promise<CloudflareView> {
    if (settings.zoneName) refuseHostsOutsideZone(publishedHosts(await this.#d.stackSettings(profileId)), settings.zoneName);
    await this.#d.store.update(profileId, (f) => {
      f.settings = settings;
    });
    return this.view(profileId);
  }

  // ---- publish -------------------------------------------------------------------------------------------------

  async publish(profileId: string, confirm: readonly string[] = []): Promise<PublishReport> {
    const token = await this.#apiToken(profileId);
    return this.#exclusive(profileId, async () => {
      const ac = new AbortController();
      this.#publishing.set(profileId, ac);
      try {
        return await this.#publish(profileId, token, new TakeOvers(new Set(confirm)), ac.signal);
      } finally {
        this.#publishing.delete(profileId);
      }
    });
  }

  /** Stop the publish under way for this server: a wait ends at once, the step under way fails as stopped, the rest are skipped. */
  cancelPublish(profileId: string): { cancelled: boolean } {
    const ac = this.#publishing.get(profileId);
    if (!ac || ac.signal.aborted) return { cancelled: false };
    this.#d.log.info('cloudflare publish: cancel asked', { profileId });
    ac.abort();
    return { cancelled: true };
  }

  /** The order is the point: token, zone, tunnel, its token, routes, Access, delivery, and DNS only for protected names. */
  async #publish(profileId: string, token: Secret, takeOvers: TakeOvers, signal: AbortSignal): Promise<PublishReport> {
    const run = this.#run(profileId, 'publish', signal);
    const cx = this.#context(profileId, this.#client(token, run));
    const { cf, store } = cx;
    const secrets = this.#secrets();
    const f = await store.read(profileId);
    const settings = f.settings;
    const stack = await this.#d.stackSettings(profileId);
    const hosts = publishedHosts(stack);
    const finish = (tunnelId: string | null): PublishReport => ({ ...run.report(), tunnelId, confirmations: takeOvers.asked, cancelled: run.cancelled });

    const tokenStep = await run.step('token', 'Check the API token', () => tokenStillActive(cf, f.token?.accountId ?? settings?.accountId ?? undefined));
    if (!passed(tokenStep)) return finish(null);

    const zoneStep = await run.step('zone', 'Check the zone and host names', () => checkZone(cf, settings, hosts));
    if (!passed(zoneStep) || !settings?.accountId || !settings.zoneId) {
      for (const [id, t] of [['tunnel', 'Tunnel'], ['access-policy', 'Access policy'], ['dns', 'DNS records']] as const) run.skip(id, t, 'Needs a valid account and zone.');
      return finish(f.managed.tunnel?.id ?? null);
    }
    const account_id = settings.accountId;
    const zone_id = settings.zoneId;

    let tunnelId: string | null = null;
    const tunnelStep = await run.step('tunnel', `Tunnel ${tunnelName(profileId)}`, () => ensureTunnel(cx, account_id, (id) => (tunnelId = id)));
    const tunnelReady = (): string | null => (passed(tunnelStep) ? tunnelId : null);

    let tokenChanged = false;
    const readyId = tunnelReady();
    const tokenFetch = readyId
      ? await run.step('tunnel-token', 'Tunnel token into the keychain', async () => {
          const { changed, ...outcome } = await keepTunnelToken(cx, secrets, readyId, account_id);
          tokenChanged = changed;
          return outcome;
        })
      : run.skip('tunnel-token', 'Tunnel token into the keychain', 'Needs the tunnel.');

    if (readyId) await run.step('ingress', 'Tunnel routes', () => ensureIngress(cx, readyId, account_id, hosts));
    else run.skip('ingress', 'Tunnel routes', 'Needs the tunnel.');

    const policyStep = await run.step('access-policy', 'Access policy (who may sign in)', () => ensurePolicy(cx, account_id, settings));
    const policyId = (await store.read(profileId)).managed.policy?.id ?? null;
    // The outage probe's service token gets through Access by its own non_identity policy, linked beside it.
    let probePolicyIds: string[] = [];
    const probeAccess = this.#d.probeAccess;
    if (probeAccess && passed(policyStep)) {
      await run.step('access-probe', 'Service token for the outage probe', async () => {
        const r = await probeAccess.ensure(cf, profileId, account_id);
        probePolicyIds = r.policyId ? [r.policyId] : [];
        return r;
      });
    }
    // The household's roles: groups, a policy by role per service, linked beside the household policy.
    const roles = passed(policyStep) ? await this.#householdSteps(run, cx, account_id, settings, hosts) : null;
    const accessOk = new Map<string, boolean>();
    for (const h of hosts) {
      const id = `access:${h.hostname}`;
      const title = `Access application for ${h.hostname}`;
      if (!passed(policyStep) || !policyId) {
        run.skip(id, title, 'Needs the Access policy.');
        continue;
      }
      // Groups or policies by role that could not be brought in line: the application keeps the one it links now.
      const byRole = roles?.byHost.get(h.hostname);
      const s = await run.step(id, title, () => ensureApp(cx, account_id, settings, h, policyId, takeOvers, [...(byRole ? [byRole] : []), ...probePolicyIds]));
      accessOk.set(h.hostname, passed(s));
    }
    // Nextcloud's server reads Authentik's OIDC endpoints by the public name: a path application lets it through.
    const oidc = oidcBypass(stack);
    if (oidc || (await store.read(profileId)).managed.oidcBypass) {
      const title = 'Authentik’s sign-in endpoints for Nextcloud';
      if (passed(policyStep)) await run.step('access-oidc', title, () => ensureOidcBypass(cx, account_id, oidc, settings.access.sessionDuration));
      else run.skip('access-oidc', title, 'Needs the Access policy.');
    }
    if (roles?.ok && hosts.every((h) => accessOk.get(h.hostname))) {
      await run.step('household-cleanup', 'Household Access left over', () => cleanupHousehold(cx, account_id, roles.groupIds, new Set(roles.byHost.values())));
    }

    if (passed(tokenFetch)) {
      await run.step('deploy', 'Tunnel token to the server', async () => {
        const fresh = await store.read(profileId);
        if (!tokenChanged && fresh.managed.tunnelToken?.deployed) return { status: 'unchanged', detail: 'The server already runs cloudflared with this token.' };
        if (this.#d.isInstalled && !(await this.#d.isInstalled(profileId))) {
          return { status: 'skipped', detail: 'The stack is not installed yet: the Install step will deliver the token with everything else.' };
        }
        return deliverTunnelToken(this.#d.redeploy, store, profileId);
      });
    } else run.skip('deploy', 'Tunnel token to the server', 'Needs the tunnel token.');

    if (readyId) {
      const target = tunnelTarget(readyId);
      for (const h of hosts) {
        const id = `dns:${h.hostname}`;
        const title = `DNS record for ${h.hostname}`;
        if (!accessOk.get(h.hostname)) {
          run.skip(id, title, 'Not published until Access protects it.');
          continue;
        }
        await run.step(id, title, () => ensureDns(cx, zone_id, h, target, takeOvers));
      }
    } else run.skip('dns', 'DNS records', 'Needs the tunnel.');

    return finish(tunnelId ?? f.managed.tunnel?.id ?? null);
  }

  /**
   * The household's groups and policies by role, when the app manages roles and there is anything to manage (people
   * now, or groups and policies from before); null otherwise, so a server without a household publishes as before.
   */
  async #householdSteps(
    run: Run,
    cx: CloudflareContext,
    account_id: string,
    settings: CloudflareSettings,
    hosts: ReturnType<typeof publishedHosts>,
  ): Promise<{ ok: boolean; byHost: Map<string, string>; groupIds: Set<string> } | null> {
    if (!this.#d.household) return null;
    const members = await this.#d.household(cx.profileId);
    const kept = (await cx.store.read(cx.profileId)).managed.household;
    if (members.length === 0 && kept.groups.length === 0 && kept.policies.length === 0) return null;
    let groups = new Map<HouseholdRole, string>();
    let byHost = new Map<string, string>();
    // What the applications link now, kept when the groups or policies cannot be brought in line this time.
    const linkedNow = (): Map<string, string> =>
      new Map(hosts.flatMap((h) => kept.policies.filter((p) => p.service === h.service).map((p) => [h.hostname, p.id] as [string, string])));
    const g = await run.step('household-groups', 'Access groups by role', () => ensureRoleGroups(cx, account_id, members, (ids) => (groups = ids)));
    if (!passed(g)) {
      run.skip('household-policies', 'Access policies by role', 'Needs the Access groups.');
      return { ok: false, byHost: linkedNow(), groupIds: new Set() };
    }
    const p = await run.step('household-policies', 'Access policies by role', () =>
      ensureRolePolicies(cx, account_id, hosts, groups, settings.access.sessionDuration, (m) => (byHost = m)),
    );
    return passed(p) ? { ok: true, byHost, groupIds: new Set(groups.values()) } : { ok: false, byHost: linkedNow(), groupIds: new Set() };
  }

  /**
   * Bring Cloudflare Access in line with the household after a person was added or removed: the role groups, the
   * policies by role, the links from the applications the app already made (an application not made yet gets its
   * links when the server is published), then what nobody needs any more. Null when Cloudflare is not set up for
   * this server (no token, account or zone): publishing will do all of it.
   */
  async syncHousehold(profileId: string): Promise<CloudflareRunReport | null> {
    if (!this.#d.secrets) return null;
    const f = await this.#d.store.read(profileId);
    const settings = f.settings;
    const token = await this.#d.secrets.get(profileId, API_TOKEN_SECRET);
    if (!token || !settings?.accountId || !settings.zoneId) return null;
    const account_id = settings.accountId;
    return this.#exclusive(profileId, async () => {
      const run = this.#run(profileId, 'household');
      const cx = this.#context(profileId, this.#client(token, run));
      const hosts = publishedHosts(await this.#d.stackSettings(profileId));
      const roles = await this.#householdSteps(run, cx, account_id, settings, hosts);
      if (!roles) return run.report();
      const fresh = await this.#d.store.read(profileId);
      const policyId = fresh.managed.policy?.id;
      // The outage probe's policy stays linked: found by its name, as publish made it.
      const probeLinks = async (): Promise<string[]> => {
        if (!this.#d.probeAccess) return [];
        const name = probePolicyName(profileId);
        try {
          const found = (await collect(cx.cf.zeroTrust.access.policies.list({ account_id }), 1000)).find((p) => p.name === name);
          return found?.id ? [found.id] : [];
        } catch (err) {
          throw toCloudflareError(err, 'list Access policies', PERMISSION.accessRead);
        }
      };
      let linked = true;
      for (const h of hosts) {
        const id = `access:${h.hostname}`;
        const title = `Access application for ${h.hostname}`;
        if (!fresh.managed.apps.some((a) => a.hostname === h.hostname) || !policyId) {
          run.skip(id, title, 'Not published yet: publishing links its policy by role.');
          continue;
        }
        if (!roles.ok) {
          linked = false;
          run.skip(id, title, 'Needs the household’s Access groups and policies.');
          continue;
        }
        const byRole = roles.byHost.get(h.hostname);
        const s = await run.step(id, title, async () => ensureApp(cx, account_id, settings, h, policyId, new TakeOvers(new Set()), [...(byRole ? [byRole] : []), ...(await probeLinks())]));
        linked &&= passed(s);
      }
      if (roles.ok && linked) await run.step('household-cleanup', 'Household Access left over', () => cleanupHousehold(cx, account_id, roles.groupIds, new Set(roles.byHost.values())));
      else run.skip('household-cleanup', 'Household Access left over', 'Waits until every application links the policies by role.');
      return run.report();
    });
  }

  // ---- for other parts of the app ----------------------------------------------------------------------------------

  /**
   * An SDK client and the zone, for other parts of the app that keep a record in the admin's zone (the fallback's
   * endpoint name); undefined while there is no token or no zone chosen. Retries as usual.
   */
  async zoneAccess(profileId: string): Promise<{ client: Cloudflare; zoneId: string; zoneName: string | null } | undefined> {
    if (!this.#d.secrets) return undefined;
    const f = await this.#d.store.read(profileId);
    const zoneId = f.settings?.zoneId;
    if (!zoneId) return undefined;
    const token = await this.#d.secrets.get(profileId, API_TOKEN_SECRET);
    if (!token) return undefined;
    return { client: this.#client(token), zoneId, zoneName: f.settings?.zoneName ?? null };
  }

  /**
   * What the Cloudflare API says about this server's tunnel. Null when there is nothing to ask with or about: no
   * keychain, no API token, or no tunnel created yet. Read-only, never retried at length: live status polls it and
   * shows the agent's own view when Cloudflare cannot be reached.
   */
  async tunnelStatus(profileId: string): Promise<TunnelApiStatus | null> {
    if (!this.#d.secrets) return null;
    const f = await this.#d.store.read(profileId);
    const tunnel = f.managed.tunnel;
    if (!tunnel) return null;
    const token = await this.#d.secrets.get(profileId, API_TOKEN_SECRET);
    if (!token) return null;
    return readTunnelStatus(createCloudflareClient(token, { ...this.#d.client, maxRetries: 0 }), tunnel);
  }

  // ---- removal, rotation -------------------------------------------------------------------------------------------

  async removalPlan(profileId: string): Promise<RemovalPlan> {
    const f = await this.#d.store.read(profileId);
    const tunnelToken = this.#d.secrets ? await this.#d.secrets.get(profileId, TUNNEL_TOKEN_SECRET) : undefined;
    return removalPlan(profileId, f, tunnelToken !== undefined);
  }

  /** Delete exactly what the app created (and put back what it overwrote with the admin's yes). */
  async remove(profileId: string): Promise<CloudflareRunReport> {
    const token = await this.#apiToken(profileId);
    return this.#exclusive(profileId, async () => {
      const run = this.#run(profileId, 'remove');
      await removeManaged(run, this.#context(profileId, this.#client(token, run)), { secrets: () => this.#secrets(), probeAccess: this.#d.probeAccess });
      return run.report();
    });
  }

  /** A new tunnel secret (the old token stops opening connections), the new token into the keychain, then to the server. */
  async rotateTunnelToken(profileId: string): Promise<CloudflareRunReport> {
    const token = await this.#apiToken(profileId);
    return this.#exclusive(profileId, async () => {
      const run = this.#run(profileId, 'rotate');
      const cx = this.#context(profileId, this.#client(token, run));
      const tunnel = (await this.#d.store.read(profileId)).managed.tunnel;
      if (!tunnel) {
        throw new AppError('cloudflare.not-configured', 'This server has no tunnel yet.', { hint: 'Publish through Cloudflare first.' });
      }
      const rotated = await run.step('rotate', `New secret for ${tunnel.name}`, () => rotateTunnelSecret(cx.cf, tunnel, this.#d.randomBytes ?? cryptoRandomBytes));
      const stored = passed(rotated)
        ? await run.step('tunnel-token', 'New tunnel token into the keychain', () => keepRotatedToken(cx, this.#secrets(), tunnel))
        : run.skip('tunnel-token', 'New tunnel token into the keychain', 'Needs the new secret.');
      if (passed(stored)) await run.step('deploy', 'Redeploy cloudflared', () => deliverTunnelToken(this.#d.redeploy, this.#d.store, profileId));
      else run.skip('deploy', 'Redeploy cloudflared', 'Needs the new token.');
      return run.report();
    });
  }
}
