/**
 * Lab Docker: Docker Engine from Debian (`docker.io`) started by the lab, and the Compose v2 plugin taken
 * from Debian trixie's `docker-compose` package without touching the system's apt sources (DESIGN.md §6).
 * Every step is idempotent and argv-based; nothing here goes through a shell.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { aptEnsure } from './apt';
import { labPath } from './paths';
import { isAlive, readPid, run, startDaemon, stopDaemon, waitFor } from './process';

export const dockerSocket = '/var/run/docker.sock';
const daemonName = 'dockerd';
/** No iptables (the lab must not rewrite the host's firewall) and no default bridge: compose creates its own networks. */
export const dockerdArgs: readonly string[] = ['--iptables=false', '--ip6tables=false', '--bridge=none', '--host', `unix://${dockerSocket}`];
const composePluginDir = '/usr/libexec/docker/cli-plugins';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program (argv) and return its exit code and output; never throws for a non-zero exit. */
export function exec(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && code === 127 ? err.message : '')) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export interface ApiResponse {
  status: number;
  body: string;
}

/** One request to the Docker Engine API over the unix socket (no CLI, so it is cheap enough to poll). */
export function dockerApi(method: string, apiPath: string, opts: { body?: unknown; timeoutMs?: number } = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request(
      {
        socketPath: dockerSocket,
        method,
        path: apiPath,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`docker API ${method} ${apiPath} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** true when a Docker daemon answers `GET /_ping` on the socket. */
export async function dockerPing(): Promise<boolean> {
  if (!existsSync(dockerSocket)) return false;
  try {
    const res = await dockerApi('GET', '/_ping', { timeoutMs: 2_000 });
    return res.status === 200 && res.body.trim() === 'OK';
  } catch {
    return false;
  }
}

export interface DockerEngine {
  /** Whether this lab started the daemon (only then does `stopDockerEngine` stop it). */
  startedByLab: boolean;
  /** dockerd's pid when the lab started it. */
  pid?: number;
  /** Engine version, e.g. "20.10.24+dfsg1". */
  version: string;
  /** Engine API version, e.g. "1.41". */
  apiVersion: string;
}

const whichAny = (file: string): string | undefined =>
  [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].map((d) => path.join(d, file)).find((p) => existsSync(p));

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (the lab installs packages and starts dockerd); run the lab as root`);
}

async function engineInfo(): Promise<{ version: string; apiVersion: string }> {
  const res = await dockerApi('GET', '/version');
  if (res.status !== 200) throw new Error(`docker API /version answered ${res.status}: ${res.body}`);
  const v = JSON.parse(res.body) as { Version?: string; ApiVersion?: string };
  return { version: v.Version ?? 'unknown', apiVersion: v.ApiVersion ?? 'unknown' };
}

const logTail = (): string => {
  const f = labPath('logs', `${daemonName}.log`);
  if (!existsSync(f)) return '(no log)';
  return readFileSync(f, 'utf8').split('\n').slice(-15).join('\n');
};

/**
 * Idempotent: install `docker.io` when dockerd is missing, and start dockerd (detached, pid in .lab/pids) when no
 * daemon answers on /var/run/docker.sock. A daemon that was already running is used as it is and never stopped.
 */
export async function ensureDockerEngine(): Promise<DockerEngine> {
  const labPid = readPid(daemonName);
  if (await dockerPing()) {
    return { startedByLab: labPid !== undefined, ...(labPid !== undefined ? { pid: labPid } : {}), ...(await engineInfo()) };
  }
  if (labPid !== undefined) {
    // Ours, still starting (or hung): give it a moment before starting another.
    await waitFor('dockerd (started earlier by the lab) to answer on ' + dockerSocket, dockerPing, 60_000, 200).catch(async (err: unknown) => {
      await stopDaemon(daemonName, 30_000);
      throw new Error(`${(err as Error).message}; stopped it. dockerd log:\n${logTail()}`, { cause: err });
    });
    return { startedByLab: true, pid: labPid, ...(await engineInfo()) };
  }
  requireRoot('starting Docker Engine');
  if (whichAny('dockerd') === undefined || whichAny('containerd') === undefined || whichAny('runc') === undefined) {
    await aptEnsure(
      [
        { bin: 'dockerd', pkg: 'docker.io' },
        { bin: 'containerd', pkg: 'containerd' },
        { bin: 'runc', pkg: 'runc' },
      ],
      'Docker Engine lab',
    );
  }
  const dockerd = whichAny('dockerd');
  if (dockerd === undefined) throw new Error('Docker Engine lab: dockerd not found after installing docker.io');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  delete env.DOCKER_HOST;
  const pid = startDaemon(daemonName, dockerd, dockerdArgs, { env });
  try {
    await waitFor(
      `dockerd (pid ${pid}) to answer on ${dockerSocket}`,
      () => {
        if (!isAlive(pid)) throw new Error('exited');
        return dockerPing();
      },
      60_000,
      200,
    );
  } catch (err) {
    const alive = isAlive(pid);
    if (alive) await stopDaemon(daemonName, 30_000);
    throw new Error(`Docker Engine lab: dockerd ${alive ? 'did not answer in time' : 'exited'}. Log (.lab/logs/dockerd.log):\n${logTail()}`, {
      cause: err,
    });
  }
  return { startedByLab: true, pid, ...(await engineInfo()) };
}

/** Stop dockerd if (and only if) the lab started it; its containers are stopped by dockerd on the way down. */
export async function stopDockerEngine(): Promise<boolean> {
  if (readPid(daemonName) === undefined) return false;
  return stopDaemon(daemonName, 45_000);
}

/** `docker compose version --short` → "2.26.1", or undefined when the plugin is missing. */
export async function composeVersion(): Promise<string | undefined> {
  const r = await exec('docker', ['compose', 'version', '--short'], { timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  const m = /v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout.trim());
  return m?.[1];
}

const major = (v: string): number => Number(v.split('.')[0]);

/**
 * Idempotent: make `docker compose` a v2+ plugin. Bookworm only has Compose v1, so fetch the `docker-compose`
 * package from Debian trixie with apt options pointing at lab-only sources/lists/cache, extract it with `dpkg -x`,
 * and copy the plugin binary into /usr/libexec/docker/cli-plugins. Returns the version ("2.26.1").
 */
export async function ensureComposeV2(): Promise<string> {
  const have = await composeVersion();
  if (have !== undefined && major(have) >= 2) return have;
  requireRoot('installing the Compose v2 plugin');
  const [deb] = await downloadTrixieDebs(['docker-compose']);
  if (deb === undefined) throw new Error('Compose v2 lab: apt-get download docker-compose produced no .deb');
  const extracted = labPath('trixie', 'extract', 'docker-compose');
  rmSync(extracted, { recursive: true, force: true });
  mkdirSync(extracted, { recursive: true });
  await run('dpkg', ['-x', deb, extracted]);
  const plugin = path.join(extracted, 'usr/libexec/docker/cli-plugins/docker-compose');
  if (!existsSync(plugin)) throw new Error(`Compose v2 lab: ${path.basename(deb)} has no usr/libexec/docker/cli-plugins/docker-compose`);
  mkdirSync(composePluginDir, { recursive: true });
  const target = path.join(composePluginDir, 'docker-compose');
  const tmp = `${target}.lab-tmp`;
  copyFileSync(plugin, tmp);
  chmodSync(tmp, 0o755);
  await run('mv', ['-f', tmp, target]);
  const now = await composeVersion();
  if (now === undefined || major(now) < 2) {
    const r = await exec('docker', ['compose', 'version']);
    throw new Error(`Compose v2 lab: after installing ${target}, \`docker compose version\` says: ${(r.stdout + r.stderr).trim()}`);
  }
  return now;
}

/** Engine + Compose v2, the pair every lab test that runs containers needs. */
export async function ensureDocker(): Promise<{ engine: DockerEngine; compose: string }> {
  const engine = await ensureDockerEngine();
  const compose = await ensureComposeV2();
  return { engine, compose };
}

// ---- Debian trixie packages, fetched without touching the system's apt configuration ----

/** The Debian mirror the system already uses (from /etc/apt/sources.list{,.d}), else deb.debian.org. */
export function debianMirror(): string {
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.list') || f.endsWith('.sources')) files.push(path.join(dir, f));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string | undefined =>
          new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza.replace(/^#.*$/gm, ''))?.[1]?.trim();
        const uris = field('URIs')?.split(/\s+/) ?? [];
        const suites = field('Suites')?.split(/\s+/) ?? [];
        const uri = uris.find((u) => /^https?:\/\//.test(u));
        if (uri && suites.some((s) => /^(bookworm|trixie|stable)$/.test(s))) return uri.replace(/\/+$/, '');
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)/.exec(line);
        if (m?.[1] && m[2] && /^(bookworm|trixie|stable)$/.test(m[2])) return m[1].replace(/\/+$/, '');
      }
    }
  }
  return 'http://deb.debian.org/debian';
}

const trixieDir = (...p: string[]): string => labPath('trixie', ...p);

function trixieAptOptions(): string[] {
  for (const d of ['sources.list.d', 'preferences.d', 'lists/partial', 'cache/archives/partial', 'debs']) {
    mkdirSync(trixieDir(d), { recursive: true });
  }
  const keyring = ['/usr/share/keyrings/debian-archive-keyring.gpg'].find((k) => existsSync(k));
  const opts = keyring ? `[signed-by=${keyring}] ` : '';
  writeFileSync(trixieDir('sources.list'), `deb ${opts}${debianMirror()} trixie main\n`);
  return [
    '-o', `Dir::Etc::SourceList=${trixieDir('sources.list')}`,
    '-o', `Dir::Etc::SourceParts=${trixieDir('sources.list.d')}`,
    '-o', `Dir::Etc::Preferences=${trixieDir('preferences')}`,
    '-o', `Dir::Etc::PreferencesParts=${trixieDir('preferences.d')}`,
    '-o', `Dir::State::Lists=${trixieDir('lists')}`,
    '-o', `Dir::Cache=${trixieDir('cache')}`,
    '-o', 'APT::Sandbox::User=root',
    '-o', 'Acquire::Languages=none',
    '-o', 'Acquire::Retries=3',
  ];
}

const findDeb = (pkg: string): string | undefined => {
  const dir = trixieDir('debs');
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  return f === undefined ? undefined : path.join(dir, f);
};

/**
 * .deb files of Debian trixie packages (binary packages only, no dependencies), cached in .lab/trixie/debs.
 * apt-get runs with lab-only sources, lists and cache, so the system's apt state is never changed.
 */
export async function downloadTrixieDebs(pkgs: readonly string[]): Promise<string[]> {
  const missing = pkgs.filter((p) => findDeb(p) === undefined);
  if (missing.length > 0) {
    requireRoot('downloading Debian trixie packages');
    const opts = trixieAptOptions();
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const hasLists = readdirSync(trixieDir('lists')).some((f) => f.endsWith('_Packages') || f.includes('_Packages.'));
    if (!hasLists) await run('apt-get', [...opts, 'update'], { env, timeoutMs: 600_000 });
    const download = (): Promise<string> => run('apt-get', [...opts, 'download', ...missing], { env, cwd: trixieDir('debs'), timeoutMs: 600_000 });
    try {
      await download();
    } catch {
      // Stale lists (a newer version replaced the one they name): refresh once and retry.
      await run('apt-get', [...opts, 'update'], { env, timeoutMs: 600_000 });
      await download();
    }
  }
  return pkgs.map((p) => {
    const deb = findDeb(p);
    if (deb === undefined) throw new Error(`apt-get download ${p} (trixie) left no ${p}_*.deb in ${trixieDir('debs')}`);
    return deb;
  });
}

/** Idempotent: apt-get install Debian packages (by package name) that dpkg does not list as installed. */
export async function ensureDebPackages(pkgs: readonly string[], what: string): Promise<void> {
  const missing: string[] = [];
  for (const p of pkgs) {
    const r = await exec('dpkg-query', ['-W', '-f', '${Status}', p]);
    if (!r.stdout.includes('install ok installed')) missing.push(p);
  }
  if (missing.length === 0) return;
  requireRoot(`${what}: installing ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3'];
  const install = (): Promise<string> => run('apt-get', [...opts, 'install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: 900_000 });
  try {
    await install();
  } catch {
    await run('apt-get', [...opts, 'update'], { env, timeoutMs: 900_000 });
    await install().catch((err: unknown) => {
      throw new Error(`${what}: could not apt-get install ${missing.join(', ')}: ${(err as Error).message}`, { cause: err });
    });
  }
}
