import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { utils } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../fs/atomic-write';
import { Secret } from '../secrets/secret';
import { fingerprintSha256 } from './host-keys';
import { generateEd25519KeyPair, installAuthorizedKey, parsePublicKeyLine, saveKeyPair, type KeyInstallTarget } from './key-install';
import { checkPrivateKey } from './ssh-connection';

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'm2-key-install-'));

/**
 * The server side as a local folder: commands run there with the real coreutils, files are read and
 * written beneath it. (The lab test runs the same code against OpenSSH.)
 */
function localTarget(home: string): KeyInstallTarget & { commands: string[][]; writes: { path: string; mode?: number }[] } {
  const commands: string[][] = [];
  const writes: { path: string; mode?: number }[] = [];
  const resolve = (p: string): string => path.join(home, p.replace(/^~\//, ''));
  return {
    commands,
    writes,
    exec: (argv) =>
      new Promise((res) => {
        commands.push([...argv]);
        execFile(argv[0] ?? 'false', argv.slice(1), { cwd: home }, (err, stdout, stderr) =>
          res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      }),
    readFile: (p) => readFile(resolve(p)),
    writeFileAtomic: async (p, data, opts = {}) => {
      writes.push({ path: p, ...(opts.mode === undefined ? {} : { mode: opts.mode }) });
      await writeFileAtomic(resolve(p), data, opts);
      return { sha256: createHash('sha256').update(data).digest('hex') };
    },
  };
}

const mode = (p: string): number => statSync(p).mode & 0o777;

describe('generating a key pair', () => {
  it('makes an OpenSSH ed25519 pair whose halves belong together', () => {
    const pair = generateEd25519KeyPair('m2-companion@laptop');
    expect(pair.privateKey).toBeInstanceOf(Secret);
    expect(String(pair.privateKey)).toBe('[REDACTED]');
    expect(pair.privateKey.reveal()).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=* m2-companion@laptop$/);
    expect(checkPrivateKey(Buffer.from(pair.privateKey.reveal()))).toEqual({ type: 'ssh-ed25519' });
    const parsed = utils.parseKey(pair.privateKey.reveal());
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('unreadable private key');
    const blob = parsed.getPublicSSH();
    expect(pair.publicKey.split(' ')[1]).toBe(blob.toString('base64'));
    expect(pair.fingerprint).toBe(fingerprintSha256(blob));
    expect(generateEd25519KeyPair('m2-companion@laptop').publicKey).not.toBe(pair.publicKey);
  });

  it('encrypts the private key when given a passphrase', () => {
    const pair = generateEd25519KeyPair('m2@laptop', { passphrase: new Secret('correct horse') });
    const key = Buffer.from(pair.privateKey.reveal());
    expect(() => checkPrivateKey(key)).toThrow(expect.objectContaining({ code: 'ssh.key-passphrase-needed' }));
    expect(() => checkPrivateKey(key, new Secret('wrong'))).toThrow(expect.objectContaining({ code: 'ssh.key-passphrase-wrong' }));
    expect(checkPrivateKey(key, new Secret('correct horse'))).toEqual({ type: 'ssh-ed25519' });
  });

  it('refuses a comment that could break the authorized_keys line', () => {
    for (const c of ['', 'a b', 'a\nssh-ed25519 AAAA evil', 'x'.repeat(101)]) expect(() => generateEd25519KeyPair(c)).toThrow(/comment/);
  });
});

describe('public key lines', () => {
  const { publicKey } = generateEd25519KeyPair('me@laptop');
  const b64 = publicKey.split(' ')[1] ?? '';

  it('accepts a key line with or without a comment', () => {
    expect(parsePublicKeyLine(publicKey)).toMatchObject({ keyType: 'ssh-ed25519', comment: 'me@laptop' });
    expect(parsePublicKeyLine(`ssh-ed25519 ${b64}`).comment).toBe('');
  });

  it.each([
    ['a second line', `${publicKey}\nssh-ed25519 ${b64} extra`],
    ['options before the key', `command="sh" ssh-ed25519 ${b64}`],
    ['a type that does not match the key', `ssh-rsa ${b64}`],
    ['an unknown type', `ssh-dss ${b64}`],
    ['text that is not base64', 'ssh-ed25519 $(id)'],
    ['a truncated key', `ssh-ed25519 ${b64.slice(0, 8)}`],
  ])('refuses %s', (_, line) => {
    expect(() => parsePublicKeyLine(line)).toThrow(expect.objectContaining({ code: 'ssh.key-unreadable' }));
  });
});

describe('installing a key into authorized_keys', () => {
  it('creates ~/.ssh (0700) and authorized_keys (0600) when missing, writing the key over SFTP, not argv', async () => {
    const home = tempDir();
    const target = localTarget(home);
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    expect(await installAuthorizedKey(target, publicKey)).toBe('added');
    expect(readFileSync(path.join(home, '.ssh/authorized_keys'), 'utf8')).toBe(`${publicKey}\n`);
    expect(mode(path.join(home, '.ssh'))).toBe(0o700);
    expect(mode(path.join(home, '.ssh/authorized_keys'))).toBe(0o600);
    expect(target.writes).toEqual([{ path: '~/.ssh/authorized_keys', mode: 0o600 }]);
    expect(target.commands.flat().join(' ')).not.toContain(publicKey.split(' ')[1]);
  });

  it('is idempotent: a second install reports present and changes nothing', async () => {
    const home = tempDir();
    const target = localTarget(home);
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    await installAuthorizedKey(target, publicKey);
    const before = statSync(path.join(home, '.ssh/authorized_keys'));
    expect(await installAuthorizedKey(target, publicKey)).toBe('present');
    expect(readFileSync(path.join(home, '.ssh/authorized_keys'), 'utf8')).toBe(`${publicKey}\n`);
    expect(statSync(path.join(home, '.ssh/authorized_keys')).ino).toBe(before.ino);
    expect(target.writes).toHaveLength(1);
  });

  it('keeps every existing line as it was, adding a line break where the file lacked one', async () => {
    const home = tempDir();
    mkdirSync(path.join(home, '.ssh'), { mode: 0o750 });
    chmodSync(path.join(home, '.ssh'), 0o750);
    const other = generateEd25519KeyPair('other@desk').publicKey;
    const existing = `# managed by hand\n${other}\r\n\nrestrict,from="10.0.0.0/8" ${generateEd25519KeyPair('ci@runner').publicKey}`;
    writeFileSync(path.join(home, '.ssh/authorized_keys'), existing, { mode: 0o644 });
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    expect(await installAuthorizedKey(localTarget(home), publicKey)).toBe('added');
    expect(readFileSync(path.join(home, '.ssh/authorized_keys'), 'utf8')).toBe(`${existing}\n${publicKey}\n`);
    expect(mode(path.join(home, '.ssh/authorized_keys'))).toBe(0o600);
    // An existing ~/.ssh keeps the mode its owner chose.
    expect(mode(path.join(home, '.ssh'))).toBe(0o750);
  });

  it('finds the key already there behind options or under another comment, but not in a comment line', async () => {
    const home = tempDir();
    mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    const b64 = publicKey.split(' ')[1] ?? '';
    writeFileSync(path.join(home, '.ssh/authorized_keys'), `no-port-forwarding ssh-ed25519 ${b64} renamed\n`);
    expect(await installAuthorizedKey(localTarget(home), publicKey)).toBe('present');

    writeFileSync(path.join(home, '.ssh/authorized_keys'), `# ssh-ed25519 ${b64} disabled\n`);
    expect(await installAuthorizedKey(localTarget(home), publicKey)).toBe('added');
    expect(readFileSync(path.join(home, '.ssh/authorized_keys'), 'utf8')).toBe(`# ssh-ed25519 ${b64} disabled\n${publicKey}\n`);
  });

  it('refuses a bad key line before running anything on the server', async () => {
    const target = localTarget(tempDir());
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    await expect(installAuthorizedKey(target, `${publicKey}\nssh-ed25519 AAAA evil`)).rejects.toMatchObject({ code: 'ssh.key-unreadable' });
    expect(target.commands).toEqual([]);
  });

  it('says what failed when ~/.ssh cannot be created', async () => {
    const home = tempDir();
    writeFileSync(path.join(home, '.ssh'), 'a file where the folder should be');
    const { publicKey } = generateEd25519KeyPair('m2@laptop');
    await expect(installAuthorizedKey(localTarget(home), publicKey)).rejects.toMatchObject({ code: 'ssh.sftp-failed', userMessage: expect.stringMatching(/Could not create ~\/\.ssh/) });
  });
});

describe('saving a key pair on the laptop', () => {
  it('writes the private key 0600 and the public key 0644, and saving the same pair again is harmless', async () => {
    const dir = path.join(tempDir(), 'keys');
    const pair = generateEd25519KeyPair('m2@laptop');
    const saved = await saveKeyPair(dir, 'home-server_ed25519', pair);
    expect(saved).toEqual({ privateKeyPath: path.join(dir, 'home-server_ed25519'), publicKeyPath: path.join(dir, 'home-server_ed25519.pub') });
    expect(readFileSync(saved.privateKeyPath, 'utf8')).toBe(pair.privateKey.reveal());
    expect(readFileSync(saved.publicKeyPath, 'utf8')).toBe(`${pair.publicKey}\n`);
    expect(mode(saved.privateKeyPath)).toBe(0o600);
    expect(mode(saved.publicKeyPath)).toBe(0o644);
    await expect(saveKeyPair(dir, 'home-server_ed25519', pair)).resolves.toEqual(saved);
  });

  it('never overwrites a different key of the same name', async () => {
    const dir = tempDir();
    const first = generateEd25519KeyPair('m2@laptop');
    await saveKeyPair(dir, 'k', first);
    await expect(saveKeyPair(dir, 'k', generateEd25519KeyPair('m2@laptop'))).rejects.toMatchObject({ code: 'storage.failed' });
    expect(readFileSync(path.join(dir, 'k'), 'utf8')).toBe(first.privateKey.reveal());
  });

  it.each(['../escape', 'a/b', '.hidden', '', 'k.pub'])('refuses the file name %j', async (name) => {
    await expect(saveKeyPair(tempDir(), name, generateEd25519KeyPair('m2@laptop'))).rejects.toMatchObject({ code: 'internal' });
  });
});
