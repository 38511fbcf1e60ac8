/**
 * Addresses inside the fallback tunnel's /24 (FallbackSettings.subnet, e.g. 10.13.13.0/24): the server is .1,
 * devices get the lowest free address from .2 to .254.
 */
import { isIPv4 } from '../../contract/validation';
import { AppError } from '../errors';

export interface Subnet24 {
  /** The first three octets, e.g. '10.13.13'. */
  readonly prefix: string;
  /** The subnet as written in settings, e.g. '10.13.13.0/24'. */
  readonly cidr: string;
}

const FIRST_HOST = 2;
const LAST_HOST = 254;

const invalidSubnet = (cidr: string): AppError =>
  new AppError('fallback.invalid', `Tunnel subnet: "${cidr.slice(0, 40)}" is not a /24 ending in .0.`, {
    hint: 'Use a private /24 ending in .0, for example 10.13.13.0/24.',
    field: 'subnet',
  });

/** Parse the settings' form 'a.b.c.0/24'; anything else is an AppError naming the field. */
export const parseSubnet24 = (cidr: string): Subnet24 => {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.0\/24$/.exec(cidr.trim());
  if (!m?.[1] || !isIPv4(`${m[1]}.0`)) throw invalidSubnet(cidr);
  return { prefix: m[1], cidr: `${m[1]}.0/24` };
};

const asSubnet = (subnet: string | Subnet24): Subnet24 => (typeof subnet === 'string' ? parseSubnet24(subnet) : subnet);

/** The server's address inside the tunnel: .1 of the subnet (no prefix length). */
export const serverAddress = (subnet: string | Subnet24): string => `${asSubnet(subnet).prefix}.1`;

/** The host part of `ip` when it lies in the subnet (a bare address or one with a /prefix), else undefined. */
const hostOf = (ip: string, s: Subnet24): number | undefined => {
  const bare = ip.trim().replace(/\/\d{1,2}$/, '');
  if (!isIPv4(bare) || !bare.startsWith(`${s.prefix}.`)) return undefined;
  return Number(bare.slice(s.prefix.length + 1));
};

/** Whether `ip` (bare, or with a /prefix such as /32) is an address of the subnet. */
export const isInSubnet = (ip: string, subnet: string | Subnet24): boolean => hostOf(ip, asSubnet(subnet)) !== undefined;

/**
 * The lowest free device address from .2 to .254 (no prefix length). `used` may hold bare addresses or
 * addresses with a prefix; addresses outside the subnet are ignored. Full → AppError 'fallback.invalid'.
 */
export const nextFreeAddress = (subnet: string | Subnet24, used: readonly string[]): string => {
  const s = asSubnet(subnet);
  const taken = new Set(used.map((u) => hostOf(u, s)).filter((h) => h !== undefined));
  for (let h = FIRST_HOST; h <= LAST_HOST; h++) {
    if (!taken.has(h)) return `${s.prefix}.${h}`;
  }
  throw new AppError('fallback.invalid', `Devices: the tunnel subnet ${s.cidr} has no free address left (${LAST_HOST - FIRST_HOST + 1} devices at most).`, {
    hint: 'Remove a device you no longer use, then add the new one.',
    field: 'name',
  });
};

/**
 * Whether a device's address, as the server sees it, is outside the home: not in the /24 of any of the server's own
 * home-network addresses (a device at home reaching the public address comes back through the router, from inside)
 * and not in the tunnel's subnet. Unknown shapes (IPv6, names) count as inside: the proof must not be claimed lightly.
 */
export function isFromOutside(ip: string, homeAddresses: readonly string[], tunnelSubnet: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
  const m = v4.exec(ip);
  if (!m) return false;
  if (isInSubnet(ip, tunnelSubnet)) return false;
  const net24 = (a: string): string | null => {
    const x = v4.exec(a);
    return x ? `${x[1]}.${x[2]}.${x[3]}` : null;
  };
  const mine = `${m[1]}.${m[2]}.${m[3]}`;
  return !homeAddresses.some((a) => net24(a) === mine);
}
