import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../fs/atomic-write';
import { AppError } from '../errors';

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
  // Like OpenSSH, only a known key of the same type makes a different key a "change".
  const sameType = plain.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) return { kind: 'changed', fingerprint, keyType, expected: sameType.map((e) => fingerprintSha256(e.keyBlob)) };
  return { kind: 'unknown', fingerprint, keyType };
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
  readonly #file: string;
  readonly #userKnownHosts: readonly string[];

  constructor(file: string, userKnownHosts: readonly string[] = []) {
    this.#file = file;
    this.#userKnownHosts = userKnownHosts;
  }

  async entries(): Promise<KnownHostEntry[]> {
    const stored = await this.#readStored();
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

  /** Record a key the admin confirmed; replaces any earlier key of the same type for that host. */
  async trust(host: string, port: number, keyBlob: Buffer): Promise<void> {
    const stored = await this.#readStored();
    const name = knownHostsName(host, port);
    const keyType = keyTypeOf(keyBlob);
    const hosts = stored.hosts.filter((h) => !(h.name === name && h.keyType === keyType));
    hosts.push({ name, keyType, key: keyBlob.toString('base64'), addedAt: new Date().toISOString() });
    await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, hosts }, null, 2)}\n`, { mode: 0o600 });
  }

  async #readStored(): Promise<z.infer<typeof StoredHostKeys>> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, hosts: [] };
      throw new AppError('storage.failed', 'M2 Companion could not read its confirmed host keys.', { cause: err, hint: `Check that ${this.#file} is readable.` });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = StoredHostKeys.safeParse(json);
    // A damaged file is never overwritten: that would silently forget which keys were confirmed.
    if (!parsed.success) {
      throw new AppError('storage.failed', 'The file of confirmed host keys is damaged.', { hint: `Move ${this.#file} aside; you will confirm each server's key again.` });
    }
    return parsed.data;
  }
}
