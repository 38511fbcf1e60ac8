import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Client } from 'ssh2';
import { ensureSshd, type LabSshd, type LabUser } from '../../scripts/lab/sshd';

/** Connect with ssh2, recording the host key the server presented, and run one command. */
function sshExec(sshd: LabSshd, user: LabUser, command: string): Promise<{ stdout: string; code: number | null; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let fingerprint = '';
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) return reject(err);
          let stdout = '';
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', () => undefined);
          stream.on('close', (code: number | null) => {
            conn.end();
            resolve({ stdout, code, fingerprint });
          });
        });
      })
      .on('error', reject)
      .connect({
        host: sshd.host,
        port: sshd.port,
        username: user.name,
        privateKey: readFileSync(user.keyPath),
        hostVerifier: (key: Buffer) => {
          fingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
          return fingerprint === sshd.hostKeyFingerprint;
        },
      });
  });
}

describe('the lab OpenSSH server', () => {
  let sshd: LabSshd;
  beforeAll(async () => {
    sshd = await ensureSshd();
  });

  it('accepts the admin by key and presents the lab host key', async () => {
    const r = await sshExec(sshd, sshd.admin, 'id -un; id -nG');
    expect(r.fingerprint).toBe(sshd.hostKeyFingerprint);
    const [user, groups] = r.stdout.trim().split('\n');
    expect(user).toBe('m2admin');
    expect(groups?.split(' ')).toContain('docker');
  });

  it('has a second user outside the docker group with passwordless sudo', async () => {
    const r = await sshExec(sshd, sshd.sudoUser, 'id -nG; sudo -n true && echo SUDO_OK');
    expect(r.stdout).not.toMatch(/\bdocker\b/);
    expect(r.stdout).toContain('SUDO_OK');
  });

  it('refuses a key that is not authorized', async () => {
    const wrong = { ...sshd.admin, keyPath: sshd.sudoUser.keyPath };
    await expect(sshExec(sshd, wrong, 'true')).rejects.toThrow(/authentication/i);
  });

  it('listens on loopback only', () => {
    expect(readFileSync(sshd.configPath, 'utf8')).toMatch(/^ListenAddress 127\.0\.0\.1$/m);
    expect(sshd.host).toBe('127.0.0.1');
  });
});
