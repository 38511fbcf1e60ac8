/**
 * The lab network the WireGuard fallback is proven on (issue 12). This machine's root namespace IS the home server
 * (the lab's sshd, dockerd, the stack's WireGuard toolbox on the host network). Around it:
 *
 *   root ns  [m2lan0 10.213.79.1/32]=veth=[m2lan0p]   "the server's LAN address" (sshd listens here too)
 *   root ns  [m2awr 10.213.80.1/30] ==veth== [m2awn 10.213.80.2/30] m2-away   (the laptop away from home)
 *   root ns  [m2phr 10.213.81.1/30] ==veth== [m2phn 10.213.81.2/30] m2-phone  (a household device)
 *
 * The namespaces have no default route: each reaches only its root-side address (the "public endpoint"), never
 * the LAN address, unless a WireGuard tunnel carries it there. The fallback's tunnel subnet in the lab is
 * 10.213.88.0/24 (server 10.213.88.1) on UDP 51830. Idempotent `ensureFallbackNet()`, `stopFallbackNet()`.
 * Nothing here starts a process; peers in the namespaces are the tests' (wg-quick up/down there).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { labPath } from './paths';
import { isAlive, run, sleep } from './process';

export const SERVER_LAN_IF = 'm2lan0';
/** This kernel has no dummy driver: m2lan0 is one end of a veth pair whose other end stays in the root namespace too. */
const SERVER_LAN_PEER = 'm2lan0p';
export const SERVER_LAN_IP = '10.213.79.1';
export const FALLBACK_SUBNET = '10.213.88.0/24';
export const FALLBACK_SERVER_IP = '10.213.88.1';
export const FALLBACK_PORT = 51830;

export interface FallbackSide {
  /** Network namespace of the device. */
  readonly ns: string;
  /** veth ends: in the root namespace (the server's "public" side) and in the device's namespace. */
  readonly rootVeth: string;
  readonly nsVeth: string;
  /** The server's public endpoint address as this device reaches it, and the device's own address. */
  readonly rootIp: string;
  readonly nsIp: string;
  readonly prefix: 30;
}

export interface FallbackNet {
  readonly serverLanIf: string;
  /** The server's LAN address (a /32 on m2lan0 in the root namespace). */
  readonly serverLanIp: string;
  readonly away: FallbackSide;
  readonly phone: FallbackSide;
  /** What the lab's stack settings for fallback tests use. */
  readonly tunnelSubnet: string;
  readonly serverTunnelIp: string;
  readonly wireguardPort: number;
}

const AWAY: FallbackSide = { ns: 'm2-away', rootVeth: 'm2awr', nsVeth: 'm2awn', rootIp: '10.213.80.1', nsIp: '10.213.80.2', prefix: 30 };
const PHONE: FallbackSide = { ns: 'm2-phone', rootVeth: 'm2phr', nsVeth: 'm2phn', rootIp: '10.213.81.1', nsIp: '10.213.81.2', prefix: 30 };

export const fallbackNet: FallbackNet = {
  serverLanIf: SERVER_LAN_IF,
  serverLanIp: SERVER_LAN_IP,
  away: AWAY,
  phone: PHONE,
  tunnelSubnet: FALLBACK_SUBNET,
  serverTunnelIp: FALLBACK_SERVER_IP,
  wireguardPort: FALLBACK_PORT,
};

const quiet = async (file: string, args: readonly string[]): Promise<string | undefined> => {
  try {
    return await run(file, args);
  } catch {
    return undefined;
  }
};

async function namespaces(): Promise<Set<string>> {
  const out = await run('ip', ['netns', 'list']);
  return new Set(out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
}

/** An address on an interface (`ip -o addr show dev`), in the root namespace or in `ns`. */
async function hasAddress(dev: string, cidr: string, ns?: string): Promise<boolean> {
  const out = await quiet('ip', [...(ns ? ['-n', ns] : []), '-o', '-4', 'addr', 'show', 'dev', dev]);
  return out !== undefined && out.includes(` ${cidr} `);
}

/**
 * The server's LAN address: interface m2lan0 with 10.213.79.1/32, up (root; idempotent). A dummy interface would do,
 * but this kernel has no dummy driver, so m2lan0 is a veth whose peer (m2lan0p) also stays in the root namespace.
 * The lab's sshd calls this before it starts, so that it can listen on the address.
 */
export async function ensureServerLan(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('fallback lab network needs root (dummy interface, network namespaces)');
  if ((await quiet('ip', ['link', 'show', 'dev', SERVER_LAN_IF])) === undefined) {
    try {
      await run('ip', ['link', 'add', SERVER_LAN_IF, 'type', 'veth', 'peer', 'name', SERVER_LAN_PEER]);
    } catch (err) {
      // labUp starts sshd (which ensures this too) alongside this network: the other may have made it meanwhile.
      if ((await quiet('ip', ['link', 'show', 'dev', SERVER_LAN_IF])) === undefined) {
        throw new Error(`fallback lab network: \`ip link add ${SERVER_LAN_IF} type veth\` failed (needs root): ${(err as Error).message}`, { cause: err });
      }
    }
  }
  await run('ip', ['link', 'set', SERVER_LAN_PEER, 'up']);
  if (!(await hasAddress(SERVER_LAN_IF, `${SERVER_LAN_IP}/32`))) {
    await run('ip', ['addr', 'add', `${SERVER_LAN_IP}/32`, 'dev', SERVER_LAN_IF]).catch(async (err: unknown) => {
      if (!(await hasAddress(SERVER_LAN_IF, `${SERVER_LAN_IP}/32`))) throw err;
    });
  }
  await run('ip', ['link', 'set', SERVER_LAN_IF, 'up']);
}

async function ensureSide(s: FallbackSide): Promise<void> {
  if (!(await namespaces()).has(s.ns)) {
    try {
      await run('ip', ['netns', 'add', s.ns]);
    } catch (err) {
      throw new Error(`fallback lab network: \`ip netns add ${s.ns}\` failed (needs root / CAP_SYS_ADMIN and a writable /run/netns): ${(err as Error).message}`, { cause: err });
    }
  }
  await run('ip', ['-n', s.ns, 'link', 'set', 'lo', 'up']);
  const rootEnd = await quiet('ip', ['link', 'show', 'dev', s.rootVeth]);
  const nsEnd = await quiet('ip', ['-n', s.ns, 'link', 'show', 'dev', s.nsVeth]);
  if (rootEnd === undefined || nsEnd === undefined) {
    // Half a pair (an interrupted run): remove what is left, then make the pair again.
    if (rootEnd !== undefined) await run('ip', ['link', 'del', s.rootVeth]);
    if (nsEnd !== undefined) await run('ip', ['-n', s.ns, 'link', 'del', s.nsVeth]);
    await run('ip', ['link', 'add', s.rootVeth, 'type', 'veth', 'peer', 'name', s.nsVeth, 'netns', s.ns]);
  }
  if (!(await hasAddress(s.rootVeth, `${s.rootIp}/${s.prefix}`))) await run('ip', ['addr', 'add', `${s.rootIp}/${s.prefix}`, 'dev', s.rootVeth]);
  if (!(await hasAddress(s.nsVeth, `${s.nsIp}/${s.prefix}`, s.ns))) await run('ip', ['-n', s.ns, 'addr', 'add', `${s.nsIp}/${s.prefix}`, 'dev', s.nsVeth]);
  await run('ip', ['link', 'set', s.rootVeth, 'up']);
  await run('ip', ['-n', s.ns, 'link', 'set', s.nsVeth, 'up']);
  // Only the /30 is reachable: no default route, ever (a test or an earlier run may have added one).
  if ((await run('ip', ['-n', s.ns, '-4', 'route', 'show', 'default'])).trim() !== '') await run('ip', ['-n', s.ns, '-4', 'route', 'flush', 'exact', '0.0.0.0/0']);
}

/** Idempotent: the LAN address and both device namespaces, as described above. Root only. */
export async function ensureFallbackNet(): Promise<FallbackNet> {
  await ensureServerLan();
  await ensureSide(AWAY);
  await ensureSide(PHONE);
  return fallbackNet;
}

/** Delete both namespaces (their veths go with them) and the LAN address's interface (its peer goes with it). */
export async function stopFallbackNet(): Promise<void> {
  const ns = await namespaces().catch(() => new Set<string>());
  for (const s of [AWAY, PHONE]) {
    if (ns.has(s.ns)) await run('ip', ['netns', 'del', s.ns]);
    if ((await quiet('ip', ['link', 'show', 'dev', s.rootVeth])) !== undefined) await run('ip', ['link', 'del', s.rootVeth]);
  }
  if ((await quiet('ip', ['link', 'show', 'dev', SERVER_LAN_IF])) !== undefined) await run('ip', ['link', 'del', SERVER_LAN_IF]);
}

/**
 * The fallback's interface (m2wg0) and UDP port are one per machine, like on a real server: lab tests that turn the
 * fallback on must not overlap. `acquireFallbackLock` waits (up to `timeoutMs`) for the lab-wide lock folder
 * .lab/locks/fallback-wg (a holder whose pid is gone is stale) and returns its release.
 */
export async function acquireFallbackLock(holder: string, timeoutMs = 15 * 60_000): Promise<() => void> {
  const dir = labPath('locks', 'fallback-wg');
  mkdirSync(labPath('locks'), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'holder'), `${process.pid} ${holder}\n`);
      return () => {
        const [pid] = (existsSync(path.join(dir, 'holder')) ? readFileSync(path.join(dir, 'holder'), 'utf8') : '').split(' ');
        if (Number(pid) === process.pid) rmSync(dir, { recursive: true, force: true });
      };
    } catch {
      const line = existsSync(path.join(dir, 'holder')) ? readFileSync(path.join(dir, 'holder'), 'utf8').trim() : '';
      const pid = Number(line.split(' ')[0]);
      if (line !== '' && (!Number.isInteger(pid) || !isAlive(pid))) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`fallback lab: ${dir} is held by ${line || 'a starting holder'}`);
      await sleep(500);
    }
  }
}
