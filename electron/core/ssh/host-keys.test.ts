import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { utils } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import {
  DEFAULT_HOST_KEY_ALGORITHMS,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  HostKeyStore,
  hostPatternMatches,
  judgeHostKey,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  type KnownHostEntry,
} from './host-keys';

/** A fresh public key blob of the given type, as a server would present it. */
const newKey = (type: 'ed25519' | 'ecdsa'): { line: string; blob: Buffer } => {
  const { public: line } = type === 'ecdsa' ? utils.generateKeyPairSync('ecdsa', { bits: 256 }) : utils.generateKeyPairSync('ed25519');
  return { line: line.trim().split(/\s+/).slice(0, 2).join(' '), blob: Buffer.from(line.split(/\s+/)[1] ?? '', 'base64') };
};

/** OpenSSH's hashed host name: `|1|` + base64(salt) + `|` + base64(HMAC-SHA1(salt, name)). */
const hashed = (name: string, salt = randomBytes(20)): string => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

// Made by OpenSSH: two plain lines (homeserver.lan and [homeserver.lan]:2222) run through `ssh-keygen -H`.
const REAL_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGjcL+GC1SVZ0eot8oWi4WGoKoNhS2Y/W0rvJl1xuas8';
const REAL_FINGERPRINT = 'SHA256:8yl6wB8a0Z8em5sX5LuXE1J0NxN78bz79D9/Z3YPg78'; // `ssh-keygen -l` of that key
const REAL_HASHED = `|1|iqnEXo/8wd9a1QUXdbGWNZUE0/w=|S+xRz65hFzEk+/Po6ydUbJ5J0so= ${REAL_KEY}
|1|MDP2JeKvJNsSMucq7WKaKlcy5Wg=|uZwNduqhwpQtXzClfwSd+HJNeVg= ${REAL_KEY}
`;
const realBlob = Buffer.from(REAL_KEY.split(' ')[1] ?? '', 'base64');

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'm2-host-keys-'));

describe('known_hosts parsing', () => {
  it('reads plain, marked and multi-name lines and skips comments, blanks and damaged lines', () => {
    const a = newKey('ed25519');
    const b = newKey('ecdsa');
    const text = [
      '# a comment',
      '',
      `   spaced.lan \t ${a.line.replace(' ', ' \t ')}   comment words`,
      `server.lan,192.168.1.20 ${b.line}`,
      `@revoked old.lan ${a.line}`,
      `@cert-authority *.lan ${b.line}`,
      'onlyahost',
      'host ssh-ed25519',
      'host ssh-ed25519 not*base64!',
      `@revoked ${a.line.split(' ')[0] ?? ''}`,
      `crlf.lan ${a.line}\r`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => ({ marker: e.marker, hosts: e.hosts, keyType: e.keyType }))).toEqual([
      { marker: undefined, hosts: ['spaced.lan'], keyType: 'ssh-ed25519' },
      { marker: undefined, hosts: ['server.lan', '192.168.1.20'], keyType: 'ecdsa-sha2-nistp256' },
      { marker: '@revoked', hosts: ['old.lan'], keyType: 'ssh-ed25519' },
      { marker: '@cert-authority', hosts: ['*.lan'], keyType: 'ecdsa-sha2-nistp256' },
      { marker: undefined, hosts: ['crlf.lan'], keyType: 'ssh-ed25519' },
    ]);
    expect(entries[0]?.keyBlob.equals(a.blob)).toBe(true);
    expect(entries[1]?.keyBlob.equals(b.blob)).toBe(true);
    expect(entries[4]?.keyBlob.equals(a.blob)).toBe(true);
  });

  it('never throws on arbitrary text', () => {
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(64).toString('latin1');
      expect(() => parseKnownHosts(junk)).not.toThrow();
    }
  });

  it('computes fingerprints exactly as ssh-keygen -l prints them', () => {
    expect(fingerprintSha256(realBlob)).toBe(REAL_FINGERPRINT);
    expect(keyTypeOf(realBlob)).toBe('ssh-ed25519');
    expect(keyTypeOf(Buffer.from([0, 0]))).toBe('unknown');
  });
});

describe('host patterns', () => {
  it('names non-standard ports as [host]:port, like OpenSSH', () => {
    expect(knownHostsName('server.lan', 22)).toBe('server.lan');
    expect(knownHostsName('server.lan', 2222)).toBe('[server.lan]:2222');
    expect(knownHostsName('fd00::1', 2222)).toBe('[fd00::1]:2222');
  });

  it('matches entries hashed by ssh-keygen -H, for port 22 and [host]:port', () => {
    const [h22, h2222] = parseKnownHosts(REAL_HASHED);
    expect(h22 && h2222).toBeTruthy();
    expect(hostPatternMatches(h22?.hosts[0] ?? '', 'homeserver.lan')).toBe(true);
    expect(hostPatternMatches(h22?.hosts[0] ?? '', '[homeserver.lan]:2222')).toBe(false);
    expect(hostPatternMatches(h2222?.hosts[0] ?? '', '[homeserver.lan]:2222')).toBe(true);
    const entries = parseKnownHosts(REAL_HASHED);
    expect(judgeHostKey(entries, 'homeserver.lan', 22, realBlob)).toEqual({ kind: 'trusted', fingerprint: REAL_FINGERPRINT });
    expect(judgeHostKey(entries, 'homeserver.lan', 2222, realBlob).kind).toBe('trusted');
    expect(judgeHostKey(entries, 'homeserver.lan', 2200, realBlob).kind).toBe('unknown');
    expect(judgeHostKey(entries, 'other.lan', 22, realBlob).kind).toBe('unknown');
  });

  it('matches hashed entries it computes itself, and refuses malformed hashes', () => {
    expect(hostPatternMatches(hashed('[10.0.0.1]:2200'), '[10.0.0.1]:2200')).toBe(true);
    expect(hostPatternMatches(hashed('10.0.0.1'), '10.0.0.2')).toBe(false);
    expect(hostPatternMatches('|1|onlysalt', '10.0.0.1')).toBe(false);
    expect(hostPatternMatches('|1||', '')).toBe(false);
  });

  it('understands wildcards, and a negated pattern vetoes the whole line', () => {
    expect(hostPatternMatches('*.lan', 'nas.lan')).toBe(true);
    expect(hostPatternMatches('*.lan', 'nas.lan.evil.com')).toBe(false);
    expect(hostPatternMatches('192.168.1.?', '192.168.1.7')).toBe(true);
    expect(hostPatternMatches('192.168.1.?', '192.168.1.70')).toBe(false);
    // Regex characters in a pattern are literal.
    expect(hostPatternMatches('a+b.lan', 'aab.lan')).toBe(false);
    expect(hostPatternMatches('NAS.LAN', 'nas.lan')).toBe(true);

    const k = newKey('ed25519');
    const entries = parseKnownHosts(`*.lan,!evil.lan ${k.line}\n`);
    expect(judgeHostKey(entries, 'nas.lan', 22, k.blob).kind).toBe('trusted');
    expect(judgeHostKey(entries, 'evil.lan', 22, k.blob).kind).toBe('unknown');
    // A non-standard port is only matched by a pattern written for it.
    expect(judgeHostKey(entries, 'nas.lan', 2222, k.blob).kind).toBe('unknown');
  });
});

describe('judging a presented host key', () => {
  const host = 'server.lan';
  const ed = newKey('ed25519');
  const ed2 = newKey('ed25519');
  const ec = newKey('ecdsa');
  const entry = (line: string, marker?: KnownHostEntry['marker']): string => `${marker ? `${marker} ` : ''}${host} ${line}`;

  it('trusts a known key', () => {
    expect(judgeHostKey(parseKnownHosts(entry(ed.line)), host, 22, ed.blob)).toEqual({ kind: 'trusted', fingerprint: fingerprintSha256(ed.blob) });
  });

  it('calls a key unknown only when nothing at all is known for the host', () => {
    expect(judgeHostKey([], host, 22, ed.blob)).toEqual({ kind: 'unknown', fingerprint: fingerprintSha256(ed.blob), keyType: 'ssh-ed25519' });
    // Keys of other hosts, or of the same host on another port, do not count.
    expect(judgeHostKey(parseKnownHosts(`other.lan ${ec.line}\n[${host}]:2222 ${ec.line}`), host, 22, ed.blob).kind).toBe('unknown');
  });

  it('calls a key of another type a change when the host is known (only a different key type offered is not a first contact)', () => {
    const v = judgeHostKey(parseKnownHosts(entry(ed.line)), host, 22, ec.blob);
    expect(v).toEqual({ kind: 'changed', fingerprint: fingerprintSha256(ec.blob), keyType: 'ecdsa-sha2-nistp256', expected: [fingerprintSha256(ed.blob)] });
    expect(judgeHostKey(parseKnownHosts(entry(ec.line)), host, 22, ed.blob)).toMatchObject({ kind: 'changed', expected: [fingerprintSha256(ec.blob)] });
  });

  it('lists the known key types of a host, and offers those host key algorithms first', () => {
    const entries = parseKnownHosts(`${entry(ec.line)}\n${entry(ed.line)}\nother.lan ssh-rsa AAAA\n${entry(ed.line, '@revoked')}`);
    expect(knownKeyTypes(entries, host, 22)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(knownKeyTypes(entries, host, 2222)).toEqual([]);
    expect(hostKeyAlgorithmsFor([])).toEqual([...DEFAULT_HOST_KEY_ALGORITHMS]);
    expect(hostKeyAlgorithmsFor(['ecdsa-sha2-nistp256'])).toEqual([
      'ecdsa-sha2-nistp256',
      'ssh-ed25519',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(hostKeyAlgorithmsFor(['ssh-rsa', 'made-up-type']).slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });

  it('reports a changed key with every fingerprint on record for that type', () => {
    const v = judgeHostKey(parseKnownHosts(`${entry(ed.line)}\n${entry(ec.line)}`), host, 22, ed2.blob);
    expect(v).toEqual({ kind: 'changed', fingerprint: fingerprintSha256(ed2.blob), keyType: 'ssh-ed25519', expected: [fingerprintSha256(ed.blob)] });
  });

  it('refuses a revoked key even where a plain line also lists it', () => {
    const v = judgeHostKey(parseKnownHosts(`${entry(ed.line)}\n${entry(ed.line, '@revoked')}`), host, 22, ed.blob);
    expect(v).toEqual({ kind: 'revoked', fingerprint: fingerprintSha256(ed.blob) });
  });

  it('does not treat a certificate authority line as a trusted host key', () => {
    expect(judgeHostKey(parseKnownHosts(entry(ed.line, '@cert-authority')), host, 22, ed.blob).kind).toBe('unknown');
  });
});

describe('HostKeyStore', () => {
  it('stores a confirmed key in a 0600 file and trusts it afterwards', async () => {
    const file = path.join(tempDir(), 'sub', 'known-hosts.json');
    const store = new HostKeyStore(file);
    const k = newKey('ed25519');
    expect((await store.judge('server.lan', 2222, k.blob)).kind).toBe('unknown');
    await store.trust('server.lan', 2222, k.blob);
    expect((await store.judge('server.lan', 2222, k.blob)).kind).toBe('trusted');
    expect((await store.judge('server.lan', 22, k.blob)).kind).toBe('unknown');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, hosts: [{ name: '[server.lan]:2222', keyType: 'ssh-ed25519', key: k.blob.toString('base64') }] });
  });

  it('replaces only the earlier key of the same type for the same host and port', async () => {
    const store = new HostKeyStore(path.join(tempDir(), 'known-hosts.json'));
    const [ed1, ed2, ec] = [newKey('ed25519'), newKey('ed25519'), newKey('ecdsa')];
    await store.trust('server.lan', 22, ed1.blob);
    await store.trust('server.lan', 22, ec.blob);
    await store.trust('other.lan', 22, ed1.blob);
    expect((await store.judge('server.lan', 22, ed2.blob)).kind).toBe('changed');
    await store.trust('server.lan', 22, ed2.blob);
    expect((await store.judge('server.lan', 22, ed2.blob)).kind).toBe('trusted');
    expect((await store.judge('server.lan', 22, ed1.blob)).kind).toBe('changed');
    expect((await store.judge('server.lan', 22, ec.blob)).kind).toBe('trusted');
    expect((await store.judge('other.lan', 22, ed1.blob)).kind).toBe('trusted');
    expect((await store.entries()).length).toBe(3);
  });

  it('forgets every key of one host and port (a removed server), and no other host’s', async () => {
    const file = path.join(tempDir(), 'known-hosts.json');
    const store = new HostKeyStore(file);
    const [ed, ec, other] = [newKey('ed25519'), newKey('ecdsa'), newKey('ed25519')];
    await store.trust('server.lan', 2222, ed.blob);
    await store.trust('server.lan', 2222, ec.blob);
    await store.trust('server.lan', 22, other.blob);
    expect(await store.forget('server.lan', 2222)).toBe(2);
    expect((await store.judge('server.lan', 2222, ed.blob)).kind).toBe('unknown');
    expect((await store.judge('server.lan', 22, other.blob)).kind).toBe('trusted');
    const written = readFileSync(file, 'utf8');
    expect(await store.forget('server.lan', 2222)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(written);
  });

  it('consults the user’s known_hosts files without writing them, and tolerates missing ones', async () => {
    const dir = tempDir();
    const userFile = path.join(dir, 'known_hosts');
    writeFileSync(userFile, REAL_HASHED);
    const store = new HostKeyStore(path.join(dir, 'known-hosts.json'), [path.join(dir, 'missing'), userFile]);
    expect((await store.judge('homeserver.lan', 2222, realBlob)).kind).toBe('trusted');
    const other = newKey('ed25519');
    expect((await store.judge('homeserver.lan', 22, other.blob)).kind).toBe('changed');
    await store.trust('new.lan', 22, other.blob);
    expect(readFileSync(userFile, 'utf8')).toBe(REAL_HASHED);
  });

  it.each([
    ['not JSON', '{"version": 1, "hosts": ['],
    ['the wrong shape', '{"version": 2, "hosts": []}'],
    ['an entry missing its key', '{"version": 1, "hosts": [{"name": "a", "keyType": "ssh-ed25519", "addedAt": "x"}]}'],
  ])('refuses a damaged store file (%s) with storage.failed and never overwrites it', async (_, content) => {
    const file = path.join(tempDir(), 'known-hosts.json');
    writeFileSync(file, content);
    const store = new HostKeyStore(file);
    const k = newKey('ed25519');
    const judged = await store.judge('server.lan', 22, k.blob).catch((e: unknown) => e);
    expect(judged).toBeInstanceOf(AppError);
    expect(judged).toMatchObject({ code: 'storage.failed', userMessage: 'The file of confirmed host keys is damaged.' });
    expect((judged as AppError).hint).toContain(file);
    await expect(store.trust('server.lan', 22, k.blob)).rejects.toMatchObject({ code: 'storage.failed' });
    expect(readFileSync(file, 'utf8')).toBe(content);
  });
});
