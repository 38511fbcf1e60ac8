import type { LogLine } from '../../../electron/contract/logs';

/** Lines a log view keeps: older ones go as new ones come, so a followed chatty service never grows the page. */
export const MAX_VIEW_LINES = 2_000;

export interface LogBuffer {
  readonly lines: readonly LogLine[];
  /** Lines dropped from the top since the view opened. */
  readonly dropped: number;
}

export const emptyBuffer: LogBuffer = { lines: [], dropped: 0 };

export function appendLines(b: LogBuffer, more: readonly LogLine[], max = MAX_VIEW_LINES): LogBuffer {
  if (more.length === 0) return b;
  const all = b.lines.length + more.length <= max ? [...b.lines, ...more] : [...b.lines, ...more].slice(-max);
  return { lines: all, dropped: b.dropped + b.lines.length + more.length - all.length };
}

/** `2026-12-05T02:03:22.408725581Z` as the admin's local time to the second. */
export function localTime(ts: string | null): string {
  if (ts === null) return '';
  const d = new Date(ts.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `datetime-local` value (the admin's zone) as the ISO time with zone the contract takes; '' stays unset. */
export function fromLocalInput(v: string): string | undefined {
  if (v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.000Z$/, 'Z');
}

export const sincePresets = [
  { value: '', label: 'Latest lines' },
  { value: '15m', label: 'Last 15 minutes' },
  { value: '1h', label: 'Last hour' },
  { value: '6h', label: 'Last 6 hours' },
  { value: '24h', label: 'Last 24 hours' },
  { value: 'custom', label: 'From a time…' },
] as const;
