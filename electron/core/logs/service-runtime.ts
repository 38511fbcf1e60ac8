/**
 * What Docker says about each service's containers, reduced to what the Logs page shows, and when a service
 * counts as crash-looping: Docker is restarting it right now, or its restart policy has restarted it at least
 * `CRASH_LOOP_RESTARTS` times and its current run is younger than `CRASH_LOOP_WINDOW_S` (a service that restarted
 * three times last week and has run since is not looping).
 */
import type { ServiceRuntime } from '../../contract/logs';

export const CRASH_LOOP_RESTARTS = 3;
export const CRASH_LOOP_WINDOW_S = 120;

export interface ContainerRuntime {
  readonly id: string;
  readonly service: string;
  readonly oneoff: boolean;
  readonly status: string;
  readonly restarting: boolean;
  readonly restartCount: number;
  /** null for a container that never started (Docker's zero time). */
  readonly startedAt: string | null;
  readonly exitCode: number | null;
  readonly health: string;
}

/** One container per line, fields as `RUNTIME_FORMAT` prints them; lines that do not parse are left out. */
export function parseRuntime(stdout: string): ContainerRuntime[] {
  const out: ContainerRuntime[] = [];
  for (const line of stdout.split('\n')) {
    // Go templates print `<no value>` for a label a container lacks.
    const f = line.replace(/\r$/, '').split('\t').map((v) => (v === '<no value>' ? '' : v));
    if (f.length !== 9) continue;
    const [id = '', service = '', oneoff = '', status = '', restarting = '', count = '', started = '', exit = '', health = ''] = f;
    if (!/^[0-9a-f]{12,64}$/.test(id) || service === '') continue;
    out.push({
      id,
      service,
      oneoff: oneoff === 'True',
      status,
      restarting: restarting === 'true',
      restartCount: /^\d+$/.test(count) ? Number(count) : 0,
      startedAt: started.startsWith('0001-01-01') || started === '' ? null : started,
      exitCode: /^-?\d+$/.test(exit) ? Number(exit) : null,
      health,
    });
  }
  return out;
}

export function isCrashLooping(c: ContainerRuntime, serverNowS: number | null): boolean {
  if (c.restarting || c.status === 'restarting') return true;
  if (c.restartCount < CRASH_LOOP_RESTARTS || c.startedAt === null) return false;
  const started = Date.parse(c.startedAt);
  if (serverNowS === null || Number.isNaN(started)) return false;
  return serverNowS - started / 1000 < CRASH_LOOP_WINDOW_S;
}

/** Worst first: a service with several containers (two tunnel connectors) shows the one in trouble. */
const rank = (c: ContainerRuntime): number => (c.restarting ? 0 : c.status === 'running' ? (c.health === 'unhealthy' ? 1 : 3) : 2);

/**
 * Every declared service (in the release's order), then any container of the project the release does not
 * declare (left from an older release). `lastLines` is asked only for looping services.
 */
export function serviceRuntimes(
  declared: readonly string[],
  containers: readonly ContainerRuntime[],
  serverNowS: number | null,
): Array<Omit<ServiceRuntime, 'crashLoop'> & { looping: boolean }> {
  const own = containers.filter((c) => !c.oneoff);
  const names = [...declared, ...[...new Set(own.map((c) => c.service))].filter((s) => !declared.includes(s)).sort()];
  return names.map((service) => {
    const mine = own.filter((c) => c.service === service).sort((a, b) => rank(a) - rank(b));
    const worst = mine[0];
    if (!worst) return { service, state: 'missing', health: '', containers: 0, restartCount: 0, startedAt: null, exitCode: null, looping: false };
    return {
      service,
      state: worst.restarting ? 'restarting' : worst.status,
      health: worst.health,
      containers: mine.length,
      restartCount: Math.max(...mine.map((c) => c.restartCount)),
      startedAt: worst.startedAt,
      exitCode: worst.status === 'running' ? null : worst.exitCode,
      looping: mine.some((c) => isCrashLooping(c, serverNowS)),
    };
  });
}
