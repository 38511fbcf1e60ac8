/**
 * Debounced transition notifications. A card's new severity must hold for `settleMs` before anyone is told,
 * and a card notifies at most once per `repeatMs` (an escalation to error excepted): a check flapping faster
 * than that yields one notification, and the state it finally settles in is reported when the window ends.
 * `unknown` (agent restarting, a value not read yet) never notifies and never becomes the baseline.
 *
 * One incident, one message: a card whose change is caused by another card's incident (the services card saying
 * only that cloudflared stopped, while the tunnel is down) is folded into that card's notification, cause first,
 * and its recovery into that card's recovery. A card waits one more settle period for the card it would fold into.
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
  /** The card this one's last change was folded into, until it settles back. */
  foldedInto: CardId | undefined;
  /** A settle that already waited one period for the card it would fold into. */
  waited: boolean;
  /** Causes folded into this card, told first in its next notification. */
  causes: string[];
}

/** The card whose incident explains this card's state, if any: the services card naming only cloudflared → the tunnel. */
export function causedBy(card: StatusCard): CardId | null {
  if (card.id === 'services' && card.severity !== 'ok' && /^cloudflared[\w-]*: /.test(card.reason) && !/more services? need/.test(card.reason)) return 'tunnel';
  return null;
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
      st = { baseline: undefined, current: card, pending: undefined, lastNotifiedAt: -Infinity, foldedInto: undefined, waited: false, causes: [] };
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
    st.waited = false;
    st.pending = { severity, timer: this.#clock.setTimeout(() => this.#settle(card.id), this.opts.settleMs) };
  }

  /** Whether `target` is in (or heading into) a state like `sev`: the incident this card's change belongs to. */
  #moving(target: CardId, sev: Severity): boolean {
    const t = this.#cards.get(target);
    if (!t) return false;
    const towards = t.pending?.severity ?? t.current.severity;
    return sev === 'ok' ? towards === 'ok' : towards !== 'ok' && towards !== 'unknown';
  }

  /** Fold this card's settled change into another card's incident; true when it was folded (nothing to tell). */
  #fold(id: CardId, st: CardState, sev: Severity): boolean {
    const target = sev === 'ok' ? st.foldedInto : (causedBy(st.current) ?? undefined);
    if (!target || target === id) return false;
    if (!this.#moving(target, sev)) {
      if (st.waited) return false;
      // The card it belongs to may change a moment later (the edge notices after the container): wait once.
      st.waited = true;
      st.pending = { severity: sev, timer: this.#clock.setTimeout(() => this.#settle(id), this.opts.settleMs) };
      return true;
    }
    const t = this.#cards.get(target);
    if (sev !== 'ok' && t) t.causes.push(st.current.reason);
    st.baseline = sev;
    st.foldedInto = sev === 'ok' ? undefined : target;
    return true;
  }

  #settle(id: CardId): void {
    const st = this.#cards.get(id);
    if (!st?.pending || st.baseline === undefined) return;
    const sev = st.current.severity;
    st.pending = undefined;
    if (sev === 'unknown' || sev === st.baseline) return;
    if (this.#fold(id, st, sev)) return;
    st.foldedInto = undefined;
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
    const causes = sev === 'ok' ? [] : [...new Set(st.causes)];
    st.causes = [];
    const reason = causes.length ? `${causes.map((c) => c.replace(/\.$/, '')).join('; ')}. ${st.current.reason}` : st.current.reason;
    this.notify({ card: id, severity: sev, previous, title: `${st.current.title} ${titles[sev]}`, reason });
  }

  dispose(): void {
    for (const st of this.#cards.values()) if (st.pending) this.#clock.clearTimeout(st.pending.timer);
    this.#cards.clear();
  }
}
