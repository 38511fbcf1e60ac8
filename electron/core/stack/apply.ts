/**
 * Apply: turn a RenderedStack into a running, healthy release on the server, or leave the previous one running.
 *
 *   lock (the guard, for the whole apply) → preconditions → upload (`.partial`) → `config --quiet` → pull →
 *   `mv` to `releases/<id>` → guard: `up --wait` → health per service → guard: commit (switch `current`)
 *   or roll back (previous release `up --wait`, or `down` on a first install) → GC.
 *
 * The guard (resources/stack/m2-apply.sh) runs on the server in one exec channel: if the connection is lost
 * after `up` began and before the commit, it stops compose and rolls back by itself, so `current` always names
 * what runs. Only services whose configuration changed are recreated: Compose compares config hashes itself,
 * and `--force-recreate` is never used.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApplyResult, RollbackReport, ServiceChange, ServiceHealth, StackProgress, StackSettings, StackStatus } from '../../contract/stack';
import { AppError } from '../errors';
import type { ClientChannel } from 'ssh2';
import { composeCommands, dockerCommands, emptyPull, foldPullLine, pullPercent, type ContainerInfo, type PullState } from './compose-commands';
import { layoutOf, makeReleaseId, partialDir, releaseDir } from './layout';
import { maskSecrets } from './mask';
import { distinctImages, localImageIds, serviceChanges, validateAndHash } from './plan';
import { checkPreconditions } from './preconditions';
import {
  collectGarbage,
  composeFilesOf,
  ensureLayout,
  finalizeRelease,
  lastLines,
  listReleases,
  projectContainers,
  projectOf,
  readCurrent,
  readManifest,
  readPrevious,
  setManifestState,
  uploadModuleFiles,
  uploadRelease,
  type StackTarget,
} from './remote-release';
import type { RenderedStack } from './types';

export const DEFAULT_WAIT_TIMEOUT_S = 180;
/** How long the guard waits for the app's commit after `up` before it rolls back by itself. */
export const DEFAULT_DECISION_TIMEOUT_S = 300;
export const LOG_TAIL_LINES = 20;

/** The guard script as shipped in resources/ (the app passes its resources folder). */
export const loadGuardScript = (resourcesDir: string): Promise<string> => readFile(path.join(resourcesDir, 'stack', 'm2-apply.sh'), 'utf8');

export interface ApplyOptions {
  readonly applyId: string;
  /** The settings `rendered` came from: preconditions name their fields. */
  readonly settings: StackSettings;
  readonly pullPolicy: 'missing' | 'always';
  /** resources/stack/m2-apply.sh (loadGuardScript). */
  readonly guardScript: string;
  readonly waitTimeoutS?: number;
  readonly decisionTimeoutS?: number;
  readonly minFreeBytes?: number;
  readonly keepReleases?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
}

type Progress = (p: StackProgress) => void;

// ---------------------------------------------------------------------------------------------------
// The guard session

interface GuardEvent {
  readonly event: string;
  readonly rc?: number;
  readonly pid?: number;
  readonly what?: string;
  readonly mode?: string;
  readonly why?: string;
}

class GuardLost extends Error {}

/** One run of the guard: NDJSON events in, command lines out. */
class Guard {
  readonly #channel: ClientChannel;
  readonly #release: () => void;
  readonly #events: GuardEvent[] = [];
  #waiters: Array<() => void> = [];
  #buffer = '';
  #closed = false;
  stderr = '';

  private constructor(channel: ClientChannel, release: () => void) {
    this.#channel = channel;
    this.#release = release;
    channel.on('data', (d: Buffer) => {
      this.#buffer += d.toString('utf8');
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          this.#events.push(JSON.parse(line) as GuardEvent);
        } catch {
          continue;
        }
      }
      this.#wake();
    });
    channel.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4000);
    });
    channel.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static async start(t: StackTarget, opts: { waitTimeoutS: number; decisionTimeoutS: number }): Promise<Guard> {
    const l = layoutOf(t.m2Dir);
    const { channel, release } = await t.conn.spawn(['sh', l.guard, t.m2Dir, projectOf(t), String(opts.waitTimeoutS), t.dockerAccess === 'sudo' ? '1' : '0', String(opts.decisionTimeoutS)]);
    return new Guard(channel, release);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next event of one of `kinds` (earlier events of other kinds are dropped); GuardLost when the channel closes first. */
  async next(kinds: readonly string[]): Promise<GuardEvent> {
    for (;;) {
      const i = this.#events.findIndex((e) => kinds.includes(e.event));
      if (i >= 0) {
        const [e] = this.#events.splice(0, i + 1).slice(-1);
        return e as GuardEvent;
      }
      if (this.#closed) throw new GuardLost('the guard’s channel closed');
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  send(line: string): void {
    if (!this.#closed) this.#channel.write(`${line}\n`);
  }

  /** End our side: the guard sees end of file (before `up`: it just exits). */
  close(): void {
    if (!this.#closed) {
      this.#channel.end();
      this.#channel.close();
    }
    this.#release();
  }
}

/** Upload the guard when the server's copy differs (content check first: usually one sha256sum). */
export async function installGuard(t: StackTarget, script: string): Promise<void> {
  const l = layoutOf(t.m2Dir);
  const want = createHash('sha256').update(script, 'utf8').digest('hex');
  const have = await t.conn.exec(['sha256sum', '--', l.guard]);
  if (have.code === 0 && have.stdout.split(/\s+/)[0] === want) return;
  await t.conn.writeFileAtomic(l.guard, script, { mode: 0o700 });
}

// ---------------------------------------------------------------------------------------------------
// Health

/** One entry per service of the release (containers of several replicas each), in service order. */
export function healthOf(services: readonly string[], containers: readonly ContainerInfo[], images: Readonly<Record<string, string>>): ServiceHealth[] {
  const out: ServiceHealth[] = [];
  for (const service of services) {
    const mine = containers.filter((c) => c.service === service);
    if (mine.length === 0) out.push({ service, state: 'missing', health: '', containerId: null, image: images[service] ?? null });
    for (const c of mine) out.push({ service, state: c.state, health: c.health, containerId: c.id.slice(0, 12), image: c.image || null });
  }
  return out;
}

const isBad = (h: ServiceHealth): boolean => h.state !== 'running' || h.health === 'unhealthy' || h.health === 'starting';

/** The service to blame: unhealthy first, then exited (or missing), then one still starting. */
export function failedService(health: readonly ServiceHealth[]): ServiceHealth | null {
  return (
    health.find((h) => h.health === 'unhealthy') ??
    health.find((h) => ['exited', 'dead', 'restarting', 'missing', 'created'].includes(h.state)) ??
    health.find((h) => isBad(h)) ??
    null
  );
}

// ---------------------------------------------------------------------------------------------------
// Pull

async function pullImages(
  t: StackTarget,
  rendered: RenderedStack,
  services: readonly ServiceChange[],
  ids: ReadonlyMap<string, string | null>,
  opts: ApplyOptions,
  emit: Progress,
): Promise<{ warnings: string[]; missing: Array<{ ref: string; services: string[] }> }> {
  const base = { profileId: t.profileId, applyId: opts.applyId };
  const touched = services.filter((s) => s.action === 'create' || s.action === 'recreate');
  const refs = opts.pullPolicy === 'always' ? distinctImages(rendered) : [...new Set(touched.map((s) => s.image).filter((i): i is string => i !== null))].sort();
  const warnings: string[] = [];
  const missing: Array<{ ref: string; services: string[] }> = [];
  const toPull = refs.filter((r) => opts.pullPolicy === 'always' || ids.get(r) == null);
  for (const ref of refs) if (!toPull.includes(ref)) emit({ kind: 'pull', ...base, image: ref, status: 'present', percent: 100, detail: 'already on the server' });
  for (const ref of toPull) emit({ kind: 'pull', ...base, image: ref, status: 'waiting', percent: null, detail: '' });
  const d = dockerCommands(t.dockerAccess, projectOf(t));
  for (const ref of toPull) {
    let state: PullState = emptyPull;
    let lastPercent: number | null = -1;
    let partial = '';
    emit({ kind: 'pull', ...base, image: ref, status: 'pulling', percent: null, detail: 'starting' });
    const r = await t.conn.exec(d.pull(ref), {
      signal: opts.signal,
      timeoutMs: 30 * 60_000,
      onStdout: (chunk) => {
        partial += chunk.toString('utf8');
        const lines = partial.split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const line of lines) state = foldPullLine(state, line);
        const percent = pullPercent(state);
        if (percent !== lastPercent) {
          lastPercent = percent;
          emit({ kind: 'pull', ...base, image: ref, status: 'pulling', percent, detail: state.lastLine.slice(0, 200) });
        }
      },
    });
    if (r.code === 0) {
      emit({ kind: 'pull', ...base, image: ref, status: 'done', percent: 100, detail: 'downloaded' });
      continue;
    }
    const why = lastLines(maskSecrets(r.stderr || r.stdout, rendered.secretValues), 1);
    emit({ kind: 'pull', ...base, image: ref, status: 'failed', percent: null, detail: why.slice(0, 300) });
    if (ids.get(ref) != null) {
      const w = `Could not download ${ref} (${why}); going on with the copy already on the server.`;
      warnings.push(w);
      emit({ kind: 'warning', ...base, message: w });
    } else {
      missing.push({ ref, services: Object.keys(rendered.serviceImages).filter((s) => rendered.serviceImages[s] === ref).sort() });
    }
  }
  return { warnings, missing };
}

// ---------------------------------------------------------------------------------------------------
// Apply

const cancelled = (): AppError => new AppError('stack.apply-failed', 'The apply was cancelled before anything started; the server is as it was.', { hint: 'Apply again when you are ready.' });

/**
 * Run the guard's `up` for release `id` (going back to `prev`, or `down` when null), check health, and commit
 * or roll back. Shared by apply and the manual rollback.
 */
async function upAndDecide(
  t: StackTarget,
  guard: Guard,
  run: { id: string; prev: string | null; services: readonly string[]; images: Readonly<Record<string, string>>; envFiles: readonly string[]; secrets: RenderedStack['secretValues'] },
  opts: { applyId: string; signal?: AbortSignal | undefined; beforeCommit?: () => Promise<unknown> },
  emit: Progress,
): Promise<{ ok: true; health: ServiceHealth[] } | { ok: false; report: RollbackReport }> {
  const base = { profileId: t.profileId, applyId: opts.applyId };
  const phase = (p: Extract<StackProgress, { kind: 'phase' }>['phase'], message: string): void => emit({ kind: 'phase', ...base, phase: p, message });
  const dir = releaseDir(layoutOf(t.m2Dir), run.id);
  const mask = (s: string): string => maskSecrets(s, run.secrets);

  phase('start', `Starting release ${run.id}`);
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    guard.send('abort');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let upRc: number;
  try {
    const ev = await guard.next(['up', 'rolled-back', 'error']);
    if (ev.event === 'error') throw new AppError('stack.apply-failed', `The server could not start the release (${ev.what ?? 'unknown'}).`, { hint: 'Try again; the previous release is still running.' });
    if (ev.event === 'rolled-back') {
      return { ok: false, report: { failedService: null, reason: aborted ? 'Cancelled while starting; the previous release was brought back.' : 'Stopped while starting.', logTail: [], restoredRelease: run.prev, restored: ev.rc === 0 } };
    }
    upRc = ev.rc ?? 1;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }

  phase('health', 'Checking every service');
  const containers = await projectContainers(t);
  const health = healthOf(run.services, containers, run.images);
  for (const h of health) emit({ kind: 'service', ...base, health: h });
  const bad = failedService(health);
  if (upRc === 0 && bad === null && !aborted) {
    phase('switch', `Switching to release ${run.id}`);
    // Still under the guard's lock: garbage collection must not race another apply's upload.
    await opts.beforeCommit?.().catch(() => undefined);
    guard.send('commit');
    const ev = await guard.next(['committed', 'rolled-back']);
    if (ev.event === 'committed') return { ok: true, health };
    return { ok: false, report: { failedService: null, reason: 'The server could not switch `current` to the new release; the previous release was brought back.', logTail: [], restoredRelease: run.prev, restored: ev.rc === 0 } };
  }

  // Gather what failed before rolling back: rolling back recreates the failed container and its logs go with it.
  let logTail: string[] = [];
  if (bad && bad.state !== 'missing') {
    const c = composeCommands(t.dockerAccess, composeFilesOf(t, dir, run.envFiles));
    const logs = await t.conn.exec(c.logs(bad.service, LOG_TAIL_LINES), { timeoutMs: 30_000 }).catch(() => ({ stdout: '', stderr: '' }));
    logTail = mask(`${logs.stdout}`).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').slice(-LOG_TAIL_LINES);
  }
  const applyLog = await t.conn.readFile(`${dir}/apply.log`).then((b) => mask(b.toString('utf8')), () => '');
  const composeSaid = lastLines(applyLog.split('\n').filter((l) => !/^\s*(Container|Network|Volume) \S+\s+(Creat|Start|Wait|Running|Healthy|Recreat)/.test(l)).join('\n'), 2);
  const reason = aborted
    ? 'Cancelled while starting.'
    : bad
      ? `${bad.service} ${bad.health === 'unhealthy' ? 'did not become healthy' : bad.state === 'missing' ? 'was not created' : bad.health === 'starting' ? 'was still starting when the time was up' : `is ${bad.state}`}${composeSaid ? ` (${composeSaid.replace(/\n/g, '; ')})` : ''}.`
      : `docker compose up failed${composeSaid ? `: ${composeSaid.replace(/\n/g, '; ')}` : ''}.`;

  phase('rollback', run.prev ? `Bringing release ${run.prev} back` : 'Removing the new containers (first install)');
  guard.send('rollback');
  const rolled = await guard.next(['rolled-back']);
  return { ok: false, report: { failedService: bad?.service ?? null, reason, logTail, restoredRelease: run.prev, restored: rolled.rc === 0 } };
}

/**
 * Apply `rendered` to the server. Returns 'applied' (the new release is live and healthy) or 'rolled-back'
 * (with what failed); throws AppError for anything that stopped it before containers were touched
 * (`stack.busy`, `stack.data-path`, `stack.port-taken`, `stack.compose-invalid`, `stack.image-missing`,
 * `stack.docker-unavailable`), leaving the server as it was.
 */
export async function applyStack(t: StackTarget, rendered: RenderedStack, opts: ApplyOptions, onProgress: Progress): Promise<ApplyResult> {
  const started = Date.now();
  const base = { profileId: t.profileId, applyId: opts.applyId };
  const emit: Progress = (p) => {
    try {
      onProgress(p);
    } catch {
      // A listener's failure must not break an apply half-way.
    }
  };
  const phase = (p: Extract<StackProgress, { kind: 'phase' }>['phase'], message: string): void => emit({ kind: 'phase', ...base, phase: p, message });
  const waitTimeoutS = opts.waitTimeoutS ?? DEFAULT_WAIT_TIMEOUT_S;
  const now = opts.now ?? (() => new Date());
  if (opts.signal?.aborted) throw cancelled();

  phase('prepare', 'Checking the server');
  const l = await ensureLayout(t);
  await installGuard(t, opts.guardScript);
  const guard = await Guard.start(t, { waitTimeoutS, decisionTimeoutS: opts.decisionTimeoutS ?? DEFAULT_DECISION_TIMEOUT_S });
  let upSent = false;
  let cleanup: string[] = [];
  try {
    const first = await guard.next(['locked', 'busy', 'error']);
    if (first.event === 'busy') throw new AppError('stack.busy', 'Another apply is running on this server.', { hint: 'Wait for it to finish, then try again.' });
    if (first.event === 'error') {
      throw new AppError('stack.remote-failed', `The server could not start an apply (${first.what ?? 'unknown'}).`, {
        hint: first.what === 'no-flock' ? 'Install util-linux (it provides flock) on the server.' : 'Check that ~/m2 on the server belongs to the SSH user.',
      });
    }

    const [current, { ids, partials }] = await Promise.all([readCurrent(t), listReleases(t)]);
    const [own, currentManifest, imageIds] = await Promise.all([
      checkPreconditions(t, opts.settings, rendered, { minFreeBytes: opts.minFreeBytes }),
      current ? readManifest(t, current) : Promise.resolve(null),
      localImageIds(t, distinctImages(rendered)),
      partials.length > 0 ? t.conn.exec(['rm', '-rf', '--', ...partials.map((p) => `${l.releases}/${p}`)]) : Promise.resolve(),
    ]);
    const same = current !== null && currentManifest?.digest === rendered.digest;
    if (opts.signal?.aborted) throw cancelled();

    let id: string;
    let hashes: Map<string, string>;
    if (same) {
      id = current;
      phase('validate', 'Checking the configuration with docker compose');
      hashes = await validateAndHash(t, releaseDir(l, id), rendered);
    } else {
      phase('upload', 'Uploading the release');
      id = makeReleaseId(now(), rendered.digest, new Set(ids));
      cleanup = [partialDir(l, id)];
      cleanup.push(...(await uploadModuleFiles(t, rendered)));
      await uploadRelease(t, rendered, id, now());
      phase('validate', 'Checking the configuration with docker compose');
      hashes = await validateAndHash(t, partialDir(l, id), rendered);
    }
    if (opts.signal?.aborted) throw cancelled();

    phase('pull', 'Getting the images');
    let services = serviceChanges(rendered, hashes, own, imageIds);
    const pulled = await pullImages(t, rendered, services, imageIds, opts, emit);
    if (pulled.missing.length > 0) {
      const names = pulled.missing.flatMap((m) => m.services);
      throw new AppError(
        'stack.image-missing',
        `${pulled.missing.map((m) => m.ref).join(', ')} could not be downloaded and ${pulled.missing.length === 1 ? 'is' : 'are'} not on the server (needed by ${names.join(', ')}).`,
        { hint: 'Check the server’s internet connection (or the registry’s status) and try again. Nothing was changed.' },
      );
    }
    if (opts.pullPolicy === 'always') services = serviceChanges(rendered, hashes, own, await localImageIds(t, distinctImages(rendered)));
    if (opts.signal?.aborted) throw cancelled();

    if (!same) await finalizeRelease(t, id);
    cleanup = [];
    guard.send(`up ${id} ${current ?? '-'}`);
    upSent = true;
    const outcome = await upAndDecide(
      t,
      guard,
      { id, prev: current, services: [...hashes.keys()].sort(), images: rendered.serviceImages, envFiles: rendered.envFiles, secrets: rendered.secretValues },
      { applyId: opts.applyId, signal: opts.signal, beforeCommit: same ? undefined : () => collectGarbage(t, { keep: opts.keepReleases ?? 5, protect: [id, current] }) },
      emit,
    );
    if (outcome.ok) {
      await setManifestState(t, id, 'live').catch(() => undefined);
      phase('done', `Release ${id} is live`);
      return { kind: 'applied', releaseId: id, services, health: outcome.health, warnings: pulled.warnings, durationMs: Date.now() - started };
    }
    if (id !== current) await setManifestState(t, id, 'failed').catch(() => undefined);
    phase('done', outcome.report.restored ? 'The previous release is running again' : 'Rolling back did not finish cleanly');
    return { kind: 'rolled-back', attemptedRelease: id, report: outcome.report, warnings: pulled.warnings, durationMs: Date.now() - started };
  } catch (err) {
    if (!upSent && cleanup.length > 0) await t.conn.exec(['rm', '-rf', '--', ...cleanup]).catch(() => undefined);
    if (err instanceof GuardLost) {
      throw new AppError('stack.apply-failed', upSent ? 'The connection to the server was lost while the release was starting. The server brings the previous release back by itself.' : 'The connection to the server was lost before the release started; nothing was changed.', {
        hint: 'Reconnect and apply again: the next apply picks up from where the server is.',
      });
    }
    throw err;
  } finally {
    if (!upSent) guard.send('quit');
    guard.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Status and manual rollback

/** The live and previous release, and every service's state and health (from the live release's manifest and the project's containers). */
export async function stackStatus(t: StackTarget): Promise<StackStatus> {
  const current = await readCurrent(t);
  const [previous, manifest, containers] = await Promise.all([current ? readPrevious(t, current) : null, current ? readManifest(t, current) : null, projectContainers(t)]);
  const names = [...new Set([...(manifest?.services.map((s) => s.name) ?? []), ...containers.map((c) => c.service)])].sort();
  const images = Object.fromEntries((manifest?.services ?? []).map((s) => [s.name, s.image]));
  return { currentRelease: current, previousRelease: previous, services: healthOf(names, containers, images) };
}

/** Bring the previous release back (it becomes `current`, and the one it replaces becomes its previous). */
export async function rollbackStack(
  t: StackTarget,
  opts: { applyId: string; guardScript: string; waitTimeoutS?: number; signal?: AbortSignal; /** Every secret the releases may hold, to mask log lines. */ secretValues?: RenderedStack['secretValues'] },
  onProgress: Progress,
): Promise<ApplyResult> {
  const secrets = opts.secretValues ?? [];
  const started = Date.now();
  const current = await readCurrent(t);
  const previous = current ? await readPrevious(t, current) : null;
  const manifest = previous ? await readManifest(t, previous) : null;
  if (!current || !previous || !manifest) {
    throw new AppError('stack.not-installed', 'There is no earlier release on the server to go back to.', { hint: 'A rollback needs a release that was live before the current one.' });
  }
  await installGuard(t, opts.guardScript);
  const guard = await Guard.start(t, { waitTimeoutS: opts.waitTimeoutS ?? DEFAULT_WAIT_TIMEOUT_S, decisionTimeoutS: DEFAULT_DECISION_TIMEOUT_S });
  let upSent = false;
  try {
    const first = await guard.next(['locked', 'busy', 'error']);
    if (first.event !== 'locked') throw new AppError('stack.busy', 'Another apply is running on this server.', { hint: 'Wait for it to finish, then try again.' });
    if ((await readCurrent(t)) !== current) throw new AppError('stack.busy', 'The stack changed while the rollback was getting ready.', { hint: 'Look at the stack again, then decide.' });
    const dir = releaseDir(layoutOf(t.m2Dir), previous);
    const hashes = await validateAndHash(t, dir, { envFiles: manifest.envFiles, secretValues: secrets });
    guard.send(`up ${previous} ${current}`);
    upSent = true;
    const images = Object.fromEntries(manifest.services.map((s) => [s.name, s.image]));
    const outcome = await upAndDecide(t, guard, { id: previous, prev: current, services: [...hashes.keys()].sort(), images, envFiles: manifest.envFiles, secrets }, { applyId: opts.applyId, signal: opts.signal }, onProgress);
    if (outcome.ok) {
      await setManifestState(t, previous, 'live').catch(() => undefined);
      const services: ServiceChange[] = [];
      return { kind: 'applied', releaseId: previous, services, health: outcome.health, warnings: [], durationMs: Date.now() - started };
    }
    return { kind: 'rolled-back', attemptedRelease: previous, report: outcome.report, warnings: [], durationMs: Date.now() - started };
  } catch (err) {
    if (err instanceof GuardLost) throw new AppError('stack.apply-failed', 'The connection was lost during the rollback; the server keeps the release that was live.', { hint: 'Reconnect and look at the stack.' });
    throw err;
  } finally {
    if (!upSent) guard.send('quit');
    guard.close();
  }
}
