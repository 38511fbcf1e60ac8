import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { writeFileAtomic } from '../../electron/core/fs/atomic-write';

/** One file's share of a run: its project (unit or lab), how long its tests and hooks took, and how long it took to load. */
export type FileTiming = { file: string; project: string; testsMs: number; loadMs: number; state: string };

export type SuiteTiming = { wallMs: number; files: number; byProject: Record<string, { files: number; testsMs: number }>; slowest: FileTiming[] };

/** The run's summary: wall time, the time per project, and the slowest files first (by the time their tests and hooks took). */
export const summarise = (files: readonly FileTiming[], wallMs: number, top = 10): SuiteTiming => {
  const byProject: SuiteTiming['byProject'] = {};
  for (const f of files) {
    const p = (byProject[f.project] ??= { files: 0, testsMs: 0 });
    p.files += 1;
    p.testsMs += f.testsMs;
  }
  const slowest = [...files].sort((a, b) => b.testsMs + b.loadMs - (a.testsMs + a.loadMs) || a.file.localeCompare(b.file)).slice(0, top);
  return { wallMs, files: files.length, byProject, slowest };
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const formatSummary = (s: SuiteTiming): string => {
  const projects = Object.entries(s.byProject)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, p]) => `${name} ${p.files} files, ${seconds(p.testsMs)} in tests`)
    .join('; ');
  const width = Math.max(0, ...s.slowest.map((f) => f.file.length));
  const rows = s.slowest.map((f) => `  ${seconds(f.testsMs + f.loadMs).padStart(8)}  ${f.file.padEnd(width)}  [${f.project}${f.state === 'passed' ? '' : `, ${f.state}`}]`);
  return [`Suite time: ${seconds(s.wallMs)} wall for ${s.files} files (${projects || 'none'})`, `Slowest files (tests and hooks + loading):`, ...rows].join('\n');
};

/**
 * After every run, prints the whole run's time and the slowest files, and keeps the same as JSON in
 * artifacts/test-timing.json: the suite has to stay well inside CI's limit on a loaded two-core machine, and this
 * says where the time goes before it gets there.
 */
export default class SuiteTimingReporter implements Reporter {
  #started = Date.now();
  readonly #out: string;

  constructor(opts: { outFile?: string } = {}) {
    this.#out = opts.outFile ?? path.join('artifacts', 'test-timing.json');
  }

  onTestRunStart(): void {
    this.#started = Date.now();
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>): Promise<void> {
    const files: FileTiming[] = modules.map((m) => {
      const d = m.diagnostic();
      return { file: m.relativeModuleId, project: m.project.name || 'default', testsMs: d.duration, loadMs: d.collectDuration + d.setupDuration + d.prepareDuration, state: m.state() };
    });
    if (files.length === 0) return;
    const summary = summarise(files, Date.now() - this.#started);
    process.stdout.write(`\n${formatSummary(summary)}\n`);
    try {
      // Atomic: several runs at once (other shells, CI retries) leave one whole report, never a torn one.
      await writeFileAtomic(this.#out, `${JSON.stringify({ at: new Date().toISOString(), ...summary, all: files }, null, 2)}\n`, { mode: 0o644 });
    } catch (err) {
      process.stdout.write(`(could not keep the timing in ${this.#out}: ${String(err)})\n`);
    }
  }
}
