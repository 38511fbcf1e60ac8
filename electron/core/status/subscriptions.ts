/**
 * Which window (or web-host socket) holds which live-status subscriptions, so a window that closes, reloads or
 * crashes without saying `status:unsubscribe` does not keep an agent running on the server for ever: the shell
 * releases everything a sender held when it goes away. A subscribe that finishes after its sender went away is
 * given back at once, and a sender cannot give back what it does not hold (the tray's hold is not a page's).
 */
export class SenderSubscriptions<S extends object> {
  readonly #held = new Map<S, Map<string, number>>();
  readonly #gone = new WeakSet<S>();
  readonly #unsubscribe: (profileId: string) => void;

  constructor(unsubscribe: (profileId: string) => void) {
    this.#unsubscribe = unsubscribe;
  }

  /** Whether a call should reach the service: not an unsubscribe for a server this sender holds nothing of. */
  admits(sender: S, channel: string, payload: unknown): boolean {
    if (channel !== 'status:unsubscribe') return true;
    const profileId = profileOf(payload);
    return profileId === undefined || (this.#held.get(sender)?.get(profileId) ?? 0) > 0;
  }

  /** Note a finished call: a successful subscribe holds one more, an unsubscribe one fewer. */
  observe(sender: S, channel: string, payload: unknown, ok: boolean): void {
    if (!ok || (channel !== 'status:subscribe' && channel !== 'status:unsubscribe')) return;
    const profileId = profileOf(payload);
    if (!profileId) return;
    if (channel === 'status:subscribe' && this.#gone.has(sender)) {
      // The window closed while its subscribe was answered: nobody will ever unsubscribe it.
      this.#unsubscribe(profileId);
      return;
    }
    const mine = this.#held.get(sender) ?? new Map<string, number>();
    const n = (mine.get(profileId) ?? 0) + (channel === 'status:subscribe' ? 1 : -1);
    if (n > 0) mine.set(profileId, n);
    else mine.delete(profileId);
    if (mine.size) this.#held.set(sender, mine);
    else this.#held.delete(sender);
  }

  /** The sender is gone (or its page was replaced): give back every subscription it still held. */
  release(sender: S, opts: { final?: boolean } = { final: true }): void {
    if (opts.final !== false) this.#gone.add(sender);
    const mine = this.#held.get(sender);
    this.#held.delete(sender);
    if (!mine) return;
    for (const [profileId, n] of mine) for (let i = 0; i < n; i++) this.#unsubscribe(profileId);
  }

  held(sender: S): ReadonlyMap<string, number> {
    return this.#held.get(sender) ?? new Map();
  }
}

function profileOf(payload: unknown): string | undefined {
  const p = typeof payload === 'object' && payload !== null ? (payload as { profileId?: unknown }).profileId : undefined;
  return typeof p === 'string' ? p : undefined;
}
