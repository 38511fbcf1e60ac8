import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import { fingerprintSha256, type HostKeyStore } from '../../electron/core/ssh/host-keys';
import { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { run } from '../../scripts/lab/process';
import { freshHostKeys, keyAuth } from '../support/ssh';

const lab = inject('lab');
const { utils } = ssh2;

/** A second sshd of this file's own with two host keys (ed25519 and ecdsa), as most servers have. */
const work = path.resolve('.lab', 'host-key-types');

const blobOf = (publicLine: string): Buffer => Buffer.from(publicLine.trim().split(/\s+/)[1] ?? '', 'base64');

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });

const connectAdmin = (host: string, port: number, hostKeys: HostKeyStore): SshConnection =>
  new SshConnection({ target: { host, port, username: lab.ssh.admin.name }, auth: keyAuth(lab.ssh.admin), hostKeys });

describe('host keys of another type (lab sshd, and one with two host keys)', () => {
  let sshd: ChildProcess | undefined;
  let port: number;
  let ed25519: Buffer;
  let ecdsa: Buffer;
  const open: SshConnection[] = [];

  beforeAll(async () => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true, mode: 0o700 });
    for (const [type, extra] of [['ed25519', []], ['ecdsa', ['-b', '256']]] as const) {
      await run('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', `m2-two-keys-${type}`, '-f', path.join(work, `ssh_host_${type}_key`)]);
    }
    ed25519 = blobOf(readFileSync(path.join(work, 'ssh_host_ed25519_key.pub'), 'utf8'));
    ecdsa = blobOf(readFileSync(path.join(work, 'ssh_host_ecdsa_key.pub'), 'utf8'));
    port = await freePort();
    const config = path.join(work, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(work, 'ssh_host_ed25519_key')}`,
        `HostKey ${path.join(work, 'ssh_host_ecdsa_key')}`,
        `PidFile ${path.join(work, 'sshd.pid')}`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        `AllowUsers ${lab.ssh.admin.name}`,
        '',
      ].join('\n'),
    );
    await run('/usr/sbin/sshd', ['-t', '-f', config]);
    sshd = spawn('/usr/sbin/sshd', ['-D', '-f', config, '-E', path.join(work, 'sshd.log')], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await canConnect(port)).toBe(true);
  });

  afterAll(async () => {
    for (const c of open) await c.close();
    if (sshd?.pid) process.kill(sshd.pid, 'SIGTERM');
    rmSync(work, { recursive: true, force: true });
  });

  it('a known host that now offers only a key of another type is refused as a changed key, and nothing is stored', async () => {
    // This computer once confirmed an ecdsa key for the lab's address; the lab's sshd has only an ed25519 key.
    const hostKeys = freshHostKeys();
    const recorded = utils.generateKeyPairSync('ecdsa', { bits: 256 }).public;
    await hostKeys.trust(lab.ssh.host, lab.ssh.port, blobOf(recorded));
    const conn = connectAdmin(lab.ssh.host, lab.ssh.port, hostKeys);
    open.push(conn);
    const outcome = await conn.connect();
    expect(outcome).toEqual({ kind: 'host-key-changed', fingerprint: lab.ssh.hostKeyFingerprint, keyType: 'ssh-ed25519', expected: [fingerprintSha256(blobOf(recorded))] });
    expect(conn.state.kind).toBe('idle');
    // Accepting the presented fingerprint as if it were a first contact does not store it either.
    expect(await conn.connect({ acceptFingerprint: lab.ssh.hostKeyFingerprint })).toMatchObject({ kind: 'host-key-changed' });
    expect((await hostKeys.entries()).map((e) => fingerprintSha256(e.keyBlob))).toEqual([fingerprintSha256(blobOf(recorded))]);
  });

  it('a server with several host keys presents the one confirmed before, whichever type it is', async () => {
    const byType = async (known: Buffer | undefined) => {
      const hostKeys = freshHostKeys();
      if (known) await hostKeys.trust('127.0.0.1', port, known);
      const conn = connectAdmin('127.0.0.1', port, hostKeys);
      open.push(conn);
      const outcome = await conn.connect();
      await conn.close();
      return outcome;
    };
    // Known ecdsa: the connection asks for ecdsa first (ssh2 alone would pick ed25519 and see a "change").
    expect(await byType(ecdsa)).toEqual({ kind: 'connected', fingerprint: fingerprintSha256(ecdsa) });
    expect(await byType(ed25519)).toEqual({ kind: 'connected', fingerprint: fingerprintSha256(ed25519) });
    // Nothing known: a first contact, with the key ssh2 prefers.
    expect(await byType(undefined)).toMatchObject({ kind: 'confirm-host-key', fingerprint: fingerprintSha256(ed25519), keyType: 'ssh-ed25519' });
  });
});
