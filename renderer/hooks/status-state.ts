/**
 * The dashboard's live status as a pure reducer: the newest snapshot (highest `seq` wins, whatever order the
 * subscribe answer and the pushed updates arrive in) and the last hour of chart series — fetched once with
 * `status:history`, then extended from each snapshot, so no periodic re-fetch is needed.
 */
import type { ErrorShape } from '../../electron/contract/errors';
import { historySeries, historyValuesOf, type HistoryPoint, type HistorySeriesName, type StatusHistory, type StatusSnapshot } from '../../electron/contract/status';

export type Series = Readonly<Record<HistorySeriesName, readonly HistoryPoint[]>>;

export interface ChartHistory {
  readonly stepMs: number;
  readonly series: Series;
}

export const HOUR_MS = 3_600_000;
/** Main's default step (5 s); replaced by the step `status:history` reports. */
export const DEFAULT_STEP_MS = 5_000;

export const emptySeries = (): Series => Object.fromEntries(historySeries.map((s) => [s, []])) as unknown as Series;

/** Puts v at step t: a later value for the newest step replaces it (as main's ring does); older steps are kept. */
function put(points: readonly HistoryPoint[], t: number, v: number | null, windowMs: number): readonly HistoryPoint[] {
  const last = points.at(-1);
  if (last && (last.t > t || (last.t === t && last.v === v))) return points;
  const kept = last?.t === t ? points.slice(0, -1) : points;
  const since = t - windowMs;
  const start = kept.findIndex((p) => p.t >= since);
  return [...(start <= 0 ? (start === 0 ? kept : []) : kept.slice(start)), { t, v }];
}

/** Extends every series with a snapshot's values at its time, keeping one hour. */
export function appendSnapshot(h: ChartHistory, s: StatusSnapshot, windowMs = HOUR_MS): ChartHistory {
  const at = Date.parse(s.at);
  if (!Number.isFinite(at)) return h;
  const t = Math.floor(at / h.stepMs) * h.stepMs;
  const values = historyValuesOf(s);
  const series = Object.fromEntries(historySeries.map((name) => [name, put(h.series[name], t, values[name], windowMs)])) as unknown as Series;
  // Nothing new for the charts (most snapshots, within a step): the same object, so they need not draw again.
  if (historySeries.every((name) => series[name] === h.series[name])) return h;
  return { stepMs: h.stepMs, series };
}

/**
 * Main's history, joined with points this page appended since: each series is main's points, then the local
 * ones newer than main's last (re-aligned to main's step).
 */
export function mergeHistory(fetched: StatusHistory, local: ChartHistory, windowMs = HOUR_MS): ChartHistory {
  const stepMs = Math.max(1, Math.round(fetched.stepSeconds * 1000));
  const series = Object.fromEntries(
    historySeries.map((name) => {
      let out: readonly HistoryPoint[] = [...(fetched.series[name] ?? [])].sort((a, b) => a.t - b.t);
      for (const p of local.series[name]) out = put(out, Math.floor(p.t / stepMs) * stepMs, p.v, windowMs);
      return [name, out];
    }),
  ) as unknown as Series;
  return { stepMs, series };
}

export type ChartRow = { readonly t: number } & Partial<Record<HistorySeriesName, number | null>>;

/** Rows for a chart of several series: one per time step any of them has, oldest first. */
export function chartRows(series: Series, names: readonly HistorySeriesName[]): ChartRow[] {
  const byT = new Map<number, Record<string, number | null>>();
  for (const name of names) {
    for (const p of series[name]) {
      const row = byT.get(p.t) ?? { t: p.t };
      row[name] = p.v;
      byT.set(p.t, row);
    }
  }
  return [...byT.values()].sort((a, b) => (a.t ?? 0) - (b.t ?? 0)) as unknown as ChartRow[];
}

/** The value of a series' newest step: null when that step had no reading (e.g. Jellyfin stopped) or there is none. */
export function latest(points: readonly HistoryPoint[]): number | null {
  return points.at(-1)?.v ?? null;
}

/** True when a series has at least one reading in the window. */
export const hasData = (points: readonly HistoryPoint[]): boolean => points.some((p) => p.v !== null);

export type StatusState =
  | { readonly kind: 'loading'; readonly profileId: string; readonly history: ChartHistory; readonly historyLoaded: boolean }
  | { readonly kind: 'live'; readonly profileId: string; readonly snapshot: StatusSnapshot; readonly history: ChartHistory; readonly historyLoaded: boolean }
  | { readonly kind: 'failed'; readonly profileId: string; readonly error: ErrorShape; readonly history: ChartHistory; readonly historyLoaded: boolean };

export type StatusAction =
  | { readonly type: 'reset'; readonly profileId: string }
  | { readonly type: 'snapshot'; readonly snapshot: StatusSnapshot }
  | { readonly type: 'history'; readonly history: StatusHistory }
  | { readonly type: 'failed'; readonly error: ErrorShape };

export const initialStatus = (profileId: string): StatusState => ({
  kind: 'loading',
  profileId,
  history: { stepMs: DEFAULT_STEP_MS, series: emptySeries() },
  historyLoaded: false,
});

export function statusReducer(state: StatusState, action: StatusAction): StatusState {
  switch (action.type) {
    case 'reset':
      return initialStatus(action.profileId);
    case 'snapshot': {
      const s = action.snapshot;
      if (s.profileId !== state.profileId) return state;
      // Updates may overtake the subscribe answer: the highest seq is the newest.
      if (state.kind === 'live' && s.seq <= state.snapshot.seq) return state;
      return { kind: 'live', profileId: state.profileId, snapshot: s, history: appendSnapshot(state.history, s), historyLoaded: state.historyLoaded };
    }
    case 'history':
      if (action.history.profileId !== state.profileId) return state;
      return { ...state, history: mergeHistory(action.history, state.history), historyLoaded: true };
    case 'failed':
      // A live page keeps what it shows; only a page with nothing yet turns into the error.
      if (state.kind === 'live') return state;
      return { kind: 'failed', profileId: state.profileId, error: action.error, history: state.history, historyLoaded: state.historyLoaded };
    default: {
      const never: never = action;
      return never;
    }
  }
}
