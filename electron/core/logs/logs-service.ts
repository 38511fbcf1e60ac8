/**
 * Logs and service actions of one server's stack, over its one SSH connection. Each open stream is one
 * `docker compose logs` command in its own SSH channel (cancelled by aborting it, which kills its process group
 * on the server); its output is split into whole lines and masked with every secret the app keeps for the server
 * before anything is pushed. Restart, stop and start are Compose commands on one checked service.
 */
import type { LogLine, LogsOpenRequest, LogStreamEnd, LogStreamEvent, LogsServices, ServiceAction, ServiceActionResult, ServiceRuntime } from '../../contract/logs';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';
import { checkExit, runChecked } from '../ssh/remote-command';
import type { ExecOptions, ExecResult } from '../ssh/runner';
import type { ComposeFiles, DockerAccessKind } from '../stack/compose-commands';
import { DOCKER_UNAVAILABLE } from '../stack/remote-release';
import { LineRedactor, matchesSearch, splitTimestamp } from './line-redactor';
import { logCommands } from './log-commands';
import { parseRuntime, serviceRuntimes } from './service-runtime';
import type { ServerOperations } from '../server-operations';

export interface LogsConnection {
  exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult>;
}

/** One server's stack as the Logs page works on it. */
export interface LogsTarget {
  readonly conn: LogsConnection;
  readonly access: DockerAccessKind;
  /** The live release's compose files (the same `--env-file`s the apply used). */
  readonly files: ComposeFiles;
  readonly releaseId: string | null;
  /** The services the live release declares: the only names a command is built with. */
  readonly services: readonly string[];
  /** Every secret value the app keeps for the server: none may leave core in clear. */
  readonly secrets: readonly Secret[];
}

export interface LogsServiceDeps {
  readonly target: (profileId: string) => Promise<LogsTarget>;
  readonly emit: (e: LogStreamEvent) => void;
  readonly log: Logger;
  /** Streams open at once per server: each holds one of the connection's session channels. */
  readonly maxStreams?: number;
  /** After a restart, stop or start: what live status shows has changed. */
  readonly onAction?: (profileId: string, service: string, action: ServiceAction) => void;
  /**
   * The server's one operation at a time (installs, updates, restores): a restart, stop or start is one too — starting
   * a database a restore is loading, or the backup container it stopped, would undo it.
   */
  readonly operations?: ServerOperations;
}

/** Lines of a crash-looping service shown with it. */
export const CRASH_LINES = 12;
const ACTION_TIMEOUT_MS = 120_000;
const READ_TIMEOUT_MS = 30_000;

interface OpenStream {
  readonly profileId: string;
  readonly streamId: string;
  readonly abort: AbortController;
  /** Its stdout and stderr redactors, once it runs: told of every value the keychain gets while it is open. */
  readonly redactors: LineRedactor[];
  ended: boolean;
}

const verb: Record<ServiceAction, string> = { restart: 'restart', stop: 'stop', start: 'start' };

export class LogsService {
  readonly #deps: LogsServiceDeps;
  /** Open streams in the order they were opened (the oldest goes first when a server has too many). */
  readonly #streams = new Map<string, OpenStream>();
  /** Values the keychain got for each server while the app runs: a stream opening now may have read it just before. */
  readonly #stored = new Map<string, Secret[]>();

  constructor(deps: LogsServiceDeps) {
    this.#deps = deps;
  }

  /** Start reading; lines and the end arrive as events. Opening an id that is open replaces that stream. */
  async open(req: LogsOpenRequest): Promise<{ streamId: string; service: string; follow: boolean }> {
    const t = await this.#deps.target(req.profileId);
    const service = checkedService(t, req.service);
    const key = streamKey(req.profileId, req.streamId);
    this.#end(this.#streams.get(key), 'replaced');
    const mine = [...this.#streams.values()].filter((s) => s.profileId === req.profileId);
    const max = this.#deps.maxStreams ?? 3;
    for (const old of mine.slice(0, Math.max(0, mine.length - max + 1))) this.#end(old, 'replaced', 'Closed to make room for another log view.');
    const stream: OpenStream = { profileId: req.profileId, streamId: req.streamId, abort: new AbortController(), redactors: [], ended: false };
    this.#streams.set(key, stream);
    void this.#run(t, stream, service, req);
    return { streamId: req.streamId, service, follow: req.follow };
  }

  close(profileId: string, streamId: string): boolean {
    const s = this.#streams.get(streamKey(profileId, streamId));
    if (!s) return false;
    this.#end(s, 'closed');
    return true;
  }

  /** A removed or disconnected server: every stream of it ends. */
  closeAll(profileId: string, reason: LogStreamEnd = 'closed'): void {
    for (const s of [...this.#streams.values()]) if (s.profileId === profileId) this.#end(s, reason);
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  async services(profileId: string): Promise<LogsServices> {
    const t = await this.#deps.target(profileId);
    return { releaseId: t.releaseId, services: await this.#runtimes(t) };
  }

  async action(profileId: string, serviceName: string, action: ServiceAction): Promise<ServiceActionResult> {
    const t = await this.#deps.target(profileId);
    const service = checkedService(t, serviceName);
    const ops = this.#deps.operations;
    return ops ? ops.exclusive(profileId, `a ${action} of ${service}`, 'logs.action-failed', () => this.#action(profileId, t, service, action)) : this.#action(profileId, t, service, action);
  }

  async #action(profileId: string, t: LogsTarget, service: string, action: ServiceAction): Promise<ServiceActionResult> {
    const c = logCommands(t.access, t.files);
    const started = Date.now();
    await runChecked(
      t.conn,
      c[action](service),
      {
        code: 'logs.action-failed',
        message: (why) => `Could not ${verb[action]} ${service}: ${why}`,
        hint: action === 'start' ? 'If its container is gone, install the stack again from Setup.' : 'Check that Docker runs on the server, then try again.',
      },
      { redact: (text) => redactAll(text, t.secrets), exec: { timeoutMs: ACTION_TIMEOUT_MS } },
    );
    this.#deps.log.info('service action', { profileId, service, action });
    this.#deps.onAction?.(profileId, service, action);
    const [runtime] = await this.#runtimes(t, service);
    if (!runtime) throw new AppError('internal', `${service} could not be read back after the ${action}.`);
    return { service, action, runtime, durationMs: Date.now() - started };
  }

  /** Every declared service and any leftover container of the project; `only` narrows it to one service. */
  async #runtimes(t: LogsTarget, only?: string): Promise<ServiceRuntime[]> {
    const c = logCommands(t.access, t.files);
    const [ids, now] = await Promise.all([t.conn.exec(c.containerIds(), { timeoutMs: READ_TIMEOUT_MS }), t.conn.exec(c.now(), { timeoutMs: READ_TIMEOUT_MS })]);
    checkExit(c.containerIds(), ids, { ...DOCKER_UNAVAILABLE, hint: 'Start Docker on the server (sudo systemctl start docker), then look again.' }, { redact: (text) => redactAll(text, t.secrets), lines: 2 });
    const list = ids.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{12,64}$/.test(s));
    // A container removed between the two commands: inspect prints the others and exits 1.
    const containers = list.length ? parseRuntime((await t.conn.exec(c.runtime(list), { timeoutMs: READ_TIMEOUT_MS })).stdout) : [];
    const nowS = /^\d+$/.test(now.stdout.trim()) ? Number(now.stdout.trim()) : null;
    const rows = serviceRuntimes(t.services, containers, nowS).filter((r) => only === undefined || r.service === only);
    return Promise.all(
      rows.map(async ({ looping, ...r }) => {
        if (!looping) return { ...r, crashLoop: null };
        // Only names the release declares reach a command; a leftover container's lines are not read.
        const lines = t.services.includes(r.service) ? await this.#lastLines(t, r.service) : [];
        return { ...r, crashLoop: { restarts: r.restartCount, lastLines: lines } };
      }),
    );
  }

  async #lastLines(t: LogsTarget, service: string): Promise<string[]> {
    const c = logCommands(t.access, t.files);
    const r = await t.conn.exec(c.logs(service, { follow: false, tail: CRASH_LINES }), { timeoutMs: READ_TIMEOUT_MS }).catch(() => undefined);
    if (!r) return [];
    const red = new LineRedactor(t.secrets);
    return [...red.push(r.stdout), ...red.end()]
      .map((l) => splitTimestamp(l.text).text)
      .filter((l) => l.trim() !== '')
      .slice(-CRASH_LINES);
  }

  async #run(t: LogsTarget, s: OpenStream, service: string, req: LogsOpenRequest): Promise<void> {
    const c = logCommands(t.access, t.files);
    const secrets = [...t.secrets, ...(this.#stored.get(s.profileId) ?? [])];
    const out = new LineRedactor(secrets);
    const err = new LineRedactor(secrets);
    s.redactors.push(out, err);
    let seq = 0;
    const errTail: string[] = [];
    const send = (stream: LogLine['stream'], lines: ReturnType<LineRedactor['push']>): void => {
      if (s.ended) return;
      const batch: LogLine[] = [];
      for (const l of lines) {
        const { ts, text } = splitTimestamp(l.text);
        if (stream === 'stderr') {
          errTail.push(text);
          if (errTail.length > 3) errTail.shift();
        }
        if (!matchesSearch(text, req.search)) continue;
        batch.push({ seq: ++seq, ts, text, stream, ...(l.cut ? { cut: true } : {}) });
      }
      if (batch.length) this.#deps.emit({ kind: 'lines', profileId: s.profileId, streamId: s.streamId, lines: batch });
    };
    try {
      const r = await t.conn.exec(c.logs(service, { follow: req.follow, since: req.since, until: req.until, tail: req.tail }), {
        signal: s.abort.signal,
        onStdout: (d) => send('stdout', out.push(d)),
        onStderr: (d) => send('stderr', err.push(d)),
      });
      send('stdout', out.end());
      send('stderr', err.end());
      if (r.code === 0) this.#end(s, 'finished');
      else this.#end(s, 'failed', `The server could not read the logs of ${service}: ${errTail.join(' ').slice(0, 300) || `exit ${String(r.code)}`}`);
    } catch (e) {
      if (s.ended) return;
      const code = e instanceof AppError ? e.code : 'internal';
      if (code === 'ssh.disconnected') this.#end(s, 'disconnected', 'The connection to the server closed; open the logs again once it is back.');
      else this.#end(s, 'failed', e instanceof AppError ? e.userMessage : 'Reading the logs failed.');
      this.#deps.log.warn('log stream ended with an error', { profileId: s.profileId, service, code });
    }
  }

  /**
   * The keychain got a value for this server (called before it is stored, so before any command sends it to the
   * server): every open stream of the server masks it from now on. The secrets read when a stream opened do not
   * hold it — Postgres, for one, logs a failed `ALTER ROLE … PASSWORD '<new value>'`.
   */
  secretStored(profileId: string, value: Secret): void {
    const stored = this.#stored.get(profileId) ?? [];
    if (!stored.some((v) => v.reveal() === value.reveal())) this.#stored.set(profileId, [...stored, value]);
    for (const s of this.#streams.values()) if (s.profileId === profileId) for (const r of s.redactors) r.learn(value);
  }

  #end(s: OpenStream | undefined, reason: LogStreamEnd, message?: string): void {
    if (!s || s.ended) return;
    s.ended = true;
    this.#streams.delete(streamKey(s.profileId, s.streamId));
    s.abort.abort();
    this.#deps.emit({ kind: 'end', profileId: s.profileId, streamId: s.streamId, reason, ...(message ? { message } : {}) });
  }
}

const streamKey = (profileId: string, streamId: string): string => `${profileId}\n${streamId}`;

/** The name as the release declares it, or a refusal that names the field; nothing else reaches a command. */
export function checkedService(t: Pick<LogsTarget, 'services' | 'releaseId'>, name: string): string {
  if (t.releaseId === null && t.services.length === 0) {
    throw new AppError('stack.not-installed', 'The stack is not installed on this server yet.', { hint: 'Install it from Setup first.' });
  }
  const found = t.services.find((s) => s === name);
  if (found === undefined) {
    throw new AppError('logs.unknown-service', `Service: “${name.slice(0, 64)}” is not a service of this server’s stack.`, { field: 'service', hint: 'Choose a service from the list.' });
  }
  return found;
}

/** Masked text of a whole output (for error messages). */
function redactAll(text: string, secrets: readonly Secret[]): string {
  const r = new LineRedactor(secrets);
  return [...r.push(text), ...r.end()].map((l) => l.text).join('\n');
}
