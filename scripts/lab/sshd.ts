import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { aptEnsure, type AptNeed } from './apt';
import { ensureServerLan, SERVER_LAN_IP } from './fallback-net';
import { labPath } from './paths';
import { canConnect, freePort, readPid, run, startDaemon, stopDaemon, waitFor } from './process';

/** The lab's "home server" users: an admin in the docker group, one that must use sudo, and one that signs in with a password. */
export const LAB_ADMIN = 'm2admin';
export const LAB_SUDO_USER = 'm2sudo';
export const LAB_PASSWORD_USER = 'm2pass';

export const sshdPackages: readonly AptNeed[] = [
  { bin: 'sshd', pkg: 'openssh-server' },
  { bin: 'ssh-keygen', pkg: 'openssh-client' },
  { bin: 'sudo', pkg: 'sudo' },
];

export interface LabUser {
  readonly name: string;
  /** Private key the tests (and a person) log in with; the public half is in the user's authorized_keys. */
  readonly keyPath: string;
  readonly inDockerGroup: boolean;
  readonly passwordlessSudo: boolean;
}

/** A user with no authorized key, allowed to sign in with a password (first contact before a key is installed). */
export interface LabPasswordUser {
  readonly name: string;
  /** The user's password (mode 0600); read it, never pass it on a command line. */
  readonly passwordFile: string;
  /** Where a test may store the key pair it generates and installs (nothing is there until it does). */
  readonly keyPath: string;
}

export interface LabSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** sshd also listens on the server's LAN address (scripts/lab/fallback-net.ts), same port. */
  readonly lanHost: string;
  readonly pid: number;
  readonly configPath: string;
  readonly logPath: string;
  /** The host key as `ssh-ed25519 AAAA…`, and its fingerprint in OpenSSH's `SHA256:…` form. */
  readonly hostPublicKey: string;
  readonly hostKeyFingerprint: string;
  readonly hostKeyPath: string;
  readonly admin: LabUser;
  readonly sudoUser: LabUser;
  readonly passwordUser: LabPasswordUser;
}

const sshDir = (): string => labPath('ssh');
const stateFile = (): string => labPath('ssh', 'sshd.json');

export const installSshd = (): Promise<void> => aptEnsure(sshdPackages, 'SSH lab');

/** OpenSSH's fingerprint of a public key line: SHA256 over the key blob, base64 without padding. */
export const fingerprintOf = (publicKeyLine: string): string => {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
};

async function userExists(name: string): Promise<boolean> {
  try {
    await run('id', ['-u', name]);
    return true;
  } catch {
    return false;
  }
}

async function ensureUser(name: string, opts: { docker: boolean; sudo: boolean }): Promise<LabUser> {
  if (!(await userExists(name))) await run('useradd', ['--create-home', '--shell', '/bin/bash', name]);
  // '*' is "no password" without "locked" ('!'), so key login works without PAM.
  await run('usermod', ['--password', '*', name]);
  if (opts.docker) {
    await run('groupadd', ['--force', 'docker']);
    await run('usermod', ['--append', '--groups', 'docker', name]);
  } else {
    const groups = (await run('id', ['-nG', name])).split(/\s+/);
    if (groups.includes('docker')) await run('gpasswd', ['--delete', name, 'docker']);
  }
  const sudoers = `/etc/sudoers.d/m2-lab-${name}`;
  if (opts.sudo) {
    writeFileSync(sudoers, `${name} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    await run('visudo', ['-cf', sudoers]);
  } else rmSync(sudoers, { force: true });

  const keyPath = labPath('ssh', `${name}_ed25519`);
  if (!existsSync(keyPath)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@m2-lab`, '-f', keyPath]);
  const home = (await run('getent', ['passwd', name])).split(':')[5] ?? `/home/${name}`;
  const uid = Number(await run('id', ['-u', name]));
  const gid = Number(await run('id', ['-g', name]));
  mkdirSync(`${home}/.ssh`, { recursive: true, mode: 0o700 });
  writeFileSync(`${home}/.ssh/authorized_keys`, readFileSync(`${keyPath}.pub`), { mode: 0o600 });
  chownSync(`${home}/.ssh`, uid, gid);
  chownSync(`${home}/.ssh/authorized_keys`, uid, gid);
  chmodSync(`${home}/.ssh`, 0o700);
  chmodSync(`${home}/.ssh/authorized_keys`, 0o600);
  return { name, keyPath, inDockerGroup: opts.docker, passwordlessSudo: opts.sudo };
}

/** A login with a random password (kept in .lab/ssh, 0600, set through chpasswd's stdin), no docker, no sudo, no key. */
async function ensurePasswordUser(name: string): Promise<LabPasswordUser> {
  if (!(await userExists(name))) await run('useradd', ['--create-home', '--shell', '/bin/bash', name]);
  const groups = (await run('id', ['-nG', name])).split(/\s+/);
  if (groups.includes('docker')) await run('gpasswd', ['--delete', name, 'docker']);
  rmSync(`/etc/sudoers.d/m2-lab-${name}`, { force: true });
  const passwordFile = labPath('ssh', `${name}.password`);
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  await run('chpasswd', [], { input: `${name}:${readFileSync(passwordFile, 'utf8').trim()}\n` });
  return { name, passwordFile, keyPath: labPath('ssh', `${name}_generated_ed25519`) };
}

function sshdConfig(port: number, hostKey: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    // The server's LAN address (fallback-net.ts): reachable from the lab's device namespaces only through WireGuard.
    `ListenAddress ${SERVER_LAN_IP}`,
    `HostKey ${hostKey}`,
    `PidFile ${labPath('ssh', 'sshd.pid')}`,
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'UsePAM no',
    'AllowTcpForwarding yes',
    'AllowStreamLocalForwarding yes',
    'X11Forwarding no',
    `AllowUsers ${LAB_ADMIN} ${LAB_SUDO_USER} ${LAB_PASSWORD_USER}`,
    'Subsystem sftp internal-sftp',
    // VERBOSE logs every connection ("Connection from … port …"), so tests can count them.
    'LogLevel VERBOSE',
    'MaxStartups 50:30:100',
    'MaxSessions 64',
    'ClientAliveInterval 15',
    // Match blocks run to the end of the file: keep this one last.
    `Match User ${LAB_PASSWORD_USER}`,
    '    PasswordAuthentication yes',
    '',
  ].join('\n');
}

async function restartWithHostKey(make: (hostKey: string) => Promise<void>): Promise<LabSshd> {
  const hostKey = labPath('ssh', 'ssh_host_ed25519_key');
  rmSync(hostKey, { force: true });
  rmSync(`${hostKey}.pub`, { force: true });
  await make(hostKey);
  const state = readState();
  if (state) {
    await stopDaemon('sshd');
    rmSync(stateFile(), { force: true });
  }
  return ensureSshd({ port: state?.port });
}

/**
 * Run `fn` while the lab's sshd presents a freshly generated host key (a "server reinstalled" or a man
 * in the middle, as the client sees it), then put the original key back on the same port, so that
 * every other test keeps seeing the fingerprint the lab announced.
 */
export async function withRegeneratedHostKey<T>(fn: (fresh: { hostPublicKey: string; hostKeyFingerprint: string }) => Promise<T>): Promise<T> {
  const hostKey = labPath('ssh', 'ssh_host_ed25519_key');
  const original = { priv: readFileSync(hostKey), pub: readFileSync(`${hostKey}.pub`) };
  try {
    const sshd = await restartWithHostKey((k) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'm2-lab-host', '-f', k]).then(() => undefined));
    return await fn({ hostPublicKey: sshd.hostPublicKey, hostKeyFingerprint: sshd.hostKeyFingerprint });
  } finally {
    await restartWithHostKey(async (k) => {
      writeFileSync(k, original.priv, { mode: 0o600 });
      writeFileSync(`${k}.pub`, original.pub, { mode: 0o644 });
    });
  }
}

const readState = (): LabSshd | undefined => {
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as LabSshd;
  } catch {
    return undefined;
  }
};

/** OpenSSH on 127.0.0.1 with its own config and throwaway host key; idempotent. */
export async function ensureSshd(opts: { port?: number } = {}): Promise<LabSshd> {
  const existing = readState();
  // A state from before the password user existed means a config without it: restart with the new one.
  // A state from before the LAN address means a config without it: restart on the same port (sessions stay).
  if (existing?.passwordUser && existing.lanHost === SERVER_LAN_IP && readPid('sshd') === existing.pid && (await canConnect(existing.port))) return existing;
  if (existing) await stopDaemon('sshd');
  const reusePort = existing && !(await canConnect(existing.port)) ? existing.port : undefined;
  // The LAN address must exist before sshd binds it.
  await ensureServerLan();

  await installSshd();
  mkdirSync(sshDir(), { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKeyPath = labPath('ssh', 'ssh_host_ed25519_key');
  if (!existsSync(hostKeyPath)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'm2-lab-host', '-f', hostKeyPath]);
  const admin = await ensureUser(LAB_ADMIN, { docker: true, sudo: false });
  const sudoUser = await ensureUser(LAB_SUDO_USER, { docker: false, sudo: true });
  const passwordUser = await ensurePasswordUser(LAB_PASSWORD_USER);

  const port = opts.port ?? reusePort ?? (await freePort());
  const configPath = labPath('ssh', 'sshd_config');
  writeFileSync(configPath, sshdConfig(port, hostKeyPath), { mode: 0o600 });
  await run('/usr/sbin/sshd', ['-t', '-f', configPath]);
  const logPath = labPath('ssh', 'sshd.log');
  rmSync(logPath, { force: true });
  const pid = startDaemon('sshd', '/usr/sbin/sshd', ['-D', '-f', configPath, '-E', logPath]);
  await waitFor(`sshd on 127.0.0.1:${port}`, () => canConnect(port), 15_000);

  const hostPublicKey = readFileSync(`${hostKeyPath}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const sshd: LabSshd = {
    host: '127.0.0.1',
    port,
    lanHost: SERVER_LAN_IP,
    pid,
    configPath,
    logPath,
    hostPublicKey,
    hostKeyFingerprint: fingerprintOf(hostPublicKey),
    hostKeyPath,
    admin,
    sudoUser,
    passwordUser,
  };
  writeFileSync(stateFile(), JSON.stringify(sshd, null, 2));
  return sshd;
}

export async function stopSshd(): Promise<void> {
  await stopDaemon('sshd');
  rmSync(stateFile(), { force: true });
}

/** How many TCP connections sshd has accepted since it started (from its VERBOSE log). */
export function sshdConnectionCount(logPath: string): number {
  try {
    return (readFileSync(logPath, 'utf8').match(/^.*Connection from 127\.0\.0\.1 port \d+/gm) ?? []).length;
  } catch {
    return 0;
  }
}
