/**
 * The plan: what an apply would change on the server. Files are compared with the live release's (read over
 * SFTP) and shown masked; services by Compose's own config hash against each running container's
 * `com.docker.compose.config-hash` label, exactly the comparison `up` makes to decide what to recreate.
 */
import type { FileChange, ServiceChange, StackPlan } from '../../contract/stack';
import { remoteCommandFailed } from '../ssh/remote-command';
import { composeCommands, dockerCommands, parseConfigHashes, parseImageIds, type ContainerInfo } from './compose-commands';
import { layoutOf, releaseDir } from './layout';
import { unifiedDiff } from './line-diff';
import { maskedEnvPair, maskEnvFile, maskSecrets } from './mask';
import { composeFilesOf, makeStaging, projectContainers, projectOf, readCurrent, readManifest, writeReleaseFiles, type ReleaseManifest, type StackTarget } from './remote-release';
import type { RenderedStack } from './types';

const modeString = (m: number): string => `0${(m & 0o777).toString(8)}`;

/** Compare services: pure. `hashes` from `config --hash '*'` of the new release; `imageIds` local image ids by ref. */
export function serviceChanges(rendered: RenderedStack, hashes: ReadonlyMap<string, string>, containers: readonly ContainerInfo[], imageIds: ReadonlyMap<string, string | null>): ServiceChange[] {
  const out: ServiceChange[] = [];
  const names = [...new Set([...hashes.keys(), ...Object.keys(rendered.serviceImages)])].filter((s) => hashes.has(s)).sort();
  for (const service of names) {
    const image = rendered.serviceImages[service] ?? null;
    const module = rendered.serviceModules[service] ?? null;
    const mine = containers.filter((c) => c.service === service);
    const base = { service, module, image };
    if (mine.length === 0) {
      out.push({ ...base, action: 'create', reason: 'new service' });
      continue;
    }
    const stale = mine.find((c) => c.configHash !== hashes.get(service));
    if (stale) {
      out.push({ ...base, action: 'recreate', reason: image !== null && stale.image !== image ? `new image ${image}` : 'configuration changed' });
      continue;
    }
    const localId = image === null ? null : (imageIds.get(image) ?? null);
    if (localId !== null && mine.some((c) => c.imageId !== '' && c.imageId !== localId)) {
      out.push({ ...base, action: 'recreate', reason: `image ${image ?? ''} was updated` });
      continue;
    }
    if (mine.some((c) => c.state !== 'running')) {
      out.push({ ...base, action: 'create', reason: `${mine.find((c) => c.state !== 'running')?.state ?? 'stopped'}; will be started` });
      continue;
    }
    out.push({ ...base, action: 'unchanged', reason: 'no change' });
  }
  const gone = [...new Set(containers.map((c) => c.service))].filter((s) => !hashes.has(s)).sort();
  for (const service of gone) {
    const c = containers.find((x) => x.service === service);
    out.push({ service, module: null, action: 'remove', reason: 'not in the new configuration', image: c?.image ?? null });
  }
  return out;
}

/** Compare files with the live release: pure, given the old contents. Paths relative to the release (module files as `files/<sha16>/<name>`). */
export function fileChanges(rendered: RenderedStack, m2Dir: string, old: { manifest: ReleaseManifest | null; contents: ReadonlyMap<string, string> }): FileChange[] {
  const secrets = rendered.secretValues;
  const out: FileChange[] = [];
  const rel = (abs: string): string => abs.slice(m2Dir.length + 1);
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  for (const f of rendered.releaseFiles) {
    const before = old.contents.get(f.path);
    const isEnv = f.path.startsWith('env/');
    const preview = f.masked;
    if (before === undefined) {
      out.push({ path: f.path, status: 'added', secret: f.secret, mode: modeString(isEnv ? 0o600 : f.mode), preview, diff: '' });
      continue;
    }
    if (before === f.content) {
      out.push({ path: f.path, status: 'unchanged', secret: f.secret, mode: modeString(isEnv ? 0o600 : f.mode), preview, diff: '' });
      continue;
    }
    const pair = isEnv ? maskedEnvPair(before, f.content) : { before: maskSecrets(before, secrets), after: f.masked };
    out.push({ path: f.path, status: 'changed', secret: f.secret, mode: modeString(isEnv ? 0o600 : f.mode), preview, diff: maskSecrets(unifiedDiff(pair.before, pair.after, f.path), secrets) });
  }
  for (const p of old.manifest?.files ?? []) {
    if (rendered.releaseFiles.some((f) => f.path === p.path)) continue;
    const before = old.contents.get(p.path) ?? '';
    const masked = p.path.startsWith('env/') ? maskEnvFile(before) : maskSecrets(before, secrets);
    out.push({ path: p.path, status: 'removed', secret: p.secret, mode: modeString(p.mode), preview: '', diff: unifiedDiff(masked, '', p.path) });
  }
  const oldModule = old.manifest?.moduleFiles ?? [];
  for (const f of rendered.moduleFiles) {
    const path = rel(f.path);
    if (oldModule.includes(f.path)) {
      out.push({ path, status: 'unchanged', secret: false, mode: modeString(f.mode), preview: f.masked, diff: '' });
      continue;
    }
    const previous = oldModule.find((p) => base(p) === base(f.path));
    const before = previous === undefined ? undefined : old.contents.get(rel(previous));
    if (previous === undefined || before === undefined) {
      out.push({ path, status: 'added', secret: false, mode: modeString(f.mode), preview: f.masked, diff: '' });
    } else {
      out.push({ path, status: 'changed', secret: false, mode: modeString(f.mode), preview: f.masked, diff: maskSecrets(unifiedDiff(before, f.content, `files/${base(f.path)}`), secrets) });
    }
  }
  for (const p of oldModule) {
    if (rendered.moduleFiles.some((f) => base(f.path) === base(p))) continue;
    out.push({ path: rel(p), status: 'removed', secret: false, mode: '0644', preview: '', diff: '' });
  }
  return out;
}

/** Read the live release's files (release files and module files) over SFTP. */
async function readLive(t: StackTarget, current: string | null): Promise<{ manifest: ReleaseManifest | null; contents: Map<string, string> }> {
  const contents = new Map<string, string>();
  if (!current) return { manifest: null, contents };
  const manifest = await readManifest(t, current);
  const dir = releaseDir(layoutOf(t.m2Dir), current);
  const paths = manifest ? manifest.files.map((f) => f.path) : ['compose.yaml'];
  await Promise.all([
    ...paths.map(async (p) => {
      const text = await t.conn.readFile(`${dir}/${p}`).then((b) => b.toString('utf8'), () => undefined);
      if (text !== undefined) contents.set(p, text);
    }),
    ...(manifest?.moduleFiles ?? []).map(async (abs) => {
      const text = await t.conn.readFile(abs).then((b) => b.toString('utf8'), () => undefined);
      if (text !== undefined) contents.set(abs.slice(t.m2Dir.length + 1), text);
    }),
  ]);
  return { manifest, contents };
}

/**
 * Validate and hash in one compose run: `config --hash '*'` loads, interpolates and checks the whole project
 * like `config --quiet` does (and fails with the same message), and never prints the interpolated config.
 */
export async function validateAndHash(t: StackTarget, dir: string, rendered: Pick<RenderedStack, 'envFiles' | 'secretValues'>): Promise<Map<string, string>> {
  const c = composeCommands(t.dockerAccess, composeFilesOf(t, dir, rendered.envFiles));
  const hash = await t.conn.exec(c.configHash(), { timeoutMs: 60_000 });
  const hashes = parseConfigHashes(hash.stdout);
  // No hashes from a zero exit is a rejection too.
  if (hash.code !== 0 || hashes.size === 0) {
    throw remoteCommandFailed(c.configHash(), hash, {
      code: 'stack.compose-invalid',
      message: (said) => `docker compose on the server rejected the configuration: ${said}`,
      hint: 'This is a bug in M2 Companion’s rendering, or the server’s Compose is too old (2.21 or later is needed). Nothing was changed.',
    }, { secrets: rendered.secretValues, lines: 4 });
  }
  return hashes;
}

export async function localImageIds(t: StackTarget, refs: readonly string[]): Promise<Map<string, string | null>> {
  if (refs.length === 0) return new Map();
  const r = await t.conn.exec(dockerCommands(t.dockerAccess, projectOf(t)).imageIds(refs));
  return parseImageIds(r.stdout, refs);
}

export const distinctImages = (rendered: RenderedStack): string[] => [...new Set(Object.values(rendered.serviceImages))].sort();

/**
 * What applying `rendered` would change. Uploads compose.yaml and the env files (0600) to a private staging
 * folder for Compose to hash, and removes it again; changes nothing else on the server.
 */
export async function planStack(t: StackTarget, rendered: RenderedStack): Promise<Omit<StackPlan, 'profileId'>> {
  const current = await readCurrent(t);
  const staging = await makeStaging(t);
  try {
    await writeReleaseFiles(t, staging, rendered);
    const images = distinctImages(rendered);
    const [hashes, containers, imageIds, live] = await Promise.all([validateAndHash(t, staging, rendered), projectContainers(t), localImageIds(t, images), readLive(t, current)]);
    const services = serviceChanges(rendered, hashes, containers, imageIds);
    const files = fileChanges(rendered, t.m2Dir, live);
    const imageList = images.map((ref) => ({ ref, present: imageIds.get(ref) != null }));
    const warnings: string[] = [];
    const missing = imageList.filter((i) => !i.present).map((i) => i.ref);
    if (missing.length > 0) warnings.push(`${missing.length === 1 ? 'This image is' : 'These images are'} not on the server yet and will be downloaded: ${missing.join(', ')}.`);
    const noop = current !== null && files.every((f) => f.status === 'unchanged') && services.every((s) => s.action === 'unchanged');
    return { currentRelease: current, files, services, images: imageList, warnings, noop };
  } finally {
    await t.conn.exec(['rm', '-rf', '--', staging]).catch(() => undefined);
  }
}
