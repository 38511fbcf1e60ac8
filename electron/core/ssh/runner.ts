import type { Argv } from './argv';

export interface ExecOptions {
  /** Bytes for the command's standard input (the only way secrets reach a remote command). */
  readonly stdin?: string | Uint8Array;
  /** Kill the command (and report a timeout) after this long. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onStdout?: (chunk: Buffer) => void;
  readonly onStderr?: (chunk: Buffer) => void;
}

export interface ExecResult {
  /** Exit status; null when the command was killed by a signal or the channel closed without one. */
  readonly code: number | null;
  readonly signal?: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** The port every remote operation goes through: SSH in the app, a local shell where useful. */
export interface CommandRunner {
  exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult>;
}

/** A probe's answer is its exit code. */
export const probe = async (runner: CommandRunner, argv: Argv, opts?: ExecOptions): Promise<boolean> =>
  (await runner.exec(argv, opts)).code === 0;
