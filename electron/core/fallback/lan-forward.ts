/**
 * "Let devices reach the home network" (FallbackSettings.allowLan): the server forwards tunnel traffic to the home
 * LAN and masquerades it behind its own LAN address, so LAN hosts answer without a route back to the tunnel.
 *
 * The rules are data: constant iptables lines with the two ranges filled in from canonical numbers (never from the
 * admin's text), written into the server's wg-quick config as PostUp/PostDown. wg-quick runs them when the endpoint
 * opens and closes (the toolbox closes it when the container stops too), and the toolbox replays them when the
 * setting changes while the endpoint is open (server-wireguard.ts RULES_SCRIPT).
 *
 * - Everything lives in one chain per table, `M2-FALLBACK-LAN`, jumped to from the top of FORWARD and POSTROUTING:
 *   above Docker's own chains and its FORWARD policy of DROP, and removable as a whole.
 * - PostUp is idempotent: it starts with the PostDown cleanup (a PostUp that failed half-way is never cleaned by
 *   wg-quick, which stops at the failing line and removes the interface without running PostDown), creates or
 *   flushes the chain, fills it, and adds the jump only when missing; so a second `up`, or a replay, leaves exactly
 *   one copy. Its failure fails `wg-quick up` (fail-closed).
 * - PostDown is in every config, allowed or not: it removes both chains if they are there and never fails. Replaying
 *   PostDown then PostUp turns the option off as well as on.
 * - IPv4 forwarding is the host's (a host-network container cannot set it): `ip_forward` is read over SSH and the
 *   admin is told how to turn it on.
 * - iptables inside the linuxserver/wireguard image (Alpine) is the nf_tables backend; Debian and Ubuntu Docker hosts
 *   use the same by default. A host whose Docker runs iptables-legacy keeps dropping in its legacy FORWARD chain.
 */
import { lanCidrProblem, parseIPv4Cidr } from '../../contract/fallback';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';

/** The chain (in the filter and the nat table) that holds every rule of the option. */
export const LAN_CHAIN = 'M2-FALLBACK-LAN';

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** A CIDR rebuilt from its numbers: nothing of the typed text reaches the config. */
const canonical = (cidr: string, field: string, what: string): string => {
  const c = parseIPv4Cidr(cidr);
  if (!c) throw new AppError('fallback.invalid', `${what}: ${JSON.stringify(cidr.slice(0, 40))} is not an address range such as 192.168.1.0/24.`, { field });
  return `${dotted(c.base)}/${c.bits}`;
};

export interface LanForwardInput {
  readonly allowLan: boolean;
  readonly lanCidr: string;
  /** The tunnel's subnet, e.g. 10.13.13.0/24. */
  readonly subnet: string;
  /** Docker's networks the range must stay apart from; the product's (`DOCKER_SUBNETS`) unless a stack renders with others. */
  readonly dockerSubnets?: readonly { cidr: string; name: string }[];
}

/** The PostDown lines: remove both chains and their jumps if they are there; never fails. */
export const lanForwardCleanup = (): string[] => [
  `iptables -D FORWARD -j ${LAN_CHAIN} 2>/dev/null || true`,
  `iptables -F ${LAN_CHAIN} 2>/dev/null || true`,
  `iptables -X ${LAN_CHAIN} 2>/dev/null || true`,
  `iptables -t nat -D POSTROUTING -j ${LAN_CHAIN} 2>/dev/null || true`,
  `iptables -t nat -F ${LAN_CHAIN} 2>/dev/null || true`,
  `iptables -t nat -X ${LAN_CHAIN} 2>/dev/null || true`,
];

/**
 * PostUp and PostDown for the server's config. Off: PostUp and PostDown only clean up whatever an earlier config
 * opened. On: forward tunnel → LAN (new connections from the tunnel's subnet only, never out through a Docker bridge;
 * the range itself must stay apart from Docker's networks), LAN → tunnel for replies only, masquerade tunnel → LAN.
 * `%i` is wg-quick's interface name.
 */
export function lanForwardRules(s: LanForwardInput): { postUp: string[]; postDown: string[] } {
  const postDown = lanForwardCleanup();
  // Off: PostUp is the cleanup alone, so rules a half-done switch-on left go at the next up (see below).
  if (!s.allowLan) return { postUp: [...postDown], postDown };
  const problem = lanCidrProblem(s, s.dockerSubnets);
  if (problem) throw new AppError('fallback.invalid', problem, { field: 'lanCidr', hint: 'Correct the home network’s range in the fallback settings.' });
  const lan = canonical(s.lanCidr, 'lanCidr', 'Home network');
  const tunnel = canonical(s.subnet, 'subnet', 'Tunnel subnet');
  return {
    postUp: [
      // First the cleanup: wg-quick (set -e) stops at a failing PostUp line and takes the interface away without
      // running PostDown, and a later `down` finds no interface and runs nothing; so what an earlier half-done
      // PostUp left (a chain, a jump) goes at the next up instead of staying.
      ...postDown,
      `iptables -N ${LAN_CHAIN} 2>/dev/null || iptables -F ${LAN_CHAIN}`,
      // Never into a Docker bridge, whatever the range: such packets go back to FORWARD, where Docker's own chains
      // decide (iptables allows one -o per rule, so `! -o docker0 ! -o br-+` would fail wg-quick up).
      `iptables -A ${LAN_CHAIN} -i %i -o docker0 -j RETURN`,
      `iptables -A ${LAN_CHAIN} -i %i -o br-+ -j RETURN`,
      `iptables -A ${LAN_CHAIN} -i %i -s ${tunnel} -d ${lan} -j ACCEPT`,
      `iptables -A ${LAN_CHAIN} -o %i -s ${lan} -d ${tunnel} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `iptables -C FORWARD -j ${LAN_CHAIN} 2>/dev/null || iptables -I FORWARD 1 -j ${LAN_CHAIN}`,
      `iptables -t nat -N ${LAN_CHAIN} 2>/dev/null || iptables -t nat -F ${LAN_CHAIN}`,
      `iptables -t nat -A ${LAN_CHAIN} -s ${tunnel} -d ${lan} -j MASQUERADE`,
      `iptables -t nat -C POSTROUTING -j ${LAN_CHAIN} 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j ${LAN_CHAIN}`,
    ],
    postDown,
  };
}

/** Reads the host's IPv4 forwarding switch (no sudo needed). */
export const ipForwardArgv = (): Argv => ['cat', '/proc/sys/net/ipv4/ip_forward'];

/** `1` → true, `0` → false; anything else is not understood. */
export const parseIpForward = (stdout: string): boolean => {
  const w = stdout.trim();
  if (w === '1') return true;
  if (w === '0') return false;
  throw new AppError('fallback.switch-failed', 'The server’s IP forwarding setting could not be read.', { hint: 'Check that /proc/sys/net/ipv4/ip_forward exists on the server.' });
};

/** What the admin reads when forwarding is off: why, and the two commands that turn it on (now, and after reboots). */
export const IP_FORWARD_OFF =
  'Home network: IP forwarding is off on the server, so devices reach the server and its services but nothing else at home.';
export const IP_FORWARD_HINT =
  'On the server run: sudo sysctl -w net.ipv4.ip_forward=1 — and to keep it after a restart: echo net.ipv4.ip_forward=1 | sudo tee /etc/sysctl.d/99-m2-fallback.conf. Docker turns it on by itself unless its ip-forward option is off.';
