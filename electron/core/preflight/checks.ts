import { nvidiaWithoutEncoder } from './gpu-encoders';
import type { DockerAccess, GpuDetection, PreflightCheck, PreflightCheckId, PreflightFix, PreflightStatus } from '../../contract/preflight';
import { andThen, toShell } from '../ssh/argv';
import { CLOUDFLARE_EDGE, EGRESS_TIMEOUT_S, PROBE_TIMEOUT_S } from './commands';
import {
  type ComposeProbe,
  type DiskEntry,
  type DockerProbe,
  type DockerVersion,
  type DriNode,
  type EgressProbe,
  type NtpState,
  type NvidiaProbe,
  type OsRelease,
  type RenderVendor,
  type Uname,
  compareVersions,
  PCI_VENDORS,
  parseComposeStandalone,
  parseComposeVersion,
  parseDockerInfo,
  parseDockerVersion,
  parseDriListing,
  parseEpoch,
  parseGroups,
  parseNtp,
  parseNvidiaSmi,
  parseOsRelease,
  parseRenderVendors,
  parseSections,
  parseUname,
  snippet,
  versionTriple,
} from './parse';

/**
 * Pure decisions: parsed server facts in, checks (status, what was found, how to fix) out.
 * Nothing here talks to the server, so every branch is tested on recorded output.
 */

export const GiB = 1024 ** 3;
/** Below this, installing the stack's images alone may not fit. */
export const DISK_FAIL_BYTES = 10 * GiB;
/** Below this, a media library, Nextcloud files and backups will fill the disk soon. */
export const DISK_WARN_BYTES = 50 * GiB;
export const MIN_COMPOSE: readonly number[] = [2, 20, 0];
export const MIN_ENGINE: readonly number[] = [20, 10, 0];
/** Jellyfin 10.11's minimum NVIDIA driver on Linux. */
export const MIN_NVIDIA_DRIVER: readonly number[] = [520, 56, 6];
export const MAX_CLOCK_SKEW_S = 5;

export const titles: Record<Exclude<PreflightCheckId, `disk:${string}`>, string> = {
  os: 'Operating system',
  'docker-engine': 'Docker Engine',
  compose: 'Docker Compose',
  'docker-access': 'Access to Docker',
  gpu: 'GPU for video transcoding',
  clock: 'Clock',
  'cloudflare-egress': 'Connection to Cloudflare',
};

export const links = {
  dockerInstall: { kind: 'link', url: 'https://docs.docker.com/engine/install/', label: 'Install Docker Engine (Docker docs)' },
  composeInstall: { kind: 'link', url: 'https://docs.docker.com/compose/install/linux/', label: 'Install the Docker Compose plugin (Docker docs)' },
  nvidiaToolkit: {
    kind: 'link',
    url: 'https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html',
    label: 'Install the NVIDIA Container Toolkit (NVIDIA docs)',
  },
  nvidiaDriver: { kind: 'link', url: 'https://www.nvidia.com/en-us/drivers/', label: 'Get the NVIDIA driver for your GPU' },
  nvidiaEncodeMatrix: {
    kind: 'link',
    url: 'https://developer.nvidia.com/video-encode-and-decode-gpu-support-matrix-new',
    label: 'Which NVIDIA GPUs encode video (NVIDIA’s encode/decode support matrix)',
  },
  tunnelFirewall: {
    kind: 'link',
    url: 'https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/configure-tunnels/tunnel-with-firewall/',
    label: 'Which outbound connections Cloudflare Tunnel needs (Cloudflare docs)',
  },
  raspberryPiOs64: { kind: 'link', url: 'https://www.raspberrypi.com/software/operating-systems/', label: 'Raspberry Pi OS (64-bit)' },
} as const satisfies Record<string, PreflightFix>;

const check = (id: PreflightCheckId, title: string, status: PreflightStatus, found: string, fix?: PreflightFix): PreflightCheck =>
  fix === undefined ? { id, title, status, found } : { id, title, status, found, fix };

const said = (raw: string): string => `The server said: “${snippet(raw)}”`;

// ---------------------------------------------------------------------------------------------
// facts

/** Everything the facts script reports, parsed. */
export interface ServerFacts {
  readonly os: OsRelease;
  readonly osRaw: string;
  readonly uname: Uname | undefined;
  readonly unameRaw: string;
  /** The login user's groups (`id -nG`). */
  readonly groups: readonly string[];
  /** Which of the tools we care about exist on the server. */
  readonly tools: ReadonlySet<string>;
  readonly dockerVersion: DockerVersion;
  readonly dockerInfo: DockerProbe;
  readonly compose: ComposeProbe;
  readonly composeStandalone: ComposeProbe;
  readonly nvidia: NvidiaProbe;
  readonly dri: readonly DriNode[];
  readonly vendors: readonly RenderVendor[];
  readonly renderGroups: ReadonlyMap<string, number>;
  readonly ntp: NtpState;
  readonly epoch: number | undefined;
  readonly epochRaw: string;
}

export function parseFacts(stdout: string): ServerFacts {
  const sections = parseSections(stdout);
  const get = (name: string): { text: string; rc: number | null } => sections.get(name) ?? { text: '', rc: null };
  const words = (t: string): string[] => t.split(/\s+/).filter((w) => w !== '');
  return {
    os: parseOsRelease(get('os-release').text),
    osRaw: get('os-release').text,
    uname: parseUname(get('uname').text),
    unameRaw: get('uname').text,
    groups: get('id').rc === 0 ? words(get('id').text) : [],
    tools: new Set(words(get('tools').text)),
    dockerVersion: parseDockerVersion(get('docker-version').text),
    dockerInfo: parseDockerInfo(get('docker-info').text, get('docker-info').rc),
    compose: parseComposeVersion(get('compose').text, get('compose').rc),
    composeStandalone: parseComposeStandalone(get('compose-standalone').text, get('compose-standalone').rc),
    nvidia: parseNvidiaSmi(get('nvidia-smi').text, get('nvidia-smi').rc),
    dri: parseDriListing(get('dri').text),
    vendors: parseRenderVendors(get('render-vendors').text),
    renderGroups: parseGroups(get('groups').text),
    ntp: parseNtp(get('ntp').text, get('ntp').rc),
    epoch: parseEpoch(get('date').text),
    epochRaw: get('date').text,
  };
}

// ---------------------------------------------------------------------------------------------
// operating system

export type DistroFamily = 'debian' | 'ubuntu' | 'fedora' | 'rhel' | 'alpine' | 'arch' | 'suse' | 'unknown';

export function distroFamily(os: OsRelease): DistroFamily {
  const ids = [os.ID ?? '', ...(os.ID_LIKE ?? '').split(/\s+/)].map((s) => s.toLowerCase()).filter((s) => s !== '');
  const has = (...names: string[]): boolean => ids.some((i) => names.includes(i));
  // Order matters: Ubuntu derivatives name both ubuntu and debian in ID_LIKE.
  if (has('ubuntu')) return 'ubuntu';
  if (has('debian', 'raspbian')) return 'debian';
  if (has('fedora') && (os.ID ?? '') === 'fedora') return 'fedora';
  if (has('rhel', 'centos', 'rocky', 'almalinux', 'fedora')) return 'rhel';
  if (has('alpine')) return 'alpine';
  if (has('arch')) return 'arch';
  if (ids.some((i) => i.startsWith('opensuse') || i === 'suse' || i === 'sles')) return 'suse';
  return 'unknown';
}

const osName = (os: OsRelease): string | undefined => os.PRETTY_NAME ?? (os.NAME ? `${os.NAME} ${os.VERSION_ID ?? ''}`.trim() : undefined);

const ARCH_64 = new Set(['x86_64', 'amd64', 'aarch64', 'arm64']);
const ARCH_32 = new Set(['armv6l', 'armv7l', 'armv8l', 'armhf', 'i386', 'i486', 'i586', 'i686']);

export function checkOs(f: ServerFacts): PreflightCheck {
  const t = titles.os;
  if (f.uname === undefined) return check('os', t, 'warn', `Could not tell which system the server runs. ${said(f.unameRaw)}`);
  const { kernel, machine } = f.uname;
  if (kernel !== 'Linux') {
    return check('os', t, 'fail', `The server runs ${kernel} (${machine}). M2 Companion installs its stack on Linux only.`, links.dockerInstall);
  }
  const name = osName(f.os);
  const family = distroFamily(f.os);
  const label = `${name ?? 'Linux'} on ${machine}`;
  if (ARCH_32.has(machine)) {
    const pi = (f.os.ID ?? '') === 'raspbian';
    return check(
      'os',
      t,
      'fail',
      `${label}: a 32-bit system. Several of the stack's images (Authentik, recent Jellyfin) exist only for 64-bit x86 and ARM; install a 64-bit system.`,
      pi ? links.raspberryPiOs64 : undefined,
    );
  }
  const notes: string[] = [];
  let status: PreflightStatus = 'pass';
  if (!ARCH_64.has(machine)) {
    status = 'warn';
    notes.push(`the processor type ${machine} is not one the stack's images are built for (x86_64 or aarch64)`);
  }
  if (family === 'unknown') {
    status = 'warn';
    notes.push(
      name === undefined
        ? `/etc/os-release could not be read (${snippet(f.osRaw, 120)}), so the distribution is unknown`
        : `M2 Companion does not recognise this distribution (ID=${f.os.ID ?? '?'}); it is tested on Debian and Ubuntu`,
    );
  }
  const version = versionTriple(f.os.VERSION_ID ?? '');
  const major = Number.parseInt(f.os.VERSION_ID ?? '', 10);
  if (family === 'debian' && (f.os.ID === 'debian' || f.os.ID === 'raspbian') && major < 11) {
    status = 'warn';
    notes.push('this Debian release is older than Debian 11 and no longer gets Docker updates');
  }
  if (family === 'ubuntu' && f.os.ID === 'ubuntu' && version && compareVersions(version, [20, 4]) < 0) {
    status = 'warn';
    notes.push('this Ubuntu release is older than 20.04 and no longer gets Docker updates');
  }
  return check('os', t, status, notes.length === 0 ? `${label}.` : `${label}: ${notes.join('; ')}.`);
}

// ---------------------------------------------------------------------------------------------
// Docker Engine and Compose

export function installDockerFix(f: ServerFacts): PreflightFix {
  const family = distroFamily(f.os);
  if (family === 'debian' || family === 'ubuntu' || family === 'fedora') {
    return {
      kind: 'command',
      command: 'curl -fsSL https://get.docker.com | sudo sh',
      explain:
        "Run this on the server: Docker's official install script adds Docker's package repository and installs Docker Engine with the Compose plugin. Then run preflight again.",
    };
  }
  if (family === 'alpine') {
    return {
      kind: 'command',
      command: 'sudo apk add docker docker-cli-compose && sudo rc-update add docker default && sudo rc-service docker start',
      explain: 'Run this on the server: it installs Docker Engine and the Compose plugin from Alpine\'s packages and starts Docker now and at boot.',
    };
  }
  return links.dockerInstall;
}

function startDockerFix(f: ServerFacts): PreflightFix {
  if (f.tools.has('systemctl')) {
    return { kind: 'command', command: 'sudo systemctl enable --now docker', explain: 'Run this on the server: it starts Docker now and at every boot.' };
  }
  if (f.tools.has('rc-service')) {
    return {
      kind: 'command',
      command: 'sudo rc-update add docker default && sudo rc-service docker start',
      explain: 'Run this on the server: it starts Docker now and at every boot.',
    };
  }
  return links.dockerInstall;
}

function composeFix(f: ServerFacts): PreflightFix {
  const family = distroFamily(f.os);
  const otherwise =
    'If the package is not found, Docker came from the distribution\'s own packages: install "docker-compose-v2" on Ubuntu or "docker-compose" on Debian 13, or reinstall Docker with: curl -fsSL https://get.docker.com | sudo sh';
  if (family === 'debian' || family === 'ubuntu') {
    return {
      kind: 'command',
      command: 'sudo apt-get update && sudo apt-get install -y docker-compose-plugin',
      explain: `Run this on the server to install the Compose plugin from Docker's repository. ${otherwise}`,
    };
  }
  if (family === 'fedora') {
    return { kind: 'command', command: 'sudo dnf install -y docker-compose-plugin', explain: `Run this on the server. ${otherwise}` };
  }
  if (family === 'alpine') {
    return { kind: 'command', command: 'sudo apk add docker-cli-compose', explain: 'Run this on the server to install the Compose plugin.' };
  }
  return links.composeInstall;
}

/**
 * `effective` is the docker info that worked (the user's, else the one through sudo); `user` is the
 * user's own attempt, which says why it did not.
 */
export function checkDockerEngine(f: ServerFacts, effective: DockerProbe): PreflightCheck {
  const t = titles['docker-engine'];
  const client = f.dockerVersion.client;
  if (effective.kind === 'ok') {
    const v = versionTriple(effective.serverVersion);
    if (v && compareVersions(v, MIN_ENGINE) < 0) {
      return check('docker-engine', t, 'fail', `Docker Engine ${effective.serverVersion} is too old: the stack needs 20.10 or later.`, installDockerFix(f));
    }
    if (!v) return check('docker-engine', t, 'warn', `Docker Engine is running, but its version “${effective.serverVersion}” was not understood.`);
    return check('docker-engine', t, 'pass', `Docker Engine ${effective.serverVersion} is running.`);
  }
  const user = f.dockerInfo;
  switch (user.kind) {
    case 'missing':
      return check('docker-engine', t, 'fail', 'Docker is not installed on the server.', installDockerFix(f));
    case 'daemon-down':
      return check(
        'docker-engine',
        t,
        'fail',
        `Docker${client ? ` ${client}` : ''} is installed, but the Docker Engine is not running. ${said(user.raw)}`,
        startDockerFix(f),
      );
    case 'permission-denied':
    case 'sudo-refused':
      return check(
        'docker-engine',
        t,
        'warn',
        `Docker${client ? ` ${client}` : ''} is installed and running, but this account cannot reach it, so its version was not checked. See “${titles['docker-access']}”.`,
      );
    case 'timeout':
      return check('docker-engine', t, 'fail', `Docker did not answer within ${PROBE_TIMEOUT_S} s: the engine may be hung.`, startDockerFix(f));
    case 'ok':
    case 'unknown':
      return check('docker-engine', t, 'warn', `Could not tell whether Docker Engine is running. ${said(user.raw)}`);
  }
}

export function checkCompose(f: ServerFacts): PreflightCheck {
  const t = titles.compose;
  const c = f.compose;
  if (f.dockerInfo.kind === 'missing') {
    return check('compose', t, 'fail', 'Docker is not installed, so neither is Docker Compose (it comes with Docker).', installDockerFix(f));
  }
  if (c.kind === 'found') {
    if (compareVersions(c.triple, MIN_COMPOSE) < 0) {
      return check('compose', t, 'fail', `Docker Compose ${c.version} is too old: the stack needs Compose 2.20 or later.`, composeFix(f));
    }
    return check('compose', t, 'pass', `Docker Compose ${c.version} (the docker compose plugin).`);
  }
  if (c.kind === 'missing') {
    const s = f.composeStandalone;
    if (s.kind === 'found' && s.triple[0] < 2) {
      return check(
        'compose',
        t,
        'fail',
        `Only the old Compose v1 is installed (docker-compose ${s.version}). M2 Companion needs the Compose v2 plugin (docker compose), 2.20 or later.`,
        composeFix(f),
      );
    }
    if (s.kind === 'found') {
      return check(
        'compose',
        t,
        'fail',
        `docker-compose ${s.version} is installed as a separate program, but "docker compose" (the plugin M2 Companion uses) is missing.`,
        composeFix(f),
      );
    }
    return check('compose', t, 'fail', 'The Docker Compose plugin (docker compose) is not installed.', composeFix(f));
  }
  return check('compose', t, 'warn', `Could not read the Docker Compose version. ${said(c.raw)}`);
}

// ---------------------------------------------------------------------------------------------
// docker access

export const dockerGroupFix = (user: string, explainExtra: string): PreflightFix => ({
  kind: 'command',
  command: toShell(['sudo', 'usermod', '-aG', 'docker', user]),
  explain: `Run this on the server, then log out and back in (in M2 Companion: disconnect and connect again) so the new group applies. ${explainExtra}`,
});

const GROUP_IS_ROOT = 'Members of the docker group control Docker, which amounts to root access on this server.';

/** Which way the login user reaches Docker: its own group membership, passwordless sudo, or not at all. */
export function resolveDockerAccess(
  f: ServerFacts,
  sudo: DockerProbe | undefined,
  user: string,
): { readonly access: DockerAccess; readonly check: PreflightCheck } {
  const t = titles['docker-access'];
  const mine = f.dockerInfo;
  const inGroup = f.groups.includes('docker');
  if (mine.kind === 'ok') {
    const how = user === 'root' ? 'as root' : inGroup ? 'as a member of the docker group' : 'directly';
    return { access: { kind: 'group' }, check: check('docker-access', t, 'pass', `${user} can use Docker ${how}, without sudo.`) };
  }
  if (mine.kind === 'missing' || mine.kind === 'daemon-down' || mine.kind === 'timeout') {
    const why = mine.kind === 'missing' ? 'Docker is not installed' : mine.kind === 'timeout' ? 'Docker did not answer' : 'Docker Engine is not running';
    return {
      access: { kind: 'none' },
      check: check(
        'docker-access',
        t,
        'warn',
        `Not checked: ${why}.${inGroup ? ` ${user} is already in the docker group.` : ` ${user} is not in the docker group yet.`}`,
        inGroup ? undefined : dockerGroupFix(user, GROUP_IS_ROOT),
      ),
    };
  }
  if (sudo?.kind === 'ok') {
    return {
      access: { kind: 'sudo' },
      check: check(
        'docker-access',
        t,
        'warn',
        `${user} is not in the docker group, but can run Docker through sudo without a password, so M2 Companion will run Docker commands with "sudo -n". To use Docker without sudo, add ${user} to the docker group.`,
        dockerGroupFix(user, GROUP_IS_ROOT),
      ),
    };
  }
  const sudoWhy =
    sudo === undefined
      ? 'sudo is not available'
      : sudo.kind === 'sudo-refused'
        ? `sudo needs a password or is not allowed (${snippet(sudo.raw, 120)})`
        : `Docker through sudo did not work either (${snippet(sudo.raw, 120)})`;
  const mineWhy =
    mine.kind === 'permission-denied'
      ? inGroup
        ? `the Docker socket refused ${user} although ${user} is in the docker group`
        : `${user} is not in the docker group`
      : `Docker answered unexpectedly (${snippet(mine.raw, 120)})`;
  return {
    access: { kind: 'none' },
    check: check('docker-access', t, 'fail', `${user} cannot use Docker: ${mineWhy}, and ${sudoWhy}.`, dockerGroupFix(user, GROUP_IS_ROOT)),
  };
}

// ---------------------------------------------------------------------------------------------
// disk

export const formatBytes = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
};

export const diskId = (path: string): PreflightCheckId => `disk:/${path.slice(1)}`;

export function checkDisk(path: string, entry: DiskEntry | undefined, user: string): PreflightCheck {
  const id = diskId(path);
  const t = `Free space at ${path}`;
  if (entry === undefined || entry.kind === 'unknown') {
    return check(id, t, 'warn', `Could not check ${path}. ${said(entry?.raw ?? '')}`);
  }
  const quoted = toShell([path]);
  if (entry.state === 'missing') {
    return check(id, t, 'fail', `${quoted} does not exist on the server.`, {
      kind: 'command',
      command: andThen(['sudo', 'mkdir', '-p', '--', path], ['sudo', 'chown', '--', `${user}:`, path]),
      explain: `Run this on the server to create the folder and give it to ${user}, or choose a folder that exists.`,
    });
  }
  if (entry.state === 'not-dir') {
    return check(id, t, 'fail', `${quoted} is a file, not a folder. Choose a folder for the data.`);
  }
  const space =
    entry.df === undefined
      ? undefined
      : `${formatBytes(entry.df.availableBytes)} free of ${formatBytes(entry.df.sizeBytes)} on ${entry.df.mountPoint || 'its filesystem'}`;
  if (entry.state === 'not-writable') {
    // Handing a top-level folder such as / or /home to one user would be a bad fix to suggest.
    const deep = path.split('/').filter((s) => s !== '').length >= 2;
    return check(
      id,
      t,
      'fail',
      `${user} cannot write to ${quoted}${space ? ` (${space})` : ''}.`,
      deep
        ? {
            kind: 'command',
            command: toShell(['sudo', 'chown', '--', `${user}:`, path]),
            explain: `Run this on the server to give ${user} the folder, or choose a folder ${user} owns (for example under /srv).`,
          }
        : undefined,
    );
  }
  if (entry.df === undefined || space === undefined) {
    return check(id, t, 'warn', `${quoted} exists and is writable, but its free space could not be read. ${said(entry.raw)}`);
  }
  const avail = entry.df.availableBytes;
  if (avail < DISK_FAIL_BYTES) {
    return check(id, t, 'fail', `Only ${space}. The stack needs at least ${formatBytes(DISK_FAIL_BYTES)} free; free up space or choose another disk.`);
  }
  if (avail < DISK_WARN_BYTES) {
    return check(id, t, 'warn', `${space}. That is enough to install, but media, files and backups will fill it soon (${formatBytes(DISK_WARN_BYTES)} or more is comfortable).`);
  }
  return check(id, t, 'pass', `${space}.`);
}

// ---------------------------------------------------------------------------------------------
// GPU

const SOFTWARE = 'Jellyfin will use software transcoding (on the CPU)';

function renderGid(node: string, f: ServerFacts): { gid: number | null; group: string | undefined } {
  const group = f.dri.find((d) => d.name === node)?.group;
  if (group === undefined) {
    const fallback = f.renderGroups.get('render') ?? f.renderGroups.get('video');
    return { gid: fallback ?? null, group: undefined };
  }
  if (/^\d+$/.test(group)) return { gid: Number(group), group };
  return { gid: f.renderGroups.get(group) ?? null, group };
}

/** NVIDIA through nvidia-smi (and Docker's `nvidia` runtime); Intel and AMD through their render nodes. */
export function detectGpu(f: ServerFacts, runtimes: readonly string[] | undefined): { readonly gpu: GpuDetection; readonly check: PreflightCheck } {
  const t = titles.gpu;
  if (f.nvidia.kind === 'gpus') {
    const [first] = f.nvidia.gpus;
    if (first !== undefined) {
      const runtime = runtimes?.includes('nvidia') ?? false;
      // With several GPUs, one that can encode is the one to promise; only when none can is it said before install.
      const encoders = f.nvidia.gpus.map((g) => nvidiaWithoutEncoder(g.name));
      const noEncoder = encoders.every((e) => e !== undefined) ? encoders[0] : undefined;
      const gpu: GpuDetection = { kind: 'nvidia', driver: first.driver, name: first.name, runtime, encoder: noEncoder ? 'none' : 'unknown' };
      const more = f.nvidia.gpus.length > 1 ? ` (and ${f.nvidia.gpus.length - 1} more)` : '';
      const what = `${first.name}${more} with NVIDIA driver ${first.driver}`;
      if (noEncoder) {
        const how = noEncoder.confirmed
          ? `the ${noEncoder.family} has no hardware video encoder (NVENC): it decodes video but cannot encode it`
          : `the ${noEncoder.family} is expected to have no hardware video encoder (NVENC), like the H100: it decodes video but cannot encode it`;
        return { gpu, check: check('gpu', t, 'warn', `${what}: ${how}. ${SOFTWARE}; the GPU stays free for other work.`, links.nvidiaEncodeMatrix) };
      }
      const driver = versionTriple(first.driver);
      if (driver && compareVersions(driver, MIN_NVIDIA_DRIVER) < 0) {
        return { gpu, check: check('gpu', t, 'warn', `${what}: Jellyfin needs driver 520.56.06 or later for NVENC. Until then ${SOFTWARE}.`, links.nvidiaDriver) };
      }
      if (runtimes === undefined) {
        return { gpu, check: check('gpu', t, 'warn', `${what}. Whether Docker has the NVIDIA runtime could not be checked (Docker was not reachable).`) };
      }
      if (!runtime) {
        const fix: PreflightFix = f.tools.has('nvidia-ctk')
          ? {
              kind: 'command',
              command: 'sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker',
              explain: 'Run this on the server: it registers the NVIDIA runtime with Docker and restarts Docker (running containers restart too).',
            }
          : links.nvidiaToolkit;
        return {
          gpu,
          check: check('gpu', t, 'warn', `${what}, but Docker has no "nvidia" runtime (the NVIDIA Container Toolkit is missing or not configured). Until then ${SOFTWARE}.`, fix),
        };
      }
      return { gpu, check: check('gpu', t, 'pass', `${what} and Docker's NVIDIA runtime: Jellyfin can transcode with NVENC.`) };
    }
  }

  const nvidiaNote =
    f.nvidia.kind === 'failed' ? ` nvidia-smi is installed but failed: “${snippet(f.nvidia.raw, 120)}”.` : '';
  for (const [kind, vendorId, brand, method] of [
    ['intel', PCI_VENDORS.intel, 'Intel', 'Quick Sync (QSV) or VA-API'],
    ['amd', PCI_VENDORS.amd, 'AMD', 'VA-API'],
  ] as const) {
    const node = f.vendors.find((v) => v.vendorId === vendorId);
    if (node === undefined) continue;
    const renderNode = `/dev/dri/${node.node}`;
    const { gid, group } = renderGid(node.node, f);
    const gpu: GpuDetection = { kind, renderNode, vendorId, renderGid: gid };
    if (gid === null) {
      return {
        gpu,
        check: check(
          'gpu',
          t,
          'warn',
          `${brand} GPU at ${renderNode}, but the group that owns it${group ? ` (${group})` : ''} has no id we could read; Jellyfin needs it to use the GPU.${nvidiaNote}`,
        ),
      };
    }
    return {
      gpu,
      check: check('gpu', t, nvidiaNote ? 'warn' : 'pass', `${brand} GPU at ${renderNode} (group ${group ?? 'render'}, gid ${gid}): Jellyfin can transcode with ${method}.${nvidiaNote}`),
    };
  }

  const none: GpuDetection = { kind: 'none' };
  if (f.nvidia.kind === 'failed') {
    return { gpu: none, check: check('gpu', t, 'warn', `An NVIDIA driver is installed but not working, so ${SOFTWARE}.${nvidiaNote}`, links.nvidiaDriver) };
  }
  if (f.vendors.some((v) => v.vendorId === PCI_VENDORS.nvidia)) {
    return {
      gpu: none,
      check: check('gpu', t, 'warn', `An NVIDIA GPU is present, but its driver (nvidia-smi) is not installed, so ${SOFTWARE}.`, links.nvidiaDriver),
    };
  }
  if (f.vendors.length > 0) {
    const list = f.vendors.map((v) => `${v.node} (${v.vendorId ?? 'no PCI vendor'})`).join(', ');
    return { gpu: none, check: check('gpu', t, 'pass', `Render device ${list} is not an Intel, AMD or NVIDIA GPU Jellyfin can use, so ${SOFTWARE}.`) };
  }
  return { gpu: none, check: check('gpu', t, 'pass', `No GPU found: ${SOFTWARE}. That works; it is slower and uses more power for 4K and HEVC.`) };
}

// ---------------------------------------------------------------------------------------------
// clock

/**
 * How far apart the clocks must at least be: the server printed whole seconds somewhere between
 * `before` and `after` on this computer's clock.
 */
export function minClockSkewSeconds(serverEpoch: number, before: Date, after: Date): number {
  const lo = before.getTime() / 1000;
  const hi = after.getTime() / 1000;
  if (serverEpoch + 1 < lo) return lo - (serverEpoch + 1);
  if (serverEpoch > hi) return serverEpoch - hi;
  return 0;
}

export function checkClock(f: ServerFacts, window: { readonly before: Date; readonly after: Date }): PreflightCheck {
  const t = titles.clock;
  const why = 'Certificates, sign-in codes and backups need a correct clock.';
  const skew = f.epoch === undefined ? undefined : minClockSkewSeconds(f.epoch, window.before, window.after);
  const skewText = skew === undefined ? '' : ` It differs from this computer's clock by about ${Math.round(skew)} s.`;
  if (f.ntp === 'yes') {
    const note = skew !== undefined && skew > MAX_CLOCK_SKEW_S ? `${skewText} If this computer's clock is wrong, that is harmless for the server.` : '';
    return check('clock', t, 'pass', `The server's clock is synchronised (NTP).${note}`);
  }
  if (f.ntp === 'no') {
    return check('clock', t, 'warn', `The server's clock is not synchronised with a time server.${skewText} ${why}`, {
      kind: 'command',
      command: 'sudo timedatectl set-ntp true',
      explain: 'Run this on the server to turn on network time synchronisation.',
    });
  }
  if (skew === undefined) return check('clock', t, 'warn', `Could not read the server's clock. ${said(f.epochRaw)}`);
  if (skew > MAX_CLOCK_SKEW_S) {
    return check(
      'clock',
      t,
      'warn',
      `The server's clock differs from this computer's by about ${Math.round(skew)} s, and the server does not report time synchronisation (no timedatectl). ${why}`,
      f.tools.has('apt-get')
        ? { kind: 'command', command: 'sudo apt-get install -y chrony', explain: 'Run this on the server: chrony keeps the clock synchronised with internet time servers.' }
        : undefined,
    );
  }
  return check('clock', t, 'pass', `The server's clock agrees with this computer's (within ${MAX_CLOCK_SKEW_S} s). Time synchronisation status is not available (no timedatectl).`);
}

// ---------------------------------------------------------------------------------------------
// outbound TCP 7844

export function checkEgress(e: EgressProbe): PreflightCheck {
  const t = titles['cloudflare-egress'];
  const target = `${CLOUDFLARE_EDGE.host} port ${CLOUDFLARE_EDGE.port}`;
  switch (e.kind) {
    case 'open':
      return check('cloudflare-egress', t, 'pass', `The server reached Cloudflare's tunnel network (${target}, TCP).`);
    case 'dns-failed':
      return check(
        'cloudflare-egress',
        t,
        'fail',
        `The server could not look up ${CLOUDFLARE_EDGE.host}: check its internet connection and DNS settings. ${said(e.raw)}`,
        links.tunnelFirewall,
      );
    case 'blocked':
      if (e.reason === 'unreachable') {
        return check('cloudflare-egress', t, 'fail', `The server has no route to the internet (${target}). ${said(e.raw)}`, links.tunnelFirewall);
      }
      return check(
        'cloudflare-egress',
        t,
        'warn',
        `${e.reason === 'timeout' ? `No answer within ${EGRESS_TIMEOUT_S} s from` : 'Connection refused by'} ${target} over TCP: a firewall probably blocks outbound port ${CLOUDFLARE_EDGE.port}. The tunnel may still work over UDP ${CLOUDFLARE_EDGE.port} (QUIC), which this check cannot test; allow outbound TCP and UDP ${CLOUDFLARE_EDGE.port}.`,
        links.tunnelFirewall,
      );
    case 'no-tool':
      return check('cloudflare-egress', t, 'warn', `Not tested: the server has neither bash nor nc to try a connection to ${target}.`);
    case 'unknown':
      return check('cloudflare-egress', t, 'warn', `Could not tell whether the server reaches ${target}. ${said(e.raw)}`);
  }
}

/** A check that could not run at all (the command itself failed to start or the connection broke). */
export const notRun = (id: PreflightCheckId, title: string, reason: string): PreflightCheck =>
  check(id, title, 'warn', `Could not run this check: ${reason}`);
