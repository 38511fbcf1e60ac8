import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, type Benchmark, type BenchRow } from './harness';

// `npm run bench`: runs every test/bench/*.bench.ts in turn and prints one table.
// `npm run bench -- lab` runs only benchmarks whose file name contains "lab".
const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();

const rows: (BenchRow & { bench: string })[] = [];
let failed = false;
for (const file of files) {
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { default: Benchmark };
  process.stderr.write(`running ${mod.default.name}…\n`);
  try {
    for (const row of await mod.default.run()) rows.push({ ...row, bench: mod.default.name });
  } catch (err) {
    failed = true;
    process.stderr.write(`${mod.default.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
console.log(formatTable(rows));
for (const r of rows.filter((x) => x.note)) console.log(`- ${r.bench} / ${r.name}: ${r.note}`);
// The table is the result: a benchmark that left a timer or a socket behind must not keep the run (and the lab
// lock it may hold) from ending.
process.exit(failed ? 1 : 0);
