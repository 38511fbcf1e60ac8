/**
 * Lab WireGuard: two network namespaces (a laptop and a home server) joined by a veth pair on a private /30,
 * and a WireGuard tunnel between them run by userspace `wireguard-go` (this kernel has no wireguard module),
 * configured with `wg` (DESIGN.md §6, stack-facts §8).
 *
 *   m2-laptop [m2vl 10.213.74.2/30] ==veth== [m2vs 10.213.74.1/30] m2-server
 *   m2-laptop [wgm2l 10.213.75.2/24] ~~WireGuard udp/51820~~ [wgm2s 10.213.75.1/24] m2-server
 *
 * wireguard-go's control sockets share one folder (/var/run/wireguard), so each side has its own interface name.
 * Private keys are made by `wg genkey` into files (mode 0600) and handed to `wg set … private-key <file>`: never argv.
 * Only processes this module started (pid files .lab/pids/wg-m2l.pid, wg-m2s.pid) are ever signalled.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { aptEnsure, type AptNeed } from './apt';
import { labPath } from './paths';
import { readPid, run, startDaemon, stopDaemon, waitFor } from './process';

export const LAPTOP_NS = 'm2-laptop';
export const SERVER_NS = 'm2-server';
const LAPTOP_VETH = 'm2vl';
const SERVER_VETH = 'm2vs';
const LAPTOP_IF = 'wgm2l';
const SERVER_IF = 'wgm2s';
const LAPTOP_VETH_IP = '10.213.74.2';
const SERVER_VETH_IP = '10.213.74.1';
const LAPTOP_WG_IP = '10.213.75.2';
const SERVER_WG_IP = '10.213.75.1';
const WG_PREFIX = 24;
const SERVER_PORT = 51820;
const LAPTOP_PORT = 51821;
const KEEPALIVE_S = 25;
const WG_SOCKET_DIR = '/var/run/wireguard';

const DAEMON = { laptop: 'wg-m2l', server: 'wg-m2s' } as const;

export interface WireGuardLab {
  laptopNs: string;
  serverNs: string;
  laptopIf: string;
  serverIf: string;
  /** Tunnel addresses (no prefix). */
  laptopWgIp: string;
  serverWgIp: string;
  /** Tunnel subnet, e.g. 10.213.75.0/24 (what a client's AllowedIPs would name). */
  wgSubnet: string;
  /** The server's WireGuard endpoint as the laptop sees it: `<veth ip>:<port>`. */
  serverEndpoint: string;
  serverListenPort: number;
  laptopVeth: string;
  serverVeth: string;
  laptopVethIp: string;
  serverVethIp: string;
  laptopPublicKey: string;
  serverPublicKey: string;
  /** Private key files (mode 0600). */
  laptopPrivateKeyFile: string;
  serverPrivateKeyFile: string;
}

export const wireGuardPackages: readonly AptNeed[] = [
  { bin: 'ip', pkg: 'iproute2' },
  { bin: 'wg', pkg: 'wireguard-tools' },
  { bin: 'wireguard-go', pkg: 'wireguard-go' },
];

/** apt-get install iproute2, wireguard-tools and wireguard-go when any is missing (root). */
export const installWireGuard = (): Promise<void> => aptEnsure(wireGuardPackages, 'WireGuard lab');

/** The environment wireguard-go needs to run on a kernel that claims WireGuard support. */
export const wgEnv = (): NodeJS.ProcessEnv => ({ ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' });

/** argv for running `file args…` inside a namespace: `ip netns exec <ns> file args…`. */
export const nsExecArgs = (ns: string, file: string, args: readonly string[] = []): [string, string[]] => ['ip', ['netns', 'exec', ns, file, ...args]];

/** Run a program inside a namespace, returning stdout. */
export const nsRun = (ns: string, file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> =>
  run('ip', ['netns', 'exec', ns, file, ...args], { env: wgEnv(), ...opts });

/** `wg show <if> <field>` inside a namespace (e.g. field = latest-handshakes, transfer, peers). */
export const wgShow = (ns: string, iface: string, field: string): Promise<string> => nsRun(ns, 'wg', ['show', iface, field], { timeoutMs: 10_000 });

const keyDir = (): string => labPath('wireguard');
const keyFile = (side: 'laptop' | 'server'): string => labPath('wireguard', `${side}.key`);

async function namespaces(): Promise<Set<string>> {
  const out = await run('ip', ['netns', 'list']);
  return new Set(out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
}

/** A (private key file, public key) pair; the key is made by `wg genkey` and written 0600 before use. */
async function ensureKeyPair(side: 'laptop' | 'server'): Promise<{ file: string; pub: string }> {
  mkdirSync(keyDir(), { recursive: true, mode: 0o700 });
  const file = keyFile(side);
  if (!existsSync(file)) {
    const priv = (await run('wg', ['genkey'])).trim();
    writeFileSync(file, `${priv}\n`, { mode: 0o600 });
  }
  chmodSync(file, 0o600);
  const pub = (await run('wg', ['pubkey'], { input: readFileSync(file, 'utf8') })).trim();
  return { file, pub };
}

const socketPath = (iface: string): string => `${WG_SOCKET_DIR}/${iface}.sock`;

const socketAnswers = (p: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Ensure /dev/net/tun exists (some containers lack the node); wireguard-go needs it. */
async function ensureTun(): Promise<void> {
  if (existsSync('/dev/net/tun')) return;
  try {
    mkdirSync('/dev/net', { recursive: true });
    await run('mknod', ['/dev/net/tun', 'c', '10', '200']);
    chmodSync('/dev/net/tun', 0o666);
  } catch (err) {
    throw new Error(`WireGuard lab: /dev/net/tun is missing and could not be created (wireguard-go needs a TUN device): ${(err as Error).message}`, { cause: err });
  }
}

async function startWireGuardGo(side: 'laptop' | 'server', ns: string, iface: string): Promise<void> {
  const sock = socketPath(iface);
  if (existsSync(sock)) {
    if (await socketAnswers(sock)) {
      throw new Error(
        `WireGuard lab: ${sock} is live but not from a wireguard-go this lab recorded (.lab/pids/${DAEMON[side]}.pid); ` +
          `an interface named ${iface} is already run by another process — stop it, then retry`,
      );
    }
    rmSync(sock, { force: true });
  }
  const [file, args] = nsExecArgs(ns, 'wireguard-go', ['-f', iface]);
  // `ip netns exec` execs wireguard-go in place, so the recorded pid is wireguard-go's own.
  const pid = startDaemon(DAEMON[side], file, args, { env: { ...wgEnv(), LOG_LEVEL: 'error' } });
  await waitFor(`wireguard-go ${iface} (pid ${pid}) in ${ns} to open ${sock} (log .lab/logs/${DAEMON[side]}.log)`, async () => {
    if (readPid(DAEMON[side]) === undefined) throw new Error('exited');
    return existsSync(sock) && (await socketAnswers(sock));
  }, 15_000);
}

async function healthy(lab: WireGuardLab): Promise<boolean> {
  try {
    const ns = await namespaces();
    if (!ns.has(LAPTOP_NS) || !ns.has(SERVER_NS)) return false;
    if (readPid(DAEMON.laptop) === undefined || readPid(DAEMON.server) === undefined) return false;
    const [lPeers, sPeers] = await Promise.all([wgShow(LAPTOP_NS, LAPTOP_IF, 'peers'), wgShow(SERVER_NS, SERVER_IF, 'peers')]);
    if (lPeers.trim() !== lab.serverPublicKey || sPeers.trim() !== lab.laptopPublicKey) return false;
    const [lAddr, sAddr] = await Promise.all([
      run('ip', ['-n', LAPTOP_NS, '-o', 'addr', 'show', 'dev', LAPTOP_IF]),
      run('ip', ['-n', SERVER_NS, '-o', 'addr', 'show', 'dev', SERVER_IF]),
    ]);
    return lAddr.includes(`${LAPTOP_WG_IP}/`) && sAddr.includes(`${SERVER_WG_IP}/`);
  } catch {
    return false;
  }
}

async function build(lab: WireGuardLab): Promise<void> {
  await ensureTun();
  for (const ns of [LAPTOP_NS, SERVER_NS]) {
    try {
      await run('ip', ['netns', 'add', ns]);
    } catch (err) {
      throw new Error(`WireGuard lab: \`ip netns add ${ns}\` failed (needs root / CAP_SYS_ADMIN and a writable /run/netns): ${(err as Error).message}`, { cause: err });
    }
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await run('ip', ['link', 'add', LAPTOP_VETH, 'netns', LAPTOP_NS, 'type', 'veth', 'peer', 'name', SERVER_VETH, 'netns', SERVER_NS]);
  await run('ip', ['-n', LAPTOP_NS, 'addr', 'add', `${LAPTOP_VETH_IP}/30`, 'dev', LAPTOP_VETH]);
  await run('ip', ['-n', SERVER_NS, 'addr', 'add', `${SERVER_VETH_IP}/30`, 'dev', SERVER_VETH]);
  await run('ip', ['-n', LAPTOP_NS, 'link', 'set', LAPTOP_VETH, 'up']);
  await run('ip', ['-n', SERVER_NS, 'link', 'set', SERVER_VETH, 'up']);

  mkdirSync(WG_SOCKET_DIR, { recursive: true });
  await startWireGuardGo('server', SERVER_NS, SERVER_IF);
  await startWireGuardGo('laptop', LAPTOP_NS, LAPTOP_IF);

  await nsRun(SERVER_NS, 'wg', [
    'set', SERVER_IF,
    'listen-port', String(SERVER_PORT),
    'private-key', lab.serverPrivateKeyFile,
    'peer', lab.laptopPublicKey, 'allowed-ips', `${LAPTOP_WG_IP}/32`,
  ]);
  await nsRun(LAPTOP_NS, 'wg', [
    'set', LAPTOP_IF,
    'listen-port', String(LAPTOP_PORT),
    'private-key', lab.laptopPrivateKeyFile,
    'peer', lab.serverPublicKey, 'allowed-ips', `${SERVER_WG_IP}/32`,
    'endpoint', lab.serverEndpoint, 'persistent-keepalive', String(KEEPALIVE_S),
  ]);
  await run('ip', ['-n', SERVER_NS, 'addr', 'add', `${SERVER_WG_IP}/${WG_PREFIX}`, 'dev', SERVER_IF]);
  await run('ip', ['-n', LAPTOP_NS, 'addr', 'add', `${LAPTOP_WG_IP}/${WG_PREFIX}`, 'dev', LAPTOP_IF]);
  await run('ip', ['-n', SERVER_NS, 'link', 'set', SERVER_IF, 'up']);
  await run('ip', ['-n', LAPTOP_NS, 'link', 'set', LAPTOP_IF, 'up']);
}

/** Seconds-since-epoch of the latest handshake on `iface` (0 = never). */
export async function latestHandshake(ns: string, iface: string): Promise<number> {
  const out = await wgShow(ns, iface, 'latest-handshakes');
  return Math.max(0, ...out.trim().split('\n').filter(Boolean).map((l) => Number(l.trim().split(/\s+/)[1] ?? 0)));
}

/**
 * Idempotent: install what is missing, then reuse a healthy lab or (re)build it from scratch, with the veth up
 * and a completed handshake. Fails with a message naming what is missing or what failed.
 */
export async function ensureWireGuardLab(): Promise<WireGuardLab> {
  if (process.getuid?.() !== 0) throw new Error('WireGuard lab needs root (network namespaces, TUN devices)');
  await installWireGuard();
  const [laptop, server] = [await ensureKeyPair('laptop'), await ensureKeyPair('server')];
  const lab: WireGuardLab = {
    laptopNs: LAPTOP_NS,
    serverNs: SERVER_NS,
    laptopIf: LAPTOP_IF,
    serverIf: SERVER_IF,
    laptopWgIp: LAPTOP_WG_IP,
    serverWgIp: SERVER_WG_IP,
    wgSubnet: `${SERVER_WG_IP.split('.').slice(0, 3).join('.')}.0/${WG_PREFIX}`,
    serverEndpoint: `${SERVER_VETH_IP}:${SERVER_PORT}`,
    serverListenPort: SERVER_PORT,
    laptopVeth: LAPTOP_VETH,
    serverVeth: SERVER_VETH,
    laptopVethIp: LAPTOP_VETH_IP,
    serverVethIp: SERVER_VETH_IP,
    laptopPublicKey: laptop.pub,
    serverPublicKey: server.pub,
    laptopPrivateKeyFile: laptop.file,
    serverPrivateKeyFile: server.file,
  };
  if (!(await healthy(lab))) {
    await stopWireGuardLab();
    try {
      await build(lab);
    } catch (err) {
      await stopWireGuardLab().catch(() => undefined);
      throw err;
    }
  }
  await restoreLink();
  await run('ip', ['-n', SERVER_NS, 'link', 'set', SERVER_IF, 'up']);
  await run('ip', ['-n', LAPTOP_NS, 'link', 'set', LAPTOP_IF, 'up']);
  // The laptop's keepalive starts a handshake at once; waiting for it proves the tunnel works end to end.
  await waitFor(`a WireGuard handshake between ${LAPTOP_IF} and ${SERVER_IF}`, async () => (await latestHandshake(LAPTOP_NS, LAPTOP_IF)) > 0, 20_000, 200);
  return lab;
}

/** Simulate an outage: take the laptop's end of the veth down (the server end loses carrier too). */
export async function cutLink(): Promise<void> {
  await run('ip', ['-n', LAPTOP_NS, 'link', 'set', LAPTOP_VETH, 'down']);
}

/** End the outage: both veth ends up again. */
export async function restoreLink(): Promise<void> {
  await run('ip', ['-n', LAPTOP_NS, 'link', 'set', LAPTOP_VETH, 'up']);
  await run('ip', ['-n', SERVER_NS, 'link', 'set', SERVER_VETH, 'up']);
}

/** Stop the wireguard-go processes this lab started (by recorded pid) and delete both namespaces. Keys stay. */
export async function stopWireGuardLab(): Promise<void> {
  await stopDaemon(DAEMON.laptop, 5_000);
  await stopDaemon(DAEMON.server, 5_000);
  const ns = await namespaces().catch(() => new Set<string>());
  for (const name of [LAPTOP_NS, SERVER_NS]) {
    if (ns.has(name)) await run('ip', ['netns', 'del', name]);
  }
  for (const iface of [LAPTOP_IF, SERVER_IF]) {
    const sock = socketPath(iface);
    if (existsSync(sock) && !(await socketAnswers(sock))) rmSync(sock, { force: true });
  }
}
