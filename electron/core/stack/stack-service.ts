/**
 * The stack, per server profile: settings (saved in the app's data folder), generated secrets (keychain),
 * render, plan, apply and post-install configuration over the profile's one SSH connection. Progress is
 * pushed as contract events; nothing secret leaves this service except masked.
 */
import { randomBytes } from 'node:crypto';
import type { PreflightReport } from '../../contract/preflight';
import {
  StackSettings as StackSettingsSchema,
  type ApplyOutcome,
  type ApplyPhase,
  type ApplyResult,
  type ModuleId,
  type StackPlan,
  type StackProgress,
  type StackSettings,
  type StackSettingsView,
  type StackStatus,
  type TranscodingCheck,
} from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { SecretStore } from '../secrets/keychain';
import type { ServerService } from '../server/server-service';
import { applyStack, loadGuardScript, stackStatus } from './apply';
import { asSeenNow, outcomeOfError, outcomeOfResult, releaseStarted, type OutcomeFile } from './apply-outcomes';
import type { ProfileJsonStore } from '../fs/json-store';
import { configureStack, configuredServices } from './configure/configure-stack';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY, jellyfinSetupDone } from './configure/jellyfin';
import { authentikSecrets } from './modules/authentik';
import { resolveM2Dir } from './layout';
import { planStack } from './plan';
import type { StackTarget } from './remote-release';
import { renderStack, requiredSecrets, type RenderOptions } from './render';
import { StackSecrets } from './secrets';
import type { SettingsStoreLike } from './settings-store';
import type { RenderedStack, SecretRequest } from './types';
import { imageRefFor } from '../updates/image-ref';
import { imageModules, pinnedImages, type ImageKey } from './versions';
import type { SshConnection } from '../ssh/ssh-connection';
import { ServerOperations } from '../server-operations';

export const TUNNEL_TOKEN_SECRET = 'cloudflared.tunnel-token';

export interface StackServiceDeps {
  readonly settings: SettingsStoreLike;
  readonly servers: Pick<ServerService, 'connection'>;
  /** The OS keychain; without one the stack cannot keep its secrets and refuses to plan or apply. */
  readonly secretStore: SecretStore | undefined;
  readonly log: Logger;
  readonly onProgress: (p: StackProgress) => void;
  /** The app's resources folder (resources/ in the repo, process.resourcesPath when packaged). */
  readonly resourcesDir: string;
  readonly appVersion?: string;
  /** Test seams: project name and subnets (the product uses `m2` and the default subnets). */
  readonly renderOverrides?: Pick<RenderOptions, 'project' | 'subnets'>;
  readonly applyOverrides?: { readonly waitTimeoutS?: number; readonly minFreeBytes?: number; readonly authentikTimeoutMs?: number; readonly wizardAnswerTimeoutMs?: number };
  /** After every apply that reached the server (applied or rolled back): what runs there may have changed. */
  readonly onApplied?: (profileId: string, result: ApplyResult) => void;
  /** Where each server's last install outcome is kept (the app's data folder), and who hears when it changes. */
  readonly outcomes?: ProfileJsonStore<typeof OutcomeFile>;
  readonly onOutcome?: (profileId: string, outcome: ApplyOutcome) => void;
  /**
   * Asked before every install and review: throws (an AppError saying what to finish first) while an install would
   * undo something half-done on the server, such as a secret rotation that could not set the server back. An install
   * that is itself finishing a rotation says which secret (`finishing`), and the same question lets it through.
   */
  readonly beforeInstall?: (profileId: string, finishing?: string) => Promise<void>;
  /** The app's one-operation-per-server lock, shared with updates and restores (a lock of its own when not given). */
  readonly operations?: ServerOperations;
}

export interface ApplyOptions {
  readonly pullPolicy?: 'missing' | 'always';
  /** The secret whose rotation this install is part of (SecretRotation's own installs). */
  readonly finishing?: string;
  /**
   * Install these settings instead of the saved ones (an update: the saved settings change only once it is live).
   * The caller saves them after an 'applied' result.
   */
  readonly settings?: StackSettings;
}

interface Prepared {
  readonly target: StackTarget & { readonly conn: SshConnection };
  readonly settings: StackSettings;
  readonly rendered: RenderedStack;
  readonly warnings: string[];
  /** Modules published on the server's loopback only, because their first-run wizard is still open. */
  readonly held: readonly ModuleId[];
}

export class StackService {
  readonly #deps: StackServiceDeps;
  readonly #secrets: StackSecrets | undefined;
  readonly #preflight = new Map<string, PreflightReport>();
  readonly #m2Dirs = new WeakMap<SshConnection, string>();
  readonly #applying = new Set<string>();
  readonly #operations: ServerOperations;
  #guard: Promise<string> | undefined;

  constructor(deps: StackServiceDeps) {
    this.#deps = deps;
    this.#operations = deps.operations ?? new ServerOperations();
    this.#secrets = deps.secretStore ? new StackSecrets(deps.secretStore) : undefined;
  }

  /** The generated secrets store, for other services of the same profile (Cloudflare keeps the tunnel token here). */
  get secrets(): StackSecrets {
    return this.#requireSecrets();
  }

  /** Preflight results feed the suggestions (GPU) and how Docker is reached (group or sudo). */
  recordPreflight(profileId: string, report: PreflightReport): void {
    this.#preflight.set(profileId, report);
  }

  /** A removed server: nothing it left in memory (its preflight) carries over to a new server of the same name. */
  forgetProfile(profileId: string): void {
    this.#preflight.delete(profileId);
  }

  /** How the last preflight found Docker reachable for this profile's SSH user (undefined before any preflight). */
  dockerAccess(profileId: string): 'group' | 'sudo' | 'none' | undefined {
    return this.#preflight.get(profileId)?.dockerAccess.kind;
  }

  /** The Compose project the stack runs as ('m2' unless a test overrides it). */
  get project(): string {
    return this.#deps.renderOverrides?.project ?? 'm2';
  }

  async view(profileId: string): Promise<StackSettingsView> {
    const saved = await this.#deps.settings.get(profileId);
    const settings = saved ?? (await this.#defaults(profileId));
    return { settings, saved: saved !== undefined, suggestions: this.#suggestions(profileId), images: imagesFor(settings) };
  }

  async save(profileId: string, settings: StackSettings): Promise<StackSettingsView> {
    await this.#deps.settings.save(profileId, settings);
    return this.view(profileId);
  }

  async plan(profileId: string): Promise<StackPlan> {
    // The review says it before Install is offered: Install runs what was reviewed.
    await this.#deps.beforeInstall?.(profileId);
    const p = await this.#prepare(profileId);
    const plan = await planStack(p.target, p.rendered);
    return { ...plan, profileId, warnings: [...p.warnings, ...plan.warnings] };
  }

  async apply(profileId: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
    // Refused before anything is kept or touched: nothing was tried, so there is no outcome to keep.
    await this.#deps.beforeInstall?.(profileId, opts.finishing);
    const result = await this.#apply(profileId, opts);
    this.#deps.onApplied?.(profileId, result);
    return result;
  }

  /** Never beside an update, a restore or another install of the same server (an update's own install passes). */
  async #apply(profileId: string, opts: { pullPolicy?: 'missing' | 'always'; settings?: StackSettings }): Promise<ApplyResult> {
    return this.#operations.exclusive(profileId, 'an install', 'stack.busy', () => this.#applyHeld(profileId, opts));
  }

  async #applyHeld(profileId: string, opts: { pullPolicy?: 'missing' | 'always'; settings?: StackSettings }): Promise<ApplyResult> {
    if (this.#applying.has(profileId)) {
      throw new AppError('stack.busy', 'An install or update is already running for this server.', { hint: 'Wait for it to finish, then try again.' });
    }
    this.#applying.add(profileId);
    const applyId = randomBytes(6).toString('hex');
    const run = { applyId, startedAt: new Date().toISOString() };
    // The outcome is kept whatever happens next, and the connection watched: a cut during the install is said as such.
    let phaseNow: ApplyPhase = 'prepare';
    let connectionLost = false;
    const onConnState = (st: { kind: string }): void => {
      if (st.kind !== 'connected') connectionLost = true;
    };
    let watched: SshConnection | undefined;
    try {
      watched = this.#deps.servers.connection(profileId);
      watched.on('state', onConnState);
    } catch {
      // Not connected: #prepare says so, and that is the outcome kept.
    }
    await this.#keep(profileId, { kind: 'running', ...run, phase: phaseNow });
    const onProgress = (p: StackProgress): void => {
      if (p.kind === 'phase' && p.phase !== phaseNow) {
        const was = releaseStarted(phaseNow);
        phaseNow = p.phase;
        if (!was && releaseStarted(p.phase)) void this.#keep(profileId, { kind: 'running', ...run, phase: p.phase });
      }
      this.#deps.onProgress(p);
    };
    try {
      const result = await this.#applyOnce(profileId, applyId, opts, onProgress);
      await this.#keep(profileId, outcomeOfResult(run, result, new Date()));
      return result;
    } catch (err) {
      await this.#keep(profileId, outcomeOfError(run, err, { connectionLost, phase: phaseNow, now: new Date() }));
      throw err;
    } finally {
      watched?.off('state', onConnState);
      this.#applying.delete(profileId);
    }
  }

  /** How the last install of a server ended (or that it runs now); null before any. */
  async lastApply(profileId: string): Promise<ApplyOutcome | null> {
    if (!this.#deps.outcomes) return null;
    const kept = (await this.#deps.outcomes.read(profileId)).install;
    const seen = asSeenNow(kept, this.#applying.has(profileId), new Date());
    // An install this app was running when it stopped: keep the verdict, so it reads the same from now on.
    if (seen && seen !== kept) await this.#keep(profileId, seen);
    return seen;
  }

  async #keep(profileId: string, outcome: ApplyOutcome): Promise<void> {
    try {
      await this.#deps.outcomes?.update(profileId, (v) => {
        v.install = outcome;
      });
    } catch (err) {
      this.#deps.log.warn('could not keep the install outcome', { profileId, error: err instanceof Error ? err.message : String(err) });
    }
    this.#deps.onOutcome?.(profileId, outcome);
  }

  async #applyOnce(profileId: string, applyId: string, opts: { pullPolicy?: 'missing' | 'always'; settings?: StackSettings }, onProgress: (p: StackProgress) => void): Promise<ApplyResult> {
    const phase = (phase: 'prepare' | 'configure' | 'done', message: string): void => onProgress({ kind: 'phase', profileId, applyId, phase, message });
    phase('prepare', 'Reading settings and secrets, rendering the release.');
    const p = await this.#prepare(profileId, opts.settings);
    for (const w of p.warnings) onProgress({ kind: 'warning', profileId, applyId, message: w });
    const release = async (rendered: RenderedStack) =>
      applyStack(
        p.target,
        rendered,
        {
          applyId,
          settings: p.settings,
          pullPolicy: opts.pullPolicy ?? 'missing',
          guardScript: await this.#guardScript(),
          ...(this.#deps.applyOverrides?.waitTimeoutS !== undefined ? { waitTimeoutS: this.#deps.applyOverrides.waitTimeoutS } : {}),
          ...(this.#deps.applyOverrides?.minFreeBytes !== undefined ? { minFreeBytes: this.#deps.applyOverrides.minFreeBytes } : {}),
        },
        onProgress,
      );
    const result = await release(p.rendered);
    if (result.kind !== 'applied') {
      this.#deps.log.warn('stack apply rolled back', { profileId, failedService: result.report.failedService, restored: result.report.restored });
      return { ...result, warnings: [...p.warnings, ...result.warnings] };
    }
    const warnings = [...p.warnings, ...result.warnings];
    let transcoding: TranscodingCheck | undefined;
    if (configuredServices(p.settings).length > 0) {
      phase('configure', 'Configuring the services through their own APIs.');
      try {
        const steps = await configureStack(
          { conn: p.target.conn, dockerAccess: p.target.dockerAccess, project: p.target.project ?? 'm2' },
          p.settings,
          this.#requireSecrets().forProfile(profileId),
          (step) => onProgress({ kind: 'phase', profileId, applyId, phase: 'configure', message: `${step.service}: ${step.message}` }),
          {
            ...(this.#deps.appVersion ? { appVersion: this.#deps.appVersion } : {}),
            ...(this.#deps.applyOverrides?.authentikTimeoutMs ? { authentikTimeoutMs: this.#deps.applyOverrides.authentikTimeoutMs } : {}),
          },
        );
        transcoding = steps.find((s) => s.transcoding)?.transcoding;
        if (transcoding) await this.#keepTranscoding(profileId, transcoding);
      } catch (err) {
        // The release is live and healthy; a failed configuration step is reported, not rolled back (a re-run continues).
        const message = err instanceof AppError ? err.userMessage : 'Configuring the services failed.';
        warnings.push(`${message} Run the install again to retry the configuration; the services keep running.`);
        onProgress({ kind: 'warning', profileId, applyId, message });
        this.#deps.log.warn('stack configure failed', { profileId, code: err instanceof AppError ? err.code : 'internal' });
      }
    }
    let live = result;
    // Authentik's LDAP outpost runs once configuration has fetched its token (made by Authentik after its first start).
    const outpostWaiting =
      !Object.hasOwn(p.rendered.serviceModules, 'authentik-ldap') &&
      requiredSecrets(p.settings).some((r) => r.name === authentikSecrets.ldapOutpostToken) &&
      (await this.#requireSecrets().get(profileId, authentikSecrets.ldapOutpostToken)) !== undefined;
    if (p.held.length > 0 || outpostWaiting) {
      // Published only now that the wizard is taken, as the service itself says; still open (the configure step
      // failed), it stays on loopback and the next install tries again.
      const again = await this.#prepare(profileId, opts.settings);
      const publishes = p.held.length > 0 && again.held.length === 0;
      const outpost = outpostWaiting && Object.hasOwn(again.rendered.serviceModules, 'authentik-ldap');
      if (publishes || outpost) {
        phase(
          'configure',
          publishes
            ? `Jellyfin’s administrator exists: publishing Jellyfin on the home network${outpost ? ' and starting Authentik’s LDAP outpost' : ''}.`
            : 'Authentik made the LDAP outpost’s token: starting the outpost, so Jellyfin signs in through Authentik.',
        );
        const published = await release(again.rendered);
        if (published.kind === 'applied') {
          live = { ...published, services: result.services, durationMs: result.durationMs + published.durationMs };
        } else if (publishes) {
          warnings.push('Jellyfin could not be published on the home network, and the release before it runs again (Jellyfin on the server itself only). Run the install again.');
        } else {
          warnings.push('Authentik’s LDAP outpost could not be started, and the release before it runs again (Jellyfin keeps its own accounts). Run the install again.');
        }
      }
      if (p.held.length > 0 && again.held.length > 0) {
        warnings.push('Jellyfin stays on the server itself only (127.0.0.1) until its first-run setup is done: run the install again to finish it.');
      }
    }
    phase('done', `Release ${live.releaseId} is live.`);
    return { ...live, warnings, ...(transcoding ? { transcoding } : {}) };
  }

  async status(profileId: string): Promise<StackStatus> {
    const conn = this.#deps.servers.connection(profileId);
    const live = await stackStatus(await this.#target(profileId, conn));
    // What the last install that configured Jellyfin found with its test encode, kept beside the install outcomes.
    const transcoding = this.#deps.outcomes ? (await this.#deps.outcomes.read(profileId).catch(() => undefined))?.transcoding : undefined;
    return transcoding ? { ...live, transcoding } : live;
  }

  async #keepTranscoding(profileId: string, transcoding: TranscodingCheck): Promise<void> {
    try {
      await this.#deps.outcomes?.update(profileId, (v) => {
        v.transcoding = transcoding;
      });
    } catch (err) {
      this.#deps.log.warn('could not keep the transcoding check', { profileId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async secretSummaries(profileId: string): Promise<Array<{ name: string; masked: string; set: boolean }>> {
    const settings = (await this.#deps.settings.get(profileId)) ?? (await this.#defaults(profileId));
    return this.#requireSecrets().summaries(profileId, this.#secretRequests(settings));
  }

  #secretRequests(settings: StackSettings): SecretRequest[] {
    const out = [...requiredSecrets(settings)];
    if (settings.modules.jellyfin.enabled) out.push(JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY);
    return out;
  }

  async #prepare(profileId: string, instead?: StackSettings): Promise<Prepared> {
    const settings = instead ?? (await this.#deps.settings.get(profileId));
    if (!settings) {
      throw new AppError('stack.invalid-settings', 'Choose and save the services and storage for this server first.', {
        hint: 'Open Services, check the data folder and modules, and save.',
      });
    }
    const conn = this.#deps.servers.connection(profileId);
    const target = await this.#target(profileId, conn);
    const secrets = this.#requireSecrets();
    const warnings: string[] = [];
    const skip: ModuleId[] = [];
    if (settings.modules.cloudflared.enabled && (await secrets.get(profileId, TUNNEL_TOKEN_SECRET)) === undefined) {
      skip.push('cloudflared');
      warnings.push('cloudflared is left out until the Cloudflare step has created the tunnel and its token.');
    }
    const values = await secrets.ensure(profileId, requiredSecrets(settings, { skip }));
    const held = await this.#heldOffLan(target, settings);
    if (held.includes('jellyfin')) {
      warnings.push(
        `Jellyfin answers on the server itself only (127.0.0.1:${settings.modules.jellyfin.lanPort}) until M2 Companion has created its administrator, because its first-run wizard lets whoever reaches it first claim it; the install then publishes it on the home network.`,
      );
    }
    const rendered = renderStack(settings, values, { m2Dir: target.m2Dir, skip, loopbackOnly: held, ...this.#deps.renderOverrides });
    return { target, settings, rendered, warnings, held };
  }

  /**
   * Services with a first-run wizard that is not finished on the server (asked of the service itself): they are
   * rendered on loopback until the configure step has taken the wizard, then published (#applyOnce).
   */
  async #heldOffLan(target: StackTarget & { readonly conn: SshConnection }, settings: StackSettings): Promise<ModuleId[]> {
    if (!settings.modules.jellyfin.enabled || settings.publishAddress === '127.0.0.1') return [];
    const done = await jellyfinSetupDone(
      { conn: target.conn, dockerAccess: target.dockerAccess, project: target.project ?? 'm2' },
      { lanPort: settings.modules.jellyfin.lanPort, ...(this.#deps.applyOverrides?.wizardAnswerTimeoutMs !== undefined ? { answerTimeoutMs: this.#deps.applyOverrides.wizardAnswerTimeoutMs } : {}) },
    );
    return done ? [] : ['jellyfin'];
  }

  async #target(profileId: string, conn: SshConnection): Promise<StackTarget & { readonly conn: SshConnection }> {
    let m2Dir = this.#m2Dirs.get(conn);
    if (m2Dir === undefined) {
      m2Dir = await resolveM2Dir(conn);
      this.#m2Dirs.set(conn, m2Dir);
    }
    const access = this.#preflight.get(profileId)?.dockerAccess.kind;
    if (access === 'none') {
      throw new AppError('stack.docker-unavailable', 'This SSH user cannot use Docker on the server.', {
        hint: 'Add the user to the docker group (sudo usermod -aG docker <user>) or allow passwordless sudo, then run the checks again.',
      });
    }
    return { conn, dockerAccess: access === 'sudo' ? 'sudo' : 'group', m2Dir, profileId, ...(this.#deps.renderOverrides?.project ? { project: this.#deps.renderOverrides.project } : {}) };
  }

  #requireSecrets(): StackSecrets {
    if (!this.#secrets) {
      throw new AppError('secrets.unavailable', 'There is no keychain to keep the stack’s passwords in.', {
        hint: 'Unlock or install your system keychain (GNOME Keyring, KWallet, macOS Keychain, Windows Credential Manager) and try again.',
      });
    }
    return this.#secrets;
  }

  #guardScript(): Promise<string> {
    this.#guard ??= loadGuardScript(this.#deps.resourcesDir).catch((err: unknown) => {
      this.#guard = undefined;
      throw new AppError('internal', 'M2 Companion could not read its apply script.', { cause: err, hint: 'Reinstall the app.' });
    });
    return this.#guard;
  }

  /** Defaults, with the admin's numeric ids when the server is connected (bind-mounted folders are theirs). */
  async #defaults(profileId: string): Promise<StackSettings> {
    const base = StackSettingsSchema.parse({});
    const suggestion = this.#suggestions(profileId);
    let ids: { uid: number; gid: number } | undefined;
    try {
      const conn = this.#deps.servers.connection(profileId);
      const r = await conn.exec(['id', '-u'], { timeoutMs: 5000 });
      const g = await conn.exec(['id', '-g'], { timeoutMs: 5000 });
      const uid = Number(r.stdout.trim());
      const gid = Number(g.stdout.trim());
      if (r.code === 0 && g.code === 0 && Number.isInteger(uid) && Number.isInteger(gid)) ids = { uid, gid };
    } catch {
      // Not connected: the defaults stay, and the admin can fill the ids in.
    }
    return {
      ...base,
      ...(ids ?? {}),
      modules: {
        ...base.modules,
        jellyfin: {
          ...base.modules.jellyfin,
          ...(suggestion ? { hwAccel: suggestion.hwAccel, ...(suggestion.renderDevice ? { renderDevice: suggestion.renderDevice } : {}), renderGid: suggestion.renderGid } : {}),
        },
      },
    };
  }

  #suggestions(profileId: string): StackSettingsView['suggestions'] {
    const gpu = this.#preflight.get(profileId)?.gpu;
    if (!gpu) return null;
    switch (gpu.kind) {
      case 'nvidia':
        if (gpu.encoder === 'none') {
          return { hwAccel: 'none', renderDevice: null, renderGid: null, reason: `${gpu.name} has no hardware video encoder: Jellyfin transcodes in software.` };
        }
        return gpu.runtime
          ? { hwAccel: 'nvidia', renderDevice: null, renderGid: null, reason: `${gpu.name} with the NVIDIA container runtime (driver ${gpu.driver}).` }
          : { hwAccel: 'none', renderDevice: null, renderGid: null, reason: `${gpu.name} found, but Docker has no nvidia runtime: install the NVIDIA Container Toolkit to use it.` };
      case 'intel':
        return { hwAccel: 'intel-qsv', renderDevice: gpu.renderNode, renderGid: gpu.renderGid, reason: `Intel GPU at ${gpu.renderNode}.` };
      case 'amd':
        return { hwAccel: 'amd-vaapi', renderDevice: gpu.renderNode, renderGid: gpu.renderGid, reason: `AMD GPU at ${gpu.renderNode}.` };
      case 'none':
        return { hwAccel: 'none', renderDevice: null, renderGid: null, reason: 'No GPU found: Jellyfin transcodes in software.' };
      default: {
        const never: never = gpu;
        return never;
      }
    }
  }
}

function imagesFor(settings: StackSettings): StackSettingsView['images'] {
  return Object.entries(pinnedImages).map(([key, img]) => ({
    key,
    ref: imageRefFor(settings, key as ImageKey),
    releaseNotes: img.releaseNotes,
    module: imageModules[key as ImageKey],
  }));
}
