import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../electron/core/secrets/secret';
import type { HostKeyStore } from '../../electron/core/ssh/host-keys';
import { generateEd25519KeyPair, installAuthorizedKey, saveKeyPair, type GeneratedKeyPair } from '../../electron/core/ssh/key-install';
import { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { run } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { freshHostKeys } from '../support/ssh';

let sshd: LabSshd;
let home: string;
let uid: number;
let hostKeys: HostKeyStore;
const open: SshConnection[] = [];

const authorizedKeys = (): string => path.join(home, '.ssh', 'authorized_keys');

/** Back to a user who has never had a key: no ~/.ssh on the server, no generated key on the "laptop". */
function reset(): void {
  rmSync(path.join(home, '.ssh'), { recursive: true, force: true });
  rmSync(sshd.passwordUser.keyPath, { force: true });
  rmSync(`${sshd.passwordUser.keyPath}.pub`, { force: true });
}

beforeAll(async () => {
  sshd = await ensureSshd();
  const entry = (await run('getent', ['passwd', sshd.passwordUser.name])).trim().split(':');
  home = entry[5] ?? '';
  uid = Number(entry[2]);
  expect(home).toMatch(/^\/.+/);
  reset();
  hostKeys = freshHostKeys();
});

afterAll(async () => {
  for (const c of open) await c.close();
  if (home) reset();
});

describe('first contact with a password, then a generated key', () => {
  let pair: GeneratedKeyPair;
  let conn: SshConnection;

  it('signs in as the password user after the admin confirms the host key', async () => {
    const password = new Secret(readFileSync(sshd.passwordUser.passwordFile, 'utf8').trim());
    conn = new SshConnection({ target: { host: sshd.host, port: sshd.port, username: sshd.passwordUser.name }, auth: { kind: 'password', password }, hostKeys });
    open.push(conn);
    const first = await conn.connect();
    expect(first).toMatchObject({ kind: 'confirm-host-key', fingerprint: sshd.hostKeyFingerprint });
    expect(await conn.connect({ acceptFingerprint: sshd.hostKeyFingerprint })).toMatchObject({ kind: 'connected' });
    const who = await conn.exec(['id', '-nG']);
    expect(who.code).toBe(0);
    expect(who.stdout).not.toMatch(/\bdocker\b/);
  });

  it('installs a generated key once: added, then present, the line in the file exactly once', async () => {
    pair = generateEd25519KeyPair('m2-companion@lab-laptop');
    await saveKeyPair(path.dirname(sshd.passwordUser.keyPath), path.basename(sshd.passwordUser.keyPath), pair);
    expect(statSync(sshd.passwordUser.keyPath).mode & 0o777).toBe(0o600);

    expect(await installAuthorizedKey(conn, pair.publicKey)).toBe('added');
    expect(await installAuthorizedKey(conn, pair.publicKey)).toBe('present');
    const lines = readFileSync(authorizedKeys(), 'utf8').split('\n').filter(Boolean);
    expect(lines).toEqual([pair.publicKey]);
  });

  it('leaves ~/.ssh 0700 and authorized_keys 0600, both owned by the user (sshd’s StrictModes accepts them)', () => {
    const dir = statSync(path.join(home, '.ssh'));
    const file = statSync(authorizedKeys());
    expect(dir.mode & 0o777).toBe(0o700);
    expect(file.mode & 0o777).toBe(0o600);
    expect([dir.uid, file.uid]).toEqual([uid, uid]);
  });

  it('keeps a line added by someone else and adds a second key after it', async () => {
    const other = generateEd25519KeyPair('someone@else');
    expect(await installAuthorizedKey(conn, other.publicKey)).toBe('added');
    expect(readFileSync(authorizedKeys(), 'utf8')).toBe(`${pair.publicKey}\n${other.publicKey}\n`);
  });

  it('connects with the new key and no password, trusting the host key confirmed before', async () => {
    const keyed = new SshConnection({
      target: { host: sshd.host, port: sshd.port, username: sshd.passwordUser.name },
      auth: { kind: 'key', privateKey: readFileSync(sshd.passwordUser.keyPath) },
      hostKeys,
    });
    open.push(keyed);
    expect(await keyed.connect()).toMatchObject({ kind: 'connected', fingerprint: sshd.hostKeyFingerprint });
    const r = await keyed.exec(['id', '-un']);
    expect(r.stdout.trim()).toBe(sshd.passwordUser.name);
    const log = readFileSync(sshd.logPath, 'utf8');
    expect(log).toMatch(new RegExp(`Accepted password for ${sshd.passwordUser.name} `));
    expect(log).toContain(`Accepted publickey for ${sshd.passwordUser.name} from 127.0.0.1`);
    expect(log).toContain(pair.fingerprint);
  });
});
