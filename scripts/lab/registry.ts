/**
 * The lab's image registry: Debian's `docker-registry` (distribution 2.8.2) serving on a loopback port as a daemon
 * the lab owns (pid in .lab/pids/registry.pid, storage in .lab/registry/data), holding stand-in images at two
 * versions so that update checks and pulls run against a real Registry HTTP API v2. No auth, no TLS: Docker treats a
 * registry on 127.0.0.0/8 as insecure by itself (no daemon.json entry needed; checked against the lab's dockerd).
 * The stack reaches it through its `imageRegistry` setting (`127.0.0.1:<port>`), which names every image
 * `<registry>/<upstream path>:<tag>` as a household's mirror would.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pinnedImages, type ImageKey } from '../../electron/core/stack/versions';
import { splitRepository } from '../../electron/core/updates/image-ref';
import { aptEnsure, type AptNeed, whichBin } from './apt';
import { exec } from './docker';
import { ensureStandInImages } from './images';
import { labPath } from './paths';
import { freePort, isAlive, readPid, startDaemon, stopDaemon, waitFor } from './process';

export interface LabRegistry {
  /** `127.0.0.1:<port>`: the value for StackSettings.imageRegistry. */
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly configPath: string;
  readonly storage: string;
  readonly version: string;
  /** What it holds: image key → tags (each pushed from the stand-in of that tag). */
  readonly images: Readonly<Record<string, readonly string[]>>;
}

export const registryPackages: readonly AptNeed[] = [{ bin: 'docker-registry', pkg: 'docker-registry' }];
export const installRegistry = (): Promise<void> => aptEnsure(registryPackages, 'image registry lab');

/** The second version of each image the lab registry holds, beside its pinned one (patch updates, as the policies allow). */
export const LAB_REGISTRY_IMAGES: ReadonlyArray<{ readonly key: ImageKey; readonly tags: readonly string[] }> = [
  { key: 'jellyfin', tags: [pinnedImages.jellyfin.tag, '10.11.12'] },
  { key: 'cloudflared', tags: [pinnedImages.cloudflared.tag, '2026.8.3'] },
];

const dir = (...p: string[]): string => labPath('registry', ...p);
const portFile = (): string => dir('port');

const configYaml = (port: number, storage: string): string =>
  [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${String(port)}`,
    '',
  ].join('\n');

const answers = async (port: number): Promise<boolean> => {
  try {
    const r = await fetch(`http://127.0.0.1:${String(port)}/v2/`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
};

/** The ref a stand-in has in the lab registry: `127.0.0.1:<port>/<upstream path>:<tag>`. */
export const registryRef = (host: string, key: ImageKey, tag: string): string => `${host}/${splitRepository(pinnedImages[key].repository).path}:${tag}`;

/** Start the registry when it does not run (idempotent: a running one on its recorded port is kept). */
export async function startRegistry(): Promise<{ port: number; pid: number }> {
  await installRegistry();
  mkdirSync(dir('data'), { recursive: true, mode: 0o700 });
  const pid = readPid('registry');
  const recorded = existsSync(portFile()) ? Number(readFileSync(portFile(), 'utf8').trim()) : 0;
  if (pid !== undefined && isAlive(pid) && recorded > 0 && (await answers(recorded))) return { port: recorded, pid };
  if (pid !== undefined && isAlive(pid)) await stopDaemon('registry');
  const port = await freePort();
  writeFileSync(dir('config.yml'), configYaml(port, dir('data')), { mode: 0o600 });
  writeFileSync(portFile(), `${String(port)}\n`);
  const started = startDaemon('registry', whichBin('docker-registry') ?? '/usr/bin/docker-registry', ['serve', dir('config.yml')]);
  await waitFor('the lab image registry', () => answers(port), 20_000, 100);
  return { port, pid: started };
}

/** Tag each stand-in version under the registry's name and push it (a push of what the registry has is a few HEADs). */
export async function pushToRegistry(host: string, images: typeof LAB_REGISTRY_IMAGES): Promise<void> {
  for (const { key, tags } of images) {
    for (const tag of tags) {
      const source = `${pinnedImages[key].repository}:${tag}`;
      const target = registryRef(host, key, tag);
      const t = await exec('docker', ['tag', source, target]);
      if (t.code !== 0) throw new Error(`lab registry: docker tag ${source} ${target}: ${t.stderr.trim()}`);
      const p = await exec('docker', ['push', '--quiet', target], { timeoutMs: 300_000 });
      if (p.code !== 0) throw new Error(`lab registry: docker push ${target}: ${(p.stderr || p.stdout).trim()}`);
      // The server pulls it under the registry's name: the local copy under that name goes, so pulls are real.
      await exec('docker', ['rmi', '--no-prune', target]);
    }
  }
}

/** Everything up: the stand-ins at both versions built, the registry running, and holding them. */
export async function ensureRegistry(): Promise<LabRegistry> {
  await ensureStandInImages({ extraTags: LAB_REGISTRY_IMAGES.flatMap(({ key, tags }) => tags.filter((t) => t !== pinnedImages[key].tag).map((tag) => ({ key, tag }))) });
  const { port, pid } = await startRegistry();
  const host = `127.0.0.1:${String(port)}`;
  await pushToRegistry(host, LAB_REGISTRY_IMAGES);
  const v = await exec('docker-registry', ['--version']);
  return {
    host,
    port,
    pid,
    configPath: dir('config.yml'),
    storage: dir('data'),
    version: /(\d+\.\d+\.\d+)/.exec(v.stdout)?.[1] ?? 'unknown',
    images: Object.fromEntries(LAB_REGISTRY_IMAGES.map(({ key, tags }) => [key, [...tags]])),
  };
}

/** Stop the lab's registry by its pid (its storage stays). */
export const stopRegistry = (): Promise<boolean> => stopDaemon('registry');
