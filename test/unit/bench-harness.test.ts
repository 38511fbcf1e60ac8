import { describe, expect, it } from 'vitest';
import { formatLoad, formatTable, median, spreadOf } from '../bench/harness';

describe('the bench table', () => {
  it('gives each row its spread and the machine’s load, and says when a row is one measurement', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spreadOf([412, 380, 951, 401, 399])).toBe('380 / 401 / 951 (n=5)');
    expect(spreadOf(undefined)).toBe('1 run');
    const load = { before: 3.5, after: 6.02, peak: 7.1, cpus: 2 };
    expect(formatLoad(load)).toBe('3.50→6.02, peak 7.10 / 2 cpu');
    const table = formatTable([
      { bench: 'stack apply', name: 'no-op re-apply', value: 401, unit: 'ms', runs: [412, 380, 951, 401, 399], bar: '< 1000 ms', meetsBar: true, load },
      { bench: 'status', name: 'first snapshot', value: 528, unit: 'ms' },
    ]);
    const [header, , first, second] = table.split('\n');
    expect(header).toMatch(/spread min \/ median \/ max .* load 1m \(before→after, peak\)/);
    expect(first).toMatch(/no-op re-apply .* 401 ms .* 380 \/ 401 \/ 951 \(n=5\) .* yes .* 3\.50→6\.02, peak 7\.10 \/ 2 cpu/);
    expect(second).toMatch(/first snapshot .* 1 run .* — +\|$/);
  });
});
