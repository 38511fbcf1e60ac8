import type { Secret } from '../secrets/secret';

/** What the guard uses of a system clipboard (Electron's `clipboard` in main, whose reads and writes are async). */
export interface SystemClipboard {
  writeText(text: string): Promise<void> | void;
  readText(): Promise<string> | string;
  clear(): Promise<void> | void;
}

export interface ClipboardGuardOptions {
  readonly clearAfterMs?: number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

export const CLIPBOARD_CLEAR_MS = 30_000;

/**
 * Puts a secret on the clipboard and takes it off again after a while, but only while the clipboard still holds
 * it: whatever the admin copied since is left alone. One secret at a time; a newer copy replaces the older timer.
 */
export class ClipboardGuard {
  readonly #clipboard: SystemClipboard;
  readonly #clearAfterMs: number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  #pending: { value: Secret; timer: unknown } | undefined;

  constructor(clipboard: SystemClipboard, opts: ClipboardGuardOptions = {}) {
    this.#clipboard = clipboard;
    this.#clearAfterMs = opts.clearAfterMs ?? CLIPBOARD_CLEAR_MS;
    this.#setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.#clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  }

  get clearAfterSeconds(): number {
    return Math.round(this.#clearAfterMs / 1000);
  }

  async copy(value: Secret): Promise<void> {
    this.#cancel();
    await this.#clipboard.writeText(value.reveal());
    this.#pending = { value, timer: this.#setTimer(() => void this.#wipe(value), this.#clearAfterMs) };
  }

  /** Wipe now (the app is quitting): a password must not outlive the app on the clipboard. */
  async dispose(): Promise<void> {
    const pending = this.#pending;
    this.#cancel();
    if (pending) await this.#wipe(pending.value);
  }

  async #wipe(value: Secret): Promise<void> {
    if (this.#pending?.value === value) this.#pending = undefined;
    try {
      if ((await this.#clipboard.readText()) === value.reveal()) await this.#clipboard.clear();
    } catch {
      // A clipboard that cannot be read is left alone rather than wiped blindly (it may hold the admin's own text).
    }
  }

  #cancel(): void {
    if (this.#pending) this.#clearTimer(this.#pending.timer);
    this.#pending = undefined;
  }
}
