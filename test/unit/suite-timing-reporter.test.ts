import { describe, expect, it } from 'vitest';
import { formatSummary, summarise, type FileTiming } from '../support/suite-timing-reporter';

const file = (f: string, project: string, testsMs: number, loadMs = 0, state = 'passed'): FileTiming => ({ file: f, project, testsMs, loadMs, state });

describe('the suite timing summary', () => {
  it('lists the slowest files first, counting loading, and adds up each project', () => {
    const s = summarise([file('a.test.ts', 'unit', 100, 50), file('b.test.ts', 'lab', 9_000), file('c.test.ts', 'unit', 120, 100), file('d.test.ts', 'lab', 20)], 12_345, 3);
    expect(s.slowest.map((f) => f.file)).toEqual(['b.test.ts', 'c.test.ts', 'a.test.ts']);
    expect(s.byProject).toEqual({ unit: { files: 2, testsMs: 220 }, lab: { files: 2, testsMs: 9_020 } });
    expect(s.files).toBe(4);
  });

  it('prints the wall time, each project and each slow file with its time, marking one that did not pass', () => {
    const text = formatSummary(summarise([file('test/lab/slow.test.ts', 'lab', 61_000, 400, 'failed'), file('electron/x.test.ts', 'unit', 1_500)], 75_000));
    expect(text.split('\n')).toEqual([
      'Suite time: 75.0 s wall for 2 files (lab 1 files, 61.0 s in tests; unit 1 files, 1.5 s in tests)',
      'Slowest files (tests and hooks + loading):',
      '    61.4 s  test/lab/slow.test.ts  [lab, failed]',
      '     1.5 s  electron/x.test.ts     [unit]',
    ]);
  });
});
