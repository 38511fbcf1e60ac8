/**
 * The app's log file: lines appended to `<dir>/main.log`; past `maxBytes` it becomes `main.old.log` (one archived file,
 * the one before replaced) and a new `main.log` starts. Synchronous appends: a line is on disk before the app goes on,
 * so the log holds what happened right before a crash. A write that fails never fails the app; it is said once on stderr.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

export const LOG_FILE = 'main.log';
export const OLD_LOG_FILE = 'main.old.log';
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface RotatingFileOptions {
  readonly dir: string;
  readonly maxBytes?: number;
  /** Where a failed write is said (once); stderr by default. */
  readonly onError?: (err: unknown) => void;
}

export class RotatingFile {
  readonly path: string;
  readonly oldPath: string;
  readonly #maxBytes: number;
  readonly #onError: (err: unknown) => void;
  #size: number | undefined;
  #failed = false;

  constructor(opts: RotatingFileOptions) {
    this.path = path.join(opts.dir, LOG_FILE);
    this.oldPath = path.join(opts.dir, OLD_LOG_FILE);
    this.#maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#onError = opts.onError ?? ((err) => process.stderr.write(`M2 Companion cannot write its log file: ${err instanceof Error ? err.message : String(err)}\n`));
  }

  /** The log files, oldest first (the archived one, then the current one). */
  get files(): readonly string[] {
    return [this.oldPath, this.path];
  }

  write(line: string): void {
    const data = line.endsWith('\n') ? line : `${line}\n`;
    const bytes = Buffer.byteLength(data);
    try {
      if (this.#size === undefined) {
        mkdirSync(path.dirname(this.path), { recursive: true });
        this.#size = statSync(this.path, { throwIfNoEntry: false })?.size ?? 0;
      }
      if (this.#size > 0 && this.#size + bytes > this.#maxBytes) {
        renameSync(this.path, this.oldPath);
        this.#size = 0;
      }
      appendFileSync(this.path, data, { mode: 0o600 });
      this.#size += bytes;
      this.#failed = false;
    } catch (err) {
      this.#size = undefined;
      if (!this.#failed) this.#onError(err);
      this.#failed = true;
    }
  }
}
