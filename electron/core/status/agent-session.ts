/**
 * Runs the status agent on a server in ONE long-lived exec channel of the server's one SSH connection: uploads
 * it when missing (content-addressed: ~/m2/agent/<sha256-16>/m2-status-agent.sh), hands it the Jellyfin API
 * key on stdin, splits and validates its NDJSON, and starts it again — after the connection comes back
 * (SshConnection reconnects by itself), after the agent exits, or when it falls silent — with backoff.
 */
import { createHash } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { AgentState } from '../../contract/status';
import type { Logger } from '../log';
import type { Secret } from '../secrets/secret';
import type { ConnectionState, SshConnection } from '../ssh/ssh-connection';
import { backoffDelay } from '../ssh/ssh-connection';
import { runChecked } from '../ssh/remote-command';
import { LineSplitter, parseAgentLine, type AgentLine } from './agent-protocol';

/** The launcher's exit code when the script is not on the server yet. */
const MISSING = 86;

/** `sh -c` launcher: runs the uploaded script if present; the script's hash and arguments are plain argv. */
const LAUNCHER = 'f="$HOME/m2/agent/$1/m2-status-agent.sh"; [ -r "$f" ] || exit 86; shift; exec sh "$f" "$@"';

export type AgentConnection = Pick<SshConnection, 'spawn' | 'exec' | 'writeFileAtomic' | 'state' | 'on' | 'off'>;

export interface AgentSessionOptions {
  readonly conn: AgentConnection;
  readonly script: string;
  /** The agent's arguments (read at every start: settings may have changed). */
  readonly args: () => Promise<readonly string[]>;
  readonly apiKey: () => Promise<Secret | undefined>;
  readonly onLine: (line: AgentLine) => void;
  readonly onState: (state: AgentState) => void;
  readonly log: Logger;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** No line (not even a heartbeat, every 10 ticks) for this long: the agent is restarted. */
  readonly staleMs?: number;
}

export const scriptHash = (script: string): string => createHash('sha256').update(script, 'utf8').digest('hex').slice(0, 16);

export class AgentSession {
  readonly #o: AgentSessionOptions;
  readonly #hash: string;
  #channel: ClientChannel | undefined;
  #stopped = true;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastLineAt = 0;
  #starting = false;
  /** Lines dropped since start (invalid JSON or schema): for tests and the log. */
  dropped = 0;
  received = 0;
  /** How many times an agent was started (1 + restarts). */
  starts = 0;
  readonly #onConnState = (s: ConnectionState): void => {
    if (this.#stopped) return;
    if (s.kind === 'connected' && !this.#channel && !this.#starting) {
      // The connection is back: start at once rather than waiting out a backoff meant for a dead server.
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#attempt = 0;
      void this.#run();
    } else if (s.kind === 'closed') {
      this.#setState({ kind: 'stopped', since: new Date().toISOString() });
    }
  };

  constructor(opts: AgentSessionOptions) {
    this.#o = opts;
    this.#hash = scriptHash(opts.script);
  }

  get running(): boolean {
    return this.#channel !== undefined;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#o.conn.on('state', this.#onConnState);
    this.#watchdog = setInterval(() => this.#checkStale(), 1_000);
    this.#watchdog.unref();
    void this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.conn.off('state', this.#onConnState);
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#timer = undefined;
    const ch = this.#channel;
    this.#channel = undefined;
    if (ch) {
      // End of stdin stops the agent and everything it started (its stdin watcher), then the channel closes.
      await new Promise<void>((resolve) => {
        ch.once('close', () => resolve());
        ch.end();
        setTimeout(() => {
          ch.close();
          resolve();
        }, 2_000).unref();
      });
    }
    this.#setState({ kind: 'stopped', since: new Date().toISOString() });
  }

  #setState(s: AgentState): void {
    this.#o.onState(s);
  }

  #checkStale(): void {
    const ch = this.#channel;
    if (!ch || this.#lastLineAt === 0) return;
    if (Date.now() - this.#lastLineAt > (this.#o.staleMs ?? 30_000)) {
      this.#o.log.warn('the status agent fell silent; restarting it', { silentMs: Date.now() - this.#lastLineAt });
      this.#lastLineAt = 0;
      ch.close();
    }
  }

  async #spawn(args: readonly string[]): Promise<ClientChannel> {
    const { channel } = await this.#o.conn.spawn(['sh', '-c', LAUNCHER, 'm2-status', this.#hash, ...args]);
    return channel;
  }

  async #upload(): Promise<void> {
    const dir = `~/m2/agent/${this.#hash}`;
    await runChecked(this.#o.conn, ['sh', '-c', 'mkdir -p "$HOME/m2/agent/$1"', 'm2-status', this.#hash], {
      code: 'ssh.sftp-failed',
      message: (said) => `could not create ${dir}: ${said}`,
      hint: 'Check that your home folder on the server is writable and not full.',
    });
    await this.#o.conn.writeFileAtomic(`${dir}/m2-status-agent.sh`, this.#o.script, { mode: 0o644 });
    this.#o.log.info('uploaded the status agent', { hash: this.#hash });
  }

  async #run(): Promise<void> {
    if (this.#stopped || this.#channel || this.#starting) return;
    if (this.#o.conn.state.kind !== 'connected') {
      this.#setState({ kind: 'restarting', since: new Date().toISOString(), reason: 'waiting for the SSH connection', retryInMs: 0 });
      return;
    }
    this.#starting = true;
    this.#setState({ kind: 'starting', since: new Date().toISOString() });
    try {
      const args = await this.#o.args();
      const key = await this.#o.apiKey().catch(() => undefined);
      let uploaded = false;
      for (;;) {
        // stop() may come while this start is on its way: then the agent is ended as soon as it exists.
        if (this.#stopped) break;
        const channel = await this.#spawn(args);
        if (this.#stopped) {
          channel.end();
          break;
        }
        const exit = await this.#attach(channel, key);
        if (exit === MISSING && !uploaded && !this.#stopped) {
          await this.#upload();
          uploaded = true;
          continue;
        }
        break;
      }
      if (this.#stopped) this.#starting = false;
    } catch (err) {
      this.#starting = false;
      this.#channel = undefined;
      this.#retry(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Feed the key, read lines; resolves at the agent's hello (null), or with the exit code when the launcher exits
   * before it (MISSING: upload and try again). After a hello, the channel's close schedules a restart.
   */
  #attach(channel: ClientChannel, key: Secret | undefined): Promise<number | null> {
    return new Promise((resolve) => {
      let hello = false;
      let stderr = '';
      this.#channel = channel;
      this.#lastLineAt = Date.now();
      const splitter = new LineSplitter(
        (text) => {
          this.#lastLineAt = Date.now();
          const parsed = parseAgentLine(text);
          if (!parsed.ok) {
            this.dropped++;
            this.#o.log.warn('dropped an invalid status agent line', { reason: parsed.reason });
            return;
          }
          this.received++;
          const line = parsed.line;
          if (line.t === 'hello' && !hello) {
            hello = true;
            this.starts++;
            this.#starting = false;
            this.#setState({ kind: 'running', since: new Date().toISOString(), http: line.http });
            resolve(null);
          }
          if (line.t === 'ready') this.#attempt = 0;
          if (line.t === 'error') this.#o.log.warn('the status agent reported a problem', { what: line.what, message: line.message });
          try {
            this.#o.onLine(line);
          } catch (err) {
            this.#o.log.error('a status line could not be applied', { error: err, t: line.t });
          }
        },
        (length) => {
          this.dropped++;
          this.#o.log.warn('dropped an oversized status agent line', { length });
        },
      );
      channel.setEncoding('utf8');
      channel.on('data', (d: string) => splitter.push(d));
      channel.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-2_000);
      });
      channel.on('error', () => undefined);
      channel.on('close', (code: number | null) => {
        if (this.#channel === channel) this.#channel = undefined;
        if (!hello) {
          this.#starting = code === MISSING;
          if (code === MISSING) return resolve(code);
          this.#starting = false;
          resolve(code);
          if (!this.#stopped) this.#retry(`the agent exited with code ${code ?? 'none'}${stderr ? `: ${stderr.trim().split('\n').pop() ?? ''}` : ''}`);
          return;
        }
        if (!this.#stopped) this.#retry(this.#o.conn.state.kind === 'connected' ? `the agent stopped (exit ${code ?? 'none'})` : 'the SSH connection was lost');
      });
      // The key on the first line (or an empty line); stdin then stays open: its end is the agent's stop signal.
      channel.write(`${key ? key.reveal() : ''}\n`);
    });
  }

  #retry(reason: string): void {
    if (this.#stopped) return;
    this.#starting = false;
    const delay = backoffDelay(this.#attempt++, this.#o.backoff?.baseMs ?? 500, this.#o.backoff?.maxMs ?? 30_000, () => 0.5 + Math.random() / 2);
    this.#setState({ kind: 'restarting', since: new Date().toISOString(), reason, retryInMs: delay });
    this.#o.log.warn('status agent restarting', { reason, inMs: delay });
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // When the connection is down, its 'connected' event starts the agent instead.
      if (this.#o.conn.state.kind === 'connected') void this.#run();
    }, delay);
    this.#timer.unref();
  }
}
