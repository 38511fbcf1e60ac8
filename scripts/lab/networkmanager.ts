/**
 * Lab NetworkManager: Debian's real NetworkManager, fenced off so it cannot touch this machine's networking,
 * for proving the laptop's `nmcli` path (electron/core/fallback/laptop-tunnel.ts) against the real program.
 *
 * - its own network namespace (m2-nm, only `lo`): every link, address and route it makes lives there;
 * - its own D-Bus *system* bus (.lab/nm/bus, no <servicedir>: nothing is bus-activated — no dispatcher scripts, no
 *   nm-priv-helper); NetworkManager and nmcli find it through DBUS_SYSTEM_BUS_ADDRESS;
 * - its own config (.lab/nm/NetworkManager.conf, empty conf.d folders): keyfile plugin only, profiles in
 *   .lab/nm/connections, no default wired profiles, no DNS handling (dns=none, rc-manager=unmanaged), never the
 *   hostname (hostname-mode=none), no connectivity checks, root-only authorisation (there is no polkit on the bus);
 * - its own /run/NetworkManager and /var/lib/NetworkManager: `ip netns exec` gives the daemon a private mount
 *   namespace, where .lab/nm/run and .lab/nm/lib are bound over those two folders (in-memory profiles land in
 *   .lab/nm/run/system-connections, where a test can look).
 *
 * Installing network-manager must not start a system NetworkManager: where systemd runs, its units are masked
 * before the package is installed; any NetworkManager that was not running before the install is stopped by pid.
 * Only processes this module started (.lab/pids/nm.pid, nm-dbus.pid) are ever signalled.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { aptEnsure, whichBin, type AptNeed } from './apt';
import { labPath } from './paths';
import { readPid, run, startDaemon, stopDaemon, waitFor } from './process';

export const NM_NS = 'm2-nm';
const DBUS = 'nm-dbus';
const NM = 'nm';
const SYSTEMD_UNITS = ['NetworkManager.service', 'NetworkManager-wait-online.service', 'NetworkManager-dispatcher.service'];

export interface NetworkManagerLab {
  /** The namespace NetworkManager runs in. */
  ns: string;
  /** What nmcli (and busctl) need to reach this NetworkManager: DBUS_SYSTEM_BUS_ADDRESS. */
  env: { DBUS_SYSTEM_BUS_ADDRESS: string };
  busAddress: string;
  pid: number;
  /** `NetworkManager --version`, e.g. 1.42.4. */
  version: string;
  /** What NetworkManager sees as /run/NetworkManager (its in-memory profiles are in system-connections/). */
  runDir: string;
  /** Whether this kernel can make a WireGuard link (`ip link add … type wireguard`); NetworkManager needs it. */
  kernelWireGuard: boolean;
}

export const networkManagerPackages: readonly AptNeed[] = [
  { bin: 'NetworkManager', pkg: 'network-manager' },
  { bin: 'nmcli', pkg: 'network-manager' },
  { bin: 'dbus-daemon', pkg: 'dbus' },
  { bin: 'busctl', pkg: 'systemd' },
  { bin: 'ip', pkg: 'iproute2' },
];

const dir = (...p: string[]): string => labPath('nm', ...p);
const busSocket = (): string => dir('bus');
const busAddress = (): string => `unix:path=${busSocket()}`;
const nmEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress() });

/** Pids of every process called NetworkManager on this machine (any namespace). */
function networkManagerPids(): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === 'NetworkManager') pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/**
 * apt-get install network-manager (and busctl's systemd) when missing, without letting the package start a system
 * NetworkManager: systemd's units are masked first where systemd runs, and one that started anyway is stopped.
 */
export async function installNetworkManager(): Promise<void> {
  const missing = networkManagerPackages.some((n) => whichBin(n.bin) === undefined);
  if (!missing) return;
  if (whichBin('NetworkManager') === undefined && existsSync('/run/systemd/system') && whichBin('systemctl') !== undefined) {
    await run('systemctl', ['mask', ...SYSTEMD_UNITS]);
  }
  const before = new Set(networkManagerPids());
  await aptEnsure(networkManagerPackages, 'NetworkManager lab');
  const started = networkManagerPids().filter((p) => !before.has(p) && p !== readPid(NM));
  for (const pid of started) process.kill(pid, 'SIGTERM');
  if (started.length) throw new Error(`NetworkManager lab: installing network-manager started a system NetworkManager (pid ${started.join(', ')}); it was stopped — check this machine's networking`);
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function writeConfigs(): { bus: string; nm: string } {
  for (const d of ['conf.d', 'system-conf.d']) mkdirSync(dir(d), { recursive: true, mode: 0o700 });
  // Fresh state on every start: no profiles, devices or leases from an earlier run.
  for (const d of ['connections', 'run', 'lib']) {
    rmSync(dir(d), { recursive: true, force: true });
    mkdirSync(dir(d), { recursive: true, mode: 0o700 });
  }
  const bus = dir('bus.conf');
  writeFileSync(
    bus,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${xmlEscape(busSocket())}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const nm = dir('NetworkManager.conf');
  writeFileSync(
    nm,
    `[main]
plugins=keyfile
no-auto-default=*
dns=none
rc-manager=unmanaged
hostname-mode=none
auth-polkit=root-only
dhcp=internal

[keyfile]
path=${dir('connections')}

[connectivity]
enabled=false

[logging]
level=INFO
`,
  );
  return { bus, nm };
}

// `ip netns exec` runs this in a private mount namespace: bind the lab's folders over NetworkManager's own, then exec
// it in place (so the pid `ip` started with is NetworkManager's). Fixed text; the folders come as arguments.
const MOUNT_AND_EXEC = 'mount --bind "$1" /run/NetworkManager && mount --bind "$2" /var/lib/NetworkManager && shift 2 && exec "$@"';

async function namespaces(): Promise<Set<string>> {
  const out = await run('ip', ['netns', 'list']);
  return new Set(out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
}

const nmAnswers = async (): Promise<boolean> => {
  try {
    return (await run('nmcli', ['--terse', '--fields', 'RUNNING', 'general', 'status'], { env: nmEnv(), timeoutMs: 5_000 })).trim() === 'running';
  } catch {
    return false;
  }
};

/** The namespace a pid's network belongs to (by name), or '' for one without a name (e.g. the host's). */
const netnsOf = async (pid: number): Promise<string> => (await run('ip', ['netns', 'identify', String(pid)])).trim();

async function kernelWireGuard(): Promise<boolean> {
  const probe = 'm2nmwgprobe';
  try {
    await run('ip', ['-n', NM_NS, 'link', 'add', probe, 'type', 'wireguard']);
  } catch {
    return false;
  }
  await run('ip', ['-n', NM_NS, 'link', 'del', probe]).catch(() => undefined);
  return true;
}

async function start(): Promise<number> {
  const { bus, nm } = writeConfigs();
  rmSync(busSocket(), { force: true });
  const busPid = startDaemon(DBUS, 'dbus-daemon', ['--config-file', bus, '--nofork', '--nopidfile']);
  await waitFor(`dbus-daemon (pid ${busPid}) socket ${busSocket()} (log .lab/logs/${DBUS}.log)`, () => existsSync(busSocket()), 10_000);

  if (!(await namespaces()).has(NM_NS)) await run('ip', ['netns', 'add', NM_NS]);
  await run('ip', ['-n', NM_NS, 'link', 'set', 'lo', 'up']);
  // The mount points must exist; on a machine without a system NetworkManager /run/NetworkManager may not.
  for (const p of ['/run/NetworkManager', '/var/lib/NetworkManager']) mkdirSync(p, { recursive: true });
  const args = [
    'NetworkManager',
    '--no-daemon',
    '--debug',
    '--log-level=INFO',
    `--config=${nm}`,
    `--config-dir=${dir('conf.d')}`,
    `--system-config-dir=${dir('system-conf.d')}`,
    `--intern-config=${dir('lib', 'NetworkManager-intern.conf')}`,
    `--state-file=${dir('lib', 'NetworkManager.state')}`,
    `--pid-file=${dir('run', 'NetworkManager.pid')}`,
  ];
  const pid = startDaemon(NM, 'ip', ['netns', 'exec', NM_NS, 'sh', '-c', MOUNT_AND_EXEC, 'sh', dir('run'), dir('lib'), ...args], { env: nmEnv() });
  await waitFor(`NetworkManager (pid ${pid}) in ${NM_NS} to answer on ${busSocket()} (log .lab/logs/${NM}.log)`, async () => {
    if (readPid(NM) === undefined) throw new Error('exited');
    return nmAnswers();
  }, 30_000, 200);
  // Belt and braces: the daemon must be in its own namespace, never in this machine's.
  const ns = await netnsOf(pid);
  if (ns !== NM_NS) {
    await stopDaemon(NM, 3_000);
    throw new Error(`NetworkManager lab: NetworkManager (pid ${pid}) runs in network namespace "${ns || 'the host’s'}", not ${NM_NS}; stopped it`);
  }
  return pid;
}

/** Idempotent: install what is missing, reuse a NetworkManager this lab started that still answers, else start one. */
export async function ensureNetworkManager(): Promise<NetworkManagerLab> {
  if (process.getuid?.() !== 0) throw new Error('NetworkManager lab needs root (network namespaces, mounts)');
  await installNetworkManager();
  // Open to every user (the bus socket is here; a test runs nmcli as an unprivileged user); what holds keys is not.
  mkdirSync(dir(), { recursive: true });
  chmodSync(dir(), 0o755);
  let pid = readPid(NM);
  const healthy = pid !== undefined && readPid(DBUS) !== undefined && (await namespaces()).has(NM_NS) && (await nmAnswers());
  if (!healthy || pid === undefined) {
    await stopNetworkManager();
    try {
      pid = await start();
    } catch (err) {
      await stopNetworkManager().catch(() => undefined);
      throw err;
    }
  }
  const version = (await run('NetworkManager', ['--version'])).trim();
  return { ns: NM_NS, env: { DBUS_SYSTEM_BUS_ADDRESS: busAddress() }, busAddress: busAddress(), pid, version, runDir: dir('run'), kernelWireGuard: await kernelWireGuard() };
}

/** Stop this lab's NetworkManager and its bus (by their recorded pids) and remove its namespace. */
export async function stopNetworkManager(): Promise<void> {
  await stopDaemon(NM, 10_000);
  await stopDaemon(DBUS, 3_000);
  rmSync(busSocket(), { force: true });
  if ((await namespaces()).has(NM_NS)) await run('ip', ['netns', 'del', NM_NS]);
}
