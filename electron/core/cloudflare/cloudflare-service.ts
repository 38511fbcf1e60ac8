/**
 * Publishing a server through Cloudflare, per profile: the API token (keychain `cloudflare.api-token`), account
 * and zone, a remotely-managed tunnel `m2-<profile>` whose token goes to the keychain (`cloudflared.tunnel-token`)
 * and reaches the server only through the stack's 0600 env file (an injected redeploy = stack apply), ingress,
 * Access (one reusable policy, one self-hosted application per hostname) and, last, the proxied CNAMEs.
 *
 * Every step looks before it writes, so a second run changes nothing and a run that stopped is continued by the
 * next. DNS goes last on purpose: a hostname is only pointed at the tunnel once Access protects it.
 */
import { createHash, randomBytes as cryptoRandomBytes, randomUUID } from 'node:crypto';
import type Cloudflare from 'cloudflare';
import type { Client as ConnectorClient } from 'cloudflare/resources/zero-trust/tunnels/cloudflared/connections';
import type {
  CloudflareProgress,
  CloudflareRunReport,
  CloudflareSettings,
  CloudflareStep,
  CloudflareView,
  Confirmation,
  PublishReport,
  RemovalPlan,
  StepStatus,
  TokenCheck,
} from '../../contract/cloudflare';
import { CloudflareSettings as CloudflareSettingsSchema } from '../../contract/cloudflare';
import type { ApplyResult, StackSettings } from '../../contract/stack';
import { TunnelApiStatus } from '../../contract/status';
import { AppError, toErrorShape } from '../errors';
import type { Logger } from '../log';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import type { AccessProbeTokens } from './access-service-token';
import { cancelledError, isConflict, isNotFound, toCloudflareError } from './cf-errors';
import { createCloudflareClient, type ClientOptions, type RetryNotice, collect } from './client';
import { DEFAULT_RETRY_POLICY, decide, failureInWords, systemClock, type Clock, type Failure, type RetryPolicy } from './retry-policy';
import type { CloudflareStore, CloudflareFile, ManagedApp, ManagedDns, PreviousRecord } from './cloudflare-store';
import {
  appConfirmKey,
  appName,
  decideDns,
  deeperThanUniversalSsl,
  describeRecord,
  dnsConfirmKey,
  dnsMarker,
  inZone,
  includeRules,
  ingressRules,
  isOurRecord,
  policyName,
  publishedHosts,
  sameIngress,
  sameRules,
  tunnelName,
  tunnelTarget,
  type HostPlan,
  type IngressRule,
  type RecordView,
} from './publish-plan';
import { PERMISSION, checkCapabilities, verifyToken } from './token-check';

export const API_TOKEN_SECRET = 'cloudflare.api-token';
export const TUNNEL_TOKEN_SECRET = 'cloudflared.tunnel-token';

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
}

const fingerprint = (s: Secret): string => createHash('sha256').update(s.reveal()).digest('hex').slice(0, 16);


interface StepOutcome {
  status: StepStatus;
  detail: string;
}

/**
 * One run (publish, removal, rotation): steps are settled in order, pushed as events and logged without secrets.
 * Its requests retry by the policy (client.ts); a step whose write may or may not have reached Cloudflare is run
 * again as a whole under the same policy (it looks before it writes). Cancelling ends a wait or a request at once;
 * the step under way fails as "stopped", the rest are skipped, and the next run continues from there.
 */
class Run {
  readonly id = randomUUID();
  readonly steps: CloudflareStep[] = [];
  readonly started: number;
  operation = 'start';
  /** Set by the client when it left a failure to the step (a POST that may have arrived). */
  #unsafe: Failure | null = null;

  constructor(
    readonly profileId: string,
    private readonly deps: Pick<CloudflareServiceDeps, 'log' | 'onProgress'>,
    readonly kind: string,
    readonly policy: RetryPolicy,
    readonly clock: Clock,
    readonly random: () => number,
    readonly signal?: AbortSignal,
  ) {
    this.started = clock.now();
  }

  get cancelled(): boolean {
    return this.signal?.aborted === true;
  }

  onRetry = (n: Pick<RetryNotice, 'failure' | 'attempt' | 'maxAttempts' | 'waitMs'> & { method?: string; path?: string }): void => {
    this.deps.log.warn('cloudflare: retrying', {
      profileId: this.profileId,
      runId: this.id,
      operation: this.operation,
      ...(n.method ? { method: n.method, path: n.path } : { whole: 'step' }),
      attempt: n.attempt,
      maxAttempts: n.maxAttempts,
      waitMs: n.waitMs,
      reason: failureInWords(n.failure),
    });
    this.deps.onProgress({
      kind: 'retrying',
      profileId: this.profileId,
      runId: this.id,
      operation: this.operation,
      cause: n.failure.kind,
      reason: failureInWords(n.failure),
      attempt: n.attempt,
      maxAttempts: n.maxAttempts,
      waitMs: n.waitMs,
      retryAt: new Date(this.clock.now() + n.waitMs).toISOString(),
      retryAfterMs: n.failure.retryAfterMs,
    });
  };

  onUnsafeToRepeat = (f: Failure): void => {
    this.#unsafe = f;
  };

  settle(step: CloudflareStep): CloudflareStep {
    this.steps.push(step);
    this.deps.log.info(`cloudflare ${this.kind}: ${step.id} ${step.status}`, { profileId: this.profileId, runId: this.id, detail: step.detail, ...(step.error ? { code: step.error.code } : {}) });
    this.deps.onProgress({ kind: 'step', profileId: this.profileId, runId: this.id, step });
    return step;
  }

  skip(id: string, title: string, why: string): CloudflareStep {
    return this.settle({ id, title, status: 'skipped', detail: this.cancelled ? 'Not reached: publishing was stopped.' : why });
  }

  async step(id: string, title: string, fn: () => Promise<StepOutcome>): Promise<CloudflareStep> {
    this.operation = title;
    if (this.cancelled) return this.skip(id, title, '');
    const started = this.clock.now();
    for (let attempts = 1; ; attempts++) {
      this.#unsafe = null;
      try {
        const out = await fn();
        return this.settle({ id, title, status: out.status, detail: out.detail });
      } catch (err) {
        const stopped = (): CloudflareStep => {
          const error = toErrorShape(cancelledError(title));
          return this.settle({ id, title, status: 'failed', detail: error.userMessage, error });
        };
        if (this.cancelled) return stopped();
        const unsafe = this.#unsafe;
        const d = unsafe ? decide(unsafe, attempts, this.clock.now() - started, this.policy, this.random) : null;
        if (unsafe && d?.kind === 'retry') {
          this.onRetry({ failure: unsafe, attempt: d.attempt, maxAttempts: d.maxAttempts, waitMs: d.waitMs });
          try {
            await this.clock.sleep(d.waitMs, this.signal);
          } catch {
            return stopped();
          }
          continue;
        }
        const error = toErrorShape(err);
        if (error.code === 'internal') this.deps.log.error(`cloudflare ${this.kind}: ${id} failed`, { profileId: this.profileId, error: err });
        return this.settle({ id, title, status: 'failed', detail: error.userMessage, error });
      }
    }
  }

  /** Nothing failed and nothing waits for the admin; a step skipped by design (deploy before install) is fine. */
  get ok(): boolean {
    return !this.cancelled && this.steps.every((s) => s.status !== 'failed' && s.status !== 'needs-confirmation');
  }

  report(): CloudflareRunReport {
    return { profileId: this.profileId, runId: this.id, ok: this.ok, steps: this.steps, durationMs: Math.max(0, Math.round(this.clock.now() - this.started)) };
  }
}

const passed = (s: CloudflareStep | undefined): boolean => s !== undefined && (s.status === 'done' || s.status === 'unchanged');

export class CloudflareService {
  readonly #d: CloudflareServiceDeps;
  readonly #busy = new Set<string>();
  /** The publish under way per profile, to cancel it. */
  readonly #publishing = new Map<string, AbortController>();

  constructor(deps: CloudflareServiceDeps) {
    this.#d = deps;
  }

  // ---- keychain ------------------------------------------------------------------------------------------------

  #secrets(): SecretStore {
    if (!this.#d.secrets) {
      throw new AppError('secrets.unavailable', 'No keychain is available, so M2 Companion cannot keep a Cloudflare token.', {
        hint: 'Unlock or install your system keychain, then try again.',
      });
    }
    return this.#d.secrets;
  }

  async #apiToken(profileId: string): Promise<Secret> {
    const t = await this.#secrets().get(profileId, API_TOKEN_SECRET);
    if (!t) {
      throw new AppError('cloudflare.token-missing', 'No Cloudflare API token is stored for this server yet.', {
        hint: 'Enter an API token in the Domain & Cloudflare step.',
      });
    }
    return t;
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
      const cf = this.#client(token);
      const verified = await verifyToken(cf, accountHint ?? f.settings?.accountId ?? undefined);
      const caps = await checkCapabilities(cf, { accountId: f.settings?.accountId ?? verified.accountId, zoneId: f.settings?.zoneId ?? null });
      const replaced = (await secrets.get(profileId, API_TOKEN_SECRET)) !== undefined;
      await secrets.set(profileId, API_TOKEN_SECRET, token);
      await this.#d.store.update(profileId, (file) => {
        file.token = { kind: verified.kind, id: verified.id, accountId: verified.accountId, masked: token.masked() };
      });
      this.#d.log.info('cloudflare: API token verified and stored', { profileId, kind: verified.kind, replaced, missing: caps.features.flatMap((x) => x.missing) });
      return { kind: verified.kind, tokenId: verified.id, expiresOn: verified.expiresOn, masked: token.masked(), features: caps.features, accounts: caps.accounts, replaced };
    });
  }

  /** Verify the stored token again and report what it may do now. */
  async checkToken(profileId: string): Promise<TokenCheck> {
    const token = await this.#apiToken(profileId);
    const f = await this.#d.store.read(profileId);
    const cf = this.#client(token);
    const verified = await verifyToken(cf, f.token?.accountId ?? f.settings?.accountId ?? undefined);
    const caps = await checkCapabilities(cf, { accountId: f.settings?.accountId ?? verified.accountId, zoneId: f.settings?.zoneId ?? null });
    return { kind: verified.kind, tokenId: verified.id, expiresOn: verified.expiresOn, masked: token.masked(), features: caps.features, accounts: caps.accounts, replaced: false };
  }

  async forgetToken(profileId: string): Promise<void> {
    await this.#secrets().delete(profileId, API_TOKEN_SECRET);
    await this.#d.store.update(profileId, (f) => {
      f.token = null;
    });
  }

  async zones(profileId: string, accountId: string): Promise<Array<{ id: string; name: string; status: string; accountId: string }>> {
    const cf = this.#client(await this.#apiToken(profileId));
    try {
      const zones = await collect(cf.zones.list({ account: { id: accountId }, per_page: 50 }), 500);
      return zones.map((z) => ({ id: z.id, name: z.name, status: z.status ?? 'unknown', accountId: z.account.id ?? accountId }));
    } catch (err) {
      throw toCloudflareError(err, 'list the zones of the account', PERMISSION.zoneRead);
    }
  }

  /** Save the account, zone and Access choices; every published hostname must lie inside the zone. */
  async saveSettings(profileId: string, settings: CloudflareSettings): Promise<CloudflareView> {
    if (settings.zoneName) {
      const zone = settings.zoneName;
      for (const h of publishedHosts(await this.#d.stackSettings(profileId))) {
        if (!inZone(h.hostname, zone)) {
          throw new AppError('cloudflare.hostname-outside-zone', `${h.hostname} is not inside the zone ${zone}.`, {
            hint: `Change the ${h.service} host name to a name ending in .${zone} (for example ${h.hostname.split('.')[0] ?? h.service}.${zone}), or choose the zone it belongs to.`,
            field: `hostnames.${h.service}`,
          });
        }
      }
    }
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
        return await this.#publish(profileId, token, new Set(confirm), ac.signal);
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

  async #publish(profileId: string, token: Secret, confirmed: ReadonlySet<string>, signal: AbortSignal): Promise<PublishReport> {
    const run = this.#run(profileId, 'publish', signal);
    const cf = this.#client(token, run);
    const store = this.#d.store;
    const secrets = this.#secrets();
    const confirmations: Confirmation[] = [];
    let f = await store.read(profileId);
    const settings = f.settings;
    const stack = await this.#d.stackSettings(profileId);
    const hosts = publishedHosts(stack);
    const finish = (tunnelId: string | null): PublishReport => ({ ...run.report(), tunnelId, confirmations, cancelled: run.cancelled });

    // 1. Token: verified before anything is written, so a dead token or a dead network changes nothing.
    const tokenStep = await run.step('token', 'Check the API token', async () => {
      const v = await verifyToken(cf, f.token?.accountId ?? settings?.accountId ?? undefined);
      return { status: 'unchanged', detail: `Active ${v.kind === 'user' ? 'user' : 'account'} token${v.expiresOn ? `, expires ${v.expiresOn.slice(0, 10)}` : ''}.` };
    });
    if (!passed(tokenStep)) return finish(null);

    // 2. Zone: exists, belongs to the account, and holds every hostname.
    const zoneStep = await run.step('zone', 'Check the zone and host names', async () => {
      if (!settings?.accountId || !settings.zoneId || !settings.zoneName) {
        throw new AppError('cloudflare.not-configured', 'Choose the Cloudflare account and zone first.', { hint: 'Pick them in the Domain & Cloudflare step and save.' });
      }
      let zone;
      try {
        zone = await cf.zones.get({ zone_id: settings.zoneId });
      } catch (err) {
        throw toCloudflareError(err, 'read the zone', PERMISSION.zoneRead);
      }
      if (zone.name !== settings.zoneName || (zone.account.id && zone.account.id !== settings.accountId)) {
        throw new AppError('cloudflare.not-configured', `The saved zone is now ${zone.name} in another account than the one chosen.`, { hint: 'Choose the account and zone again.' });
      }
      const outside = hosts.filter((h) => !inZone(h.hostname, zone.name));
      if (outside.length) {
        throw new AppError('cloudflare.hostname-outside-zone', `${outside.map((h) => h.hostname).join(', ')} ${outside.length > 1 ? 'are' : 'is'} not inside ${zone.name}.`, {
          hint: `Use host names ending in .${zone.name}.`,
        });
      }
      const deep = hosts.filter((h) => deeperThanUniversalSsl(h.hostname, zone.name));
      const warn = deep.length
        ? ` Note: ${deep.map((h) => h.hostname).join(', ')} ${deep.length > 1 ? 'are' : 'is'} more than one level below ${zone.name}; Cloudflare's free certificate does not cover ${deep.length > 1 ? 'them' : 'it'}.`
        : '';
      return { status: 'unchanged', detail: `${zone.name} (${zone.status ?? 'unknown'}) holds ${hosts.map((h) => h.hostname).join(', ')}.${warn}` };
    });
    if (!passed(zoneStep) || !settings?.accountId || !settings.zoneId) {
      for (const [id, t] of [['tunnel', 'Tunnel'], ['access-policy', 'Access policy'], ['dns', 'DNS records']] as const) run.skip(id, t, 'Needs a valid account and zone.');
      return finish(f.managed.tunnel?.id ?? null);
    }
    const account_id = settings.accountId;
    const zone_id = settings.zoneId;

    // 3. Tunnel: found by name, else created (remotely managed: its routes live in Cloudflare).
    let tunnelId: string | null = null;
    const name = tunnelName(profileId);
    const tunnelStep = await run.step('tunnel', `Tunnel ${name}`, async () => {
      const find = async (): Promise<{ id?: string | undefined; config_src?: string | undefined } | undefined> => {
        try {
          return (await collect(cf.zeroTrust.tunnels.cloudflared.list({ account_id, name, is_deleted: false }), 50)).find((t) => t.name === name);
        } catch (err) {
          throw toCloudflareError(err, 'list tunnels', PERMISSION.tunnelRead);
        }
      };
      let status: StepStatus = 'unchanged';
      let t = await find();
      if (!t) {
        try {
          t = await cf.zeroTrust.tunnels.cloudflared.create({ account_id, name, config_src: 'cloudflare' });
          status = 'done';
        } catch (err) {
          // A create that succeeded but whose answer was lost comes back as 409 on the SDK's retry.
          if (!isConflict(err)) throw toCloudflareError(err, 'create the tunnel', PERMISSION.tunnelWrite);
          t = await find();
          if (!t) throw toCloudflareError(err, 'create the tunnel', PERMISSION.tunnelWrite);
        }
      }
      if (t.config_src === 'local') {
        throw new AppError('cloudflare.conflict', `A locally-managed tunnel named ${name} already exists; its routes cannot be set from the app.`, {
          hint: `Delete or rename that tunnel in the Cloudflare dashboard (Networks → Tunnels), then publish again.`,
        });
      }
      const id = t.id ?? '';
      tunnelId = id;
      f = await store.update(profileId, (file) => {
        file.managed.tunnel = { id, name, accountId: account_id };
      });
      return { status, detail: status === 'done' ? `Created ${name} (${id}).` : `${name} (${id}) already exists.` };
    });

    // 4. Tunnel token: fetched (the create answer carries none) and kept in the keychain.
    let tokenChanged = false;
    const tokenFetch = passed(tunnelStep) && tunnelId
      ? await run.step('tunnel-token', 'Tunnel token into the keychain', async () => {
          let value: string;
          try {
            value = await cf.zeroTrust.tunnels.cloudflared.token.get(tunnelId ?? '', { account_id });
          } catch (err) {
            throw toCloudflareError(err, 'read the tunnel token', PERMISSION.tunnelWrite);
          }
          const tunnelToken = new Secret(value);
          const before = await secrets.get(profileId, TUNNEL_TOKEN_SECRET);
          const fp = fingerprint(tunnelToken);
          if (before && before.reveal() === tunnelToken.reveal()) {
            f = await store.update(profileId, (file) => {
              file.managed.tunnelToken = { fingerprint: fp, deployed: file.managed.tunnelToken?.fingerprint === fp && file.managed.tunnelToken.deployed };
            });
            return { status: 'unchanged', detail: 'The keychain already holds this tunnel’s token.' };
          }
          await secrets.set(profileId, TUNNEL_TOKEN_SECRET, tunnelToken);
          tokenChanged = true;
          f = await store.update(profileId, (file) => {
            file.managed.tunnelToken = { fingerprint: fp, deployed: false };
          });
          return { status: 'done', detail: before ? 'Replaced the tunnel token in the keychain.' : 'Stored the tunnel token in the keychain.' };
        })
      : run.skip('tunnel-token', 'Tunnel token into the keychain', 'Needs the tunnel.');

    // 5. Ingress: each hostname to its service on the edge network, then the catch-all 404.
    if (passed(tunnelStep) && tunnelId) {
      const id: string = tunnelId;
      await run.step('ingress', 'Tunnel routes', async () => {
        const wanted = ingressRules(hosts);
        let current: IngressRule[] | undefined;
        try {
          current = (await cf.zeroTrust.tunnels.cloudflared.configurations.get(id, { account_id })).config?.ingress as IngressRule[] | undefined;
        } catch (err) {
          throw toCloudflareError(err, 'read the tunnel routes', PERMISSION.tunnelRead);
        }
        if (sameIngress(current, wanted)) return { status: 'unchanged', detail: `${hosts.length} route${hosts.length > 1 ? 's' : ''} and the catch-all 404 are in place.` };
        try {
          // The SDK types `hostname` as required; the API's catch-all rule has none (stack-facts §4.3).
          await cf.zeroTrust.tunnels.cloudflared.configurations.update(id, { account_id, config: { ingress: wanted as Array<{ hostname: string; service: string }> } });
        } catch (err) {
          throw toCloudflareError(err, 'set the tunnel routes', PERMISSION.tunnelWrite);
        }
        return { status: 'done', detail: hosts.map((h) => `${h.hostname} → ${h.origin}`).join('; ') + '; anything else → 404.' };
      });
    } else run.skip('ingress', 'Tunnel routes', 'Needs the tunnel.');

    // 6. Access: one reusable policy, one self-hosted application per hostname.
    const policyStep = await run.step('access-policy', 'Access policy (who may sign in)', () => this.#ensurePolicy(cf, profileId, account_id, settings));
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
    const accessOk = new Map<string, boolean>();
    for (const h of hosts) {
      const id = `access:${h.hostname}`;
      const title = `Access application for ${h.hostname}`;
      if (!passed(policyStep) || !policyId) {
        run.skip(id, title, 'Needs the Access policy.');
        continue;
      }
      const s = await run.step(id, title, () => this.#ensureApp(cf, profileId, account_id, settings, h, policyId, confirmed, confirmations, probePolicyIds));
      accessOk.set(h.hostname, passed(s));
    }

    // 7. Deliver the tunnel token: a stack apply, where only cloudflared's env file changed.
    if (passed(tokenFetch)) {
      await run.step('deploy', 'Tunnel token to the server', async () => {
        const fresh = await store.read(profileId);
        if (!tokenChanged && fresh.managed.tunnelToken?.deployed) return { status: 'unchanged', detail: 'The server already runs cloudflared with this token.' };
        if (this.#d.isInstalled && !(await this.#d.isInstalled(profileId))) {
          return { status: 'skipped', detail: 'The stack is not installed yet: the Install step will deliver the token with everything else.' };
        }
        return this.#deliver(profileId);
      });
    } else run.skip('deploy', 'Tunnel token to the server', 'Needs the tunnel token.');

    // 8. DNS, last: only hostnames that Access already protects.
    if (passed(tunnelStep) && tunnelId) {
      const target = tunnelTarget(tunnelId);
      for (const h of hosts) {
        const id = `dns:${h.hostname}`;
        const title = `DNS record for ${h.hostname}`;
        if (!accessOk.get(h.hostname)) {
          run.skip(id, title, 'Not published until Access protects it.');
          continue;
        }
        await run.step(id, title, () => this.#ensureDns(cf, profileId, zone_id, h, target, confirmed, confirmations));
      }
    } else run.skip('dns', 'DNS records', 'Needs the tunnel.');

    return finish(tunnelId ?? f.managed.tunnel?.id ?? null);
  }

  async #deliver(profileId: string): Promise<StepOutcome> {
    const result = await this.#d.redeploy(profileId);
    if (result.kind !== 'applied') {
      throw new AppError('stack.apply-failed', `The server did not take the new configuration: ${result.report.reason}`, {
        hint: result.report.restored ? 'The previous release is running again. Fix what failed, then publish again.' : 'Check the Install page, then publish again.',
      });
    }
    await this.#d.store.update(profileId, (file) => {
      if (file.managed.tunnelToken) file.managed.tunnelToken.deployed = true;
    });
    const changed = result.services.filter((s) => s.action !== 'unchanged').map((s) => s.service);
    return { status: 'done', detail: `Applied release ${result.releaseId}${changed.length ? `; recreated ${changed.join(', ')}` : ''}.` };
  }

  async #ensurePolicy(cf: Cloudflare, profileId: string, account_id: string, settings: CloudflareSettings): Promise<StepOutcome> {
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
      const known = (await this.#d.store.read(profileId)).managed.policy?.id;
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
    await this.#d.store.update(profileId, (f) => {
      f.managed.policy = { id, name, accountId: account_id };
    });
    const who = [...settings.access.emails, ...(settings.access.emailDomain ? [`anyone @${settings.access.emailDomain}`] : [])].join(', ');
    return { status, detail: `${status === 'unchanged' ? 'In place' : existing ? 'Updated' : 'Created'}: ${who}; sessions last ${session_duration}.` };
  }

  async #ensureApp(
    cf: Cloudflare,
    profileId: string,
    account_id: string,
    settings: CloudflareSettings,
    h: HostPlan,
    policyId: string,
    confirmed: ReadonlySet<string>,
    confirmations: Confirmation[],
    extraPolicyIds: readonly string[] = [],
  ): Promise<StepOutcome> {
    const name = appName(h.service, profileId);
    const session_duration = settings.access.sessionDuration;
    const state = (await this.#d.store.read(profileId)).managed.apps.find((a) => a.hostname === h.hostname);
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
      this.#d.store.update(profileId, (f) => {
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
        const key = appConfirmKey(h.hostname, foreign.id);
        if (!confirmed.has(key)) {
          confirmations.push({
            key,
            kind: 'access-app',
            hostname: h.hostname,
            existing: `Access application "${foreign.name}" for ${foreign.domain}, made outside M2 Companion, with ${foreign.policyIds.length} polic${foreign.policyIds.length === 1 ? 'y' : 'ies'}`,
            action: `Rename it to "${name}" and replace its policies with the household policy (they are put back if you remove the app from Cloudflare).`,
          });
          return { status: 'needs-confirmation', detail: `An Access application for ${h.hostname} already exists ("${foreign.name}"); the app changes it only after you confirm.` };
        }
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

  async #ensureDns(
    cf: Cloudflare,
    profileId: string,
    zone_id: string,
    h: HostPlan,
    target: string,
    confirmed: ReadonlySet<string>,
    confirmations: Confirmation[],
  ): Promise<StepOutcome> {
    let records: RecordView[];
    try {
      records = (await collect(cf.dns.records.list({ zone_id, name: { exact: h.hostname } }), 100)).map(recordView).filter((r) => r.name === h.hostname);
    } catch (err) {
      throw toCloudflareError(err, `read the DNS records of ${h.hostname}`, PERMISSION.dnsRead);
    }
    const state = (await this.#d.store.read(profileId)).managed.dns.find((r) => r.hostname === h.hostname);
    const save = (entry: ManagedDns): Promise<CloudflareFile> =>
      this.#d.store.update(profileId, (f) => {
        f.managed.dns = [...f.managed.dns.filter((r) => r.hostname !== entry.hostname), entry];
      });
    const body = { zone_id, type: 'CNAME' as const, name: h.hostname, content: target, proxied: true, ttl: 1 as const, comment: dnsMarker(profileId) };
    const decision = decideDns(records, profileId, target);
    try {
      switch (decision.kind) {
        case 'create': {
          const rec = await cf.dns.records.create(body);
          await save({ hostname: h.hostname, zoneId: zone_id, id: rec.id, origin: 'created', previous: [] });
          return { status: 'done', detail: `Created CNAME ${h.hostname} → ${target} (proxied).` };
        }
        case 'unchanged':
          await save({ hostname: h.hostname, zoneId: zone_id, id: decision.record.id, origin: state?.origin ?? 'created', previous: state?.previous ?? [] });
          return { status: 'unchanged', detail: `${h.hostname} already points at the tunnel.` };
        case 'update':
          await cf.dns.records.update(decision.record.id, body);
          await save({ hostname: h.hostname, zoneId: zone_id, id: decision.record.id, origin: state?.origin ?? 'created', previous: state?.previous ?? [] });
          return { status: 'done', detail: `Pointed ${h.hostname} at the tunnel again (it was ${describeRecord(decision.record)}).` };
        case 'confirm': {
          const key = dnsConfirmKey(h.hostname, decision.records);
          if (!confirmed.has(key)) {
            confirmations.push({
              key,
              kind: 'dns-record',
              hostname: h.hostname,
              existing: decision.records.map(describeRecord).join('; '),
              action: `Replace ${decision.records.length > 1 ? 'them' : 'it'} with a proxied CNAME to the tunnel (put back if you remove the app from Cloudflare).`,
            });
            return { status: 'needs-confirmation', detail: `${h.hostname} already has a record the app did not create (${decision.records.map(describeRecord).join('; ')}); it is overwritten only after you confirm.` };
          }
          const [first, ...rest] = decision.records as [RecordView, ...RecordView[]];
          const previous: PreviousRecord[] = decision.records.map((r) => ({
            type: r.type,
            name: r.name,
            content: r.content ?? '',
            proxied: r.proxied ?? false,
            ttl: r.ttl ?? 1,
            comment: r.comment ?? null,
          }));
          // Save what was there before touching it, so removal can put it back even if this step stops half-way.
          await save({ hostname: h.hostname, zoneId: zone_id, id: first.id, origin: 'adopted', previous });
          for (const r of rest) await cf.dns.records.delete(r.id, { zone_id });
          await cf.dns.records.update(first.id, body);
          return { status: 'done', detail: `Replaced ${decision.records.map(describeRecord).join('; ')} with a CNAME to the tunnel, as you confirmed.` };
        }
      }
    } catch (err) {
      throw toCloudflareError(err, `set the DNS record of ${h.hostname}`, PERMISSION.dnsWrite);
    }
  }

  // ---- live status -----------------------------------------------------------------------------------------------

  /**
   * What the Cloudflare API says about this server's tunnel (stack-facts §4.4): its status and its connectors
   * (one per running cloudflared replica) with their edge connections and colos. Null when there is nothing to
   * ask with or about: no keychain, no API token, or no tunnel created yet. Read-only, never retried at length:
   * live status polls it and shows the agent's own view when Cloudflare cannot be reached.
   */
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

  async tunnelStatus(profileId: string): Promise<TunnelApiStatus | null> {
    if (!this.#d.secrets) return null;
    const f = await this.#d.store.read(profileId);
    const tunnel = f.managed.tunnel;
    if (!tunnel) return null;
    const token = await this.#d.secrets.get(profileId, API_TOKEN_SECRET);
    if (!token) return null;
    const cf = createCloudflareClient(token, { ...this.#d.client, maxRetries: 0 });
    const params = { account_id: tunnel.accountId };
    let t: Awaited<ReturnType<typeof cf.zeroTrust.tunnels.cloudflared.get>>;
    let clients: ConnectorClient[];
    try {
      [t, clients] = await Promise.all([
        cf.zeroTrust.tunnels.cloudflared.get(tunnel.id, params),
        collect(cf.zeroTrust.tunnels.cloudflared.connections.get(tunnel.id, params), 100),
      ]);
    } catch (err) {
      throw toCloudflareError(err, 'read the tunnel status', PERMISSION.tunnelRead);
    }
    const conns = clients.flatMap((c) => c.conns ?? []);
    // The contract's own list of statuses; one it does not know is judged by the connections.
    const known = TunnelApiStatus.shape.status.safeParse(t.status);
    const status = known.success ? known.data : conns.length > 0 ? 'healthy' : 'down';
    return {
      status,
      connectors: clients.length,
      connections: conns.length,
      colos: [...new Set(conns.map((c) => c.colo_name).filter((x): x is string => typeof x === 'string' && x.length > 0))].sort(),
      checkedAt: new Date().toISOString(),
    };
  }

  // ---- removal -------------------------------------------------------------------------------------------------

  async removalPlan(profileId: string): Promise<RemovalPlan> {
    const f = await this.#d.store.read(profileId);
    const m = f.managed;
    const tunnelToken = this.#d.secrets ? await this.#d.secrets.get(profileId, TUNNEL_TOKEN_SECRET) : undefined;
    return {
      profileId,
      items: [
        ...m.dns.map((r) => ({ kind: 'dns-record' as const, name: r.hostname, action: r.origin === 'created' ? ('delete' as const) : ('restore' as const) })),
        ...m.apps.map((a) => ({ kind: 'access-app' as const, name: a.hostname, action: a.origin === 'created' ? ('delete' as const) : ('restore' as const) })),
        ...(m.policy ? [{ kind: 'access-policy' as const, name: m.policy.name, action: 'delete' as const }] : []),
        ...(m.tunnel ? [{ kind: 'tunnel' as const, name: m.tunnel.name, action: 'delete' as const }] : []),
        ...(tunnelToken ? [{ kind: 'keychain' as const, name: TUNNEL_TOKEN_SECRET, action: 'delete' as const }] : []),
      ],
    };
  }

  /** Delete exactly what the app created (and put back what it overwrote with the admin's yes). */
  async remove(profileId: string): Promise<CloudflareRunReport> {
    const token = await this.#apiToken(profileId);
    return this.#exclusive(profileId, async () => {
      const run = this.#run(profileId, 'remove');
      const cf = this.#client(token, run);
      const store = this.#d.store;
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
      const probeAccess = this.#d.probeAccess;
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
        const gone = await this.#secrets().delete(profileId, TUNNEL_TOKEN_SECRET);
        return { status: gone ? 'done' : 'unchanged', detail: gone ? 'Deleted the tunnel token.' : 'No tunnel token was stored.' };
      });
      return run.report();
    });
  }

  // ---- rotation ------------------------------------------------------------------------------------------------

  /**
   * Cloudflare's API has no "rotate token" call for remotely-managed tunnels (the dashboard has a button); the
   * documented way is PATCH /cfd_tunnel/{id} with a new `tunnel_secret` (SDK: `cloudflared.edit`). The old token
   * then cannot open new connections; the new one is fetched, stored and delivered, recreating only cloudflared.
   */
  async rotateTunnelToken(profileId: string): Promise<CloudflareRunReport> {
    const token = await this.#apiToken(profileId);
    return this.#exclusive(profileId, async () => {
      const run = this.#run(profileId, 'rotate');
      const cf = this.#client(token, run);
      const f = await this.#d.store.read(profileId);
      const tunnel = f.managed.tunnel;
      if (!tunnel) {
        throw new AppError('cloudflare.not-configured', 'This server has no tunnel yet.', { hint: 'Publish through Cloudflare first.' });
      }
      const random = this.#d.randomBytes ?? cryptoRandomBytes;
      const rotated = await run.step('rotate', `New secret for ${tunnel.name}`, async () => {
        try {
          await cf.zeroTrust.tunnels.cloudflared.edit(tunnel.id, { account_id: tunnel.accountId, tunnel_secret: random(32).toString('base64') });
        } catch (err) {
          throw toCloudflareError(err, 'rotate the tunnel secret', PERMISSION.tunnelWrite);
        }
        return { status: 'done', detail: 'The old tunnel token can no longer open new connections.' };
      });
      const stored = passed(rotated)
        ? await run.step('tunnel-token', 'New tunnel token into the keychain', async () => {
            let value: string;
            try {
              value = await cf.zeroTrust.tunnels.cloudflared.token.get(tunnel.id, { account_id: tunnel.accountId });
            } catch (err) {
              throw toCloudflareError(err, 'read the new tunnel token', PERMISSION.tunnelWrite);
            }
            const s = new Secret(value);
            await this.#secrets().set(profileId, TUNNEL_TOKEN_SECRET, s);
            await this.#d.store.update(profileId, (file) => {
              file.managed.tunnelToken = { fingerprint: fingerprint(s), deployed: false };
            });
            return { status: 'done', detail: 'Stored the new tunnel token.' };
          })
        : run.skip('tunnel-token', 'New tunnel token into the keychain', 'Needs the new secret.');
      if (passed(stored)) await run.step('deploy', 'Redeploy cloudflared', () => this.#deliver(profileId));
      else run.skip('deploy', 'Redeploy cloudflared', 'Needs the new token.');
      return run.report();
    });
  }
}

// ---- SDK shapes, narrowed ------------------------------------------------------------------------------------------

interface SelfHostedView {
  id: string;
  name: string;
  domain: string;
  sessionDuration: string;
  policyIds: string[];
  policyLinks: Array<{ id: string; precedence: number }>;
  /** The fields an update must send back unchanged (a PUT replaces the application). */
  raw: Record<string, unknown>;
}

const KEEP_FIELDS = [
  'allowed_idps',
  'app_launcher_visible',
  'auto_redirect_to_identity',
  'cors_headers',
  'custom_deny_message',
  'custom_deny_url',
  'enable_binding_cookie',
  'http_only_cookie_attribute',
  'logo_url',
  'options_preflight_bypass',
  'same_site_cookie_attribute',
  'service_auth_401_redirect',
  'skip_interstitial',
  'self_hosted_domains',
  'destinations',
] as const;

function selfHostedView(app: unknown): SelfHostedView | null {
  const a = app as Record<string, unknown>;
  if (a.type !== 'self_hosted' || typeof a.id !== 'string' || typeof a.domain !== 'string') return null;
  const policies = Array.isArray(a.policies) ? (a.policies as Array<{ id?: string; precedence?: number; reusable?: boolean }>) : [];
  const raw: Record<string, unknown> = {};
  for (const k of KEEP_FIELDS) if (a[k] !== undefined && a[k] !== null) raw[k] = a[k];
  return {
    id: a.id,
    name: typeof a.name === 'string' ? a.name : a.domain,
    domain: a.domain,
    sessionDuration: typeof a.session_duration === 'string' ? a.session_duration : '24h',
    policyIds: policies.flatMap((p) => (p.id ? [p.id] : [])),
    policyLinks: policies.filter((p) => p.reusable !== false && p.id).map((p, i) => ({ id: p.id ?? '', precedence: p.precedence ?? i + 1 })),
    raw,
  };
}

function recordView(r: unknown): RecordView {
  const o = r as Record<string, unknown>;
  return {
    id: String(o.id ?? ''),
    type: String(o.type ?? ''),
    name: String(o.name ?? '').toLowerCase(),
    content: typeof o.content === 'string' ? o.content : undefined,
    proxied: typeof o.proxied === 'boolean' ? o.proxied : undefined,
    ttl: typeof o.ttl === 'number' ? o.ttl : undefined,
    comment: typeof o.comment === 'string' ? o.comment : null,
  };
}

const recordBody = (p: PreviousRecord): Record<string, unknown> => ({
  type: p.type,
  name: p.name,
  content: p.content,
  proxied: p.proxied,
  ttl: p.ttl,
  ...(p.comment !== null ? { comment: p.comment } : {}),
});
