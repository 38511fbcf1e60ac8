import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostKeyStore } from '../../electron/core/ssh/host-keys';
import { SshConnection, type SshAuth } from '../../electron/core/ssh/ssh-connection';
import type { LabSshd, LabUser } from '../../scripts/lab/sshd';

/** A fresh, empty host-key store in a temp folder (as on a laptop that never saw the server). */
export const freshHostKeys = (): HostKeyStore => new HostKeyStore(path.join(mkdtempSync(path.join(os.tmpdir(), 'm2-hostkeys-')), 'known-hosts.json'));

export const keyAuth = (user: LabUser): SshAuth => ({ kind: 'key', privateKey: readFileSync(user.keyPath) });

/** Connect to the lab as `user`, confirming the lab's host key as an admin would on first contact. */
export async function connectToLab(sshd: LabSshd, user: LabUser = sshd.admin, hostKeys: HostKeyStore = freshHostKeys()): Promise<SshConnection> {
  const conn = new SshConnection({ target: { host: sshd.host, port: sshd.port, username: user.name }, auth: keyAuth(user), hostKeys });
  const first = await conn.connect();
  if (first.kind === 'connected') return conn;
  if (first.kind !== 'confirm-host-key' || first.fingerprint !== sshd.hostKeyFingerprint) {
    throw new Error(`unexpected first contact with the lab sshd: ${JSON.stringify(first)}`);
  }
  const second = await conn.connect({ acceptFingerprint: first.fingerprint });
  if (second.kind !== 'connected') throw new Error(`could not connect after confirming the host key: ${JSON.stringify(second)}`);
  return conn;
}
