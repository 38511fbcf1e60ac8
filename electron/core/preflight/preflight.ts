import { type PreflightCheck, type PreflightCheckId, type PreflightReport, PreflightRequest, fixedCheckIds } from '../../contract/preflight';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';
import type { CommandRunner, ExecResult } from '../ssh/runner';
import {
  checkClock,
  checkCompose,
  checkDisk,
  checkDockerEngine,
  checkEgress,
  checkOs,
  detectGpu,
  diskId,
  notRun,
  parseFacts,
  resolveDockerAccess,
  titles,
} from './checks';
import { preflightCommands } from './commands';
import { type DockerProbe, parseDiskReport, parseDockerInfo, parseEgress } from './parse';

export interface PreflightOptions {
  /** This computer's clock (injected so tests control it; also the reference for clock skew). */
  readonly now: () => Date;
  /** The SSH login name, used in the fixes the admin is told to run. */
  readonly user: string;
  readonly signal?: AbortSignal;
}

/** Wall-clock limits per remote command; each script also bounds its own probes with `timeout`. */
export const PREFLIGHT_TIMEOUTS_MS = { facts: 75_000, disk: 30_000, egress: 15_000, sudo: 20_000 } as const;

type Attempt =
  | { readonly ok: true; readonly result: ExecResult; readonly before: Date; readonly after: Date }
  | { readonly ok: false; readonly error: unknown };

async function attempt(runner: CommandRunner, argv: Argv, timeoutMs: number, opts: PreflightOptions): Promise<Attempt> {
  const before = opts.now();
  try {
    const result = await runner.exec(argv, { timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
    return { ok: true, result, before, after: opts.now() };
  } catch (error) {
    return { ok: false, error };
  }
}

const reasonOf = (error: unknown): string =>
  error instanceof AppError ? error.userMessage : error instanceof Error ? error.message : String(error);

/** stdout, then stderr (for the odd message the shell itself printed). */
const output = (r: ExecResult): string => (r.stderr.trim() === '' ? r.stdout : `${r.stdout}\n${r.stderr}`);

/**
 * Check the home server before installing: OS, Docker Engine, Compose v2, how the user reaches Docker,
 * space at each data path, GPU, clock, and outbound TCP 7844 to Cloudflare. Three commands run at once
 * over the one connection (facts, disk, egress), plus `sudo -n docker info` only when the user's own
 * Docker access was refused. A check whose command could not run warns; only when no command could run
 * at all (the connection is gone) does this throw, with the runner's error.
 */
export async function runPreflight(runner: CommandRunner, req: PreflightRequest, opts: PreflightOptions): Promise<PreflightReport> {
  const parsed = PreflightRequest.safeParse(req);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('ipc.invalid', issue?.message ?? 'Data folders: the list of folders is not valid.', {
      field: 'dataPaths',
      hint: 'Correct the data folders and run the checks again.',
    });
  }
  const startedAt = opts.now();
  const paths = [...new Set(parsed.data.dataPaths)];

  const [facts, disk, egress] = await Promise.all([
    attempt(runner, preflightCommands.facts(), PREFLIGHT_TIMEOUTS_MS.facts, opts),
    attempt(runner, preflightCommands.disk(paths), PREFLIGHT_TIMEOUTS_MS.disk, opts),
    attempt(runner, preflightCommands.egress(), PREFLIGHT_TIMEOUTS_MS.egress, opts),
  ]);
  if (!facts.ok && !disk.ok && !egress.ok) throw facts.error;

  const checks: PreflightCheck[] = [];
  let dockerAccess: PreflightReport['dockerAccess'] = { kind: 'none' };
  let gpu: PreflightReport['gpu'] = { kind: 'none' };
  const diskChecks = (): PreflightCheck[] => {
    if (!disk.ok) return paths.map((p) => notRun(diskId(p), `Free space at ${p}`, reasonOf(disk.error)));
    const entries = parseDiskReport(output(disk.result), paths.length);
    return paths.map((p, i) => checkDisk(p, entries[i], opts.user));
  };

  if (facts.ok) {
    const f = parseFacts(facts.result.stdout);
    let sudo: DockerProbe | undefined;
    if (f.dockerInfo.kind === 'permission-denied' && f.tools.has('sudo')) {
      const s = await attempt(runner, preflightCommands.sudoDockerInfo(), PREFLIGHT_TIMEOUTS_MS.sudo, opts);
      sudo = s.ok ? parseDockerInfo(output(s.result), s.result.code, true) : { kind: 'unknown', raw: reasonOf(s.error) };
    }
    const effective = f.dockerInfo.kind === 'ok' ? f.dockerInfo : sudo?.kind === 'ok' ? sudo : f.dockerInfo;
    const access = resolveDockerAccess(f, sudo, opts.user);
    const detected = detectGpu(f, effective.kind === 'ok' ? effective.runtimes : undefined);
    dockerAccess = access.access;
    gpu = detected.gpu;
    checks.push(checkOs(f), checkDockerEngine(f, effective), checkCompose(f), access.check, ...diskChecks(), detected.check);
    checks.push(checkClock(f, { before: facts.before, after: facts.after }));
  } else {
    const reason = reasonOf(facts.error);
    for (const id of ['os', 'docker-engine', 'compose', 'docker-access'] as const) checks.push(notRun(id, titles[id], reason));
    checks.push(...diskChecks(), notRun('gpu', titles.gpu, reason), notRun('clock', titles.clock, reason));
  }
  checks.push(
    egress.ok ? checkEgress(parseEgress(output(egress.result))) : notRun('cloudflare-egress', titles['cloudflare-egress'], reasonOf(egress.error)),
  );

  const finished = opts.now();
  return {
    checks,
    dockerAccess,
    gpu,
    startedAt: startedAt.toISOString(),
    durationMs: Math.max(0, Math.round(finished.getTime() - startedAt.getTime())),
  };
}

/** The check ids a report holds for a request, in order (for the renderer's placeholders while it runs). */
export const plannedCheckIds = (req: PreflightRequest): PreflightCheckId[] => [
  ...fixedCheckIds.slice(0, 4),
  ...[...new Set(req.dataPaths)].map(diskId),
  ...fixedCheckIds.slice(4),
];
