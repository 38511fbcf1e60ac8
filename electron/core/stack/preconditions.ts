/**
 * What must hold on the server before an apply changes anything: Docker answers, media folders exist and are
 * readable, data folders exist (or can be created) and are writable with enough free space, published ports
 * are free (or already this stack's own). Every failure is an AppError naming the settings field; nothing
 * is created until every check passed.
 */
import type { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { checkExit } from '../ssh/remote-command';
import { dockerCommands, parseProcNet, PROC_NET_FILES, type ContainerInfo } from './compose-commands';
import { DOCKER_UNAVAILABLE, projectContainers, projectOf, run, type StackTarget } from './remote-release';
import type { RenderedStack } from './types';

/** Below this the data folders are refused: databases and Jellyfin's cache need room to start. */
export const MIN_FREE_BYTES = 1024 ** 3;

export interface PathNeed {
  readonly path: string;
  readonly field: string;
  /** read: exists and readable (media); write: exists writable, or can be created; create: exists, or can be created. */
  readonly need: 'read' | 'write' | 'create';
  readonly checkSpace: boolean;
}

const within = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** The folders this apply relies on, each with the settings field it comes from. Pure. */
export function pathNeeds(settings: StackSettings, rendered: RenderedStack): PathNeed[] {
  const needs: PathNeed[] = [];
  for (const p of settings.modules.jellyfin.mediaPaths) needs.push({ path: p, field: 'modules.jellyfin.mediaPaths', need: 'read', checkSpace: false });
  const writable: PathNeed[] = [{ path: settings.dataRoot, field: 'dataRoot', need: 'write', checkSpace: true }];
  if (settings.modules.backup.enabled) writable.push({ path: settings.modules.backup.repository, field: 'modules.backup.repository', need: 'write', checkSpace: true });
  if (settings.modules.mediaAutomation.enabled) writable.push({ path: settings.modules.mediaAutomation.ingestPath, field: 'modules.mediaAutomation.ingestPath', need: 'write', checkSpace: true });
  needs.push(...writable);
  for (const d of rendered.hostDirs) {
    const owner = [...writable].sort((a, b) => b.path.length - a.path.length).find((w) => within(d, w.path));
    needs.push({ path: d, field: owner?.field ?? 'dataRoot', need: 'create', checkSpace: false });
  }
  return needs;
}

/**
 * For each "NEED:PATH" argument: the path's state, then the free KiB of the filesystem holding it (or its
 * nearest existing parent). Paths are arguments, never script text.
 */
export const PATHS_SCRIPT = String.raw`
for arg do
  need=${'$'}{arg%%:*}; p=${'$'}{arg#*:}
  a=$p
  while [ ! -e "$a" ] && [ "$a" != / ]; do a=$(dirname -- "$a"); done
  if [ "$need" = read ]; then
    if [ ! -e "$p" ]; then s=missing; elif [ ! -d "$p" ]; then s=not-dir; elif [ ! -r "$p" ] || [ ! -x "$p" ]; then s=not-readable; else s=ok; fi
  elif [ -e "$p" ]; then
    if [ ! -d "$p" ]; then s=not-dir; elif [ "$need" = write ] && { [ ! -w "$p" ] || [ ! -x "$p" ]; }; then s=not-writable; else s=ok; fi
  elif [ ! -d "$a" ]; then s=blocked
  elif [ ! -w "$a" ] || [ ! -x "$a" ]; then s=parent-not-writable
  else s=creatable; fi
  k=$(df -Pk -- "$a" 2>/dev/null | awk 'NR==2 {print $4}')
  printf '%s %s\n' "$s" "${'$'}{k:--}"
done
`.trim();

export type PathState = 'ok' | 'missing' | 'not-dir' | 'not-readable' | 'not-writable' | 'blocked' | 'parent-not-writable' | 'creatable';

export function parsePathReport(stdout: string, count: number): Array<{ state: PathState | 'unknown'; freeBytes: number | null }> {
  const lines = stdout.split('\n');
  return Array.from({ length: count }, (_, i) => {
    const [s = '', k = '-'] = (lines[i] ?? '').trim().split(/\s+/);
    const states: readonly string[] = ['ok', 'missing', 'not-dir', 'not-readable', 'not-writable', 'blocked', 'parent-not-writable', 'creatable'];
    return { state: states.includes(s) ? (s as PathState) : 'unknown', freeBytes: /^\d+$/.test(k) ? Number(k) * 1024 : null };
  });
}

const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(1)} GB`;

/** The first failing path need as an AppError, or null. Pure. */
export function judgePaths(needs: readonly PathNeed[], report: ReturnType<typeof parsePathReport>, minFreeBytes: number): AppError | null {
  for (const [i, n] of needs.entries()) {
    const r = report[i] ?? { state: 'unknown', freeBytes: null };
    const opts = { field: n.field };
    if (n.need === 'read') {
      if (r.state === 'missing') return new AppError('stack.data-path', `The media folder ${n.path} does not exist on the server.`, { ...opts, hint: 'Check the path (it is case-sensitive), or mount the disk that holds it, then try again.' });
      if (r.state === 'not-dir') return new AppError('stack.data-path', `${n.path} on the server is a file, not a folder.`, { ...opts, hint: 'Choose the folder that holds your media.' });
      if (r.state !== 'ok') return new AppError('stack.data-path', `The media folder ${n.path} cannot be read by the SSH user.`, { ...opts, hint: `Give the user read access, for example: sudo chmod -R o+rX '${n.path.replace(/'/g, `'\\''`)}'.` });
      continue;
    }
    if (r.state === 'not-dir' || r.state === 'blocked') return new AppError('stack.data-path', `${n.path} on the server is (or lies under) a file, not a folder.`, { ...opts, hint: 'Choose a folder path.' });
    if (r.state === 'not-writable') return new AppError('stack.data-path', `The folder ${n.path} is not writable by the SSH user.`, { ...opts, hint: `Make the SSH user its owner, for example: sudo chown "$USER": '${n.path.replace(/'/g, `'\\''`)}'.` });
    if (r.state === 'parent-not-writable') return new AppError('stack.data-path', `The folder ${n.path} does not exist, and the SSH user cannot create it.`, { ...opts, hint: 'Create it on the server and make the SSH user its owner, or choose a folder in the user’s reach.' });
    if (r.state === 'unknown') return new AppError('stack.data-path', `The server did not say whether ${n.path} can be used.`, { ...opts, hint: 'Try again; if it repeats, check the folder on the server.' });
    if (n.checkSpace && r.freeBytes !== null && r.freeBytes < minFreeBytes) {
      return new AppError('stack.data-path', `Only ${gib(r.freeBytes)} is free where ${n.path} lives; the stack needs at least ${gib(minFreeBytes)}.`, { ...opts, hint: 'Free some space on that disk, or choose a folder on a larger one.' });
    }
  }
  return null;
}

/**
 * A published port already in use by something other than this stack's own containers. Pure. A service on the host
 * network (the WireGuard endpoint) publishes nothing: while its own container runs, what listens on its port is it.
 */
export function judgePorts(ports: RenderedStack['ports'], listening: { tcp: ReadonlySet<number>; udp: ReadonlySet<number> }, own: readonly ContainerInfo[]): AppError | null {
  const ours = new Set(own.flatMap((c) => c.published.map((p) => `${p.port}/${p.protocol}`)));
  const hostNetworked = new Set(own.filter((c) => c.state === 'running' && c.published.length === 0).map((c) => c.service));
  for (const p of ports) {
    if (ours.has(`${p.port}/${p.protocol}`) || hostNetworked.has(p.service)) continue;
    if ((p.protocol === 'tcp' ? listening.tcp : listening.udp).has(p.port)) {
      return new AppError('stack.port-taken', `Port ${p.port}/${p.protocol} for ${p.service} is already in use on the server by another program.`, {
        field: p.field,
        hint: `Choose another port, or stop what listens there (on the server: sudo ss -lnp${p.protocol === 'tcp' ? 't' : 'u'} 'sport = :${p.port}').`,
      });
    }
  }
  return null;
}

/**
 * Create missing data folders (and missing parents) readable by the SSH user only: they hold databases, configs and
 * backups. umask, not `mkdir -m`, so every folder `-p` makes gets the mode; folders that exist keep theirs (the
 * admin's own). Containers reach them through bind mounts as root or as the admin, never as another user.
 */
export const createDataFolders = (paths: readonly string[]): string[] => ['sh', '-c', 'umask 077 && mkdir -p -- "$@"', 'm2-mkdir', ...paths];

/**
 * Check everything, then create the missing host folders (as the SSH user). Throws the first failure, having
 * changed nothing. Returns this project's containers as they were (for the plan).
 */
export async function checkPreconditions(t: StackTarget, settings: StackSettings, rendered: RenderedStack, opts: { minFreeBytes?: number } = {}): Promise<ContainerInfo[]> {
  const d = dockerCommands(t.dockerAccess, projectOf(t));
  const needs = pathNeeds(settings, rendered);
  // All read-only, so all at once: the checks cost one round trip or two, not six.
  const [info, compose, paths, net, own] = await Promise.all([
    t.conn.exec(d.info(), { timeoutMs: 30_000 }),
    t.conn.exec(d.composeVersion(), { timeoutMs: 30_000 }),
    needs.length > 0 ? t.conn.exec(['sh', '-c', PATHS_SCRIPT, 'm2-paths', ...needs.map((n) => `${n.need}:${n.path}`)]) : Promise.resolve({ code: 0, stdout: '', stderr: '' }),
    t.conn.exec(['sh', '-c', 'for f do echo "@@file $f"; cat "$f" 2>/dev/null; done; :', 'm2-ports', ...PROC_NET_FILES]),
    projectContainers(t).catch((err: unknown) => err as Error),
  ]);
  checkExit(d.info(), info, DOCKER_UNAVAILABLE, { lines: 2 });
  checkExit(d.composeVersion(), compose, {
    code: 'stack.docker-unavailable',
    message: () => 'Docker Compose v2 is not installed on the server.',
    hint: 'Install the docker-compose-plugin package (or Docker Engine from docker.com), then try again.',
  });
  if (own instanceof Error) throw own;
  const pathError = judgePaths(needs, parsePathReport(paths.stdout, needs.length), opts.minFreeBytes ?? MIN_FREE_BYTES);
  if (pathError) throw pathError;
  const sections = net.stdout.split(/^@@file /m);
  const text = (proto: 'tcp' | 'udp'): string => sections.filter((s) => s.startsWith(`/proc/net/${proto}`)).join('\n');
  const portError = judgePorts(rendered.ports, { tcp: parseProcNet(text('tcp'), 'tcp'), udp: parseProcNet(text('udp'), 'udp') }, own);
  if (portError) throw portError;

  const toCreate = needs.filter((n) => n.need !== 'read').map((n) => n.path);
  if (toCreate.length > 0) await run(t, createDataFolders(toCreate), 'Creating the data folders');
  return own;
}
