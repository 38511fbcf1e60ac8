/** One measured figure, optionally next to a naive baseline measured in the same run. */
export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  /** The bar from DESIGN.md §7 or the issue, in words, e.g. "< 20 s". */
  readonly bar?: string;
  /** Whether the value meets the bar, when there is one. */
  readonly meetsBar?: boolean;
  readonly note?: string;
}

export interface Benchmark {
  readonly name: string;
  run(): Promise<BenchRow[]>;
}

export const defineBenchmark = (b: Benchmark): Benchmark => b;

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1));

/** The one table `npm run bench` prints. */
export function formatTable(rows: readonly (BenchRow & { bench: string })[]): string {
  const header = ['benchmark', 'measure', 'value', 'baseline (same run)', 'bar', 'ok'];
  const body = rows.map((r) => [
    r.bench,
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : '—',
    r.bar ?? '—',
    r.meetsBar === undefined ? '—' : r.meetsBar ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
