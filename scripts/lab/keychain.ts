/**
 * Lab keychain: a private D-Bus session bus and gnome-keyring's Secret Service on it, unlocked,
 * so that `@napi-rs/keyring` (and `secret-tool`) store secrets for real (DESIGN.md §5, §6).
 *
 * Everything lives in .lab/keychain/: the bus config and socket, a throwaway HOME/XDG_DATA_HOME whose
 * login keyring is created on first unlock, and that keyring's password (mode 0600, read by this code
 * and fed to gnome-keyring-daemon on stdin, never on argv).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { aptEnsure, type AptNeed } from './apt';
import { labPath } from './paths';
import { readPid, run, stopDaemon, waitFor } from './process';

const DBUS = 'keychain-dbus';
const SECRETS = 'keychain-secrets';

const dir = (...p: string[]): string => labPath('keychain', ...p);
const busSocket = (): string => dir('bus');
const busAddress = (): string => `unix:path=${busSocket()}`;

export const keychainPackages: readonly AptNeed[] = [
  { bin: 'dbus-daemon', pkg: 'dbus' },
  { bin: 'gnome-keyring-daemon', pkg: 'gnome-keyring' },
  { bin: 'secret-tool', pkg: 'libsecret-tools' },
];

/** apt-get install dbus, gnome-keyring and libsecret-tools when any is missing (root). */
export const installKeychain = (): Promise<void> => aptEnsure(keychainPackages, 'keychain lab');

/** The environment a process needs to reach the lab's Secret Service. */
export const keychainEnv = (): Record<string, string> => ({ DBUS_SESSION_BUS_ADDRESS: busAddress() });

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function writeBusConfig(): string {
  // No <servicedir>: nothing is bus-activated behind our back (e.g. a second, locked gnome-keyring).
  const conf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${xmlEscape(busSocket())}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
  const f = dir('session.conf');
  writeFileSync(f, conf);
  return f;
}

/** The keyring password; a fresh one (and a fresh, empty keyring) when none was kept. */
function keyringPassword(): string {
  const f = dir('password');
  if (existsSync(f)) return readFileSync(f, 'utf8');
  rmSync(dir('data'), { recursive: true, force: true });
  const pw = randomBytes(24).toString('base64url');
  writeFileSync(f, pw, { mode: 0o600 });
  chmodSync(f, 0o600);
  return pw;
}

const PROBE = ['service', 'm2-lab-probe', 'account', 'probe'];

/** True when the Secret Service answers and its default collection is unlocked: store then read a probe. */
async function secretServiceWorks(): Promise<boolean> {
  const env = { ...process.env, ...keychainEnv() };
  const value = `ok-${randomBytes(4).toString('hex')}`;
  try {
    await run('secret-tool', ['store', '--label=m2 lab probe', ...PROBE], { env, input: value, timeoutMs: 5_000 });
    const got = await run('secret-tool', ['lookup', ...PROBE], { env, timeoutMs: 5_000 });
    return got.trim() === value;
  } catch {
    return false;
  }
}

async function startBus(): Promise<void> {
  await stopDaemon(SECRETS, 3_000);
  await stopDaemon(DBUS, 3_000);
  rmSync(busSocket(), { force: true });
  const conf = writeBusConfig();
  const pid = startDaemonLogged(DBUS, 'dbus-daemon', ['--config-file', conf, '--nofork', '--nopidfile'], process.env);
  await waitFor(`dbus-daemon (pid ${pid}) socket ${busSocket()} (log .lab/logs/${DBUS}.log)`, () => existsSync(busSocket()), 10_000);
}

/** Like process.ts startDaemon, but with stdin piped so the keyring password goes in on stdin. */
function startDaemonLogged(name: string, file: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): number {
  mkdirSync(labPath('pids'), { recursive: true });
  mkdirSync(labPath('logs'), { recursive: true });
  const log = openSync(labPath('logs', `${name}.log`), 'a');
  const child = spawn(file, args, { env, detached: true, stdio: [stdin === undefined ? 'ignore' : 'pipe', log, log] });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${file}); is it installed?`);
  child.on('error', () => undefined);
  if (stdin !== undefined) {
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  }
  child.unref();
  writeFileSync(labPath('pids', `${name}.pid`), `${child.pid}\n`);
  return child.pid;
}

async function startSecrets(): Promise<void> {
  await stopDaemon(SECRETS, 3_000);
  for (const d of ['home', 'data', 'run']) mkdirSync(dir(d), { recursive: true, mode: 0o700 });
  chmodSync(dir('run'), 0o700);
  const password = keyringPassword();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir('home'),
    XDG_DATA_HOME: dir('data'),
    XDG_RUNTIME_DIR: dir('run'),
    XDG_CONFIG_HOME: dir('home', '.config'),
    ...keychainEnv(),
  };
  const pid = startDaemonLogged(SECRETS, 'gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], env, password);
  try {
    await waitFor(`gnome-keyring-daemon (pid ${pid}) Secret Service to answer unlocked on ${busAddress()}`, secretServiceWorks, 15_000, 200);
  } catch (err) {
    const log = existsSync(labPath('logs', `${SECRETS}.log`)) ? readFileSync(labPath('logs', `${SECRETS}.log`), 'utf8').slice(-2000) : '';
    throw new Error(`${(err as Error).message}\n--- .lab/logs/${SECRETS}.log ---\n${log}`, { cause: err });
  }
}

/**
 * Idempotent: install what is missing, start (or reuse) the lab bus and an unlocked gnome-keyring on it.
 * Returns the env vars a process needs (set them before the first keyring use: libsecret/dbus read them then).
 */
export async function ensureKeychain(): Promise<{ env: Record<string, string> }> {
  await installKeychain();
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  if (readPid(DBUS) === undefined || !existsSync(busSocket())) {
    await startBus();
    await startSecrets();
  } else if (readPid(SECRETS) === undefined || !(await secretServiceWorks())) {
    await startSecrets();
  }
  return { env: keychainEnv() };
}

/** Stop the lab's gnome-keyring and bus (by their recorded pids). The keyring files and password stay. */
export async function stopKeychain(): Promise<void> {
  await stopDaemon(SECRETS);
  await stopDaemon(DBUS);
  rmSync(busSocket(), { force: true });
}
