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
  /**
   * Every measurement behind `value` (same unit), for the spread the table prints (min, median, max, n). A row
   * without it is one measurement, and the table says so.
   */
  readonly runs?: readonly number[];
}

export interface RunOptions {
  /** Set when `npm run bench -- <name>` named rows of this benchmark: only rows it matches need measuring. */
  readonly only?: (rowName: string) => boolean;
}

export interface Benchmark {
  readonly name: string;
  /** Row names known before running, so `npm run bench -- <row>` finds the benchmark that measures it. */
  readonly rows?: readonly string[];
  run(opts?: RunOptions): Promise<BenchRow[]>;
}

export const defineBenchmark = (b: Benchmark): Benchmark => b;

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1));

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** `min / median / max (n)` of a row's runs; one measurement says so. */
export function spreadOf(runs: readonly number[] | undefined): string {
  if (!runs || runs.length === 0) return '1 run';
  const r = (v: number): string => fmt(Math.round(v * 100) / 100);
  return `${r(Math.min(...runs))} / ${r(median(runs))} / ${r(Math.max(...runs))} (n=${String(runs.length)})`;
}

/** The machine's load while a benchmark ran: /proc/loadavg's 1-minute figure before, after and at its highest. */
export interface LoadSample {
  readonly before: number;
  readonly after: number;
  readonly peak: number;
  readonly cpus: number;
}

export const formatLoad = (l: LoadSample | undefined): string => (l ? `${l.before.toFixed(2)}→${l.after.toFixed(2)}, peak ${l.peak.toFixed(2)} / ${String(l.cpus)} cpu` : '—');

/** The one table `npm run bench` prints. */
export function formatTable(rows: readonly (BenchRow & { bench: string; load?: LoadSample })[]): string {
  const header = ['benchmark', 'measure', 'value', 'spread min / median / max', 'baseline (same run)', 'bar', 'ok', 'load 1m (before→after, peak)'];
  const body = rows.map((r) => [
    r.bench,
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    spreadOf(r.runs),
    r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : '—',
    r.bar ?? '—',
    r.meetsBar === undefined ? '—' : r.meetsBar ? 'yes' : 'NO',
    formatLoad(r.load),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
