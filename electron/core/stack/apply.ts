/**
 * Apply: turn a RenderedStack into a running, healthy release on the server, or leave the previous one running.
 *
 *   lock (the guard, for the whole apply) → preconditions → old releases pruned → reuse the release with the
 *   same content, or upload (`.partial`) → `config --quiet` → pull → `mv` to `releases/<id>` → guard: `up --wait`
 *   (watched: a container that fails for good decides at once) → health per service → guard: commit (switch
 *   `current`) or roll back (previous release `up --wait`, or `down` on a first install) → prune → guard: quit.
 *
 * The guard (resources/stack/m2-apply.sh) runs on the server in one exec channel: if the connection is lost
 * after `up` began and before the commit, it stops compose and rolls back by itself, so `current` always names
 * what runs. Only services whose configuration changed are recreated: Compose compares config hashes itself,
 * and `--force-recreate` is never used.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApplyResult, RollbackDecision, RollbackReport, ServiceChange, ServiceHealth, StackProgress, StackSettings, StackStatus } from '../../contract/stack';
import { AppError } from '../errors';
import type { ClientChannel } from 'ssh2';
import { composeCommands, dockerCommands, emptyPull, foldPullLine, pullPercent, type ContainerInfo, type PullState } from './compose-commands';
import { layoutOf, makeReleaseId, partialDir, releaseDir } from './layout';
import { maskSecrets } from './mask';
import { checkNothingToChange, nothingToChangeMessage } from './noop';
import { distinctImages, localImageIds, serviceChanges, validateAndHash } from './plan';
import { checkPreconditions } from './preconditions';
import {
  collectGarbage,
  composeFilesOf,
  ensureLayout,
  finalizeRelease,
  listReleases,
  projectContainers,
  projectOf,
  readCurrent,
  readManifest,
  readPrevious,
  releaseIsComplete,
  setManifestState,
  uploadModuleFiles,
  uploadRelease,
  type StackTarget,
} from './remote-release';
import { DEFAULT_KEEP_RELEASES, reusableRelease } from './retention';
import { cleanTerminalLines } from './terminal-text';
import type { RenderedStack } from './types';

export const DEFAULT_WAIT_TIMEOUT_S = 180;
/** How long the guard waits for the app's commit after `up` before it rolls back by itself. */
export const DEFAULT_DECISION_TIMEOUT_S = 300;
export const LOG_TAIL_LINES = 20;
/** How often the app looks at the new release's containers while `up --wait` runs. */
export const WATCH_INTERVAL_MS = 1000;

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
  /** Releases kept besides the live one and its rollback target (DEFAULT_KEEP_RELEASES). */
  readonly keepReleases?: number;
  /** While `up --wait` runs (WATCH_INTERVAL_MS). */
  readonly watchIntervalMs?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  /** false: skip the no-op check and always take the full path (the bench's "before"). */
  readonly noopCheck?: boolean;
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

/** A container of the release being started that has failed for good, seen while `up --wait` still waits. */
export interface CertainFailure {
  readonly service: string;
  readonly containerId: string;
  readonly evidence: 'exited' | 'restarting' | 'unhealthy';
  readonly exitCode: number | null;
  readonly restarts: number;
}

/**
 * Whether the release being started has already failed, before Compose gives up. Only containers with the
 * release's configuration count (the old release's containers being replaced stop with 143, which is no failure):
 * - one Docker restarted during this `up` (its restart count grew since `before`), or is restarting: under
 *   `unless-stopped` a process that exits is started again and its health goes back to `starting`, so `up --wait`
 *   only notices when one of its polls falls between an exit and the restart;
 * - one created by this `up` (not in `before`) that exited with a non-zero code;
 * - Docker calls one unhealthy: that is `retries` failed checks after its start period, so waiting cannot help.
 * A container that runs but fails its check inside its start period is not certain failure: a check may still
 * pass (the start period exists for that), so that case is decided when Docker calls it unhealthy.
 */
export function certainFailure(
  containers: readonly ContainerInfo[],
  run: { readonly services: readonly string[]; readonly hashes: ReadonlyMap<string, string>; readonly before: ReadonlyMap<string, number> },
): CertainFailure | null {
  for (const service of run.services) {
    const hash = run.hashes.get(service);
    for (const c of containers) {
      if (c.service !== service || c.oneoff || (hash !== undefined && c.configHash !== hash)) continue;
      const base = { service, containerId: c.id.slice(0, 12), restarts: c.restartCount };
      const earlier = run.before.get(c.id);
      // A crash first: Docker also marks a container that stopped or is restarting unhealthy.
      if (c.restartCount > (earlier ?? 0) || (c.state === 'restarting' && earlier === undefined)) {
        // Docker resets the exit code when it starts the container again.
        return { ...base, evidence: 'restarting', exitCode: c.state === 'running' && c.exitCode === 0 ? null : c.exitCode };
      }
      if (earlier === undefined && (c.state === 'exited' || c.state === 'dead') && c.exitCode !== 0) return { ...base, evidence: 'exited', exitCode: c.exitCode };
      if (c.health === 'unhealthy') return { ...base, evidence: 'unhealthy', exitCode: null };
    }
  }
  return null;
}

/** The reason a person reads for a failure decided while Compose was still waiting. */
export function certainFailureReason(f: CertainFailure): string {
  const times = (n: number): string => (n === 1 ? 'once' : `${String(n)} times`);
  switch (f.evidence) {
    case 'unhealthy':
      return `${f.service} did not become healthy (Docker reports it unhealthy).`;
    case 'exited':
      return `${f.service} exited with code ${String(f.exitCode)} as it started.`;
    case 'restarting':
      return `${f.service} kept stopping as it started (Docker restarted it ${times(Math.max(1, f.restarts))}${f.exitCode ? `; it exited with code ${String(f.exitCode)}` : ''}).`;
    default: {
      const never: never = f.evidence;
      return String(never);
    }
  }
}

/** Look at the release's containers every `intervalMs` until one has certainly failed (or `stop` aborts). */
async function watchForFailure(
  t: StackTarget,
  run: { readonly services: readonly string[]; readonly hashes: ReadonlyMap<string, string>; readonly before: ReadonlyMap<string, number> },
  intervalMs: number,
  stop: AbortSignal,
): Promise<{ failure: CertainFailure; containers: ContainerInfo[] } | null> {
  const pause = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stop.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, intervalMs);
      stop.addEventListener('abort', done, { once: true });
    });
  while (!stop.aborted) {
    await pause();
    if (stop.aborted) return null;
    const containers = await projectContainers(t).catch(() => null);
    if (containers === null || stop.aborted) continue;
    const failure = certainFailure(containers, run);
    if (failure) return { failure, containers };
  }
  return null;
}

/** Terminal output as lines a person reads: escape codes and redraws gone, secrets masked (before and after, so neither a secret with odd characters nor one split by a colour code slips through). */
const readableLines = (text: string, secrets: RenderedStack['secretValues']): string[] => cleanTerminalLines(maskSecrets(text, secrets)).map((l) => maskSecrets(l, secrets));

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
    const why = readableLines(r.stderr || r.stdout, rendered.secretValues).at(-1) ?? '';
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
 * Run the guard's `up` for release `id` (going back to `prev`, or `down` when null), watch it, check health, and
 * commit or roll back. Shared by apply and the manual rollback. The guard still holds the lock when this returns
 * (it waits for the caller's `quit`), so the caller can tidy releases with no other apply running.
 */
async function upAndDecide(
  t: StackTarget,
  guard: Guard,
  run: {
    id: string;
    prev: string | null;
    services: readonly string[];
    /** Config hash per service of release `id`. */
    hashes: ReadonlyMap<string, string>;
    /** The project's containers before `up` (id → restart count). */
    before: ReadonlyMap<string, number>;
    images: Readonly<Record<string, string>>;
    envFiles: readonly string[];
    secrets: RenderedStack['secretValues'];
  },
  opts: { applyId: string; signal?: AbortSignal | undefined; watchIntervalMs?: number | undefined },
  emit: Progress,
): Promise<{ ok: true; health: ServiceHealth[] } | { ok: false; report: RollbackReport }> {
  const base = { profileId: t.profileId, applyId: opts.applyId };
  const phase = (p: Extract<StackProgress, { kind: 'phase' }>['phase'], message: string): void => emit({ kind: 'phase', ...base, phase: p, message });
  const dir = releaseDir(layoutOf(t.m2Dir), run.id);
  const c = composeCommands(t.dockerAccess, composeFilesOf(t, dir, run.envFiles));
  // Read before rolling back: rolling back recreates the failed container and its logs go with it.
  const logTailOf = async (service: string): Promise<string[]> => {
    const logs = await t.conn.exec(c.logs(service, LOG_TAIL_LINES), { timeoutMs: 30_000 }).catch(() => ({ stdout: '' }));
    return readableLines(logs.stdout, run.secrets).slice(-LOG_TAIL_LINES);
  };
  const rollingBack = (): void => phase('rollback', run.prev ? `Bringing release ${run.prev} back` : 'Removing the new containers (first install)');

  phase('start', `Starting release ${run.id}`);
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    guard.send('abort');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Cancelled between the `up` line and here (a listener of the start phase, say): the event has fired already.
  if (opts.signal?.aborted) onAbort();
  const stopWatching = new AbortController();
  let upRc: number;
  try {
    const upEvent = guard.next(['up', 'rolled-back', 'error']);
    const watched = watchForFailure(t, run, opts.watchIntervalMs ?? WATCH_INTERVAL_MS, stopWatching.signal);
    const first = await Promise.race([upEvent.then((ev) => ({ kind: 'guard' as const, ev })), watched.then((w) => ({ kind: 'watch' as const, w }))]);
    if (first.kind === 'watch' && first.w !== null && !aborted) {
      const { failure, containers } = first.w;
      phase('health', `${failure.service} failed while starting; no need to wait any longer`);
      for (const h of healthOf(run.services, containers, run.images)) emit({ kind: 'service', ...base, health: h });
      const logTail = await logTailOf(failure.service);
      guard.send('fail');
      rollingBack();
      const ev = await upEvent;
      const rolled = ev.event === 'rolled-back' ? ev : await guard.next(['rolled-back']);
      const decidedBy: RollbackDecision = { kind: 'certain-failure', service: failure.service, evidence: failure.evidence, exitCode: failure.exitCode, restarts: failure.restarts };
      return { ok: false, report: { failedService: failure.service, reason: certainFailureReason(failure), decidedBy, logTail, restoredRelease: run.prev, restored: rolled.rc === 0 } };
    }
    const ev = await upEvent;
    if (ev.event === 'error') throw new AppError('stack.apply-failed', `The server could not start the release (${ev.what ?? 'unknown'}).`, { hint: 'Try again; the previous release is still running.' });
    if (ev.event === 'rolled-back') {
      return {
        ok: false,
        report: {
          failedService: null,
          reason: aborted ? 'Cancelled while starting; the previous release was brought back.' : 'Stopped while starting.',
          decidedBy: aborted ? { kind: 'cancelled' } : { kind: 'server' },
          logTail: [],
          restoredRelease: run.prev,
          restored: ev.rc === 0,
        },
      };
    }
    upRc = ev.rc ?? 1;
  } finally {
    stopWatching.abort();
    opts.signal?.removeEventListener('abort', onAbort);
  }

  phase('health', 'Checking every service');
  const containers = await projectContainers(t);
  const health = healthOf(run.services, containers, run.images);
  for (const h of health) emit({ kind: 'service', ...base, health: h });
  const bad = failedService(health);
  if (upRc === 0 && bad === null && !aborted) {
    phase('switch', `Switching to release ${run.id}`);
    guard.send('commit');
    const ev = await guard.next(['committed', 'rolled-back']);
    if (ev.event === 'committed') return { ok: true, health };
    return {
      ok: false,
      report: { failedService: null, reason: 'The server could not switch `current` to the new release; the previous release was brought back.', decidedBy: { kind: 'server' }, logTail: [], restoredRelease: run.prev, restored: ev.rc === 0 },
    };
  }

  // Compose may notice a crash first (when a poll falls between an exit and the restart): the containers say so too.
  const certain = aborted ? null : certainFailure(containers, run);
  const blamed = certain?.service ?? (bad && bad.state !== 'missing' ? bad.service : null);
  const logTail = blamed ? await logTailOf(blamed) : [];
  const applyLog = await t.conn.readFile(`${dir}/apply.log`).then((b) => b.toString('utf8'), () => '');
  const composeSaid = readableLines(applyLog, run.secrets)
    .filter((l) => !/^\s*(Container|Network|Volume) \S+\s+(Creat|Start|Wait|Running|Healthy|Recreat)/.test(l))
    .slice(-2)
    .join('; ');
  const reason = aborted
    ? 'Cancelled while starting.'
    : certain
      ? certainFailureReason(certain)
      : bad
        ? `${bad.service} ${bad.health === 'unhealthy' ? 'did not become healthy' : bad.state === 'missing' ? 'was not created' : bad.health === 'starting' ? 'was still starting when the time was up' : `is ${bad.state}`}${composeSaid ? ` (${composeSaid})` : ''}.`
        : `docker compose up failed${composeSaid ? `: ${composeSaid}` : ''}.`;
  const decidedBy: RollbackDecision = aborted
    ? { kind: 'cancelled' }
    : certain
      ? { kind: 'certain-failure', service: certain.service, evidence: certain.evidence, exitCode: certain.exitCode, restarts: certain.restarts }
      : { kind: 'after-up', composeExitCode: upRc };

  rollingBack();
  guard.send('rollback');
  const rolled = await guard.next(['rolled-back']);
  return { ok: false, report: { failedService: certain?.service ?? bad?.service ?? null, reason, decidedBy, logTail, restoredRelease: run.prev, restored: rolled.rc === 0 } };
}

/** The project's containers now: id → restart count (what `up` is compared against). */
const containersBefore = async (t: StackTarget): Promise<Map<string, number>> => new Map((await projectContainers(t)).map((c) => [c.id, c.restartCount]));

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
  // Nothing to change (same files, hashes and images live, every service healthy): said after one round trip,
  // no lock, no upload, no `up`. Any difference or doubt goes on to the full path below.
  if (opts.pullPolicy !== 'always' && opts.noopCheck !== false) {
    const noop = await checkNothingToChange(t, rendered, opts.signal);
    if (noop.kind === 'unchanged') {
      for (const h of noop.health) emit({ kind: 'service', ...base, health: h });
      phase('done', nothingToChangeMessage(noop.health));
      return { kind: 'applied', releaseId: noop.releaseId, services: noop.services, health: noop.health, warnings: [], durationMs: Date.now() - started, nothingToChange: true };
    }
  }
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

    const keep = opts.keepReleases ?? DEFAULT_KEEP_RELEASES;
    const [current, { ids }] = await Promise.all([readCurrent(t), listReleases(t)]);
    const [previous, manifests] = await Promise.all([current ? readPrevious(t, current) : Promise.resolve(null), Promise.all(ids.map((i) => readManifest(t, i)))]);
    const [own, imageIds] = await Promise.all([checkPreconditions(t, opts.settings, rendered, { minFreeBytes: opts.minFreeBytes }), localImageIds(t, distinctImages(rendered))]);
    // The release with exactly this content, when one is there and complete: no new folder, no new copy of the secrets.
    const candidate = reusableRelease(manifests, { digest: rendered.digest, project: projectOf(t) }, current);
    // The live release too: one whose files were edited on the server is not taken for this content.
    const reuse = candidate !== null && (await releaseIsComplete(t, candidate, rendered)) ? candidate : null;
    // Under the lock, before anything new is written: cut-off uploads and releases beyond `keep` go (the secrets with
    // them). A release that cannot be removed (a file someone else owns) must not stop the admin's apply.
    await collectGarbage(t, { keep, protect: [current, previous], pin: [reuse] }).catch(() => undefined);
    if (opts.signal?.aborted) throw cancelled();

    let id: string;
    let hashes: Map<string, string>;
    if (reuse !== null) {
      id = reuse;
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

    if (reuse === null) await finalizeRelease(t, id);
    cleanup = [];
    const before = await containersBefore(t);
    guard.send(`up ${id} ${current ?? '-'}`);
    upSent = true;
    const outcome = await upAndDecide(
      t,
      guard,
      { id, prev: current, services: [...hashes.keys()].sort(), hashes, before, images: rendered.serviceImages, envFiles: rendered.envFiles, secrets: rendered.secretValues },
      { applyId: opts.applyId, signal: opts.signal, watchIntervalMs: opts.watchIntervalMs },
      emit,
    );
    // The guard still holds the lock: keep the releases to `keep` (the one just tried stays, for a retry to reuse).
    const tidy = (protect: Array<string | null>, pin: Array<string | null>): Promise<unknown> => collectGarbage(t, { keep, protect, pin }).catch(() => undefined);
    if (outcome.ok) {
      await Promise.all([setManifestState(t, id, 'live').catch(() => undefined), id === current ? Promise.resolve() : tidy([id, current], [])]);
      phase('done', `Release ${id} is live`);
      return { kind: 'applied', releaseId: id, services, health: outcome.health, warnings: pulled.warnings, durationMs: Date.now() - started };
    }
    await Promise.all([id !== current ? setManifestState(t, id, 'failed').catch(() => undefined) : Promise.resolve(), tidy([current, previous], [id])]);
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
    // Before `up`: nothing ran. After the decision: the tidying under the lock is done. In between it is ignored,
    // and the end of input makes the guard roll back by itself.
    guard.send('quit');
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
    const before = await containersBefore(t);
    guard.send(`up ${previous} ${current}`);
    upSent = true;
    const images = Object.fromEntries(manifest.services.map((s) => [s.name, s.image]));
    const outcome = await upAndDecide(
      t,
      guard,
      { id: previous, prev: current, services: [...hashes.keys()].sort(), hashes, before, images, envFiles: manifest.envFiles, secrets },
      { applyId: opts.applyId, signal: opts.signal },
      onProgress,
    );
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
