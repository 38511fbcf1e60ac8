/**
 * Where the guided setup of one server stands, derived from what the app keeps — never from page state: the host keys
 * on record, the last preflight (and when, at which address, under which host key), what was published on Cloudflare,
 * the saved settings, the passwords in the keychain and the last install's outcome. A restarted app, a reload or
 * another window all read the same answer.
 */
import type { ServerProfile } from '../../contract/profiles';
import { overallStatus, type PreflightReport } from '../../contract/preflight';
import { setupStepIds, type SetupProgress, type SetupStep, type SetupStepId } from '../../contract/setup';
import type { ApplyOutcome } from '../../contract/stack';
import { AppError } from '../errors';
import type { KeptPreflight, PreflightStore } from '../preflight/preflight-store';

/** A preflight older than this may no longer say how the server is (updates, disks filling, a new GPU driver). */
export const PREFLIGHT_FRESH_MS = 24 * 60 * 60 * 1000;

export interface SetupFacts {
  readonly profile: Pick<ServerProfile, 'id' | 'name' | 'host' | 'port'>;
  /** The host keys on record for the profile's address now (the app's confirmed ones carry when). */
  readonly hostKeys: readonly { readonly fingerprint: string; readonly addedAt: string | null }[];
  readonly preflight: KeptPreflight | null;
  /** Host names published through the tunnel (the DNS records the app manages). */
  readonly published: readonly string[];
  readonly settings: { readonly saved: boolean; readonly at: string | null };
  /** The stack's accounts and how many have a password in the keychain; a reason when the keychain cannot say. */
  readonly accounts: { readonly total: number; readonly withPassword: number } | { readonly unavailable: string };
  readonly install: ApplyOutcome | null;
}

const step = (id: SetupStepId, status: SetupStep['status'], result: string, at: string | null = null): SetupStep => ({ id, status, at, result });

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const latest = (times: readonly (string | null)[]): string | null => times.filter((t): t is string => t !== null).sort().at(-1) ?? null;

const sameKeys = (a: readonly string[], b: readonly string[]): boolean => {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

const address = (host: string, port: number): string => (port === 22 ? host : `${host}:${port}`);

function serverStep(f: SetupFacts): SetupStep {
  if (f.hostKeys.length === 0) return step('server', 'todo', `Connect to ${f.profile.name} and confirm its host key.`);
  const [first] = f.hostKeys;
  return step('server', 'done', `Host key confirmed (${first?.fingerprint ?? ''}).`, latest(f.hostKeys.map((k) => k.addedAt)));
}

function preflightStep(f: SetupFacts, now: Date): SetupStep {
  const kept = f.preflight;
  if (!kept) return step('preflight', 'todo', 'Not run yet: it checks Docker, Compose, disk space, the GPU and the way out to Cloudflare.');
  if (kept.host !== f.profile.host || kept.port !== f.profile.port) {
    return step('preflight', 'stale', `It checked ${address(kept.host, kept.port)}; the server’s address is now ${address(f.profile.host, f.profile.port)}. Run it again.`, kept.at);
  }
  if (!sameKeys(kept.hostKeys, f.hostKeys.map((k) => k.fingerprint))) {
    return step('preflight', 'stale', 'The server’s host key changed since it ran: it may be another machine. Run it again.', kept.at);
  }
  if (now.getTime() - Date.parse(kept.at) > PREFLIGHT_FRESH_MS) {
    return step('preflight', 'stale', 'It ran more than a day ago; the server may have changed since. Run it again.', kept.at);
  }
  const checks = kept.report.checks;
  const failed = checks.filter((c) => c.status === 'fail');
  // The checks ran: the step is done, and what failed is its result (the install refuses what it cannot live with).
  if (failed.length > 0) {
    return step('preflight', 'done', `${plural(failed.length, 'check')} failed (${failed.map((c) => c.title).join(', ')}): fix ${failed.length === 1 ? 'it' : 'them'} before installing, then run the checks again.`, kept.at);
  }
  const warned = checks.filter((c) => c.status === 'warn').length;
  return step(
    'preflight',
    'done',
    overallStatus(checks) === 'pass' ? `All ${plural(checks.length, 'check')} passed.` : `${plural(checks.length - warned, 'check')} passed, ${plural(warned, 'warning')}.`,
    kept.at,
  );
}

function installStep(f: SetupFacts): SetupStep {
  const o = f.install;
  if (!o) return step('install', 'todo', 'Not installed yet.');
  switch (o.kind) {
    case 'running':
      return step('install', 'todo', 'Installing now…');
    case 'failed':
      return step('install', 'todo', `The last install failed: ${o.error.userMessage}`, null);
    case 'interrupted':
      return step('install', 'todo', o.message, null);
    case 'finished': {
      const r = o.result;
      if (r.kind === 'applied') return step('install', 'done', `Release ${r.releaseId} installed; every service came up.`, o.finishedAt);
      // A failed update leaves the release before it running: the stack is still installed.
      if (r.report.restored && r.report.restoredRelease) {
        return step('install', 'done', `The last update was rolled back; release ${r.report.restoredRelease} runs.`, o.finishedAt);
      }
      return step('install', 'todo', `The install was rolled back: ${r.report.reason}`, null);
    }
    default: {
      const never: never = o;
      return never;
    }
  }
}

/** Every step's state, and the step to work on now. */
export function deriveSetupProgress(f: SetupFacts, now: Date): SetupProgress {
  const install = installStep(f);
  const settingsSaved = f.settings.saved;
  const accounts: SetupStep =
    'unavailable' in f.accounts
      ? step('accounts', 'todo', f.accounts.unavailable)
      : f.accounts.total > 0 && f.accounts.withPassword === f.accounts.total
        ? step('accounts', 'done', `${plural(f.accounts.total, 'account')}, passwords kept in this computer’s keychain.`)
        : step('accounts', 'todo', settingsSaved ? 'Passwords are made when you review the install.' : 'Save the services first: the accounts follow from them.');
  const steps: SetupStep[] = [
    serverStep(f),
    preflightStep(f, now),
    f.published.length > 0
      ? step('cloudflare', 'done', `Published: ${f.published.join(', ')}.`)
      : step('cloudflare', 'todo', 'Not published yet. You can do it now or after the install.'),
    settingsSaved ? step('services', 'done', 'Services and storage saved.', f.settings.at) : step('services', 'todo', 'Choose the services and where their data lives, then save.'),
    accounts,
    f.install
      ? step('review', 'done', 'Reviewed before the install.', f.install.startedAt)
      : step('review', 'todo', settingsSaved ? 'See exactly what the install will write and change.' : 'Save the services first.'),
    install,
    install.status === 'done' ? step('done', 'done', `The stack runs on ${f.profile.name}.`, install.at) : step('done', 'todo', 'After the install: the addresses of your services.'),
  ];
  return { profileId: f.profile.id, steps, current: currentStep(steps), preflightDataPaths: f.preflight ? [...f.preflight.dataPaths] : [] };
}

/**
 * The first unfinished step, except two that may wait for a later one: Cloudflare can be set up after the install
 * (passed over once the services are saved), and the accounts' passwords are made by Review (passed over until then).
 */
function currentStep(steps: readonly SetupStep[]): SetupStepId {
  const status = (id: SetupStepId): SetupStep['status'] => steps.find((s) => s.id === id)?.status ?? 'todo';
  if (status('install') === 'done') return 'done';
  const servicesDone = status('services') === 'done';
  for (const id of setupStepIds) {
    if (status(id) === 'done') continue;
    if ((id === 'cloudflare' || id === 'accounts') && servicesDone) continue;
    return id;
  }
  return 'done';
}

export interface SetupProgressDeps {
  readonly profile: (profileId: string) => Promise<Pick<ServerProfile, 'id' | 'name' | 'host' | 'port'> | undefined>;
  /** The host keys on record for an address now. */
  readonly hostKeys: (host: string, port: number) => Promise<SetupFacts['hostKeys']>;
  readonly preflight: Pick<PreflightStore, 'read' | 'update'>;
  readonly published: (profileId: string) => Promise<readonly string[]>;
  /** When the stack settings were saved; undefined when they never were. */
  readonly settingsSavedAt: (profileId: string) => Promise<string | null | undefined>;
  readonly accounts: (profileId: string) => Promise<readonly { readonly passwordSet: boolean }[]>;
  readonly lastApply: (profileId: string) => Promise<ApplyOutcome | null>;
  readonly now: () => Date;
}

/** Keeps each server's last preflight and answers `setup:progress` from the stores. */
export class SetupProgressService {
  readonly #deps: SetupProgressDeps;

  constructor(deps: SetupProgressDeps) {
    this.#deps = deps;
  }

  /** Keep a preflight that just ran, with the address and host keys it ran against. */
  async keepPreflight(profileId: string, report: PreflightReport, dataPaths: readonly string[]): Promise<void> {
    const profile = await this.#profile(profileId);
    const keys = await this.#deps.hostKeys(profile.host, profile.port);
    await this.#deps.preflight.update(profileId, (v) => {
      v.last = { at: this.#deps.now().toISOString(), host: profile.host, port: profile.port, hostKeys: keys.map((k) => k.fingerprint).sort(), dataPaths: [...dataPaths], report };
    });
  }

  async progress(profileId: string): Promise<SetupProgress> {
    const profile = await this.#profile(profileId);
    const [hostKeys, kept, published, savedAt, accounts, install] = await Promise.all([
      this.#deps.hostKeys(profile.host, profile.port),
      this.#deps.preflight.read(profileId),
      this.#deps.published(profileId),
      this.#deps.settingsSavedAt(profileId),
      this.#deps.accounts(profileId).then(
        (list) => ({ total: list.length, withPassword: list.filter((a) => a.passwordSet).length }),
        (err: unknown) => ({ unavailable: err instanceof AppError ? err.userMessage : 'The keychain could not say which passwords exist.' }),
      ),
      this.#deps.lastApply(profileId),
    ]);
    return deriveSetupProgress(
      { profile, hostKeys, preflight: kept.last, published, settings: { saved: savedAt !== undefined, at: savedAt ?? null }, accounts, install },
      this.#deps.now(),
    );
  }

  async #profile(profileId: string): Promise<Pick<ServerProfile, 'id' | 'name' | 'host' | 'port'>> {
    const profile = await this.#deps.profile(profileId);
    if (!profile) throw new AppError('profile.not-found', 'This server is no longer saved.', { hint: 'Choose another server, or add it again in Setup.' });
    return profile;
  }
}
