/**
 * The backup module's status file (`<dataRoot>/backup/status/status.json`) and restic's latest snapshot
 * (stack-facts §7) → one verdict: error when the last run failed or no run is known, warning when the last good
 * snapshot is older than `maxAgeHours` (26 h by default: a daily run plus slack) or the last run was partial.
 */
import { z } from 'zod';
import type { BackupRun, BackupStatus, Severity } from '../../contract/status';

export const DEFAULT_MAX_AGE_HOURS = 26;

const LastRun = z
  .object({
    startedAt: z.string().nullish(),
    finishedAt: z.string().nullish(),
    result: z.string().nullish(),
    exitCode: z.number().nullish(),
    snapshotId: z.string().nullish(),
    durationSeconds: z.number().nullish(),
    bytesAdded: z.number().nullish(),
    totalBytes: z.number().nullish(),
    message: z.string().nullish(),
  })
  .loose();

export const BackupStatusFile = z
  .object({ version: z.number().optional(), running: z.boolean().optional(), lastRun: LastRun.nullish(), nextRun: z.string().nullish() })
  .loose();
export type BackupStatusFile = z.infer<typeof BackupStatusFile>;

const Snapshot = z
  .object({
    id: z.string(),
    time: z.string(),
    summary: z.object({ backup_end: z.string().optional(), total_bytes_processed: z.number().optional(), data_added: z.number().optional() }).loose().optional(),
  })
  .loose();
export type ResticSnapshot = z.infer<typeof Snapshot>;

/** `restic snapshots --json` (one array, or `[{group_key, snapshots}]` with --group-by) → the newest snapshot. */
export function latestSnapshot(body: unknown): ResticSnapshot | null {
  const arr = z.array(z.unknown()).safeParse(body);
  if (!arr.success) return null;
  const flat: unknown[] = arr.data.flatMap((x) => (typeof x === 'object' && x !== null && Array.isArray((x as { snapshots?: unknown }).snapshots) ? ((x as { snapshots: unknown[] }).snapshots) : [x]));
  let best: ResticSnapshot | null = null;
  for (const x of flat) {
    const s = Snapshot.safeParse(x);
    if (!s.success) continue;
    const end = (v: ResticSnapshot): number => Date.parse(v.summary?.backup_end ?? v.time);
    if (!best || end(s.data) > end(best)) best = s.data;
  }
  return best;
}

const results = ['success', 'partial', 'failed'] as const;

export function toBackupRun(l: z.infer<typeof LastRun>): BackupRun {
  const result = (results as readonly string[]).includes(l.result ?? '') ? (l.result as BackupRun['result']) : 'unknown';
  return {
    startedAt: l.startedAt ?? null,
    finishedAt: l.finishedAt ?? null,
    result,
    exitCode: l.exitCode ?? null,
    snapshotId: l.snapshotId ?? null,
    durationSeconds: l.durationSeconds ?? null,
    bytesAdded: l.bytesAdded ?? null,
    totalBytes: l.totalBytes ?? null,
    message: l.message ?? '',
  };
}

const ageText = (h: number): string => (h < 1 ? `${Math.max(1, Math.round(h * 60))} min` : h < 48 ? `${Math.round(h)} h` : `${Math.round(h / 24)} days`);

export function evaluateBackup(input: {
  readonly enabled: boolean;
  readonly file: BackupStatusFile | null | 'missing' | 'invalid';
  readonly snapshot: ResticSnapshot | null;
  readonly now: Date;
  readonly maxAgeHours: number;
}): BackupStatus {
  const { now, maxAgeHours } = input;
  const base = { running: false, lastRun: null, lastGood: null, nextRun: null, maxAgeHours };
  if (!input.enabled) return { ...base, severity: 'ok', reason: 'Backups are not part of this stack.' };
  if (input.file === null) return { ...base, severity: 'unknown', reason: 'Waiting for the backup status.' };
  if (input.file === 'missing') return { ...base, severity: 'error', reason: 'No backup status on the server: the backup service has never run.' };
  if (input.file === 'invalid') return { ...base, severity: 'error', reason: 'The backup status file on the server cannot be read.' };
  const f = input.file;
  const lastRun = f.lastRun ? toBackupRun(f.lastRun) : null;
  const running = f.running === true;
  const nextRun = f.nextRun ?? null;

  // The last good snapshot: the status file's run when it produced one, else restic's newest snapshot.
  let lastGood: BackupStatus['lastGood'] = null;
  if (lastRun && (lastRun.result === 'success' || lastRun.result === 'partial') && lastRun.finishedAt) {
    lastGood = { at: lastRun.finishedAt, ageHours: 0, snapshotId: lastRun.snapshotId, totalBytes: lastRun.totalBytes, durationSeconds: lastRun.durationSeconds };
  }
  const snap = input.snapshot;
  if (snap) {
    const at = snap.summary?.backup_end ?? snap.time;
    if (!lastGood || Date.parse(at) > Date.parse(lastGood.at)) {
      lastGood = { at, ageHours: 0, snapshotId: snap.id, totalBytes: snap.summary?.total_bytes_processed ?? null, durationSeconds: null };
    }
  }
  if (lastGood) {
    const t = Date.parse(lastGood.at);
    lastGood = { ...lastGood, ageHours: Number.isFinite(t) ? Math.max(0, Math.round(((now.getTime() - t) / 3_600_000) * 100) / 100) : Number.POSITIVE_INFINITY };
    if (!Number.isFinite(lastGood.ageHours)) lastGood = { ...lastGood, ageHours: 1e6 };
  }

  let severity: Severity;
  let reason: string;
  if (lastRun?.result === 'failed') {
    severity = 'error';
    reason = `The last backup failed${lastRun.finishedAt ? ` (${lastRun.finishedAt.slice(0, 16).replace('T', ' ')} UTC)` : ''}: ${lastRun.message || `exit ${lastRun.exitCode ?? '?'}`}`;
  } else if (!lastGood) {
    severity = running ? 'unknown' : 'error';
    reason = running ? 'The first backup is running.' : 'No backup has completed yet.';
  } else if (lastGood.ageHours > maxAgeHours) {
    severity = 'warning';
    reason = `The last good backup is ${ageText(lastGood.ageHours)} old (more than ${maxAgeHours} h).`;
  } else if (lastRun?.result === 'partial') {
    severity = 'warning';
    reason = `The last backup was partial: ${lastRun.message || 'some data was not saved'}`;
  } else {
    severity = 'ok';
    reason = `Last good backup ${ageText(lastGood.ageHours)} ago${running ? '; a backup is running now' : ''}.`;
  }
  return { severity, reason, running, lastRun, lastGood, nextRun, maxAgeHours };
}
