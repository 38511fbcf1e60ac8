import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { JsonFile } from '../fs/json-store';

/** OpenSSH's fingerprint form: `SHA256:` + base64 (no padding) of SHA-256 over the key blob. */
export const fingerprintSha256 = (keyBlob: Uint8Array): string =>
  `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;

/** The algorithm name at the start of an SSH public key blob (e.g. ssh-ed25519). */
export const keyTypeOf = (keyBlob: Uint8Array): string => {
  const buf = Buffer.from(keyBlob);
  if (buf.length < 4) return 'unknown';
  const len = buf.readUInt32BE(0);
  return len > 0 && len < 64 && buf.length >= 4 + len ? buf.subarray(4, 4 + len).toString('ascii') : 'unknown';
};

/** How known_hosts names a host: bare for port 22, `[host]:port` otherwise. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

export interface KnownHostEntry {
  readonly marker?: '@revoked' | '@cert-authority';
  readonly hosts: readonly string[];
  readonly keyType: string;
  readonly keyBlob: Buffer;
}

/** Parse an OpenSSH known_hosts file; lines it cannot read are skipped, never fatal. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key || !/^[A-Za-z0-9+/]+=*$/.test(key)) continue;
    entries.push({ ...(marker ? { marker } : {}), hosts: hosts.split(','), keyType, keyBlob: Buffer.from(key, 'base64') });
  }
  return entries;
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');

/** Does one known_hosts host pattern (plain, wildcard, negated or hashed `|1|salt|hash`) name this host? */
export function hostPatternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return globToRegExp(pattern).test(name);
}

const entryNames = (e: KnownHostEntry, name: string): boolean => {
  let matched = false;
  for (const p of e.hosts) {
    if (p.startsWith('!')) {
      if (hostPatternMatches(p.slice(1), name)) return false;
    } else if (hostPatternMatches(p, name)) matched = true;
  }
  return matched;
};

export type HostKeyVerdict =
  | { readonly kind: 'trusted'; readonly fingerprint: string }
  | { readonly kind: 'unknown'; readonly fingerprint: string; readonly keyType: string }
  | { readonly kind: 'changed'; readonly fingerprint: string; readonly expected: readonly string[]; readonly keyType: string }
  | { readonly kind: 'revoked'; readonly fingerprint: string };

/** Judge a presented key against known_hosts entries for host:port (certificate authorities are not used). */
export function judgeHostKey(entries: readonly KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const fingerprint = fingerprintSha256(keyBlob);
  const keyType = keyTypeOf(keyBlob);
  const name = knownHostsName(host, port);
  const mine = entries.filter((e) => e.marker !== '@cert-authority' && entryNames(e, name));
  if (mine.some((e) => e.marker === '@revoked' && e.keyBlob.equals(keyBlob))) return { kind: 'revoked', fingerprint };
  const plain = mine.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.keyBlob.equals(keyBlob))) return { kind: 'trusted', fingerprint };
  // Any key on record for this host makes a different key a "change", even of another type: a known host
  // that suddenly offers only an ecdsa key where an ed25519 key was confirmed is not a first contact (an
  // attacker in the middle would offer exactly that). The connection asks for the known types first
  // (hostKeyAlgorithmsFor), so a server that still has the confirmed key is never judged by another one.
  const sameType = plain.filter((e) => e.keyType === keyType);
  const onRecord = sameType.length > 0 ? sameType : plain;
  if (onRecord.length > 0) return { kind: 'changed', fingerprint, keyType, expected: [...new Set(onRecord.map((e) => fingerprintSha256(e.keyBlob)))] };
  return { kind: 'unknown', fingerprint, keyType };
}

/** The key types on record for host:port (plain entries only), in the order they were recorded. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types = entries.filter((e) => e.marker === undefined && entryNames(e, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** The keys on record for host:port (plain entries, the app's own first), each once, with its OpenSSH fingerprint. */
export function recordedKeys(entries: readonly KnownHostEntry[], host: string, port: number): Array<{ keyType: string; fingerprint: string }> {
  const name = knownHostsName(host, port);
  const seen = new Set<string>();
  const out: Array<{ keyType: string; fingerprint: string }> = [];
  for (const e of entries) {
    if (e.marker !== undefined || !entryNames(e, name)) continue;
    const fingerprint = fingerprintSha256(e.keyBlob);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    out.push({ keyType: e.keyType, fingerprint });
  }
  return out;
}

/** The host key algorithms ssh2 offers by default, most preferred first (ssh2 1.x with ed25519 support). */
export const DEFAULT_HOST_KEY_ALGORITHMS: readonly string[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * The host key algorithms to offer, the known key types first (as OpenSSH orders HostKeyAlgorithms by
 * known_hosts): a server that has several host keys then presents the one that was confirmed.
 */
export function hostKeyAlgorithmsFor(knownTypes: readonly string[]): string[] {
  const preferred = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const known = preferred.filter((a) => DEFAULT_HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...known, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

const StoredHostKeys = z.object({
  version: z.literal(1),
  hosts: z.array(z.object({ name: z.string(), keyType: z.string(), key: z.string(), addedAt: z.string() })),
});

/**
 * The app's own record of confirmed host keys (a JSON file in its data folder), consulted together with
 * the user's ~/.ssh/known_hosts, which is read but never written.
 */
export class HostKeyStore {
  readonly #file: JsonFile<typeof StoredHostKeys>;
  readonly #userKnownHosts: readonly string[];

  constructor(file: string, userKnownHosts: readonly string[] = []) {
    // A damaged file is never overwritten: that would silently forget which keys were confirmed.
    this.#file = new JsonFile({
      file,
      schema: StoredHostKeys,
      empty: () => ({ version: 1, hosts: [] }),
      what: 'confirmed host keys',
      damaged: { message: 'The file of confirmed host keys is damaged.', hint: `Move ${file} aside; you will confirm each server's key again.` },
    });
    this.#userKnownHosts = userKnownHosts;
  }

  async entries(): Promise<KnownHostEntry[]> {
    const stored = await this.#file.read();
    const own: KnownHostEntry[] = stored.hosts.map((h) => ({ hosts: [h.name], keyType: h.keyType, keyBlob: Buffer.from(h.key, 'base64') }));
    const user: KnownHostEntry[] = [];
    for (const file of this.#userKnownHosts) {
      try {
        user.push(...parseKnownHosts(await readFile(file, 'utf8')));
      } catch {
        /* no known_hosts is fine */
      }
    }
    return [...own, ...user];
  }

  async judge(host: string, port: number, keyBlob: Buffer): Promise<HostKeyVerdict> {
    return judgeHostKey(await this.entries(), host, port, keyBlob);
  }

  /** The key types on record for host:port, for ordering the host key algorithms a connection offers. */
  async knownKeyTypes(host: string, port: number): Promise<string[]> {
    return knownKeyTypes(await this.entries(), host, port);
  }

  /** The keys on record for host:port, each with its OpenSSH fingerprint (what the recovery kit prints). */
  async recorded(host: string, port: number): Promise<Array<{ keyType: string; fingerprint: string }>> {
    return recordedKeys(await this.entries(), host, port);
  }

  /** Record a key the admin confirmed; replaces any earlier key of the same type for that host. */
  async trust(host: string, port: number, keyBlob: Buffer): Promise<void> {
    const name = knownHostsName(host, port);
    const keyType = keyTypeOf(keyBlob);
    await this.#file.update((stored) => {
      stored.hosts = stored.hosts.filter((h) => !(h.name === name && h.keyType === keyType));
      stored.hosts.push({ name, keyType, key: keyBlob.toString('base64'), addedAt: new Date().toISOString() });
    });
  }

  /**
   * Forget every key the app confirmed for host:port (the user's own known_hosts is never written). Returns how
   * many were forgotten; a file with nothing for that host is left untouched.
   */
  async forget(host: string, port: number): Promise<number> {
    const name = knownHostsName(host, port);
    if (!(await this.#file.read()).hosts.some((h) => h.name === name)) return 0;
    let forgotten = 0;
    await this.#file.update((stored) => {
      const hosts = stored.hosts.filter((h) => h.name !== name);
      forgotten = stored.hosts.length - hosts.length;
      stored.hosts = hosts;
    });
    return forgotten;
  }
}
