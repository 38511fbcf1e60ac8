import { describe, expect, it } from 'vitest';
import type { LogLine } from '../../../electron/contract/logs';
import { appendLines, emptyBuffer, fromLocalInput } from './log-buffer';

const line = (seq: number): LogLine => ({ seq, ts: null, text: `line ${seq}`, stream: 'stdout' });

describe('a log view keeps at most its number of lines', () => {
  it('drops the oldest lines once full and counts them', () => {
    let b = emptyBuffer;
    for (let i = 1; i <= 25; i += 5) b = appendLines(b, [1, 2, 3, 4, 5].map((k) => line(i + k - 1)), 12);
    expect(b.lines.map((l) => l.seq)).toEqual([14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(b.dropped).toBe(13);
  });

  it('keeps the last lines of one batch larger than the view', () => {
    const b = appendLines(emptyBuffer, Array.from({ length: 50 }, (_, i) => line(i + 1)), 10);
    expect(b.lines[0]?.seq).toBe(41);
    expect(b.dropped).toBe(40);
  });

  it('turns a local date and time into an ISO time with its zone, and empty into unset', () => {
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('nonsense')).toBeUndefined();
    expect(fromLocalInput('2026-12-05T01:30')).toMatch(/^2026-12-0[45]T\d\d:30:00Z$/);
  });
});
