import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, formatDuration, formatNumber, formatRelative, severityLook, tunnelLook } from './format';

describe('dashboard formatting', () => {
  it('gives every severity a word and an icon besides its colour', () => {
    expect(severityLook('error')).toEqual({ text: 'Error', icon: '✕', tone: 'fail' });
    expect(severityLook('warning')).toEqual({ text: 'Warning', icon: '!', tone: 'warn' });
    expect(severityLook('unknown').text).toBe('Unknown');
    expect(severityLook('ok').text).toBe('OK');
    expect(tunnelLook('down').text).toBe('Tunnel down');
    expect(tunnelLook('degraded').tone).toBe('warn');
  });

  it('writes sizes in binary units with sensible precision', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(52_428_800)).toBe('50.0 MiB');
    expect(formatBytes(500 * 1024 ** 3)).toBe('500 GiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });

  it('writes durations and ages in the two largest units', () => {
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(185)).toBe('3 min 5 s');
    expect(formatDuration(120)).toBe('2 min');
    expect(formatDuration(2 * 3600 + 600)).toBe('2 h 10 min');
    expect(formatDuration(27 * 3600)).toBe('27 h');
    expect(formatDuration(76 * 3600)).toBe('3 d 4 h');
    expect(formatDuration(null)).toBe('—');
    expect(formatAge(0.001)).toBe('just now');
    expect(formatAge(0.2)).toBe('12 min ago');
    expect(formatAge(27.5)).toBe('27 h 30 min ago');
  });

  it('says when a time is relative to now, in both directions', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(formatRelative('2026-01-01T03:30:00Z', now)).toBe('in 3 h 30 min');
    expect(formatRelative('2025-12-31T23:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2026-01-01T00:00:10Z', now)).toBe('now');
    expect(formatRelative(null, now)).toBe('—');
    expect(formatRelative('not a date', now)).toBe('—');
  });

  it('writes numbers with their unit, integers as they are', () => {
    expect(formatNumber(87.44, 'fps')).toBe('87.4 fps');
    expect(formatNumber(4, 'fps')).toBe('4 fps');
    expect(formatNumber(12.345, '%')).toBe('12.3%');
    expect(formatNumber(null, '%')).toBe('—');
  });
});
