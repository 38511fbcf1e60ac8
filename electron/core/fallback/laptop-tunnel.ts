/**
 * This computer's own way home during the fallback, the platform's way (facts §4):
 * - Linux with NetworkManager running: `nmcli connection import --temporary type wireguard file <f>` (no root;
 *   Debian's polkit lets active local users in the sudo or netdev group do it), then `nmcli connection up`;
 * - Linux with wg-quick: `wg-quick up <f>` as root; not root → the file is left for `sudo wg-quick up <f>`;
 * - macOS and Windows: the official WireGuard app imports the file (neither has a command line or URL the app
 *   accepts for an import), so the file is handed off with words saying how.
 * The config (with this computer's private key) goes to a 0600 file in `configDir` named by configFileName; the
 * part before `.conf` is the interface and NetworkManager profile name. NetworkManager keeps its in-memory copy,
 * so that file is removed right after the import; otherwise `down` removes it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LaptopTunnel } from '../../contract/fallback';
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import { configFileName } from './wg-config';

export type LaptopTunnelMethod = LaptopTunnel['method'];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program with argv (never a shell); a non-zero exit is a result, not an exception. */
export type Runner = (file: string, args: readonly string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }) => Promise<RunResult>;

export interface LaptopTunnelDeps {
  run: Runner;
  /** The path of a program on PATH, or undefined when it is not installed. */
  which: (bin: string) => Promise<string | undefined>;
  platform: NodeJS.Platform;
  isRoot: boolean;
  /** Where config files are written (created 0700 when missing). */
  configDir: string;
  /** The environment for wg-quick (e.g. WG_QUICK_USERSPACE_IMPLEMENTATION); the process's own when absent. */
  env?: NodeJS.ProcessEnv;
}

const RUN_TIMEOUT_MS = 60_000;
/** nmcli's exit status for "connection, device or access point does not exist" (nmcli(1)). */
const NMCLI_NOT_FOUND = 10;

/** The default runner: execFile with argv, no shell; a missing program answers 127 like a shell would. */
export const localRunner: Runner = (file, args, opts = {}) =>
  new Promise((resolve) => {
    const child = execFile(file, [...args], { env: opts.env ?? process.env, timeout: RUN_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number };
      if (e.code === 'ENOENT') return resolve({ code: 127, stdout: '', stderr: `${file}: not found` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr || err.message });
    });
    child.stdin?.end(opts.input ?? '');
  });

const searchDirs = (): string[] => [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The default `which`: the program's path on PATH (and the sbin folders), or undefined. */
export const localWhich = async (bin: string): Promise<string | undefined> => {
  const names = process.platform === 'win32' ? [`${bin}.exe`, bin] : [bin];
  for (const dir of searchDirs()) {
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
};

/** Words from a program's error output for the admin: one line, short, and never a key. */
const said = (r: RunResult): string => {
  const text = `${r.stderr}\n${r.stdout}`
    .replace(/[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g, '[key]')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('[#]') && !/^[│┌└]/.test(l))
    .join(' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 297)}…` : text || `exit status ${r.code}`;
};

/**
 * What to do about a NetworkManager refusal, from its own words (the daemon's part of the message is not translated):
 * not allowed (polkit: Debian lets active local users in the netdev or sudo group), or a kernel without WireGuard
 * (NetworkManager makes the interface in the kernel; it has no userspace fallback).
 */
const nmHint = (r: RunResult): string => {
  const text = `${r.stderr}\n${r.stdout}`;
  if (/not authori[sz]ed|permission denied|insufficient privileges/i.test(text)) {
    return ' NetworkManager lets only a user logged in at this computer change its network: on Debian and Ubuntu, add your user to the netdev (or sudo) group, log in again, and try from the desktop session.';
  }
  if (/WireGuard interface.*Operation not supported|wireguard.*(not supported|unknown device type)/i.test(text)) {
    return ' This computer’s kernel has no WireGuard, which NetworkManager needs: Linux 5.6 and later have it built in; on an older kernel, install the wireguard-dkms package and try again.';
  }
  return '';
};

const state = (method: LaptopTunnelMethod, s: LaptopTunnel['state'], detail: string): LaptopTunnel => ({ method, state: s, detail, sshOverWireguard: false });

export class LaptopTunnelManager {
  readonly #d: LaptopTunnelDeps;

  constructor(deps: LaptopTunnelDeps) {
    this.#d = deps;
  }

  /** Which way this computer brings a WireGuard tunnel up. */
  async detect(): Promise<LaptopTunnelMethod> {
    const { platform } = this.#d;
    if (platform === 'darwin' || platform === 'win32') return 'wireguard-app';
    if (platform !== 'linux') return 'none';
    if (await this.#d.which('nmcli')) {
      // nmcli is often installed where NetworkManager does not run (servers, containers, other network managers).
      const r = await this.#d.run('nmcli', ['--terse', '--fields', 'RUNNING', 'general', 'status']);
      if (r.code === 0 && r.stdout.trim() === 'running') return 'network-manager';
    }
    if (await this.#d.which('wg-quick')) return 'wg-quick';
    return 'none';
  }

  /** The interface / profile name and the config file's path for a tunnel called `name`. */
  configPath(name: string): string {
    return path.join(this.#d.configDir, configFileName(name));
  }

  /** Bring the tunnel up with `config` (wg-quick text with the private key). Up again refreshes it. */
  async up(name: string, config: Secret): Promise<LaptopTunnel> {
    const text = config.reveal();
    if (!/^\[Interface\]$/m.test(text) || !/^\[Peer\]$/m.test(text)) {
      throw new AppError('fallback.laptop-tunnel', 'This computer’s WireGuard config is not a wg-quick config.', { hint: 'Switch the fallback off and on again so the app makes a new one.' });
    }
    const method = await this.detect();
    const file = this.configPath(name);
    const iface = ifaceOf(file);
    switch (method) {
      case 'network-manager':
        return this.#nmUp(file, iface, text);
      case 'wg-quick':
        return this.#wgQuickUp(file, iface, text);
      case 'wireguard-app':
        await this.#write(file, text);
        return state(
          method,
          'handed-off',
          `Open the WireGuard app, choose “Import tunnel(s) from file”, pick ${file}, and activate the tunnel “${iface}”. ` +
            (this.#d.platform === 'win32' ? 'Importing needs an administrator account on Windows.' : 'macOS asks once to allow the VPN configuration.'),
        );
      case 'none':
        return state(
          method,
          'failed',
          this.#d.platform === 'linux'
            ? 'This computer has neither NetworkManager (nmcli) running nor wg-quick. Install NetworkManager or wireguard-tools, then try again.'
            : `M2 Companion cannot bring a WireGuard tunnel up on ${this.#d.platform}. Use a WireGuard client with this computer’s device config.`,
        );
      default: {
        const never: never = method;
        return never;
      }
    }
  }

  /** Take the tunnel down and remove its config file. Down when already down is not an error. */
  async down(name: string): Promise<LaptopTunnel> {
    const method = await this.detect();
    const file = this.configPath(name);
    const iface = ifaceOf(file);
    let keepFile = false;
    try {
      switch (method) {
        case 'network-manager': {
          await this.#d.run('nmcli', ['connection', 'down', 'id', iface]);
          const r = await this.#d.run('nmcli', ['connection', 'delete', 'id', iface]);
          if (r.code !== 0 && r.code !== NMCLI_NOT_FOUND) return state(method, 'failed', `NetworkManager could not remove the tunnel ${iface}: ${said(r)}${nmHint(r)}`);
          return state(method, 'down', `The tunnel ${iface} is down.`);
        }
        case 'wg-quick': {
          if (!(await exists(file)) || !(await this.#linkExists(iface))) return state(method, 'down', `The tunnel ${iface} is down.`);
          if (!this.#d.isRoot) {
            // The file is what `sudo wg-quick down` reads: it stays until the interface is gone.
            keepFile = true;
            return state(method, 'handed-off', `wg-quick needs root: run “sudo wg-quick down ${file}” in a terminal, then bring the tunnel down here again to remove the file.`);
          }
          const r = await this.#wgQuick('down', file);
          if (r.code !== 0 && (await this.#linkExists(iface))) {
            keepFile = true;
            return state(method, 'failed', `wg-quick could not take ${iface} down: ${said(r)}`);
          }
          return state(method, 'down', `The tunnel ${iface} is down.`);
        }
        case 'wireguard-app':
          return state(method, 'down', `M2 Companion removed its copy of the config. If the WireGuard app still shows “${iface}” as active, deactivate it there.`);
        case 'none':
          return state(method, 'down', 'This computer has no tunnel of M2 Companion’s.');
        default: {
          const never: never = method;
          return never;
        }
      }
    } finally {
      if (!keepFile) await rm(file, { force: true });
    }
  }

  // ------------------------------------------------------------------------------------------------------------

  async #nmUp(file: string, iface: string, text: string): Promise<LaptopTunnel> {
    const m = 'network-manager';
    // Up again replaces the profile: a second import would make a second profile with the same name.
    await this.#d.run('nmcli', ['connection', 'delete', 'id', iface]);
    await this.#write(file, text);
    let r: RunResult;
    try {
      r = await this.#d.run('nmcli', ['connection', 'import', '--temporary', 'type', 'wireguard', 'file', file]);
    } finally {
      await rm(file, { force: true });
    }
    if (r.code !== 0) return state(m, 'failed', `NetworkManager did not take the tunnel: ${said(r)}${nmHint(r)}`);
    const u = await this.#d.run('nmcli', ['connection', 'up', 'id', iface]);
    if (u.code !== 0) {
      // A profile left behind would be retried by NetworkManager on its own (imported profiles autoconnect).
      const d = await this.#d.run('nmcli', ['connection', 'delete', 'id', iface]);
      const left = d.code !== 0 && d.code !== NMCLI_NOT_FOUND ? ` Its profile could not be removed either (${said(d)}): remove “${iface}” in the network settings.` : '';
      return state(m, 'failed', `NetworkManager could not bring the tunnel ${iface} up: ${said(u)}${nmHint(u)}${left}`);
    }
    return state(m, 'up', `The tunnel ${iface} is up (NetworkManager).`);
  }

  async #wgQuickUp(file: string, iface: string, text: string): Promise<LaptopTunnel> {
    const m = 'wg-quick';
    await this.#write(file, text);
    if (!this.#d.isRoot) {
      return state(m, 'handed-off', `wg-quick needs root: run “sudo wg-quick up ${file}” in a terminal, then come back. The file holds this computer’s key; “Bring the tunnel down” removes it.`);
    }
    let r = await this.#wgQuick('up', file);
    if (r.code !== 0 && /already exists/.test(r.stderr)) {
      // Up again: take the old one down (same interface name) and bring the new config up.
      await this.#wgQuick('down', file);
      r = await this.#wgQuick('up', file);
    }
    if (r.code !== 0) {
      await rm(file, { force: true });
      return state(m, 'failed', `wg-quick could not bring the tunnel ${iface} up: ${said(r)}`);
    }
    return state(m, 'up', `The tunnel ${iface} is up (wg-quick).`);
  }

  #wgQuick(verb: 'up' | 'down', file: string): Promise<RunResult> {
    return this.#d.run('wg-quick', [verb, file], this.#d.env ? { env: this.#d.env } : undefined);
  }

  /** Whether a network interface of that name exists (no root needed). */
  async #linkExists(iface: string): Promise<boolean> {
    return (await this.#d.run('ip', ['link', 'show', 'dev', iface])).code === 0;
  }

  /** Write the config 0600 through a temporary file and a rename, in a 0700 folder. */
  async #write(file: string, text: string): Promise<void> {
    const tmp = path.join(this.#d.configDir, `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(this.#d.configDir, { recursive: true, mode: 0o700 });
      await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
      await chmod(tmp, 0o600);
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new AppError('fallback.laptop-tunnel', `This computer’s WireGuard config could not be written to ${this.#d.configDir}.`, { cause: err, hint: 'Check that the folder is writable and the disk is not full.' });
    }
  }
}

const ifaceOf = (file: string): string => path.basename(file, '.conf');

const exists = async (p: string): Promise<boolean> => {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
};
