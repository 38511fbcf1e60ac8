/**
 * The drill script's result line (drill-script.ts) → the app's DrillResult, in the admin's words. The line comes
 * from the server (the app's own run, or `drill.json` that the scheduled drill left, read by the Backups page and
 * by the status agent), so it is checked like any input from outside: bounded strings, whole numbers, a snapshot
 * id of hex digits; anything else is "unreadable", never passed on.
 */
import { z } from 'zod';
import type { DrillCheck, DrillResult } from '../../contract/backups';
import { DRILL_SCRATCH_ROOT } from './backup-commands';
import { DRILL_FAILURES, DRILL_RESULT_MARKER, DRILL_STEP_MARKER, DRILL_STEPS, type DrillStep } from './drill-script';
import { drillSpaceWords } from './drill-space';
import { checkReason } from './restic-json';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const code = z.number().int().min(-1).max(1_000);
const when = z.string().max(64).regex(/^[0-9T:.+Z-]+$/);
const nullish = <T extends z.ZodType>(t: T) => t.nullable().catch(null);

export const DrillFile = z.object({
  version: z.literal(1),
  trigger: z.enum(['app', 'schedule']),
  startedAt: when,
  finishedAt: when,
  durationSeconds: count,
  passed: z.boolean(),
  failed: z.enum(DRILL_FAILURES).nullable(),
  snapshotId: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  snapshotTime: nullish(when),
  snapshotsCode: code.nullable(),
  checkCode: code.nullable(),
  subset: z.string().max(16).regex(/^[0-9%./]+$/),
  listCode: code.nullable(),
  filesExpected: count.nullable(),
  footprintBytes: count.nullable(),
  freeKb: count.nullable(),
  mount: z.string().max(200).nullable(),
  neededBytes: count.nullable(),
  headroomPercent: count,
  headroomBytes: count,
  restoreCode: code.nullable(),
  filesRestored: count.nullable(),
  dumps: count.nullable(),
  badDumps: count.nullable(),
  badDumpNames: z.string().max(2_000).nullable(),
  /** restic's (or df's) last words, up to ten lines. */
  said: z.string().max(8_000).nullable(),
  lastPassedAt: nullish(when),
});
export type DrillFile = z.infer<typeof DrillFile>;

/** One line of `drill.json` (or the result line's JSON), or null when it is not what the script writes. */
export function parseDrillFile(text: string): DrillFile | null {
  const line = text.trim();
  if (!line.startsWith('{') || line.length > 64_000) return null;
  try {
    const r = DrillFile.safeParse(JSON.parse(line));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The result line the script prints on stdout for the app (the last one wins). */
export function drillResultLine(stdout: string): DrillFile | null {
  const line = stdout.split('\n').findLast((l) => l.startsWith(DRILL_RESULT_MARKER));
  return line === undefined ? null : parseDrillFile(line.slice(DRILL_RESULT_MARKER.length));
}

/** `m2-drill-step <name>` → the step, or null for any other line. */
export function drillStepOf(line: string): DrillStep | null {
  if (!line.startsWith(DRILL_STEP_MARKER)) return null;
  const s = line.slice(DRILL_STEP_MARKER.length).trim();
  return (DRILL_STEPS as readonly string[]).includes(s) ? (s as DrillStep) : null;
}

export const drillStepText: Readonly<Record<DrillStep, string>> = {
  snapshots: 'Finding the latest snapshot…',
  check: 'Checking the repository and reading back part of its data…',
  list: 'Listing the snapshot’s files…',
  space: 'Checking the free space for the scratch restore…',
  restore: 'Restoring the snapshot into a scratch folder…',
};

const WHERE = `the backup container’s ${DRILL_SCRATCH_ROOT}`;

/**
 * The result in words: the checks that ran, in order, and the reason of the one that failed. `redact` masks the
 * server's secrets in restic's words; `durationMs` overrides the file's whole seconds (the app timed its own run).
 */
export function toDrillResult(f: DrillFile, opts: { redact?: (s: string) => string; durationMs?: number } = {}): DrillResult {
  const redact = opts.redact ?? ((s: string) => s);
  const said = redact(f.said ?? '');
  const checks: DrillCheck[] = [];
  let reason: string | null = null;
  const fail = (name: string, detail: string): void => {
    checks.push({ name, passed: false, detail });
    reason = `${name}: ${detail}`;
  };
  const pass = (name: string, detail: string): void => {
    checks.push({ name, passed: true, detail });
  };
  const exit = (c: number | null): string => `exit ${c ?? '?'}`;
  const lines = (s: string): string => s.split('\n').map((l) => l.trim()).filter(Boolean).slice(-4).join(' ').slice(0, 500);

  // Each step passed when the script went past it; the one named in `failed` says why.
  ((): void => {
    const failed = f.failed;
    if (failed === 'snapshots') return fail('Latest snapshot', `restic could not list the snapshots: ${lines(said) || exit(f.snapshotsCode)}`);
    if (failed === 'nosnapshot' || !f.snapshotId) return fail('Latest snapshot', 'there is no snapshot to restore yet; back up first.');
    pass('Latest snapshot', `${f.snapshotId.slice(0, 8)}${f.snapshotTime ? ` of ${f.snapshotTime}` : ''}`);
    if (failed === 'check') return fail('Repository check', `restic check found errors: ${checkReason(said) || exit(f.checkCode)}`);
    pass('Repository check', `no errors in the structure and in the ${f.subset} of data read back`);
    if (failed === 'list') return fail('Snapshot listing', lines(said) || exit(f.listCode));
    if (failed === 'df' || f.freeKb === null) return fail('Free space', `could not read the free space of ${WHERE}: ${lines(said) || 'no answer'}. Nothing was restored.`);
    const footprint = f.footprintBytes ?? 0;
    const free = f.freeKb * 1024;
    const headroom = { fraction: f.headroomPercent / 100, bytes: f.headroomBytes };
    const where = !f.mount || f.mount === '/' ? `${WHERE}, on Docker’s disk` : `${WHERE} (a disk of its own mounted at ${f.mount})`;
    const needed = f.neededBytes ?? 0;
    const words = drillSpaceWords({ enough: failed !== 'space', needed }, footprint, free, where, headroom);
    if (failed === 'space') return fail('Free space', words);
    pass('Free space', words);
    if (failed === 'restore') return fail('Restore', `restic could not restore the snapshot: ${checkReason(said) || exit(f.restoreCode)}`);
    pass('Restore', 'restored into a scratch folder, since deleted');
    if (failed === 'count') return fail('File count', `the snapshot lists ${f.filesExpected ?? 0} files but ${f.filesRestored ?? 0} were restored.`);
    pass('File count', `${f.filesRestored ?? 0} of ${f.filesExpected ?? 0} files`);
    const dumps = f.dumps ?? 0;
    if (failed === 'dumps') {
      const names = f.badDumpNames ? `: ${f.badDumpNames.split(' ').filter(Boolean).slice(0, 10).join(', ')}` : '';
      return fail('Database dumps', `${f.badDumps ?? 0} of ${dumps} database dumps are not complete pg_dump files (cut short or an error instead of a dump)${names}.`);
    }
    pass('Database dumps', dumps === 0 ? 'no database dump in this snapshot' : `${dumps} of ${dumps} read to pg_dump’s closing line`);
  })();
  if (reason === null && !f.passed) fail('Drill', `the drill failed without saying where${said ? `: ${lines(said)}` : ''}.`);

  return {
    at: f.finishedAt,
    passed: reason === null,
    trigger: f.trigger,
    snapshotId: f.snapshotId,
    filesExpected: f.filesExpected,
    filesRestored: f.filesRestored,
    durationMs: opts.durationMs ?? f.durationSeconds * 1000,
    checks,
    reason,
  };
}

/**
 * The last drill and the last one that passed, from what the app kept of its own drills and what the server's
 * `drill.json` says (which also knows the scheduled ones): the later of each.
 */
export function latestDrills(
  kept: readonly DrillResult[],
  server: DrillFile | null,
  redact?: (s: string) => string,
): { lastDrill: DrillResult | null; lastPassedDrill: string | null } {
  const time = (s: string | null | undefined): number => (s ? Date.parse(s) || 0 : 0);
  const later = <T>(a: T | null, b: T | null, at: (x: T) => string | null): T | null => (a === null ? b : b === null ? a : time(at(b)) > time(at(a)) ? b : a);
  const fromServer = server ? toDrillResult(server, redact ? { redact } : {}) : null;
  const lastDrill = later(kept.at(-1) ?? null, fromServer, (d) => d.at);
  const lastPassedDrill = later(kept.filter((d) => d.passed).at(-1)?.at ?? null, server?.lastPassedAt ?? null, (x) => x);
  return { lastDrill, lastPassedDrill };
}
