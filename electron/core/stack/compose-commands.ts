/**
 * Every Docker and Compose command the apply engine runs, as argv (STYLE.md §3), and the parsers for what
 * they print. Builders are pure. Secrets never appear here: Compose reads them from the 0600 env files
 * named with `--env-file`, on every command, so interpolation is the same for config, up, ps and logs.
 */
import { type Argv, withSudo } from '../ssh/argv';

export type DockerAccessKind = 'group' | 'sudo';

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';
export const CONFIG_HASH_LABEL = 'com.docker.compose.config-hash';
export const ONEOFF_LABEL = 'com.docker.compose.oneoff';

/** `sudo -n --` in front for a user outside the docker group. */
export const docker = (access: DockerAccessKind, argv: Argv): Argv => (access === 'sudo' ? withSudo(argv) : argv);

export interface ComposeFiles {
  readonly project: string;
  /**
   * The project directory: always `<m2Dir>`, never the release folder. Relative paths and Compose's
   * working-dir label then stay the same from one release to the next, so a service whose configuration
   * did not change keeps its config hash and is never recreated just because the release folder moved.
   */
  readonly projectDir: string;
  /** The folder holding compose.yaml and env/ (a release, a `.partial` upload, or a plan's staging copy). */
  readonly dir: string;
  /** Env files relative to `dir`, in `--env-file` order. */
  readonly envFiles: readonly string[];
}

/** The global flags of every compose command for one release; also written to the release as `compose.args`. */
export const composeGlobalArgs = (f: ComposeFiles): Argv => [
  '--project-name',
  f.project,
  '--project-directory',
  f.projectDir,
  '--file',
  `${f.dir}/compose.yaml`,
  ...f.envFiles.flatMap((e) => ['--env-file', `${f.dir}/${e}`]),
];

export const composeCommands = (access: DockerAccessKind, f: ComposeFiles) => {
  const c = (...args: string[]): Argv => docker(access, ['docker', 'compose', ...composeGlobalArgs(f), ...args]);
  return {
    /** Validate only: the full config output holds interpolated secrets and is never read. */
    configQuiet: (): Argv => c('config', '--quiet'),
    /** `<service> <sha256>` per line: the hash Compose stores in each container's config-hash label. */
    configHash: (): Argv => c('config', '--hash', '*'),
    /** Images are pulled before (with progress); `--pull never` keeps up from hanging on an unreachable registry. */
    up: (waitTimeoutS: number): Argv => c('up', '--detach', '--wait', '--wait-timeout', String(waitTimeoutS), '--remove-orphans', '--pull', 'never'),
    /** Containers and networks go; named volumes and bind-mounted data stay. */
    down: (): Argv => c('down', '--remove-orphans', '--timeout', '10'),
    logs: (service: string, tail: number): Argv => c('logs', '--no-color', '--no-log-prefix', '--tail', String(tail), service),
    ps: (): Argv => c('ps', '--all', '--format', 'json'),
  };
};

/** Image ids with their names: `<id> <repo:tag>… <repo@digest>…` per present image (absent ones only complain on stderr). */
export const IMAGE_IDS_FORMAT = '{{.Id}}{{range .RepoTags}} {{.}}{{end}}{{range .RepoDigests}} {{.}}{{end}}';

/** Listening sockets of the server's network namespace; ports are read in the app (no ss/netstat needed). */
export const PROC_NET_FILES = ['/proc/net/tcp', '/proc/net/tcp6', '/proc/net/udp', '/proc/net/udp6'] as const;

export const dockerCommands = (access: DockerAccessKind, project: string) => ({
  info: (): Argv => docker(access, ['docker', 'info', '--format', '{{.ServerVersion}}']),
  composeVersion: (): Argv => docker(access, ['docker', 'compose', 'version', '--short']),
  /** This project's containers only, one-off ones included (filtered after inspect). */
  projectContainerIds: (): Argv => docker(access, ['docker', 'ps', '--all', '--quiet', '--no-trunc', '--filter', `label=${PROJECT_LABEL}=${project}`]),
  inspect: (ids: readonly string[]): Argv => docker(access, ['docker', 'inspect', '--type', 'container', ...ids]),
  imageIds: (refs: readonly string[]): Argv => docker(access, ['docker', 'image', 'inspect', '--format', IMAGE_IDS_FORMAT, ...refs]),
  pull: (ref: string): Argv => docker(access, ['docker', 'pull', ref]),
});

// ---------------------------------------------------------------------------------------------------
// Parsers

export interface ComposePsEntry {
  readonly ID: string;
  readonly Name: string;
  readonly Service: string;
  readonly State: string;
  readonly Health: string;
  readonly ExitCode: number;
  readonly Image: string;
}

/** `compose ps --format json`: NDJSON since v2.21, one array before. */
export function parseComposePs(stdout: string): ComposePsEntry[] {
  const text = stdout.trim();
  if (text === '') return [];
  const rows: unknown[] = text.startsWith('[') ? (JSON.parse(text) as unknown[]) : text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  return rows.map((r) => {
    const o = r as Record<string, unknown>;
    return {
      ID: String(o.ID ?? ''),
      Name: String(o.Name ?? ''),
      Service: String(o.Service ?? ''),
      State: String(o.State ?? ''),
      Health: String(o.Health ?? ''),
      ExitCode: typeof o.ExitCode === 'number' ? o.ExitCode : 0,
      Image: String(o.Image ?? ''),
    };
  });
}

/** `config --hash '*'`: `<service> <sha256>` per line. */
export function parseConfigHashes(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [svc, hash] = line.trim().split(/\s+/);
    if (svc && hash && /^[0-9a-f]{64}$/.test(hash)) m.set(svc, hash);
  }
  return m;
}

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly project: string;
  readonly oneoff: boolean;
  readonly configHash: string;
  /** The image as configured (`Config.Image`), e.g. jellyfin/jellyfin:10.11.11. */
  readonly image: string;
  /** The image id the container runs. */
  readonly imageId: string;
  readonly state: string;
  /** healthy | unhealthy | starting | '' (no health check). */
  readonly health: string;
  readonly exitCode: number;
  /** How many times Docker restarted it since it was created (its restart policy). */
  readonly restartCount: number;
  readonly startedAt: string;
  /** Host ports this container publishes (tcp/udp). */
  readonly published: ReadonlyArray<{ readonly port: number; readonly protocol: 'tcp' | 'udp' }>;
}

/** `docker inspect --type container` (a JSON array). */
export function parseInspect(stdout: string): ContainerInfo[] {
  const text = stdout.trim();
  if (text === '') return [];
  const rows = JSON.parse(text) as Array<Record<string, unknown>>;
  return rows.map((c) => {
    const config = (c.Config ?? {}) as { Image?: string; Labels?: Record<string, string> | null };
    const labels = config.Labels ?? {};
    const state = (c.State ?? {}) as { Status?: string; ExitCode?: number; StartedAt?: string; Health?: { Status?: string } | null };
    const ports = (((c.NetworkSettings ?? {}) as { Ports?: Record<string, Array<{ HostPort?: string }> | null> | null }).Ports ?? {}) as Record<string, Array<{ HostPort?: string }> | null>;
    const published: Array<{ port: number; protocol: 'tcp' | 'udp' }> = [];
    for (const [key, binds] of Object.entries(ports)) {
      const protocol = key.endsWith('/udp') ? 'udp' : 'tcp';
      for (const b of binds ?? []) {
        const port = Number(b.HostPort);
        if (Number.isInteger(port) && port > 0 && !published.some((p) => p.port === port && p.protocol === protocol)) published.push({ port, protocol });
      }
    }
    return {
      id: String(c.Id ?? ''),
      name: String(c.Name ?? '').replace(/^\//, ''),
      service: labels[SERVICE_LABEL] ?? '',
      project: labels[PROJECT_LABEL] ?? '',
      oneoff: (labels[ONEOFF_LABEL] ?? 'False').toLowerCase() === 'true',
      configHash: labels[CONFIG_HASH_LABEL] ?? '',
      image: config.Image ?? '',
      imageId: String(c.Image ?? ''),
      state: state.Status ?? '',
      health: state.Health?.Status ?? '',
      exitCode: state.ExitCode ?? 0,
      restartCount: typeof c.RestartCount === 'number' ? c.RestartCount : 0,
      startedAt: state.StartedAt ?? '',
      published,
    };
  });
}

/** A reference as Docker lists it: without `docker.io/` and `library/`, with `:latest` when no tag or digest is given. */
export function normalizeRef(ref: string): string {
  let r = ref.trim().replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
  r = r.replace(/^library\//, '');
  const lastPart = r.slice(r.lastIndexOf('/') + 1);
  if (!r.includes('@') && !lastPart.includes(':')) r = `${r}:latest`;
  return r;
}

/** `docker image inspect --format IMAGE_IDS_FORMAT refs…`'s output, by ref: image id, or null when absent. */
export function parseImageIds(stdout: string, refs: readonly string[]): Map<string, string | null> {
  const byName = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [id, ...names] = line.trim().split(/\s+/);
    if (!id || !/^sha256:[0-9a-f]{64}$/.test(id)) continue;
    for (const n of names) byName.set(normalizeRef(n), id);
  }
  return new Map(refs.map((r) => [r, byName.get(normalizeRef(r)) ?? null]));
}

/**
 * Ports with a listening socket in /proc/net/{tcp,tcp6} (state 0A) or a bound one in /proc/net/{udp,udp6}.
 * `text` is the files concatenated; each file starts with a header line beginning `sl`.
 */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || !/^\d+:$/.test(cols[0] ?? '')) continue;
    const local = cols[1] ?? '';
    const state = cols[3] ?? '';
    if (protocol === 'tcp' && state !== '0A') continue;
    const port = parseInt(local.split(':')[1] ?? '', 16);
    if (Number.isInteger(port) && port > 0) ports.add(port);
  }
  return ports;
}

/** What `docker pull` has said so far about one image (its plain, non-TTY line output). */
export interface PullState {
  readonly layers: ReadonlyMap<string, 'waiting' | 'downloading' | 'extracting' | 'done'>;
  readonly finished: boolean;
  readonly lastLine: string;
}

export const emptyPull: PullState = { layers: new Map(), finished: false, lastLine: '' };

/** Fold one line of `docker pull` output into the state. */
export function foldPullLine(s: PullState, raw: string): PullState {
  const line = raw.trim();
  if (line === '') return s;
  const m = /^([0-9a-f]{12,64}): (.+)$/.exec(line);
  if (m) {
    const [, layer = '', what = ''] = m;
    const layers = new Map(s.layers);
    if (/^(Pull complete|Already exists)/.test(what)) layers.set(layer, 'done');
    else if (/^(Extracting|Verifying Checksum|Download complete)/.test(what)) layers.set(layer, layers.get(layer) === 'done' ? 'done' : 'extracting');
    else if (/^Downloading/.test(what)) layers.set(layer, 'downloading');
    else if (/^(Pulling fs layer|Waiting)/.test(what)) layers.set(layer, layers.get(layer) ?? 'waiting');
    return { ...s, layers, lastLine: line };
  }
  if (/^Status: (Downloaded newer image|Image is up to date)/.test(line)) return { ...s, finished: true, lastLine: line };
  return { ...s, lastLine: line };
}

/** Percent of layers complete; null before any layer is known. Extracting counts half. */
export function pullPercent(s: PullState): number | null {
  if (s.finished) return 100;
  if (s.layers.size === 0) return null;
  let score = 0;
  for (const v of s.layers.values()) score += v === 'done' ? 1 : v === 'extracting' ? 0.5 : v === 'downloading' ? 0.25 : 0;
  return Math.min(99, Math.round((score / s.layers.size) * 100));
}
