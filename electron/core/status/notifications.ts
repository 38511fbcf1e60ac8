/**
 * Debounced transition notifications. A card's new severity must hold for `settleMs` before anyone is told,
 * and a card notifies at most once per `repeatMs` (an escalation to error excepted): a check flapping faster
 * than that yields one notification, and the state it finally settles in is reported when the window ends.
 * `unknown` (agent restarting, a value not read yet) never notifies and never becomes the baseline.
 */
import { severityRank, type CardId, type Severity, type StatusCard } from '../../contract/status';

export interface Transition {
  readonly card: CardId;
  readonly severity: Severity;
  readonly previous: Severity;
  readonly title: string;
  readonly reason: string;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface CardState {
  baseline: Severity | undefined;
  current: StatusCard;
  pending: { severity: Severity; timer: unknown } | undefined;
  lastNotifiedAt: number;
}

const titles: Readonly<Record<Severity, string>> = { ok: 'back to normal', warning: 'needs attention', error: 'has a problem', unknown: 'unknown' };

export class NotificationGate {
  readonly #cards = new Map<CardId, CardState>();
  constructor(
    private readonly notify: (t: Transition) => void,
    private readonly opts: { readonly settleMs: number; readonly repeatMs: number; readonly clock?: Clock } = { settleMs: 5_000, repeatMs: 300_000 },
  ) {}

  get #clock(): Clock {
    return this.opts.clock ?? realClock;
  }

  observe(cards: readonly StatusCard[]): void {
    for (const c of cards) this.#observe(c);
  }

  #observe(card: StatusCard): void {
    let st = this.#cards.get(card.id);
    if (!st) {
      st = { baseline: undefined, current: card, pending: undefined, lastNotifiedAt: -Infinity };
      this.#cards.set(card.id, st);
    }
    st.current = card;
    if (card.severity === 'unknown') return;
    if (st.baseline === undefined) {
      st.baseline = card.severity;
      return;
    }
    if (card.severity === st.baseline) {
      if (st.pending) this.#clock.clearTimeout(st.pending.timer);
      st.pending = undefined;
      return;
    }
    if (st.pending?.severity === card.severity) return;
    if (st.pending) this.#clock.clearTimeout(st.pending.timer);
    const severity = card.severity;
    st.pending = { severity, timer: this.#clock.setTimeout(() => this.#settle(card.id), this.opts.settleMs) };
  }

  #settle(id: CardId): void {
    const st = this.#cards.get(id);
    if (!st?.pending || st.baseline === undefined) return;
    const sev = st.current.severity;
    st.pending = undefined;
    if (sev === 'unknown' || sev === st.baseline) return;
    const now = this.#clock.now();
    const wait = st.lastNotifiedAt + this.opts.repeatMs - now;
    const escalation = sev === 'error' && severityRank[sev] > severityRank[st.baseline];
    if (wait > 0 && !escalation) {
      st.pending = { severity: sev, timer: this.#clock.setTimeout(() => this.#settle(id), wait) };
      return;
    }
    const previous = st.baseline;
    st.baseline = sev;
    st.lastNotifiedAt = now;
    this.notify({ card: id, severity: sev, previous, title: `${st.current.title} ${titles[sev]}`, reason: st.current.reason });
  }

  dispose(): void {
    for (const st of this.#cards.values()) if (st.pending) this.#clock.clearTimeout(st.pending.timer);
    this.#cards.clear();
  }
}
