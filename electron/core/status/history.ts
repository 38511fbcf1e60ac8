/**
 * The last hour of chart data in memory: one fixed-size ring per series, in fixed steps. A step keeps the last
 * value written in it; memory is bounded by (series × steps) whatever the update rate.
 */
import { historySeries, type HistoryPoint, type HistorySeriesName } from '../../contract/status';

export class Ring {
  readonly #t: Float64Array;
  readonly #v: Float64Array;
  #head = 0;
  #size = 0;
  constructor(readonly capacity: number) {
    this.#t = new Float64Array(capacity);
    this.#v = new Float64Array(capacity);
  }
  /** Record v at step t (ms, already aligned); a second value for the newest step replaces it. */
  put(t: number, v: number | null): void {
    const value = v === null || !Number.isFinite(v) ? NaN : v;
    if (this.#size > 0) {
      const last = (this.#head - 1 + this.capacity) % this.capacity;
      if (this.#t[last] === t) {
        this.#v[last] = value;
        return;
      }
      if ((this.#t[last] ?? 0) > t) return;
    }
    this.#t[this.#head] = t;
    this.#v[this.#head] = value;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size = Math.min(this.capacity, this.#size + 1);
  }
  points(since = -Infinity): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    for (let i = 0; i < this.#size; i++) {
      const k = (this.#head - this.#size + i + this.capacity) % this.capacity;
      const t = this.#t[k] ?? 0;
      if (t < since) continue;
      const v = this.#v[k] ?? NaN;
      out.push({ t, v: Number.isNaN(v) ? null : v });
    }
    return out;
  }
  get size(): number {
    return this.#size;
  }
}

export class StatusHistoryStore {
  readonly #rings: Record<HistorySeriesName, Ring>;
  constructor(
    readonly stepMs = 5_000,
    readonly windowMs = 3_600_000,
  ) {
    const cap = Math.ceil(windowMs / stepMs) + 1;
    this.#rings = Object.fromEntries(historySeries.map((s) => [s, new Ring(cap)])) as Record<HistorySeriesName, Ring>;
  }
  record(now: number, values: Partial<Record<HistorySeriesName, number | null>>): void {
    const t = Math.floor(now / this.stepMs) * this.stepMs;
    for (const [k, v] of Object.entries(values) as [HistorySeriesName, number | null | undefined][]) if (v !== undefined) this.#rings[k].put(t, v);
  }
  series(now: number): Record<HistorySeriesName, HistoryPoint[]> {
    const since = now - this.windowMs;
    return Object.fromEntries(historySeries.map((s) => [s, this.#rings[s].points(since)])) as Record<HistorySeriesName, HistoryPoint[]>;
  }
}
