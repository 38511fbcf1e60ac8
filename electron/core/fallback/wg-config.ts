/**
 * WireGuard configuration text: the server's wg0.conf, a device's wg-quick config (what the WireGuard apps
 * import from a file or a QR code), the output of `wg show <if> dump`, and file names the apps accept.
 * Pure and deterministic: the same input gives the same bytes. Every value is checked before it is written, and
 * a device's name only ever lands in a comment, sanitised so that it cannot end the line or start a section.
 */
import { secretMask } from '../../contract/stack';
import { isDnsName, isIPv4, isIPv6 } from '../../contract/validation';
import { AppError, SEE_LOG } from '../errors';
import type { Secret } from '../secrets/secret';
import { isWgKey } from './wg-keys';

export interface ServerPeer {
  readonly id: string;
  readonly name: string;
  readonly publicKey: string;
  readonly presharedKey?: Secret;
  readonly allowedIps: readonly string[];
}

export interface ServerConfigInput {
  readonly privateKey: Secret;
  /** The server's tunnel address with the subnet's length, e.g. '10.13.13.1/24'. */
  readonly address: string;
  readonly listenPort: number;
  readonly peers: ReadonlyArray<ServerPeer>;
  /** Constant commands wg-quick runs after the interface is up / before it goes down (e.g. the FORWARD rules). */
  readonly postUp?: readonly string[];
  readonly postDown?: readonly string[];
}

export interface PeerConfigInput {
  readonly privateKey: Secret;
  /** The device's tunnel address, e.g. '10.13.13.2/32'. */
  readonly address: string;
  readonly serverPublicKey: string;
  readonly presharedKey?: Secret;
  /** 'home.example.com:51820', '203.0.113.7:51820' or '[2001:db8::1]:51820'. */
  readonly endpoint: string;
  readonly allowedIps: readonly string[];
  /** Seconds, 1–65535; omitted or 0 = off. */
  readonly persistentKeepalive?: number;
  /** DNS servers (addresses) or search domains, as wg-quick's `DNS =` takes them. */
  readonly dns?: readonly string[];
}

export interface WgDumpPeer {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  /** Seconds since the epoch; 0 = never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number | null;
}

export interface WgDump {
  publicKey: string;
  listenPort: number;
  peers: WgDumpPeer[];
}

// ---------------------------------------------------------------------------------------------------------------
// Checks: a value that would not survive a round trip through wg-quick is a bug upstream, said in words.

const invalid = (what: string, hint: string): AppError => new AppError('fallback.invalid', `WireGuard config: ${what}.`, { hint });
const INTERNAL_HINT = `This is a fault in M2 Companion’s fallback data; ${SEE_LOG}.`;
const show = (s: string): string => JSON.stringify(s.slice(0, 60));

const MAX_NAME = 40;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** An address with a prefix length: IPv4 /0–32 or IPv6 /0–128. */
export const isCidr = (s: string): boolean => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m?.[1] || !m[2] || (m[2].length > 1 && m[2].startsWith('0'))) return false;
  const len = Number(m[2]);
  return (isIPv4(m[1]) && len <= 32) || (isIPv6(m[1]) && len <= 128);
};

/** 'host:port' with a DNS name or IPv4 address, or '[IPv6]:port'. */
export const isEndpoint = (s: string): boolean => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m?.[3]) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535 || m[3].startsWith('0')) return false;
  return m[1] !== undefined ? isIPv6(m[1]) : isIPv4(m[2] ?? '') || isDnsName(m[2] ?? '');
};

const key = (k: string, what: string): string => {
  if (!isWgKey(k)) throw invalid(`${what} is not a WireGuard key`, INTERNAL_HINT);
  return k;
};
const secretKey = (s: Secret, what: string): string => {
  if (!isWgKey(s.reveal())) throw invalid(`${what} is not a WireGuard key`, INTERNAL_HINT);
  return s.reveal();
};
const cidrs = (list: readonly string[], what: string): string => {
  if (list.length === 0) throw invalid(`${what} is empty`, 'Give at least one address range, for example 10.13.13.1/32.');
  for (const c of list) if (!isCidr(c)) throw invalid(`${what} holds ${show(c)}, which is not an address range like 10.13.13.1/32`, INTERNAL_HINT);
  return list.join(', ');
};
const port = (p: number, what: string, min = 1): number => {
  if (!Number.isInteger(p) || p < min || p > 65535) throw invalid(`${what} ${p} is not between ${min} and 65535`, 'Choose a port from 1024 to 65535, for example 51820.');
  return p;
};
const commandLine = (c: string, what: string): string => {
  if (c.trim() === '' || /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(c)) throw invalid(`${what} holds an empty line or a line break`, INTERNAL_HINT);
  return c;
};

/**
 * A device's name made fit for a `#` comment: no control, format or line-separator characters (which some
 * parsers treat as line ends), none of `[ ] = # \`, whitespace collapsed, at most 40 characters.
 */
export const sanitizeComment = (name: string): string => {
  const cleaned = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/[[\]=#\\]/g, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  return Array.from(cleaned).slice(0, MAX_NAME).join('').trim();
};

// ---------------------------------------------------------------------------------------------------------------
// Rendering

type Reveal = (s: Secret, what: string) => string;
const real: Reveal = (s, what) => secretKey(s, what);
const masked: Reveal = (s, what) => {
  secretKey(s, what);
  return secretMask;
};

const serverLines = (i: ServerConfigInput, reveal: Reveal): string[] => {
  if (!isCidr(i.address) || !isIPv4(i.address.split('/')[0] ?? '')) throw invalid(`the server address ${show(i.address)} is not like 10.13.13.1/24`, INTERNAL_HINT);
  const lines = ['[Interface]', `Address = ${i.address}`, `ListenPort = ${port(i.listenPort, 'ListenPort')}`, `PrivateKey = ${reveal(i.privateKey, 'The server’s private key')}`];
  for (const c of i.postUp ?? []) lines.push(`PostUp = ${commandLine(c, 'PostUp')}`);
  for (const c of i.postDown ?? []) lines.push(`PostDown = ${commandLine(c, 'PostDown')}`);
  const seen = new Set<string>();
  for (const p of i.peers) {
    if (!ID.test(p.id)) throw invalid(`the device id ${show(p.id)} has characters other than letters, digits, _ and -`, INTERNAL_HINT);
    if (seen.has(p.publicKey)) throw invalid(`two devices share the public key ${p.publicKey}`, 'Remove one of the two devices and add it again.');
    seen.add(p.publicKey);
    const name = sanitizeComment(p.name);
    lines.push('', '[Peer]', `# ${p.id}${name ? ` ${name}` : ''}`, `PublicKey = ${key(p.publicKey, `The public key of device ${p.id}`)}`);
    if (p.presharedKey) lines.push(`PresharedKey = ${reveal(p.presharedKey, `The preshared key of device ${p.id}`)}`);
    lines.push(`AllowedIPs = ${cidrs(p.allowedIps, `AllowedIPs of device ${p.id}`)}`);
  }
  return lines;
};

/** The server's wg-quick config (`wg_confs/wg0.conf`) and the same text with every key replaced by `secretMask`. */
export const renderServerConfig = (i: ServerConfigInput): { content: string; masked: string } => ({
  content: `${serverLines(i, real).join('\n')}\n`,
  masked: `${serverLines(i, masked).join('\n')}\n`,
});

/** A device's wg-quick config: plain text the iOS, Android and desktop WireGuard apps import. */
export const renderPeerConfig = (i: PeerConfigInput): string => {
  if (!isCidr(i.address)) throw invalid(`the device address ${show(i.address)} is not like 10.13.13.2/32`, INTERNAL_HINT);
  if (!isEndpoint(i.endpoint)) {
    throw invalid(`the endpoint ${show(i.endpoint)} is not a host name or address with a port`, 'Set the endpoint name to a DNS name such as home.example.com, or wait for the server’s public address to be known.');
  }
  const lines = ['[Interface]', `PrivateKey = ${secretKey(i.privateKey, 'The device’s private key')}`, `Address = ${i.address}`];
  if (i.dns?.length) {
    for (const d of i.dns) if (!(isIPv4(d) || isIPv6(d) || isDnsName(d))) throw invalid(`the DNS entry ${show(d)} is neither an address nor a domain`, INTERNAL_HINT);
    lines.push(`DNS = ${i.dns.join(', ')}`);
  }
  lines.push('', '[Peer]', `PublicKey = ${key(i.serverPublicKey, 'The server’s public key')}`);
  if (i.presharedKey) lines.push(`PresharedKey = ${secretKey(i.presharedKey, 'The preshared key')}`);
  lines.push(`AllowedIPs = ${cidrs(i.allowedIps, 'AllowedIPs')}`, `Endpoint = ${i.endpoint}`);
  if (i.persistentKeepalive) lines.push(`PersistentKeepalive = ${port(i.persistentKeepalive, 'PersistentKeepalive')}`);
  return `${lines.join('\n')}\n`;
};

// ---------------------------------------------------------------------------------------------------------------
// `wg show <if> dump`

const count = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

/**
 * Parse `wg show <if> dump` (tab-separated; wg(8)). The first line is the interface: private-key, public-key,
 * listen-port, fwmark; then one line per peer: public-key, preshared-key, endpoint, allowed-ips,
 * latest-handshake, transfer-rx, transfer-tx, persistent-keepalive. Private and preshared keys are dropped.
 * Anything else (an error message, `all dump`'s extra column) gives null.
 */
export const parseWgShowDump = (text: string): WgDump | null => {
  const rows = text.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));
  const [iface, ...peerRows] = rows;
  if (iface?.length !== 4) return null;
  const publicKey = iface[1] ?? '';
  const listenPort = count(iface[2]);
  if (!isWgKey(publicKey) || listenPort === undefined) return null;
  const peers: WgDumpPeer[] = [];
  for (const r of peerRows) {
    if (r.length !== 8) return null;
    const [pub = '', , endpoint = '', allowed = '', hs, rx, tx, keepalive = ''] = r;
    const [latestHandshake, rxBytes, txBytes] = [count(hs), count(rx), count(tx)];
    if (!isWgKey(pub) || latestHandshake === undefined || rxBytes === undefined || txBytes === undefined) return null;
    const ka = keepalive === 'off' ? null : count(keepalive);
    if (ka === undefined) return null;
    peers.push({
      publicKey: pub,
      endpoint: endpoint === '(none)' ? null : endpoint,
      allowedIps: allowed === '(none)' ? [] : allowed.split(',').filter(Boolean),
      latestHandshake,
      rxBytes,
      txBytes,
      persistentKeepalive: ka,
    });
  }
  return { publicKey, listenPort, peers };
};

// ---------------------------------------------------------------------------------------------------------------
// File names

const FALLBACK_FILE = 'm2-device';
const MAX_IFNAME = 15;

/**
 * A file name the WireGuard apps, NetworkManager and wg-quick accept (the part before `.conf` becomes the
 * interface name: `[a-zA-Z0-9_=+.-]{1,15}`; we keep to letters, digits and dashes). Accents are dropped,
 * anything else becomes a dash; a name with nothing usable left becomes 'm2-device.conf'.
 */
export const configFileName = (name: string): string => {
  const base = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_IFNAME)
    .replace(/-+$/, '');
  return `${/[A-Za-z0-9]/.test(base) ? base : FALLBACK_FILE}.conf`;
};
