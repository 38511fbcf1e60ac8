/**
 * The no-op check: before an apply takes the lock, uploads and runs `up --wait`, one remote command asks the
 * server whether there is anything to do at all. It answers with the live release's file hashes, Compose's
 * config hashes for that release, the local image ids and the project's containers; the app decides (pure,
 * `judgeNoop`). Only when every one of these matches what this apply would put there — the same files, each
 * container on its service's config hash and its image's current id, every service running and healthy (or
 * running without a health check), no container of a service the release no longer has, no apply holding the
 * lock — is the apply answered "nothing to change" without touching a container. Anything else, or any doubt
 * (a command that failed, output that does not parse), takes the full, health-gated path.
 */
import { createHash } from 'node:crypto';
import type { ServiceChange, ServiceHealth } from '../../contract/stack';
import type { Argv } from '../ssh/argv';
import { composeGlobalArgs, IMAGE_IDS_FORMAT, PROJECT_LABEL, parseConfigHashes, parseImageIds, parseInspect, type ContainerInfo } from './compose-commands';
import { healthOf } from './apply';
import { layoutOf, RELEASE_ID } from './layout';
import { distinctImages, serviceChanges } from './plan';
import { composeFilesOf, projectOf, type StackTarget } from './remote-release';
import type { RenderedStack } from './types';

/**
 * The server's side, a constant: `$1` ~/m2, `$2` the project, `$3` 1 for sudo, `$4` the image refs (one
 * argument, space-separated; refs are checked to be plain tokens first), `$5` how many files follow, the files,
 * then Compose's global arguments for the live release (through `current`). Sections start with `@@m2 `.
 */
export const NOOP_SCRIPT = [
  'set -f',
  'm2=$1 proj=$2 sudo=$3 imgs=$4 n=$5 fmt=$6; shift 6',
  'dk() { if [ "$sudo" = 1 ]; then sudo -n -- docker "$@"; else docker "$@"; fi; }',
  // The apply lock, held for the check (an apply cannot start half-way through it); an apply running now: its
  // containers are in flux, so nothing is judged (the full path says "busy").
  'if [ ! -d "$m2" ] || ! { exec 9>>"$m2/.lock" && flock -n 9; }; then echo "@@m2 busy"; exit 0; fi',
  'printf "@@m2 current %s\\n" "$(readlink -- "$m2/current")"',
  'while [ "$n" -gt 0 ]; do h=$(sha256sum -- "$1" 2>/dev/null) || h=-; printf "@@m2 file %s\\n" "${h%% *}"; shift; n=$((n-1)); done',
  'echo "@@m2 hashes"; dk compose "$@" config --hash "*" 2>/dev/null || echo "@@m2 failed"',
  'echo "@@m2 images"; dk image inspect --format "$fmt" $imgs 2>/dev/null',
  'echo "@@m2 containers"; ids=$(dk ps --all --quiet --no-trunc --filter "label=' + PROJECT_LABEL + '=$proj") || { echo "@@m2 failed"; exit 0; }',
  '[ -z "$ids" ] || dk inspect --type container $ids || echo "@@m2 failed"',
  'echo "@@m2 end"',
].join('\n');

/** Image refs that can travel as one space-separated argument: no spaces, quotes or glob characters. */
const plainRef = (r: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(r);

/** Every file the live release must hold as this apply would write it: release files (through `current`), then module files. */
export function expectedFiles(t: Pick<StackTarget, 'm2Dir'>, rendered: Pick<RenderedStack, 'releaseFiles' | 'moduleFiles'>): Array<{ path: string; sha256: string }> {
  const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
  const current = layoutOf(t.m2Dir).current;
  return [...rendered.releaseFiles.map((f) => ({ path: `${current}/${f.path}`, sha256: sha(f.content) })), ...rendered.moduleFiles.map((f) => ({ path: f.path, sha256: sha(f.content) }))];
}

/** The one command (argv; every value an argument of the constant script), or null when a ref cannot travel that way. */
export function noopCheckArgv(t: StackTarget, rendered: RenderedStack): Argv | null {
  const refs = distinctImages(rendered);
  if (!refs.every(plainRef)) return null;
  const files = expectedFiles(t, rendered);
  const compose = composeGlobalArgs(composeFilesOf(t, layoutOf(t.m2Dir).current, rendered.envFiles));
  return ['sh', '-c', NOOP_SCRIPT, 'm2-noop', t.m2Dir, projectOf(t), t.dockerAccess === 'sudo' ? '1' : '0', refs.join(' '), String(files.length), IMAGE_IDS_FORMAT, ...files.map((f) => f.path), ...compose];
}

/** What the server said, in sections. */
export interface NoopObservation {
  readonly busy: boolean;
  readonly complete: boolean;
  readonly current: string | null;
  readonly fileHashes: readonly string[];
  /** null when `config --hash` failed. */
  readonly hashes: ReadonlyMap<string, string> | null;
  readonly imageIds: ReadonlyMap<string, string | null>;
  /** null when Docker did not list or inspect them. */
  readonly containers: readonly ContainerInfo[] | null;
}

export function parseNoopOutput(stdout: string, refs: readonly string[], project: string): NoopObservation {
  const sections = new Map<string, string[]>();
  let section = '';
  let current: string | null = null;
  const fileHashes: string[] = [];
  let busy = false;
  let complete = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@@m2 ')) {
      const [, word, ...rest] = line.split(' ');
      const value = rest.join(' ').trim();
      if (word === 'busy') busy = true;
      else if (word === 'current') current = value.replace(/^releases\//, '');
      else if (word === 'file') fileHashes.push(value);
      else if (word === 'end') complete = true;
      else if (word === 'failed') sections.set(`${section}!`, []);
      else section = word ?? '';
      continue;
    }
    if (section) sections.set(section, [...(sections.get(section) ?? []), line]);
  }
  const text = (s: string): string => (sections.get(s) ?? []).join('\n');
  let containers: ContainerInfo[] | null = null;
  if (!sections.has('containers!')) {
    const json = text('containers').trim();
    try {
      containers = json === '' ? [] : parseInspect(json).filter((c) => c.project === project && !c.oneoff);
    } catch {
      containers = null;
    }
  }
  return {
    busy,
    complete,
    current: current !== null && RELEASE_ID.test(current) ? current : null,
    fileHashes,
    hashes: sections.has('hashes!') ? null : parseConfigHashes(text('hashes')),
    imageIds: parseImageIds(text('images'), refs),
    containers,
  };
}

export type NoopVerdict =
  | { readonly kind: 'unchanged'; readonly releaseId: string; readonly services: ServiceChange[]; readonly health: ServiceHealth[] }
  | { readonly kind: 'changed'; readonly reason: string };

/** Pure: whether `obs` proves that applying `rendered` would change nothing. The first difference found is the reason. */
export function judgeNoop(t: Pick<StackTarget, 'm2Dir'>, rendered: RenderedStack, obs: NoopObservation): NoopVerdict {
  const changed = (reason: string): NoopVerdict => ({ kind: 'changed', reason });
  if (obs.busy) return changed('another apply holds the lock');
  if (!obs.complete) return changed('the check did not finish');
  if (obs.current === null) return changed('no live release');
  const files = expectedFiles(t, rendered);
  if (obs.fileHashes.length !== files.length) return changed('the file check did not finish');
  for (const [i, f] of files.entries()) if (obs.fileHashes[i] !== f.sha256) return changed(`${f.path} differs on the server`);
  if (obs.hashes === null || obs.hashes.size === 0) return changed('Compose did not hash the live release');
  if (obs.containers === null) return changed('Docker did not list the containers');
  const services = Object.keys(rendered.serviceImages).sort();
  const hashed = [...obs.hashes.keys()].sort();
  if (hashed.join(' ') !== services.join(' ')) return changed('the live release has other services');
  for (const ref of distinctImages(rendered)) if (obs.imageIds.get(ref) == null) return changed(`image ${ref} is not on the server`);
  const changes = serviceChanges(rendered, obs.hashes, obs.containers, obs.imageIds);
  const different = changes.find((s) => s.action !== 'unchanged');
  if (different) return changed(`${different.service}: ${different.reason}`);
  // serviceChanges leaves a container without an image id alone; here every one must run the image's current id.
  for (const c of obs.containers) {
    const ref = rendered.serviceImages[c.service];
    if (ref === undefined || c.imageId !== obs.imageIds.get(ref)) return changed(`${c.service}: its container does not run ${ref ?? 'a known image'}`);
  }
  const health = healthOf(services, obs.containers, rendered.serviceImages);
  const unwell = health.find((h) => h.state !== 'running' || (h.health !== 'healthy' && h.health !== ''));
  if (unwell) return changed(`${unwell.service} is ${unwell.state === 'running' ? unwell.health || 'not healthy' : unwell.state}`);
  return { kind: 'unchanged', releaseId: obs.current, services: changes, health };
}

/** One round trip: the verdict, or `changed` with the reason when anything is in doubt (a failed exec included). */
export async function checkNothingToChange(t: StackTarget, rendered: RenderedStack, signal?: AbortSignal): Promise<NoopVerdict> {
  const argv = noopCheckArgv(t, rendered);
  if (argv === null) return { kind: 'changed', reason: 'an image name the check cannot pass' };
  try {
    const r = await t.conn.exec(argv, { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
    if (r.code !== 0) return { kind: 'changed', reason: `the check exited with ${String(r.code)}` };
    return judgeNoop(t, rendered, parseNoopOutput(r.stdout, distinctImages(rendered), projectOf(t)));
  } catch (err) {
    return { kind: 'changed', reason: `the check failed (${err instanceof Error ? err.message : String(err)})` };
  }
}

/** What the admin reads for a no-op apply. */
export const nothingToChangeMessage = (health: readonly ServiceHealth[]): string => {
  const n = new Set(health.map((h) => h.service)).size;
  return `Nothing to change; all ${String(n)} ${n === 1 ? 'service' : 'services'} healthy`;
};
