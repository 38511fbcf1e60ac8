/**
 * Releases on the server: reading `current` and manifests, uploading a release (`.partial` first, then one
 * `mv`), the project's containers, and garbage collection. Every command is argv; every file with a secret
 * is written over SFTP with mode 0600.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { Argv } from '../ssh/argv';
import { checkExit, runChecked, type FailureWords } from '../ssh/remote-command';
import type { ExecOptions, ExecResult } from '../ssh/runner';
import { composeGlobalArgs, dockerCommands, parseInspect, type ComposeFiles, type ContainerInfo, type DockerAccessKind } from './compose-commands';
import { layoutOf, partialDir, RELEASE_ID, releaseDir, type M2Layout } from './layout';
import { DEFAULT_KEEP_RELEASES, releasesToPrune } from './retention';
import type { RenderedStack } from './types';

/** What the engine needs of the SSH connection (SshConnection has all of it). */
export interface StackConnection {
  exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult>;
  spawn(argv: Argv): Promise<{ channel: ClientChannel; release: () => void }>;
  writeFileAtomic(remotePath: string, data: string | Uint8Array, opts?: { mode?: number }): Promise<{ sha256: string }>;
  readFile(remotePath: string): Promise<Buffer>;
}

/** One server's stack: where it lives and how Docker is reached. */
export interface StackTarget {
  readonly conn: StackConnection;
  readonly dockerAccess: DockerAccessKind;
  /** Absolute `~/m2` (resolveM2Dir). */
  readonly m2Dir: string;
  /** Compose project name; `m2` in the product. */
  readonly project?: string;
  readonly profileId: string;
}

export const DEFAULT_PROJECT = 'm2';
export const projectOf = (t: StackTarget): string => t.project ?? DEFAULT_PROJECT;

/** The manifest each release carries (`release.json`): what it holds, for plans, status and GC. */
export interface ReleaseManifest {
  readonly id: string;
  readonly createdAt: string;
  readonly digest: string;
  readonly project: string;
  readonly envFiles: readonly string[];
  readonly files: ReadonlyArray<{ readonly path: string; readonly mode: number; readonly secret: boolean }>;
  readonly moduleFiles: readonly string[];
  readonly services: ReadonlyArray<{ readonly name: string; readonly module: string | null; readonly image: string }>;
  readonly state: 'staged' | 'live' | 'failed';
}

export const MANIFEST = 'release.json';
export const COMPOSE_ARGS = 'compose.args';

/** Run argv; a non-zero exit becomes `stack.remote-failed` with compose's (masked) stderr, the command kept for the log. */
export async function run(t: StackTarget, argv: Argv, what: string, secrets: RenderedStack['secretValues'] = [], opts: ExecOptions = {}): Promise<ExecResult> {
  return runChecked(
    t.conn,
    argv,
    { code: 'stack.remote-failed', message: (said) => `${what} failed on the server: ${said}`, hint: 'Check the connection and the server’s free space, then try again.' },
    { secrets, exec: opts },
  );
}

export { lastLines } from '../ssh/remote-command';

/** The live release id, or null before the first install. */
export async function readCurrent(t: StackTarget): Promise<string | null> {
  const r = await t.conn.exec(['readlink', '--', layoutOf(t.m2Dir).current]);
  if (r.code !== 0) return null;
  const id = r.stdout.trim().replace(/^releases\//, '');
  return RELEASE_ID.test(id) ? id : null;
}

/** Release ids (complete ones) and `.partial` leftovers. */
export async function listReleases(t: StackTarget): Promise<{ ids: string[]; partials: string[] }> {
  const r = await t.conn.exec(['ls', '-1A', '--', layoutOf(t.m2Dir).releases]);
  if (r.code !== 0) return { ids: [], partials: [] };
  const names = r.stdout.split('\n').map((s) => s.trim());
  return {
    ids: names.filter((n) => RELEASE_ID.test(n)).sort(),
    partials: names.filter((n) => n.endsWith('.partial') && RELEASE_ID.test(n.slice(0, -'.partial'.length))),
  };
}

export async function readManifest(t: StackTarget, id: string): Promise<ReleaseManifest | null> {
  try {
    const m = JSON.parse((await t.conn.readFile(`${releaseDir(layoutOf(t.m2Dir), id)}/${MANIFEST}`)).toString('utf8')) as ReleaseManifest;
    return m.id === id ? m : null;
  } catch {
    return null;
  }
}

/** The release that was live before `id` went live (written by the guard on commit). */
export async function readPrevious(t: StackTarget, id: string): Promise<string | null> {
  try {
    const p = (await t.conn.readFile(`${releaseDir(layoutOf(t.m2Dir), id)}/previous`)).toString('utf8').trim();
    return RELEASE_ID.test(p) ? p : null;
  } catch {
    return null;
  }
}

/** Compose files of a release folder (final or `.partial`): project dir is always `<m2Dir>`. */
export const composeFilesOf = (t: StackTarget, dir: string, envFiles: readonly string[]): ComposeFiles => ({ project: projectOf(t), projectDir: t.m2Dir, dir, envFiles });

/** This project's containers (one-off `compose run` containers left out). */
export async function projectContainers(t: StackTarget): Promise<ContainerInfo[]> {
  const d = dockerCommands(t.dockerAccess, projectOf(t));
  const ids = await t.conn.exec(d.projectContainerIds());
  checkExit(d.projectContainerIds(), ids, DOCKER_UNAVAILABLE, { lines: 2 });
  const list = ids.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{12,64}$/.test(s));
  if (list.length === 0) return [];
  const r = await t.conn.exec(d.inspect(list));
  // A container removed between ps and inspect: inspect prints the others and exits 1.
  const rows = r.stdout.trim().startsWith('[') ? parseInspect(r.stdout) : [];
  return rows.filter((c) => c.project === projectOf(t) && !c.oneoff).sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
}

/** What to say when Docker itself does not answer (`docker info`, `docker ps`). */
export const DOCKER_UNAVAILABLE: FailureWords = {
  code: 'stack.docker-unavailable',
  message: (said) => `Docker does not answer on the server: ${said}.`,
  hint: 'Start Docker on the server (sudo systemctl start docker) and check that the SSH user may use it; then run the preflight again.',
};

/** `~/m2`, its releases/, files/, bin/ and .staging/, private to the SSH user. */
export async function ensureLayout(t: StackTarget): Promise<M2Layout> {
  const l = layoutOf(t.m2Dir);
  // One round trip: the folders as arguments, private to the user (files/ stays traversable for nobody else either).
  await run(t, ['sh', '-c', 'mkdir -p -- "$@" && chmod 700 -- "$@"', 'm2-layout', l.root, l.releases, l.files, l.bin, l.staging], 'Creating ~/m2');
  return l;
}

const validEnvName = (p: string): boolean => /^env\/[A-Za-z0-9][A-Za-z0-9._-]*\.env$/.test(p);
const validReleasePath = (p: string): boolean => p === 'compose.yaml' || validEnvName(p);

/** Release files in a folder: compose.yaml and env files, every env file 0600. Paths checked before anything is written. */
export async function writeReleaseFiles(t: StackTarget, dir: string, rendered: RenderedStack): Promise<void> {
  for (const f of rendered.releaseFiles) {
    if (!validReleasePath(f.path)) throw new Error(`unexpected release file ${f.path}`);
  }
  for (const e of rendered.envFiles) if (!validEnvName(e)) throw new Error(`unexpected env file ${e}`);
  await run(t, ['mkdir', '-p', '-m', '700', '--', dir, `${dir}/env`], 'Creating the release folder');
  await Promise.all(rendered.releaseFiles.map((f) => t.conn.writeFileAtomic(`${dir}/${f.path}`, f.content, { mode: f.path.startsWith('env/') || f.secret ? 0o600 : f.mode })));
}

/** Module files not yet on the server, written once (content-addressed); returns the folders created. */
export async function uploadModuleFiles(t: StackTarget, rendered: RenderedStack): Promise<string[]> {
  const l = layoutOf(t.m2Dir);
  const files = rendered.moduleFiles.filter((f) => {
    if (!f.path.startsWith(`${l.files}/`) || f.path.split('/').includes('..')) throw new Error(`module file outside ${l.files}: ${f.path}`);
    return true;
  });
  if (files.length === 0) return [];
  const r = await t.conn.exec(['sh', '-c', 'for f do if [ -e "$f" ]; then echo y; else echo n; fi; done', 'm2-exists', ...files.map((f) => f.path)]);
  const present = r.stdout.split('\n');
  const missing = files.filter((_, i) => present[i] !== 'y');
  const dirs = [...new Set(missing.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))))];
  const { created } = await createDirs(t, dirs);
  for (const f of missing) await t.conn.writeFileAtomic(f.path, f.content, { mode: f.mode });
  return created;
}

async function createDirs(t: StackTarget, dirs: readonly string[]): Promise<{ created: string[] }> {
  if (dirs.length === 0) return { created: [] };
  const r = await t.conn.exec(['sh', '-c', 'for d do if [ -d "$d" ]; then echo y; else echo n; fi; done', 'm2-dirs', ...dirs]);
  const there = r.stdout.split('\n');
  const created = dirs.filter((_, i) => there[i] !== 'y');
  if (created.length > 0) await run(t, ['mkdir', '-p', '--', ...created], 'Creating module file folders');
  return { created };
}

export function manifestOf(t: StackTarget, id: string, rendered: RenderedStack, now: Date): ReleaseManifest {
  return {
    id,
    createdAt: now.toISOString(),
    digest: rendered.digest,
    project: projectOf(t),
    envFiles: rendered.envFiles,
    files: rendered.releaseFiles.map((f) => ({ path: f.path, mode: f.mode, secret: f.secret })),
    moduleFiles: rendered.moduleFiles.map((f) => f.path),
    services: Object.keys(rendered.serviceImages)
      .sort()
      .map((name) => ({ name, module: rendered.serviceModules[name] ?? null, image: rendered.serviceImages[name] ?? '' })),
    state: 'staged',
  };
}

/**
 * Upload a release to `releases/<id>.partial/`: compose.yaml, env files (0600), compose.args (the global
 * compose arguments with the release's final paths, one a line, for the guard) and release.json.
 */
export async function uploadRelease(t: StackTarget, rendered: RenderedStack, id: string, now: Date): Promise<{ partial: string; final: string }> {
  const l = layoutOf(t.m2Dir);
  const partial = partialDir(l, id);
  const final = releaseDir(l, id);
  await run(t, ['rm', '-rf', '--', partial], 'Removing an unfinished upload');
  await writeReleaseFiles(t, partial, rendered);
  const args = composeGlobalArgs(composeFilesOf(t, final, rendered.envFiles));
  if (args.some((a) => /[\n\r]/.test(a))) throw new Error('a compose argument contains a line break');
  await t.conn.writeFileAtomic(`${partial}/${COMPOSE_ARGS}`, `${args.join('\n')}\n`, { mode: 0o600 });
  await t.conn.writeFileAtomic(`${partial}/${MANIFEST}`, `${JSON.stringify(manifestOf(t, id, rendered, now), null, 2)}\n`, { mode: 0o600 });
  return { partial, final };
}

export async function finalizeRelease(t: StackTarget, id: string): Promise<void> {
  const l = layoutOf(t.m2Dir);
  await run(t, ['mv', '-T', '--', partialDir(l, id), releaseDir(l, id)], 'Completing the release upload');
}

export async function setManifestState(t: StackTarget, id: string, state: ReleaseManifest['state']): Promise<void> {
  const m = await readManifest(t, id);
  if (!m || m.state === state) return;
  await t.conn.writeFileAtomic(`${releaseDir(layoutOf(t.m2Dir), id)}/${MANIFEST}`, `${JSON.stringify({ ...m, state }, null, 2)}\n`, { mode: 0o600 });
}

/** A fresh private scratch folder under `.staging/` (for a plan's `config --hash`). */
export async function makeStaging(t: StackTarget): Promise<string> {
  const l = await ensureLayout(t);
  const dir = `${l.staging}/${randomBytes(8).toString('hex')}`;
  await run(t, ['mkdir', '-m', '700', '--', dir], 'Creating a staging folder');
  return dir;
}

/**
 * Keep the live release and its rollback target (`protect`), releases an apply is using (`pin`, counted against
 * `keep`) and the newest others up to `keep` (retention.ts); remove the rest with their env files (the secrets
 * go with them), `.partial` leftovers, stale staging folders (older than an hour: a plan may be running), and
 * module-file folders no kept release refers to. Must run under the apply lock (the guard holds it), so no
 * concurrent apply is uploading. A release's manifest is removed first: one cut off half-way is never
 * taken for complete (and reused) by a later apply.
 */
export async function collectGarbage(
  t: StackTarget,
  opts: { keep?: number; protect: readonly (string | null)[]; pin?: readonly (string | null)[] },
): Promise<{ removedReleases: string[]; removedFiles: string[] }> {
  const l = layoutOf(t.m2Dir);
  const { ids, partials } = await listReleases(t);
  const removedReleases = releasesToPrune({ ids, protect: opts.protect, pin: opts.pin ?? [], keep: opts.keep ?? DEFAULT_KEEP_RELEASES });
  const kept = ids.filter((id) => !removedReleases.includes(id));
  const doomed = [...removedReleases.map((id) => releaseDir(l, id)), ...partials.map((p) => `${l.releases}/${p}`)];
  const [manifests, ls] = await Promise.all([
    Promise.all(kept.map((id) => readManifest(t, id))),
    t.conn.exec(['ls', '-1A', '--', l.files]),
    doomed.length > 0 ? run(t, ['sh', '-c', `for d do rm -f -- "$d/${MANIFEST}" || exit 1; done; exec rm -rf -- "$@"`, 'm2-prune', ...doomed], 'Removing old releases') : Promise.resolve(),
    t.conn.exec(['find', l.staging, '-mindepth', '1', '-maxdepth', '1', '-mmin', '+60', '-exec', 'rm', '-rf', '--', '{}', '+']),
  ]);
  // A kept release without a readable manifest might use any file: keep them all.
  if (manifests.some((m) => m === null)) return { removedReleases, removedFiles: [] };
  const referenced = new Set(manifests.flatMap((m) => (m?.moduleFiles ?? []).map((p) => p.slice(0, p.lastIndexOf('/')))));
  const dirs = ls.code === 0 ? ls.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{16}$/.test(s)) : [];
  const removedFiles = dirs.map((d) => `${l.files}/${d}`).filter((d) => !referenced.has(d));
  if (removedFiles.length > 0) await run(t, ['rm', '-rf', '--', ...removedFiles], 'Removing unused module files');
  return { removedReleases, removedFiles };
}

/**
 * Whether release `id` on the server holds everything an apply of `rendered` needs, so it can be used as it
 * is: its manifest has the same digest and project, its compose.args are what this app would write for it, and
 * compose.yaml and every env file hold exactly what this apply would write (a file edited on the server is not
 * reused: the apply uploads a fresh copy).
 */
export async function releaseIsComplete(t: StackTarget, id: string, rendered: Pick<RenderedStack, 'digest' | 'envFiles' | 'releaseFiles'>): Promise<boolean> {
  const dir = releaseDir(layoutOf(t.m2Dir), id);
  const manifest = await readManifest(t, id);
  if (!manifest || manifest.digest !== rendered.digest || manifest.project !== projectOf(t)) return false;
  const paths = rendered.releaseFiles.map((f) => f.path);
  if (!paths.every(validReleasePath)) return false;
  const want = `${composeGlobalArgs(composeFilesOf(t, dir, rendered.envFiles)).join('\n')}\n`;
  const [args, present] = await Promise.all([
    t.conn.readFile(`${dir}/${COMPOSE_ARGS}`).then((b) => b.toString('utf8'), () => null),
    t.conn.exec(['sha256sum', '--', ...paths.map((p) => `${dir}/${p}`)]),
  ]);
  if (args !== want || present.code !== 0) return false;
  const have = present.stdout.split('\n').map((l) => l.split(/\s+/)[0]);
  return rendered.releaseFiles.every((f, i) => have[i] === createHash('sha256').update(f.content, 'utf8').digest('hex'));
}
