import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, type Benchmark, type BenchRow, type LoadSample } from './harness';

// `npm run bench`: runs every test/bench/*.bench.ts in turn and prints one table.
// `npm run bench -- <name>`: only what <name> names (case-insensitive, part of a name is enough): a benchmark by
// its file or its name runs whole; a row by its name runs only the benchmark that measures it, told to measure
// just that row, and the table keeps the rows named.
const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2]?.toLowerCase();
const matches = (s: string): boolean => filter === undefined || s.toLowerCase().includes(filter);

/** The 1-minute load average now. */
const loadNow = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** Samples the load every second while `fn` runs. */
async function withLoad<T>(fn: () => Promise<T>): Promise<{ value: T; load: LoadSample }> {
  const before = loadNow();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, loadNow());
  }, 1000);
  try {
    const value = await fn();
    const after = loadNow();
    return { value, load: { before, after, peak: Math.max(peak, after), cpus: cpus().length } };
  } finally {
    clearInterval(timer);
  }
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();

const rows: (BenchRow & { bench: string; load?: LoadSample })[] = [];
let failed = false;
let ran = 0;
for (const file of files) {
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { default: Benchmark };
  const b = mod.default;
  const whole = matches(file) || matches(b.name);
  if (!whole && !(b.rows ?? []).some(matches)) continue;
  ran++;
  process.stderr.write(`running ${b.name}${whole ? '' : ` (rows matching “${filter ?? ''}”)`}…\n`);
  try {
    const { value, load } = await withLoad(() => b.run(whole ? {} : { only: matches }));
    for (const row of value) if (whole || matches(row.name)) rows.push({ ...row, bench: b.name, load });
  } catch (err) {
    failed = true;
    process.stderr.write(`${b.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
if (ran === 0) {
  process.stderr.write(`no benchmark or row matches “${filter ?? ''}”\n`);
  process.exit(1);
}
console.log(formatTable(rows));
for (const r of rows.filter((x) => x.note)) console.log(`- ${r.bench} / ${r.name}: ${r.note}`);
// The table is the result: a benchmark that left a timer or a socket behind must not keep the run (and the lab
// lock it may hold) from ending.
process.exit(failed ? 1 : 0);
