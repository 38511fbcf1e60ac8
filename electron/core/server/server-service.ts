import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import type { ServerProfile } from '../../contract/profiles';
import type { ConnectResult, ConnectionState } from '../../contract/server';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { ProfileStore } from '../profiles/profile-store';
import { Secret } from '../secrets/secret';
import type { HostKeyStore } from '../ssh/host-keys';
import { checkPrivateKey, SshConnection, type SshAuth } from '../ssh/ssh-connection';
import { generatedKeyName, generateEd25519KeyPair, installAuthorizedKey, saveKeyPair } from '../ssh/key-install';
import type { InstallKeyResult } from '../../contract/server';
import type { ProfileJsonStore } from '../fs/json-store';
import { resumePlan, type RememberedFile } from './remembered-connections';

/** Where passphrases the admin asked to remember are kept (the OS keychain in the app). */
export interface PassphraseVault {
  get(profileId: string, name: string): Promise<Secret | undefined>;
  set(profileId: string, name: string, value: Secret): Promise<void>;
}

export interface ServerServiceDeps {
  readonly profiles: ProfileStore;
  readonly hostKeys: HostKeyStore;
  readonly vault?: PassphraseVault | undefined;
  readonly log: Logger;
  readonly onState: (profileId: string, state: ConnectionState) => void;
  /** The SSH agent to use: SSH_AUTH_SOCK on Unix, Pageant or the OpenSSH pipe on Windows. */
  readonly agentSocket?: () => string | undefined;
  readonly homeDir?: string;
  /** Where keys the app generates for servers are kept on this computer (mode 0600). */
  readonly keysDir: string;
  /** How TCP streams to servers are opened (a test seam: the lab dials from inside a network namespace). */
  readonly dialSocket?: (host: string, port: number) => Promise<Duplex>;
  /** Which servers were connected (no secrets), so a restarted app reconnects them; nothing is remembered without it. */
  readonly remembered?: ProfileJsonStore<typeof RememberedFile>;
  /** Reconnect backoff (base × 2^attempt, capped, full jitter); 0.5 s → 30 s by default. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

export interface ConnectInput {
  readonly profileId: string;
  readonly acceptFingerprint?: string | undefined;
  readonly password?: string | undefined;
  readonly passphrase?: string | undefined;
  readonly rememberPassphrase?: boolean | undefined;
}

const PASSPHRASE = 'ssh-key-passphrase';

export const defaultAgentSocket = (): string | undefined => {
  if (process.env.SSH_AUTH_SOCK) return process.env.SSH_AUTH_SOCK;
  // Windows: the built-in OpenSSH agent's pipe; ssh2 also understands 'pageant'.
  return process.platform === 'win32' ? '\\\\.\\pipe\\openssh-ssh-agent' : undefined;
};

const expandHome = (p: string, home: string): string => (p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p);

/**
 * Keeps one SSH connection per server profile and hands it to everything that talks to that server
 * (preflight, stack, status), so the server sees one TCP connection however many calls run at once.
 */
export class ServerService {
  readonly #deps: ServerServiceDeps;
  readonly #connections = new Map<string, SshConnection>();
  /** Servers reached another way than their saved address: through the WireGuard fallback. */
  readonly #routes = new Map<string, { host: string; port: number }>();
  /** Servers the app could not reconnect by itself after a restart, and why (a password sign-in, a key that needs its passphrase). */
  readonly #stopped = new Map<string, ConnectionState>();

  constructor(deps: ServerServiceDeps) {
    this.#deps = deps;
  }

  async #profile(id: string): Promise<ServerProfile> {
    const profile = (await this.#deps.profiles.list()).find((p) => p.id === id);
    if (!profile) throw new AppError('profile.not-found', `There is no server profile "${id}".`, { hint: 'Add the server first.', field: 'profileId' });
    return profile;
  }

  async #auth(profile: ServerProfile, input: ConnectInput): Promise<SshAuth> {
    switch (profile.auth.kind) {
      case 'agent': {
        const agent = (this.#deps.agentSocket ?? defaultAgentSocket)();
        if (!agent) {
          throw new AppError('ssh.agent-unavailable', 'No SSH agent is running on this computer.', {
            hint: 'Start one (eval "$(ssh-agent)" and ssh-add), or choose a key file for this server.',
            field: 'auth',
          });
        }
        return { kind: 'agent', agent };
      }
      case 'key': {
        const keyPath = expandHome(profile.auth.keyPath, this.#deps.homeDir ?? os.homedir());
        let privateKey: Buffer;
        try {
          privateKey = await readFile(keyPath);
        } catch (err) {
          throw new AppError('ssh.key-unreadable', `The key file ${profile.auth.keyPath} cannot be read.`, {
            cause: err,
            hint: 'Check the path, and that this user may read the file.',
            field: 'keyPath',
          });
        }
        const typed = input.passphrase === undefined ? undefined : new Secret(input.passphrase);
        const passphrase = typed ?? (await this.#deps.vault?.get(profile.id, PASSPHRASE).catch(() => undefined));
        checkPrivateKey(privateKey, passphrase);
        if (typed && input.rememberPassphrase && this.#deps.vault) await this.#deps.vault.set(profile.id, PASSPHRASE, typed);
        return { kind: 'key', privateKey, ...(passphrase ? { passphrase } : {}) };
      }
      case 'password': {
        if (input.password === undefined) {
          throw new AppError('ssh.auth-failed', 'This server signs in with a password.', { hint: 'Enter the password for the first contact.', field: 'password' });
        }
        return { kind: 'password', password: new Secret(input.password) };
      }
      default: {
        const never: never = profile.auth;
        return never;
      }
    }
  }

  /** Connect (or reuse the live connection); first contact and changed keys come back for the admin to decide. */
  async connect(input: ConnectInput): Promise<ConnectResult> {
    const profile = await this.#profile(input.profileId);
    const target = { host: profile.host, port: profile.port, username: profile.username };
    const existing = this.#connections.get(profile.id);
    if (existing && existing.state.kind === 'connected') {
      const t = existing.target;
      if (t.host === target.host && t.port === target.port && t.username === target.username) {
        return { kind: 'connected', fingerprint: '', host: t.host, port: t.port };
      }
    }
    const auth = await this.#auth(profile, input);
    const conn = this.#newConnection(profile, auth);
    const outcome = await conn.connect(input.acceptFingerprint ? { acceptFingerprint: input.acceptFingerprint } : {});
    const where = { host: profile.host, port: profile.port };
    if (outcome.kind !== 'connected') {
      await conn.close();
      if (outcome.kind === 'host-key-changed') this.#deps.log.warn('refused a changed host key', { profile: profile.id, ...where, presented: outcome.fingerprint });
      return { ...outcome, expected: 'expected' in outcome ? [...outcome.expected] : [], ...where } as ConnectResult;
    }
    await existing?.close();
    this.#adopt(profile.id, conn);
    await this.#remember(profile.id, true);
    this.#deps.log.info('connected', { profile: profile.id, ...where });
    return { kind: 'connected', fingerprint: outcome.fingerprint, ...where };
  }

  #newConnection(profile: ServerProfile, auth: SshAuth): SshConnection {
    return new SshConnection({
      target: { host: profile.host, port: profile.port, username: profile.username },
      auth,
      hostKeys: this.#deps.hostKeys,
      via: () => this.#routes.get(profile.id),
      ...(this.#deps.dialSocket ? { dialSocket: this.#deps.dialSocket } : {}),
      ...(this.#deps.backoff ? { backoff: this.#deps.backoff } : {}),
    });
  }

  /** The connection of a server from now on: its state changes reach every page. */
  #adopt(profileId: string, conn: SshConnection): void {
    this.#stopped.delete(profileId);
    this.#connections.set(profileId, conn);
    conn.on('state', (s) => {
      if (this.#connections.get(profileId) === conn) this.#deps.onState(profileId, s);
    });
    this.#deps.onState(profileId, conn.state);
  }

  async #remember(profileId: string, connected: boolean): Promise<void> {
    const store = this.#deps.remembered;
    try {
      // Written only when it changes: a removed server's memory, deleted before its last disconnect, stays gone.
      if (!store || (await store.read(profileId)).reconnect === connected) return;
      await store.update(profileId, (v) => {
        v.reconnect = connected;
      });
    } catch (err) {
      // Not fatal: the server just will not reconnect by itself after a restart.
      this.#deps.log.warn('could not remember the connection', { profile: profileId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * After a restart: reconnect every server that was connected when the app stopped, with backoff, the host key judged
   * against the stored one. A password sign-in cannot (the password is never kept): its state says so instead.
   */
  async resume(): Promise<void> {
    const store = this.#deps.remembered;
    if (!store) return;
    for (const profile of await this.#deps.profiles.list()) {
      if (this.#connections.has(profile.id)) continue;
      const remembered = await store.read(profile.id).catch(() => undefined);
      const plan = resumePlan(profile, remembered);
      if (plan.kind === 'skip') continue;
      if (plan.kind === 'cannot') {
        this.#stop(profile.id, plan.reason);
        continue;
      }
      let auth: SshAuth;
      try {
        auth = await this.#auth(profile, { profileId: profile.id });
      } catch (err) {
        const why = err instanceof AppError ? `${err.userMessage}${err.hint ? ` ${err.hint}` : ''}` : 'Its sign-in could not be prepared.';
        this.#stop(profile.id, `M2 Companion could not reconnect by itself: ${why} Connect again in Setup.`);
        continue;
      }
      const conn = this.#newConnection(profile, auth);
      this.#deps.log.info('reconnecting a server that was connected when the app stopped', { profile: profile.id });
      // Reconnecting before it is adopted: pages see it as such from the first event, never as 'idle'.
      conn.resume('Reconnecting: the server was connected when M2 Companion stopped.');
      this.#adopt(profile.id, conn);
    }
  }

  #stop(profileId: string, reason: string): void {
    const state: ConnectionState = { kind: 'closed', reason };
    this.#stopped.set(profileId, state);
    this.#deps.onState(profileId, state);
  }

  /** Every server's connection state the app knows of (for a window that opens or comes back). */
  states(): Array<{ profileId: string; state: ConnectionState }> {
    const ids = new Set([...this.#connections.keys(), ...this.#stopped.keys()]);
    return [...ids].map((profileId) => ({ profileId, state: this.state(profileId) }));
  }

  /** The live connection for a profile, for every service that talks to that server. */
  connection(profileId: string): SshConnection {
    const conn = this.#connections.get(profileId);
    if (!conn || conn.state.kind === 'closed' || conn.state.kind === 'idle') {
      throw new AppError('server.not-connected', 'Not connected to this server.', { hint: 'Connect to the server first (Setup → Server).', field: 'profileId' });
    }
    return conn;
  }

  /**
   * Move a server's one connection onto another address (the server through the WireGuard tunnel) or, with null,
   * back to its saved address. The host key is still judged against the saved server, and everything that follows
   * the connection (live status) moves with it. True when the connection is up at its new address.
   */
  async reroute(profileId: string, via: { host: string; port: number } | null, timeoutMs = 15_000): Promise<boolean> {
    const profile = await this.#profile(profileId);
    if (via) this.#routes.set(profileId, { host: via.host, port: via.port === 0 ? profile.port : via.port });
    else this.#routes.delete(profileId);
    const conn = this.#connections.get(profileId);
    if (!conn || conn.state.kind === 'closed' || conn.state.kind === 'idle') return false;
    const ok = await conn.redial(timeoutMs);
    this.#deps.log.info(via ? 'connection moved onto the fallback tunnel' : 'connection moved back to the saved address', { profile: profileId, ok, ...(via ? { via: this.#routes.get(profileId) } : {}) });
    return ok;
  }

  state(profileId: string): ConnectionState {
    return this.#connections.get(profileId)?.state ?? this.#stopped.get(profileId) ?? { kind: 'idle' };
  }

  /** The admin disconnects: closed for good, and not reconnected after a restart either. */
  async disconnect(profileId: string): Promise<void> {
    this.#stopped.delete(profileId);
    await this.#remember(profileId, false);
    await this.#close(profileId);
  }

  /** `tell`: pages hear it was closed (a disconnect); an app that stops takes its pages with it and says nothing. */
  async #close(profileId: string, tell = true): Promise<void> {
    const conn = this.#connections.get(profileId);
    this.#connections.delete(profileId);
    await conn?.close();
    if (conn && tell) this.#deps.onState(profileId, { kind: 'closed' });
  }

  /**
   * Password on first contact only: generate an ed25519 key pair, install its public half in the
   * server's authorized_keys over the live (password) connection, and switch the profile to the key.
   */
  async installKey(profileId: string): Promise<InstallKeyResult> {
    const profile = await this.#profile(profileId);
    const conn = this.connection(profileId);
    const pair = generateEd25519KeyPair(`m2-companion@${profile.id}`);
    const { privateKeyPath } = await saveKeyPair(this.#deps.keysDir, generatedKeyName(profile.id), pair);
    const installed = await installAuthorizedKey(conn, pair.publicKey);
    await this.#deps.profiles.save({
      id: profile.id,
      name: profile.name,
      host: profile.host,
      port: profile.port,
      username: profile.username,
      auth: { kind: 'key', keyPath: privateKeyPath },
    });
    this.#deps.log.info('installed a generated key', { profile: profile.id, fingerprint: pair.fingerprint, installed });
    return { keyPath: privateKeyPath, fingerprint: pair.fingerprint, installed };
  }

  /** The app stops: close every connection but remember which were up, so the next start reconnects them. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#connections.keys()].map((id) => this.#close(id, false)));
  }
}
