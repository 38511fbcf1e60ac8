/**
 * Which window (or web-host socket) holds which live-status subscriptions, so a window that closes, reloads or
 * crashes without saying `status:unsubscribe` does not keep an agent running on the server for ever: the shell
 * releases everything a sender held when it goes away.
 */
export class SenderSubscriptions<S extends object> {
  readonly #held = new Map<S, Map<string, number>>();
  readonly #unsubscribe: (profileId: string) => void;

  constructor(unsubscribe: (profileId: string) => void) {
    this.#unsubscribe = unsubscribe;
  }

  /** Note a finished call: a successful subscribe holds one more, an unsubscribe one fewer. */
  observe(sender: S, channel: string, payload: unknown, ok: boolean): void {
    if (!ok || (channel !== 'status:subscribe' && channel !== 'status:unsubscribe')) return;
    const profileId = typeof payload === 'object' && payload !== null && typeof (payload as { profileId?: unknown }).profileId === 'string' ? (payload as { profileId: string }).profileId : undefined;
    if (!profileId) return;
    const mine = this.#held.get(sender) ?? new Map<string, number>();
    const n = (mine.get(profileId) ?? 0) + (channel === 'status:subscribe' ? 1 : -1);
    if (n > 0) mine.set(profileId, n);
    else mine.delete(profileId);
    if (mine.size) this.#held.set(sender, mine);
    else this.#held.delete(sender);
  }

  /** The sender is gone: give back every subscription it still held. */
  release(sender: S): void {
    const mine = this.#held.get(sender);
    this.#held.delete(sender);
    if (!mine) return;
    for (const [profileId, n] of mine) for (let i = 0; i < n; i++) this.#unsubscribe(profileId);
  }

  held(sender: S): ReadonlyMap<string, number> {
    return this.#held.get(sender) ?? new Map();
  }
}
