import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import path from 'node:path/posix';
// ssh2 is CommonJS: Node's ESM loader cannot name its exports, so take them from the default export.
import ssh2, { type Client as SshClient, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import { toShell, type Argv } from './argv';
import { hostKeyAlgorithmsFor, type HostKeyStore, type HostKeyVerdict } from './host-keys';
import { checkExit } from './remote-command';
import type { CommandRunner, ExecOptions, ExecResult } from './runner';

const { Client, utils } = ssh2;
type Client = SshClient;

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
}

/** How to authenticate; secret material only ever as Secret values. */
export type SshAuth =
  | { readonly kind: 'agent'; readonly agent: string }
  | { readonly kind: 'key'; readonly privateKey: Buffer; readonly passphrase?: Secret }
  | { readonly kind: 'password'; readonly password: Secret };

export type ConnectionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'connected'; readonly since: string }
  | { readonly kind: 'reconnecting'; readonly attempt: number; readonly retryInMs: number; readonly reason: string }
  | { readonly kind: 'closed'; readonly reason?: string };

/** First contact and changed keys are outcomes the admin decides on, not errors. */
export type ConnectOutcome =
  | { readonly kind: 'connected'; readonly fingerprint: string }
  | { readonly kind: 'confirm-host-key'; readonly fingerprint: string; readonly keyType: string }
  | { readonly kind: 'host-key-changed'; readonly fingerprint: string; readonly expected: readonly string[]; readonly keyType: string };

export interface SshConnectionOptions {
  readonly target: SshTarget;
  readonly auth: SshAuth;
  readonly hostKeys: HostKeyStore;
  readonly readyTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  /** Session channels (exec, SFTP) open at once; OpenSSH's MaxSessions defaults to 10. */
  readonly maxSessions?: number;
  /** Reconnect backoff: base × 2^attempt, capped, with full jitter. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number; readonly random?: () => number };
  /**
   * Where to dial instead of the target, e.g. the server's address through the WireGuard fallback. The target
   * stays the server's identity: host keys are judged against it, so a moved connection is verified the same way.
   */
  readonly via?: () => { readonly host: string; readonly port: number } | undefined;
  /** How to open the TCP stream (a test seam: the lab dials from inside a network namespace); net.connect by default. */
  readonly dialSocket?: (host: string, port: number) => Promise<Duplex>;
}

/** Full-jitter exponential backoff (AWS architecture blog's "full jitter"), never longer than maxMs. */
export const backoffDelay = (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number =>
  Math.floor(Math.min(1, Math.max(0, random())) * Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt)));

/** Why a reconnect stopped for good: the admin decides on a host key, never the app by itself. */
export const hostKeyStopReason = (outcome: Exclude<ConnectOutcome, { kind: 'connected' }>): string =>
  outcome.kind === 'host-key-changed'
    ? 'The server presented a different host key than the one on record, so the app did not reconnect. Connect from Setup to see both fingerprints and decide.'
    : 'The server’s host key is not on record any more, so the app did not reconnect. Connect from Setup to confirm its fingerprint.';

const describe = (t: SshTarget): string => `${t.username}@${t.host}:${t.port}`;

/** Map what ssh2 and the network say into errors a person can act on. */
export function classifyConnectError(err: unknown, t: SshTarget, auth: SshAuth['kind']): AppError {
  const e = err as NodeJS.ErrnoException & { level?: string };
  const where = `${t.host}:${t.port}`;
  if (e instanceof AppError) return e;
  switch (e.code) {
    case 'ECONNREFUSED':
      return new AppError('ssh.unreachable', `Nothing accepts SSH connections at ${where}.`, {
        cause: err,
        hint: 'Check the port (SSH usually listens on 22) and that the SSH server runs: on the server, sudo systemctl status ssh.',
        field: 'port',
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new AppError('ssh.unknown-host', `The name ${t.host} does not resolve to an address.`, {
        cause: err,
        hint: 'Check the spelling, or use the server’s IP address (your router lists it).',
        field: 'host',
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new AppError('ssh.unreachable', `The server at ${where} cannot be reached from this computer.`, {
        cause: err,
        hint: 'Check that the server is on and on the same network (or that the WireGuard fallback is on).',
        field: 'host',
      });
  }
  if (e.level === 'client-timeout' || /Timed out while waiting for handshake/.test(e.message)) {
    return new AppError('ssh.timeout', `The server at ${where} did not finish the SSH handshake in time.`, {
      cause: err,
      hint: 'Check that this port belongs to an SSH server and not another service.',
      field: 'port',
    });
  }
  if (e.level === 'client-authentication' || /authentication methods failed/i.test(e.message)) {
    const hint =
      auth === 'agent'
        ? 'The SSH agent offered no key that the server accepts. Add the right key to the agent (ssh-add), or choose a key file.'
        : auth === 'key'
          ? `The server does not accept this key for ${t.username}. Check the user name, or add the public key to ~/.ssh/authorized_keys on the server.`
          : 'Check the user name and password.';
    return new AppError('ssh.auth-failed', `The server refused to let ${t.username} sign in.`, { cause: err, hint, field: auth === 'password' ? 'password' : 'username' });
  }
  if (/Cannot parse privateKey|Encrypted private OpenSSH key detected, but no passphrase given/i.test(e.message)) {
    return /no passphrase/i.test(e.message)
      ? new AppError('ssh.key-passphrase-needed', 'This key file is protected by a passphrase.', { cause: err, hint: 'Enter the key’s passphrase.', field: 'passphrase' })
      : new AppError('ssh.key-unreadable', 'The key file is not a private key M2 Companion can read, or the passphrase is wrong.', {
          cause: err,
          hint: 'Choose an OpenSSH private key (ed25519, ecdsa or rsa), and check its passphrase.',
          field: 'keyPath',
        });
  }
  return new AppError('ssh.protocol', `The SSH connection to ${where} failed: ${e.message}.`, { cause: err, hint: 'Try again; if it persists, check the server’s SSH log.' });
}

/** A small FIFO semaphore: session channels beyond MaxSessions would be refused by the server. */
class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/**
 * One SSH connection per server, multiplexing exec, SFTP and port forwards; keepalive; reconnect with
 * exponential backoff and jitter after a lost connection; state changes are events ('state').
 */
export class SshConnection extends EventEmitter<{ state: [ConnectionState] }> implements CommandRunner {
  readonly #opts: SshConnectionOptions;
  readonly #sessions: Semaphore;
  #client: Client | undefined;
  #sftp: Promise<SFTPWrapper> | undefined;
  #state: ConnectionState = { kind: 'idle' };
  #closing = false;
  #ready: Promise<void> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  readonly #forwards = new Set<net.Server>();

  constructor(opts: SshConnectionOptions) {
    super();
    this.#opts = opts;
    this.#sessions = new Semaphore(opts.maxSessions ?? 8);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get target(): SshTarget {
    return this.#opts.target;
  }

  #setState(s: ConnectionState): void {
    this.#state = s;
    this.emit('state', s);
  }

  /**
   * Open the connection. `acceptFingerprint` is the fingerprint the admin confirmed on first contact;
   * it is stored only if the server presents exactly that key.
   */
  async connect(opts: { acceptFingerprint?: string } = {}): Promise<ConnectOutcome> {
    this.#closing = false;
    const outcome = await this.#dial(opts.acceptFingerprint, 1);
    return outcome;
  }

  /**
   * One dial. A reconnect's dial (`quiet`) leaves the state at 'reconnecting' while it runs and when it fails, so pages
   * that follow the connection do not flicker through 'connecting' and 'idle' between attempts.
   */
  #dial(acceptFingerprint: string | undefined, attempt: number, quiet = false): Promise<ConnectOutcome> {
    const { target, auth, hostKeys } = this.#opts;
    const failed = (): void => {
      if (!quiet) this.#setState({ kind: 'idle' });
    };
    if (!quiet) this.#setState({ kind: 'connecting', attempt });
    return new Promise<ConnectOutcome>((resolve, reject) => {
      const client = new Client();
      let verdict: HostKeyVerdict | undefined;
      let settled = false;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        fn();
      };
      const where = this.#opts.via?.() ?? target;
      const config: ConnectConfig = {
        host: where.host,
        port: where.port,
        username: target.username,
        readyTimeout: this.#opts.readyTimeoutMs ?? 15_000,
        keepaliveInterval: this.#opts.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          hostKeys.judge(target.host, target.port, key).then(
            async (v) => {
              verdict = v;
              if (v.kind === 'trusted') return verify(true);
              if (v.kind === 'unknown' && acceptFingerprint === v.fingerprint) {
                await hostKeys.trust(target.host, target.port, key);
                // Confirmed and stored: a sign-in that fails after this point is about the credentials, not the host key.
                verdict = { kind: 'trusted', fingerprint: v.fingerprint };
                return verify(true);
              }
              verify(false);
            },
            () => verify(false),
          );
        },
        ...(auth.kind === 'agent' ? { agent: auth.agent } : {}),
        ...(auth.kind === 'key' ? { privateKey: auth.privateKey, ...(auth.passphrase ? { passphrase: auth.passphrase.reveal() } : {}) } : {}),
        ...(auth.kind === 'password' ? { password: auth.password.reveal(), tryKeyboard: false } : {}),
      };
      client.on('ready', () =>
        done(() => {
          this.#client = client;
          this.#sftp = undefined;
          this.#attempt = 0;
          this.#setState({ kind: 'connected', since: new Date().toISOString() });
          client.on('close', () => this.#onLost(client, 'the connection closed'));
          resolve({ kind: 'connected', fingerprint: verdict?.fingerprint ?? '' });
        }),
      );
      client.on('error', (err) =>
        done(() => {
          client.end();
          failed();
          if (verdict?.kind === 'unknown') return resolve({ kind: 'confirm-host-key', fingerprint: verdict.fingerprint, keyType: verdict.keyType });
          if (verdict?.kind === 'changed') return resolve({ kind: 'host-key-changed', fingerprint: verdict.fingerprint, expected: verdict.expected, keyType: verdict.keyType });
          if (verdict?.kind === 'revoked') {
            return reject(new AppError('ssh.host-key-revoked', `The key presented by ${target.host} is marked as revoked in known_hosts.`, { hint: 'Do not connect; ask whoever runs the server.' }));
          }
          reject(classifyConnectError(err, target, auth.kind));
        }),
      );
      // Offer the host key types on record first, so a server with several host keys presents the confirmed one.
      hostKeys.knownKeyTypes(target.host, target.port).then(
        (types) => {
          // Closed while the host keys were read: a reconnect that lost the race with close() dials nothing.
          if (this.#closing) {
            return done(() => {
              reject(new AppError('ssh.disconnected', `Not connected to ${describe(target)}.`, { hint: 'The connection was closed.' }));
            });
          }
          const dial = this.#opts.dialSocket;
          (dial ? dial(where.host, where.port) : Promise.resolve(undefined)).then(
            (sock) => {
              try {
                client.connect({ ...config, ...(sock ? { sock } : {}), algorithms: { serverHostKey: hostKeyAlgorithmsFor(types) as ServerHostKeyAlgorithm[] } });
              } catch (err) {
                done(() => reject(classifyConnectError(err, target, auth.kind)));
              }
            },
            (err: unknown) =>
              done(() => {
                failed();
                reject(classifyConnectError(err, where === target ? target : { ...target, ...where }, auth.kind));
              }),
          );
        },
        (err: unknown) =>
          done(() => {
            failed();
            reject(classifyConnectError(err, target, auth.kind));
          }),
      );
    });
  }

  /**
   * Dial with backoff until connected, without anyone waiting: a connection the app had before it restarted. The host
   * key is judged against the stored one exactly as on a reconnect; an unknown or changed key ends it ('closed', with why).
   */
  resume(reason: string): void {
    if (this.#state.kind !== 'idle' && this.#state.kind !== 'closed') return;
    this.#closing = false;
    this.#attempt = 0;
    this.#scheduleReconnect(reason);
  }

  /**
   * Drop the live transport and dial again at once (to wherever `via` now points), keeping this object, its state
   * events and everything that follows them (live status moves with it). Resolves when connected again or given up.
   */
  async redial(timeoutMs = 15_000): Promise<boolean> {
    const client = this.#client;
    if (this.#closing) return false;
    if (client) {
      this.#attempt = 0;
      client.end();
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#closing) return false;
      if (this.state.kind === 'connected' && this.#client !== client) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.state.kind === 'connected';
  }

  #onLost(client: Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#sftp = undefined;
    if (this.#closing) return this.#setState({ kind: 'closed' });
    this.#scheduleReconnect(reason);
  }

  #scheduleReconnect(reason: string): void {
    const { baseMs, maxMs, random } = this.#opts.backoff ?? { baseMs: 500, maxMs: 30_000 };
    const attempt = this.#attempt++;
    const retryInMs = backoffDelay(attempt, baseMs, maxMs, random);
    this.#setState({ kind: 'reconnecting', attempt: attempt + 1, retryInMs, reason });
    this.#ready = new Promise<void>((resolve) => {
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        if (this.#closing) return resolve();
        // A changed host key on reconnect is refused like on first contact: never trusted silently.
        this.#dial(undefined, attempt + 1, true).then(
          (o) => {
            if (o.kind === 'connected') resolve();
            else {
              this.#closing = true;
              this.#setState({ kind: 'closed', reason: hostKeyStopReason(o) });
              resolve();
            }
          },
          (err: unknown) => {
            if (!this.#closing) this.#scheduleReconnect(err instanceof Error ? err.message : String(err));
            resolve();
          },
        );
      }, retryInMs);
    });
  }

  /** The client, waiting through a reconnect if one is under way. */
  async #live(waitMs = 30_000): Promise<Client> {
    const deadline = Date.now() + waitMs;
    while (!this.#client) {
      if (this.#closing || this.#state.kind === 'idle' || this.#state.kind === 'closed' || Date.now() > deadline) {
        throw new AppError('ssh.disconnected', `Not connected to ${describe(this.#opts.target)}.`, { hint: 'Connect to the server first, or wait for the connection to come back.' });
      }
      await Promise.race([this.#ready, new Promise((r) => setTimeout(r, 200))]);
    }
    return this.#client;
  }

  /**
   * Run one command (argv, quoted once) in its own channel; streams, exit code, timeout and cancel.
   * The command line first prints the shell's pid, then `exec`s the command: sshd makes each session
   * its own process group, so a timeout or cancel can kill exactly that group on the server.
   */
  async exec(argv: Argv, opts: ExecOptions = {}): Promise<ExecResult> {
    const command = `echo $$ && exec ${toShell(argv)}`;
    const release = await this.#sessions.acquire();
    let pid: string | undefined;
    let stopped: AppError | undefined;
    try {
      const client = await this.#live();
      return await new Promise<ExecResult>((resolve, reject) => {
        // A transport that closes (a cut, or a move onto the tunnel) while the command runs fails it at once:
        // ssh2 does not always close or even open a channel on a client that went away.
        let settled = false;
        const onGone = (): void => {
          if (settled || stopped) return;
          settled = true;
          stopped = new AppError('ssh.disconnected', `The connection closed while ${argv[0] ?? 'a command'} ran.`, { hint: 'Try again once the connection is back.' });
          reject(stopped);
        };
        client.once('close', onGone);
        const resolveOnce = (r: ExecResult): void => {
          client.removeListener('close', onGone);
          if (settled) return;
          settled = true;
          resolve(r);
        };
        const rejectOnce = (e: unknown): void => {
          client.removeListener('close', onGone);
          if (settled) return;
          settled = true;
          reject(e);
        };
        client.exec(command, (err, stream) => {
          if (err) {
            return rejectOnce(new AppError('ssh.channel-failed', `The server refused to run a command: ${err.message}.`, { cause: err, hint: 'Try again in a moment.' }));
          }
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let head = Buffer.alloc(0);
          let timer: NodeJS.Timeout | undefined;
          const cleanup = (): void => {
            if (timer) clearTimeout(timer);
            opts.signal?.removeEventListener('abort', onAbort);
          };
          const stop = (why: AppError): void => {
            if (stopped) return;
            stopped = why;
            cleanup();
            stream.close();
            rejectOnce(why);
          };
          const onAbort = (): void => stop(new AppError('ssh.cancelled', `Cancelled: ${argv[0] ?? ''}.`));
          if (opts.timeoutMs) {
            const secs = Math.max(1, Math.round(opts.timeoutMs / 1000));
            timer = setTimeout(
              () => stop(new AppError('ssh.command-timeout', `${argv[0] ?? 'A command'} took longer than ${secs} s and was stopped.`, { hint: 'The server may be busy; try again.' })),
              opts.timeoutMs,
            );
          }
          opts.signal?.addEventListener('abort', onAbort, { once: true });
          if (opts.signal?.aborted) onAbort();
          stream.on('data', (d: Buffer) => {
            if (pid === undefined) {
              head = Buffer.concat([head, d]);
              const nl = head.indexOf(0x0a);
              if (nl < 0) return;
              pid = head.subarray(0, nl).toString('ascii').trim();
              d = head.subarray(nl + 1);
              if (d.length === 0) return;
            }
            out.push(d);
            opts.onStdout?.(d);
          });
          stream.stderr.on('data', (d: Buffer) => {
            errOut.push(d);
            opts.onStderr?.(d);
          });
          stream.on('close', (code: number | null | undefined, signal?: string) => {
            cleanup();
            if (stopped) return;
            resolveOnce({ code: code ?? null, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
          });
          if (opts.stdin !== undefined) stream.end(opts.stdin);
          else stream.end();
        });
      });
    } finally {
      release();
      if (stopped && pid && /^\d+$/.test(pid)) {
        // Best effort, on the same connection: the stopped command's whole process group.
        void this.exec(['kill', '-KILL', '--', `-${pid}`]).catch(() => undefined);
      }
    }
  }

  /** A long-lived command (e.g. the status agent): its channel, for the caller to read and close. */
  async spawn(argv: Argv): Promise<{ channel: ClientChannel; release: () => void }> {
    const release = await this.#sessions.acquire();
    const client = await this.#live().catch((err: unknown) => {
      release();
      throw err;
    });
    return new Promise((resolve, reject) => {
      client.exec(toShell(argv), (err, channel) => {
        if (err) {
          release();
          return reject(new AppError('ssh.channel-failed', `The server refused to run a command: ${err.message}.`, { cause: err }));
        }
        // The slot comes back when the channel closes, or with the transport under it (whichever comes first).
        const done = (): void => {
          client.removeListener('close', done);
          release();
        };
        channel.once('close', done);
        client.once('close', done);
        resolve({ channel, release: done });
      });
    });
  }

  #sftpSession(): Promise<SFTPWrapper> {
    if (!this.#sftp) {
      const session = (async () => {
        // The SFTP session holds one session channel while it lives: its slot comes back when the session ends, or
        // when the transport under it goes (a cut, a redial onto the tunnel). Kept for good, each reconnect would
        // take one more slot until no command could run at all.
        const release = await this.#sessions.acquire();
        try {
          const client = await this.#live();
          const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
          const ended = (): void => {
            release();
            client.removeListener('close', ended);
            if (this.#sftp === session) this.#sftp = undefined;
          };
          sftp.once('close', ended);
          client.once('close', ended);
          return sftp;
        } catch (err) {
          release();
          throw err;
        }
      })();
      this.#sftp = session;
      session.catch(() => {
        if (this.#sftp === session) this.#sftp = undefined;
      });
    }
    return this.#sftp;
  }

  /**
   * Write a remote file atomically: temp file beside it (created with the final mode, so a secret is never
   * readable by others even for a moment), fsync, rename over the target, then verify its SHA-256.
   */
  async writeFileAtomic(remotePath: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<{ sha256: string }> {
    if (!remotePath.startsWith('/') && !remotePath.startsWith('~/')) throw new AppError('ssh.sftp-failed', `A remote path must be absolute: ${remotePath}.`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const sftp = await this.#sftpSession();
    const target = remotePath.startsWith('~/') ? remotePath.slice(2) : remotePath;
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.m2tmp-${randomBytes(6).toString('hex')}`);
    const mode = opts.mode ?? 0o644;
    const call = <T>(fn: (cb: (err: Error | undefined | null, v?: T) => void) => void): Promise<T> =>
      new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
    try {
      const handle = await call<Buffer>((cb) => sftp.open(tmp, 'wx', { mode }, cb));
      try {
        let offset = 0;
        while (offset < bytes.length) {
          const n = Math.min(32 * 1024, bytes.length - offset);
          await call((cb) => sftp.write(handle, bytes, offset, n, offset, cb));
          offset += n;
        }
        await call((cb) => sftp.fchmod(handle, mode, cb));
        await call((cb) => sftp.ext_openssh_fsync(handle, cb));
      } finally {
        await call((cb) => sftp.close(handle, cb)).catch(() => undefined);
      }
      await call((cb) => sftp.ext_openssh_rename(tmp, target, cb));
    } catch (err) {
      await call((cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
      throw new AppError('ssh.sftp-failed', `Could not write ${remotePath} on the server: ${(err as Error).message}.`, {
        cause: err,
        hint: 'Check that the folder exists, is writable by the SSH user, and that the disk is not full. The old file, if any, is unchanged.',
      });
    }
    const sumArgv = ['sha256sum', '--', target.startsWith('/') ? target : `./${target}`];
    const check = checkExit(sumArgv, await this.exec(sumArgv), {
      code: 'ssh.checksum-mismatch',
      message: () => `${remotePath} on the server does not match what was sent.`,
      hint: 'Try again; if it repeats, check the server’s disk.',
    });
    if (check.stdout.split(/\s+/)[0] !== sha256) {
      throw new AppError('ssh.checksum-mismatch', `${remotePath} on the server does not match what was sent.`, { hint: 'Try again; if it repeats, check the server’s disk.' });
    }
    return { sha256 };
  }

  /** Read a remote file over SFTP. */
  async readFile(remotePath: string): Promise<Buffer> {
    const sftp = await this.#sftpSession();
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      sftp
        .createReadStream(remotePath)
        .on('data', (d: Buffer) => chunks.push(d))
        .on('error', (err: Error) => reject(new AppError('ssh.sftp-failed', `Could not read ${remotePath} on the server: ${err.message}.`, { cause: err })))
        .on('end', () => resolve(Buffer.concat(chunks)));
    });
  }

  /**
   * Forward a local port on 127.0.0.1 to host:port as seen from the server (e.g. a service that listens
   * only inside it). Each accepted socket is one direct-tcpip channel on this same connection.
   */
  async forward(remoteHost: string, remotePort: number): Promise<{ port: number; close: () => Promise<void> }> {
    const server = net.createServer((socket) => {
      this.#live(5_000).then(
        (client) =>
          client.forwardOut('127.0.0.1', socket.remotePort ?? 0, remoteHost, remotePort, (err, channel) => {
            if (err) return socket.destroy();
            socket.pipe(channel).pipe(socket);
            socket.on('error', () => channel.close());
            channel.on('error', () => socket.destroy());
          }),
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#forwards.add(server);
    const port = (server.address() as net.AddressInfo).port;
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          this.#forwards.delete(server);
          server.close(() => resolve());
        }),
    };
  }

  /** Close for good: no reconnect. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    for (const s of this.#forwards) s.close();
    this.#forwards.clear();
    const client = this.#client;
    this.#client = undefined;
    this.#sftp = undefined;
    if (client) {
      await new Promise<void>((resolve) => {
        client.once('close', () => resolve());
        client.end();
        setTimeout(resolve, 2_000).unref();
      });
    }
    this.#setState({ kind: 'closed' });
  }
}

/** Parse a private key now, to tell a missing passphrase from a wrong one before dialling. */
export function checkPrivateKey(privateKey: Buffer, passphrase?: Secret): { type: string } {
  const parsed = utils.parseKey(privateKey, passphrase?.reveal());
  if (parsed instanceof Error) {
    if (/no passphrase/i.test(parsed.message)) {
      throw new AppError('ssh.key-passphrase-needed', 'This key file is protected by a passphrase.', { hint: 'Enter the key’s passphrase.', field: 'passphrase' });
    }
    if (passphrase && /bad passphrase|integrity check failed|decrypt/i.test(parsed.message)) {
      throw new AppError('ssh.key-passphrase-wrong', 'The passphrase does not unlock this key.', { hint: 'Check the passphrase and try again.', field: 'passphrase' });
    }
    throw new AppError('ssh.key-unreadable', 'The key file is not a private key M2 Companion can read.', {
      hint: 'Choose an OpenSSH private key (ed25519, ecdsa or rsa).',
      field: 'keyPath',
    });
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return { type: (key as { type: string }).type };
}
