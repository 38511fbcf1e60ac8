/**
 * One operation that changes what runs on a server at a time, per server: an install (stack apply), an update, a
 * whole-service or in-place restore and putting a restore's data back. Each of them stops, moves or recreates the
 * stack's containers and folders; two at once undo each other (an install's `compose up` starting a database on a
 * restore's empty folder while its dump loads). The app holds one instance, given to each service through its
 * constructor.
 *
 * An operation that runs another as one of its steps (an update installs) passes: the lock knows, through the async
 * context, that the inner call is part of the operation holding it. Anything started from outside waits its turn
 * by being refused, with a message that says what runs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ErrorCode } from '../contract/errors';
import { AppError } from './errors';

interface Held {
  readonly what: string;
}

export class ServerOperations {
  readonly #held = new Map<string, Held>();
  readonly #inside = new AsyncLocalStorage<ReadonlySet<Held>>();

  /** What runs on the server now (e.g. “an update of jellyfin”), or null. */
  running(profileId: string): string | null {
    return this.#held.get(profileId)?.what ?? null;
  }

  /**
   * `f` as the server's one operation, `what` saying it in words (“an install”, “a restore of Nextcloud”). Refused
   * with `code` while another runs; let through when called from inside the operation that holds the server.
   */
  async exclusive<T>(profileId: string, what: string, code: ErrorCode, f: () => Promise<T>): Promise<T> {
    const held = this.#held.get(profileId);
    if (held) {
      if (this.#inside.getStore()?.has(held)) return f();
      throw new AppError(code, `${capitalise(held.what)} is running on this server, so ${what} cannot start now.`, { hint: `Wait until ${held.what} has finished, then try again.` });
    }
    const mine: Held = { what };
    this.#held.set(profileId, mine);
    try {
      return await this.#inside.run(new Set([...(this.#inside.getStore() ?? []), mine]), f);
    } finally {
      if (this.#held.get(profileId) === mine) this.#held.delete(profileId);
    }
  }
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
