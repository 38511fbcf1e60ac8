/** Words and numbers for the dashboard: severities with an icon and a word (never colour alone), sizes, ages, rates. */
import type { Severity, StreamKind, TunnelState } from '../../../electron/contract/status';

export interface SeverityLook {
  /** The word a person (and a screen reader) reads. */
  readonly text: string;
  /** A glyph beside the word, hidden from screen readers (the word says it). */
  readonly icon: string;
  readonly tone: 'pass' | 'warn' | 'fail' | 'info';
}

export function severityLook(s: Severity): SeverityLook {
  switch (s) {
    case 'ok':
      return { text: 'OK', icon: '✓', tone: 'pass' };
    case 'unknown':
      return { text: 'Unknown', icon: '?', tone: 'info' };
    case 'warning':
      return { text: 'Warning', icon: '!', tone: 'warn' };
    case 'error':
      return { text: 'Error', icon: '✕', tone: 'fail' };
    default: {
      const never: never = s;
      return never;
    }
  }
}

/** The overall state in one short phrase. */
export function overallText(s: Severity): string {
  switch (s) {
    case 'ok':
      return 'Everything is running';
    case 'unknown':
      return 'Some checks have no answer yet';
    case 'warning':
      return 'Something needs a look';
    case 'error':
      return 'Something is wrong';
    default: {
      const never: never = s;
      return never;
    }
  }
}

export function tunnelLook(s: TunnelState): SeverityLook {
  switch (s) {
    case 'healthy':
      return { text: 'Tunnel healthy', icon: '✓', tone: 'pass' };
    case 'degraded':
      return { text: 'Tunnel degraded', icon: '!', tone: 'warn' };
    case 'down':
      return { text: 'Tunnel down', icon: '✕', tone: 'fail' };
    case 'unknown':
      return { text: 'Tunnel state unknown', icon: '?', tone: 'info' };
    default: {
      const never: never = s;
      return never;
    }
  }
}

export function streamKindText(k: StreamKind): string {
  switch (k) {
    case 'hardware':
      return 'Hardware transcode';
    case 'software':
      return 'Software transcode';
    case 'direct':
      return 'Direct';
    default: {
      const never: never = k;
      return never;
    }
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB"; null → "—". Binary units, as free-space tools count. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[i]}`;
}

/** Seconds as "45 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** An age in hours, as "12 min ago" or "1 d 3 h ago". */
export function formatAge(hours: number | null | undefined): string {
  if (hours === null || hours === undefined || !Number.isFinite(hours)) return '—';
  if (hours < 1 / 60) return 'just now';
  return `${formatDuration(hours * 3600)} ago`;
}

/** When `iso` is, from `now`: "in 3 h 10 min" or "5 min ago". */
export function formatRelative(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '—';
  const sec = (t - now) / 1000;
  if (Math.abs(sec) < 30) return 'now';
  return sec > 0 ? `in ${formatDuration(sec)}` : `${formatDuration(-sec)} ago`;
}

/** An ISO time in the reader's locale, or "—". */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleString() : '—';
}

/** A number with a unit and at most one decimal; null → "—". */
export function formatNumber(v: number | null | undefined, unit = '', digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const text = Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return unit ? `${text}${unit.startsWith('%') ? '' : ' '}${unit}` : text;
}
