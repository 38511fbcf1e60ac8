/**
 * Stand-in images for the lab (DESIGN.md §6): no registry is reachable, so every image of the stack is built here
 * under its exact pinned name and tag. One shared base is `docker import`ed from a small rootfs (Debian's static
 * busybox, the host's own node binary and the libraries `ldd` lists); each stand-in adds its esbuild bundle, its
 * commands and the real image's config in a `docker build` on top of it.
 *
 * Idempotent and fast when nothing changed: every image carries a label with the hash of everything it was built
 * from (rootfs inputs, bundle code, Dockerfile), and is rebuilt only when that hash differs.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ImageKey } from '../../../electron/core/stack/versions';
import { dockerApi, dockerPing, downloadTrixieDebs, ensureDebPackages, ensureDockerEngine, exec, stopDockerEngine } from '../docker';
import { labPath } from '../paths';
import { isAlive, run, sleep } from '../process';
import { bundleNames, standInSpecs, type BundleName, type OverlayFile, type StandInSpec, type WireGuardTools } from './specs';

export { standInSpecs, type StandInSpec } from './specs';

const here = path.dirname(fileURLToPath(import.meta.url));
const imagesDir = (...p: string[]): string => labPath('images', ...p);
const labelHash = 'io.m2.lab.hash';
const labelStandIn = 'io.m2.lab.standin';
const labelBase = 'io.m2.lab.standin-base';
const baseRepo = 'm2-lab/standin-base';
/** Bump when the base layout below changes in a way the inputs' hashes cannot see. */
const baseLayoutVersion = '1';
const nodeInImage = '/usr/local/bin/node';

const sha256 = (...parts: Array<string | Buffer>): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** Content hash of a host file, cached by (size, mtime, inode) so the warm path does not reread node's 100 MB. */
function fileHash(file: string): string {
  const cacheFile = imagesDir('file-hashes.json');
  const cache = (existsSync(cacheFile) ? (JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, string>) : {}) ?? {};
  const st = statSync(file);
  const key = `${file}|${st.size}|${st.mtimeMs}|${st.ino}`;
  const hit = cache[key];
  if (hit) return hit;
  const h = sha256(readFileSync(file));
  cache[key] = h;
  mkdirSync(imagesDir(), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify(cache));
  return h;
}

// ---- inputs from the host ----

/** Shared libraries node needs, as `ldd` lists them (the paths inside the image are the same as on the host). */
async function nodeLibraries(): Promise<string[]> {
  const out = await run('ldd', [process.execPath]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const loader = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const p = arrow?.[1] ?? loader?.[1];
    if (p) libs.push(p);
  }
  if (!libs.some((l) => l.includes('ld-linux'))) throw new Error(`ldd ${process.execPath} listed no dynamic loader:\n${out}`);
  return libs;
}

/** Shared libraries a host binary needs, as `ldd` lists them (none for a static one). */
async function lddLibraries(bin: string): Promise<string[]> {
  const out = await run('ldd', [bin]).catch(() => '');
  return out
    .split('\n')
    .map((line) => /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
}

/** The host's real WireGuard tools for the wireguard stand-in (installed by the lab's WireGuard part), with their libraries. */
async function wireguardTools(): Promise<WireGuardTools> {
  const find = (name: string, dirs: readonly string[]): string => {
    const found = dirs.map((d) => `${d}/${name}`).find((p) => existsSync(p));
    if (!found) throw new Error(`stand-in images: the wireguard stand-in needs the host's ${name} (apt-get install wireguard-tools wireguard-go iproute2 bash)`);
    return found;
  };
  const binaries: Record<string, string> = {
    '/usr/bin/wg': find('wg', ['/usr/bin', '/bin']),
    '/usr/bin/wg-quick': find('wg-quick', ['/usr/bin', '/bin']),
    '/usr/bin/wireguard-go': find('wireguard-go', ['/usr/bin', '/bin']),
    // Before busybox's /sbin/ip on PATH: wg-quick needs iproute2's.
    '/usr/sbin/ip': find('ip', ['/usr/sbin', '/sbin', '/usr/bin', '/bin']),
    '/bin/bash': find('bash', ['/usr/bin', '/bin']),
  };
  // iptables (the nf_tables backend, as in linuxserver/wireguard's Alpine image) for the fallback's home-network
  // rules (PostUp/PostDown). The multi-call binary picks its command from its own name, so it is shipped as iptables,
  // with the three extensions those rules load (standard, conntrack, MASQUERADE) at the path libxtables looks in.
  await ensureDebPackages(['iptables'], 'stand-in images');
  binaries['/usr/sbin/iptables'] = find('xtables-nft-multi', ['/usr/sbin', '/sbin']);
  const xtablesDir = ['/usr/lib/x86_64-linux-gnu/xtables', '/usr/lib/aarch64-linux-gnu/xtables', '/usr/lib/xtables'].find((d) => existsSync(`${d}/libxt_standard.so`));
  if (!xtablesDir) throw new Error('stand-in images: the wireguard stand-in needs iptables’ extensions (libxt_standard.so); apt-get install iptables');
  const extensions = ['libxt_standard.so', 'libxt_conntrack.so', 'libxt_MASQUERADE.so'].map((f) => `${xtablesDir}/${f}`);
  const libraries = [...new Set([...extensions, ...(await Promise.all([...Object.values(binaries), ...extensions].map(lddLibraries))).flat()])].sort();
  return { binaries, libraries };
}

async function busyboxStatic(): Promise<string> {
  await ensureDebPackages(['busybox-static'], 'stand-in images');
  const candidates = ['/bin/busybox', '/usr/bin/busybox'];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error('stand-in images: busybox-static is installed but /bin/busybox is missing');
  const file = await run('file', ['-L', found]).catch(() => '');
  if (file && !/statically linked|static-pie/.test(file)) throw new Error(`stand-in images: ${found} is not static (${file.trim()})`);
  return found;
}

/** restic for restic/restic: Debian trixie's (0.18, closer to the pinned 0.19 than bookworm's 0.14), else the host's. */
async function resticBinary(): Promise<string> {
  const extracted = labPath('trixie', 'extract', 'restic', 'usr', 'bin', 'restic');
  if (existsSync(extracted)) return extracted;
  try {
    const [deb] = await downloadTrixieDebs(['restic']);
    if (deb) {
      const dir = labPath('trixie', 'extract', 'restic');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      await run('dpkg', ['-x', deb, dir]);
      if (existsSync(extracted)) return extracted;
    }
  } catch (err) {
    process.stderr.write(`stand-in images: trixie restic unavailable (${(err as Error).message}); using the host's restic\n`);
  }
  await ensureDebPackages(['restic'], 'stand-in images');
  return '/usr/bin/restic';
}

async function bundles(): Promise<Map<BundleName, string>> {
  const result = await build({
    entryPoints: Object.fromEntries(bundleNames.map((n) => [n, path.join(here, 'standins', `${n}.ts`)])),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    outdir: '/out',
    logLevel: 'silent',
    legalComments: 'none',
  });
  const out = new Map<BundleName, string>();
  for (const f of result.outputFiles) out.set(path.basename(f.path, '.js') as BundleName, f.text);
  for (const n of bundleNames) if (!out.has(n)) throw new Error(`esbuild produced no bundle for ${n}`);
  return out;
}

// ---- the base image ----

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/sbin/nologin
www-data:x:33:33:www-data:/var/www:/sbin/nologin
postgres:x:70:70:PostgreSQL user:/var/lib/postgresql:/bin/sh
abc:x:911:911::/config:/bin/false
redis:x:999:1000:redis:/data:/bin/false
authentik:x:1000:1000:authentik:/:/bin/false
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
`;
const group = `root:x:0:
daemon:x:1:
www-data:x:33:
video:x:44:
postgres:x:70:
abc:x:911:
authentik:x:1000:redis
nonroot:x:65532:
nogroup:x:65534:
`;

interface BaseInputs {
  hash: string;
  tag: string;
  busybox: string;
  libs: string[];
}

async function baseInputs(): Promise<BaseInputs> {
  const busybox = await busyboxStatic();
  const libs = await nodeLibraries();
  const certs = '/etc/ssl/certs/ca-certificates.crt';
  const hash = sha256(
    baseLayoutVersion,
    passwd,
    group,
    fileHash(process.execPath),
    fileHash(busybox),
    ...libs.flatMap((l) => [l, fileHash(l)]),
    existsSync(certs) ? fileHash(certs) : 'no-certs',
  );
  return { hash, tag: `${baseRepo}:${hash.slice(0, 16)}`, busybox, libs };
}

async function buildBase(inp: BaseInputs): Promise<void> {
  const root = imagesDir('base-rootfs');
  rmSync(root, { recursive: true, force: true });
  const mk = (p: string, mode = 0o755): void => {
    mkdirSync(path.join(root, p), { recursive: true });
    chmodSync(path.join(root, p), mode);
  };
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'usr/local/sbin', 'etc', 'opt/standin', 'var/lib', 'run', 'dev', 'proc', 'sys', 'home', 'etc/ssl/certs']) mk(d);
  mk('tmp', 0o1777);
  mk('var/tmp', 0o1777);
  mk('root', 0o700);
  const put = (src: string, dest: string, mode: number): void => {
    mkdirSync(path.dirname(path.join(root, dest)), { recursive: true });
    copyFileSync(src, path.join(root, dest)); // follows symlinks: the library's real content under the listed name
    chmodSync(path.join(root, dest), mode);
  };
  put(inp.busybox, '/bin/busybox', 0o755);
  put(process.execPath, nodeInImage, 0o755);
  for (const lib of inp.libs) put(lib, lib, 0o755);
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) put('/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt', 0o644);
  writeFileSync(path.join(root, 'etc/passwd'), passwd);
  writeFileSync(path.join(root, 'etc/group'), group);
  writeFileSync(path.join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  writeFileSync(path.join(root, 'etc/os-release'), 'PRETTY_NAME="M2 lab stand-in (busybox + node)"\nNAME="m2-lab-standin"\nID=m2-lab-standin\n');
  const tar = imagesDir('base-rootfs.tar');
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.'], { timeoutMs: 300_000 });
  await run(
    'docker',
    [
      'import',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', `LABEL ${labelBase}=1 ${labelHash}=${inp.hash}`,
      '--message', 'M2 lab stand-in base: busybox-static + host node + its libraries',
      tar,
      inp.tag,
    ],
    { timeoutMs: 300_000 },
  );
  rmSync(tar, { force: true });
  rmSync(root, { recursive: true, force: true });
}

// ---- per-image layers ----

interface Planned {
  spec: StandInSpec;
  hash: string;
  dockerfile: string;
  overlay: Array<{ path: string; mode: number; content: Buffer } | { path: string; mode: number; dir: true } | { path: string; link: string }>;
}

function wrapper(bundle: BundleName, args: string[]): string {
  const fixed = args.map((a) => ` ${a}`).join('');
  return `#!/bin/busybox sh\nexec ${nodeInImage} /opt/standin/${bundle}.js${fixed} "$@"\n`;
}

function plan(spec: StandInSpec, base: BaseInputs, code: Map<BundleName, string>, applets: string[]): Planned {
  const overlay: Planned['overlay'] = [];
  for (const b of spec.bundles) overlay.push({ path: `/opt/standin/${b}.js`, mode: 0o644, content: Buffer.from(code.get(b) ?? '') });
  for (const [p, [bundle, ...args]] of Object.entries(spec.commands)) overlay.push({ path: p, mode: 0o755, content: Buffer.from(wrapper(bundle, args)) });
  const taken = new Set(overlay.map((o) => o.path));
  if (spec.applets) {
    for (const a of applets) {
      const p = `/${a}`;
      if (p !== '/bin/busybox' && !taken.has(p)) overlay.push({ path: p, link: '/bin/busybox' });
    }
  }
  for (const f of spec.files as OverlayFile[]) {
    if ('dir' in f) overlay.push({ path: f.path, mode: f.mode, dir: true });
    else if ('content' in f) overlay.push({ path: f.path, mode: f.mode, content: Buffer.from(f.content) });
    else overlay.push({ path: f.path, mode: f.mode, content: readFileSync(f.fromHost()) });
  }
  const dockerfileBody = ['COPY rootfs/ /', ...spec.config].join('\n');
  const hash = sha256(
    base.hash,
    spec.ref,
    dockerfileBody,
    ...overlay.map((o) => ('link' in o ? `${o.path}->${o.link}` : 'dir' in o ? `${o.path}/ ${o.mode}` : `${o.path} ${o.mode} ${sha256(o.content)}`)),
  );
  const dockerfile = `FROM ${base.tag}\n${dockerfileBody}\nLABEL ${labelStandIn}=${spec.key} ${labelHash}=${hash}\n`;
  return { spec, hash, dockerfile, overlay };
}

async function buildOne(p: Planned): Promise<void> {
  const ctx = imagesDir('ctx', p.spec.key);
  rmSync(ctx, { recursive: true, force: true });
  const root = path.join(ctx, 'rootfs');
  mkdirSync(root, { recursive: true });
  // Directories first (explicit modes), then files and links; parents made as needed get 0755.
  for (const o of p.overlay) {
    const dest = path.join(root, o.path);
    if ('dir' in o) {
      mkdirSync(dest, { recursive: true });
      chmodSync(dest, o.mode);
    }
  }
  for (const o of p.overlay) {
    const dest = path.join(root, o.path);
    if ('dir' in o) continue;
    mkdirSync(path.dirname(dest), { recursive: true });
    if ('link' in o) symlinkSync(o.link, dest);
    else {
      writeFileSync(dest, o.content);
      chmodSync(dest, o.mode);
    }
  }
  writeFileSync(path.join(ctx, 'Dockerfile'), p.dockerfile);
  const r = await exec('docker', ['build', '--quiet', '--tag', p.spec.ref, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`docker build of stand-in ${p.spec.ref} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  rmSync(ctx, { recursive: true, force: true });
}

// ---- listing ----

interface ApiImage {
  Id: string;
  RepoTags: string[] | null;
  Labels: Record<string, string> | null;
  Created: number;
  Size: number;
}

async function imagesWithLabel(label: string): Promise<ApiImage[]> {
  const res = await dockerApi('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`);
  if (res.status !== 200) throw new Error(`docker API /images/json answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as ApiImage[];
}

export interface StandInImage {
  key: ImageKey;
  /** The exact production reference, e.g. "jellyfin/jellyfin:10.11.11". */
  ref: string;
  present: boolean;
  id?: string;
  /** Hash of everything the image was built from (label io.m2.lab.hash). */
  hash?: string;
  sizeBytes?: number;
  /** Port(s) the stand-in serves, and the port of its `/__lab/state` control endpoint (0: none). */
  ports: StandInSpec['ports'];
}

/** The stand-in images the engine holds now, one entry per pinned image (present or not). */
export async function listStandInImages(): Promise<StandInImage[]> {
  const have = await imagesWithLabel(labelStandIn);
  return standInSpecs('/usr/bin/restic').map((s) => {
    const img = have.find((i) => (i.RepoTags ?? []).includes(s.ref));
    return {
      key: s.key,
      ref: s.ref,
      present: img !== undefined,
      ports: s.ports,
      ...(img ? { id: img.Id, hash: img.Labels?.[labelHash], sizeBytes: img.Size } : {}),
    };
  });
}

// ---- one builder at a time ----

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = imagesDir('build.lock');
  mkdirSync(imagesDir(), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(existsSync(path.join(lock, 'pid')) ? readFileSync(path.join(lock, 'pid'), 'utf8') : NaN);
      if (!Number.isInteger(holder) || !isAlive(holder)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`stand-in images: another build (pid ${holder}) holds ${lock}`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface EnsureReport {
  built: string[];
  reused: string[];
  baseBuilt: boolean;
  ms: number;
}

export interface EnsureOptions {
  /**
   * Also build stand-ins under other tags of the same repository (e.g. an older version for update and rollback
   * tests); such a stand-in reports that tag as its version (M2_STANDIN_VERSION).
   */
  extraTags?: ReadonlyArray<{ key: ImageKey; tag: string }>;
}

/**
 * Idempotent: make every stand-in image exist under its pinned name, built from the current inputs. Starts Docker
 * Engine if needed. Rebuilds only what changed (the base when busybox/node/libs change, a stand-in when its code or
 * config changes), then removes the images those rebuilds superseded, unless a container still uses them.
 */
export async function ensureStandInImages(opts: EnsureOptions = {}): Promise<void> {
  await ensureStandInImagesReport(opts);
}

function withExtraTags(specs: StandInSpec[], extra: EnsureOptions['extraTags']): StandInSpec[] {
  const out = [...specs];
  for (const { key, tag } of extra ?? []) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`stand-in images: invalid tag ${JSON.stringify(tag)}`);
    const spec = specs.find((s) => s.key === key);
    if (!spec) throw new Error(`stand-in images: no stand-in for ${key}`);
    const ref = `${spec.ref.slice(0, spec.ref.lastIndexOf(':'))}:${tag}`;
    if (out.some((s) => s.ref === ref)) continue;
    out.push({ ...spec, ref, config: [...spec.config, `ENV M2_STANDIN_VERSION=${tag}`] });
  }
  return out;
}

export async function ensureStandInImagesReport(opts: EnsureOptions = {}): Promise<EnsureReport> {
  const started = Date.now();
  await ensureDockerEngine();
  return withLock(async () => {
    const [base, code, restic, wgTools] = await Promise.all([baseInputs(), bundles(), resticBinary(), wireguardTools()]);
    const applets = (await run(base.busybox, ['--list-full'])).split('\n').filter(Boolean);
    const planned = withExtraTags(standInSpecs(restic, wgTools), opts.extraTags).map((s) => plan(s, base, code, applets));
    const existing = await imagesWithLabel(labelStandIn);
    const current = (p: Planned): ApiImage | undefined => existing.find((i) => (i.RepoTags ?? []).includes(p.spec.ref));
    const stale = planned.filter((p) => current(p)?.Labels?.[labelHash] !== p.hash);
    let baseBuilt = false;
    if (stale.length > 0) {
      const baseImage = await dockerApi('GET', `/images/${encodeURIComponent(base.tag)}/json`);
      if (baseImage.status !== 200) {
        await buildBase(base);
        baseBuilt = true;
      }
      // Two builds at a time: the machine has few cores and each build is mostly I/O.
      const queue = [...stale];
      await Promise.all(
        [0, 1].map(async () => {
          for (let p = queue.shift(); p; p = queue.shift()) await buildOne(p);
        }),
      );
      // What the rebuilds superseded; an image a container still uses stays (the API answers 409).
      for (const p of stale) {
        const old = current(p);
        if (old) await dockerApi('DELETE', `/images/${old.Id}`).catch(() => undefined);
      }
      // Stand-ins inherit the base's label: only images without the stand-in label are bases.
      for (const img of await imagesWithLabel(labelBase)) {
        if (img.Labels?.[labelStandIn] === undefined && !(img.RepoTags ?? []).includes(base.tag)) {
          await dockerApi('DELETE', `/images/${img.Id}`).catch(() => undefined);
        }
      }
    }
    return {
      built: stale.map((p) => p.spec.ref),
      reused: planned.filter((p) => !stale.includes(p)).map((p) => p.spec.ref),
      baseBuilt,
      ms: Date.now() - started,
    };
  });
}

/**
 * Remove every stand-in image and base (for cold-start measurements). Containers using them are removed first only
 * if `force`; otherwise an image in use stays. Leaves dockerd as it found it (starts and stops it when it was down).
 */
export async function removeStandInImages(opts: { force?: boolean } = {}): Promise<number> {
  const wasUp = await dockerPing();
  const engine = await ensureDockerEngine();
  let removed = 0;
  try {
    for (const label of [labelStandIn, labelBase]) {
      for (const img of await imagesWithLabel(label)) {
        const res = await dockerApi('DELETE', `/images/${img.Id}?force=${opts.force === true ? 'true' : 'false'}`, { timeoutMs: 120_000 });
        if (res.status === 200) removed++;
      }
    }
  } finally {
    if (!wasUp && engine.startedByLab) await stopDockerEngine();
  }
  return removed;
}
