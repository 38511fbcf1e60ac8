/**
 * The one check of a remote command's exit status. A command that fails becomes the caller's AppError (its code, its
 * words for the admin, what to do next), whose cause is a RemoteCommandError: the command line as it ran, its exit
 * status and what it said on stderr — every known secret masked — so the log keeps what the message leaves out.
 */
import type { ErrorCode } from '../../contract/errors';
import { secretMask } from '../../contract/stack';
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import { toShell, type Argv } from './argv';
import type { ExecOptions, ExecResult } from './runner';

/** How much of stderr the log keeps: the end, where the reason is. */
const STDERR_KEPT = 4000;

/** A failed remote command's facts for the log; never shown to the admin as is. */
export class RemoteCommandError extends Error {
  /** The command line as the server's shell read it, with secrets masked. */
  readonly command: string;
  /** `exit 3`, `signal TERM`, or `no exit status` (the channel closed without one). */
  readonly status: string;
  readonly exitCode: number | null;
  /** The end of stderr (stdout when stderr was empty), secrets masked. */
  readonly stderr: string;

  constructor(argv: Argv, r: ExecResult, redact: (text: string) => string = (t) => t) {
    const command = redact(toShell(argv));
    const status = statusOf(r);
    const said = redact(r.stderr || r.stdout);
    const stderr = said.length > STDERR_KEPT ? `…${said.slice(-STDERR_KEPT)}` : said;
    super(`${command} → ${status}${stderr.trim() ? `\n${stderr.trimEnd()}` : ''}`);
    this.name = 'RemoteCommandError';
    this.command = command;
    this.status = status;
    this.exitCode = r.code;
    this.stderr = stderr;
  }

  /** What a log line holds (the logger writes JSON). */
  toJSON(): { name: string; command: string; status: string; stderr: string } {
    return { name: this.name, command: this.command, status: this.status, stderr: this.stderr };
  }
}

export const statusOf = (r: Pick<ExecResult, 'code' | 'signal'>): string => (r.code !== null ? `exit ${r.code}` : r.signal ? `signal ${r.signal}` : 'no exit status');

/** The last non-empty lines of a command's output, for a message. */
export const lastLines = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-n)
    .join('\n');

/** What a caller says when its command fails. */
export interface FailureWords {
  readonly code: ErrorCode;
  /**
   * The admin's words, given what the command said last (masked; its status when it said nothing) and, for callers
   * that word it their own way, all it said (masked) with its status.
   */
  readonly message: (said: string, facts: { readonly output: string; readonly status: string; readonly exitCode: number | null }) => string;
  readonly hint: string;
  readonly field?: string;
}

export interface CheckOptions {
  /** Exit codes that mean it worked; 0 unless said. */
  readonly ok?: readonly number[];
  /** Secrets the command may echo: masked in the message and the log. */
  readonly secrets?: readonly Secret[];
  /** Further masking (e.g. anything shaped like a WireGuard key). */
  readonly redact?: (text: string) => string;
  /** How many of the last lines the message carries (3 unless said). */
  readonly lines?: number;
}

const masker = (opts: CheckOptions): ((text: string) => string) => {
  const values = [...new Set((opts.secrets ?? []).map((s) => s.reveal()).filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(secretMask);
    return opts.redact ? opts.redact(out) : out;
  };
};

/** True when the result's exit status is one the caller accepts. */
export const exitedOk = (r: ExecResult, ok: readonly number[] = [0]): boolean => r.code !== null && ok.includes(r.code);

/** The caller's AppError for a failed command, carrying the RemoteCommandError as its cause. */
export function remoteCommandFailed(argv: Argv, r: ExecResult, words: FailureWords, opts: CheckOptions = {}): AppError {
  const redact = masker(opts);
  const facts = new RemoteCommandError(argv, r, redact);
  const output = redact(r.stderr || r.stdout);
  const said = lastLines(output, opts.lines ?? 3) || facts.status;
  return new AppError(words.code, words.message(said, { output, status: facts.status, exitCode: r.code }), { hint: words.hint, cause: facts, ...(words.field ? { field: words.field } : {}) });
}

/** The result when its exit status is accepted; else throws the caller's AppError (see remoteCommandFailed). */
export function checkExit(argv: Argv, r: ExecResult, words: FailureWords, opts: CheckOptions = {}): ExecResult {
  if (exitedOk(r, opts.ok)) return r;
  throw remoteCommandFailed(argv, r, words, opts);
}

/** Run argv and check its exit status: the one way a remote command that must succeed is run. */
export async function runChecked(
  runner: { exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult> },
  argv: Argv,
  words: FailureWords,
  opts: CheckOptions & { readonly exec?: ExecOptions } = {},
): Promise<ExecResult> {
  return checkExit(argv, await runner.exec(argv, opts.exec), words, opts);
}

/** The facts of a failed remote command behind an error, if any (for the log). */
export const remoteFacts = (err: unknown): RemoteCommandError | undefined => {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) if (e instanceof RemoteCommandError) return e;
  return undefined;
};
