import { z } from 'zod';
import { ProfileId } from './profiles';

/**
 * The Backups page: restic snapshots of the server's stack, the backup module's last and next run, "Back up now"
 * with restic's own progress, restoring a file or folder of Nextcloud's data into a new folder the admin names, and
 * the restore drill. Every restic command runs inside the stack's `backup` container, whose environment already holds
 * the repository and its password (Compose reads them from the server's 0600 env file): no password crosses argv or
 * IPC.
 */

/** A restic snapshot id as `restic snapshots --json` gives it (full or short). */
export const SnapshotId = z
  .string({ error: 'Snapshot: choose a snapshot from the list.' })
  .regex(/^[0-9a-f]{8,64}$/, 'Snapshot: choose a snapshot from the list.');

export const MAX_RESTORE_PATH = 1024;

/** Characters no one means in a file name chosen from a list: control, invisible and direction-changing ones. */
// eslint-disable-next-line no-control-regex
const HOSTILE = /[\u0000-\u001f\u007f\u0080-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/u;

/**
 * A path inside Nextcloud's data folder (as the snapshot holds it), relative, with `/` between parts:
 * `admin/files/Photos` or `admin/files/notes.txt`. No `..`, `.` or empty parts, no leading `/`, no control
 * characters; the server never sees it in a shell line (argv), and core also checks it exists in the snapshot.
 */
export const RestorePath = z
  .string({ error: 'What to restore: choose a file or folder.' })
  .min(1, 'What to restore: choose a file or folder.')
  .max(MAX_RESTORE_PATH, `What to restore: at most ${MAX_RESTORE_PATH} characters.`)
  .refine((s) => !HOSTILE.test(s), 'What to restore: the path holds a line break or another invisible character.')
  .refine((s) => !s.startsWith('/') && !s.endsWith('/'), 'What to restore: use a path inside Nextcloud’s data, like admin/files/Photos, without a leading or trailing “/”.')
  .refine((s) => s.split('/').every((p) => p !== '' && p !== '.' && p !== '..'), 'What to restore: “..”, “.” and empty parts are not allowed in the path.');

/**
 * The new folder a restore goes into, under `<data folder>/restores/`: one name of letters, digits, dots, dashes and
 * underscores (no leading dot). It must not exist yet: a restore never writes over anything.
 */
export const RestoreFolderName = z
  .string({ error: 'Restore into: name a new folder.' })
  .min(1, 'Restore into: name a new folder.')
  .max(64, 'Restore into: at most 64 characters.')
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'Restore into: use letters, digits, dots, dashes and underscores only (no “/”, spaces or leading dot).');

export const BackupsRequest = z.object({ profileId: ProfileId });

export const SnapshotSummary = z.object({
  id: SnapshotId,
  shortId: z.string(),
  /** When the backup started (ISO 8601). */
  time: z.string(),
  /** When it ended, where restic (≥ 0.17) recorded it. */
  endedAt: z.string().nullable(),
  paths: z.array(z.string()),
  tags: z.array(z.string()),
  hostname: z.string(),
  /** Bytes the backup read (restic ≥ 0.17 records it), else null: `sizeBytes` below then comes from `restic stats`. */
  sizeBytes: z.number().nullable(),
  files: z.number().int().nullable(),
});
export type SnapshotSummary = z.infer<typeof SnapshotSummary>;

/** The backup module's status file (written by its script inside the container). */
export const BackupLastRun = z.object({
  startedAt: z.string(),
  finishedAt: z.string(),
  result: z.enum(['success', 'partial', 'failed']),
  exitCode: z.number().int(),
  snapshotId: z.string().nullable(),
  durationSeconds: z.number().nullable(),
  bytesAdded: z.number().nullable(),
  totalBytes: z.number().nullable(),
  message: z.string(),
});
export type BackupLastRun = z.infer<typeof BackupLastRun>;

export const DrillCheck = z.object({ name: z.string(), passed: z.boolean(), detail: z.string() });
export type DrillCheck = z.infer<typeof DrillCheck>;

export const DrillResult = z.object({
  at: z.string(),
  passed: z.boolean(),
  /** Who started it: the admin from the app, or the backup container's schedule (absent in results kept before). */
  trigger: z.enum(['app', 'schedule']).optional(),
  snapshotId: z.string().nullable(),
  /** Files the snapshot lists and files the drill restored. */
  filesExpected: z.number().int().nullable(),
  filesRestored: z.number().int().nullable(),
  durationMs: z.number(),
  checks: z.array(DrillCheck),
  /** Why it failed, in the admin's words (null when it passed). */
  reason: z.string().nullable(),
});
export type DrillResult = z.infer<typeof DrillResult>;

export const BackupsView = z.object({
  /** False when the backup module is off in the stack settings. */
  enabled: z.boolean(),
  /** The stack (and so the backup container) is installed. */
  installed: z.boolean(),
  snapshots: z.array(SnapshotSummary),
  running: z.boolean(),
  lastRun: BackupLastRun.nullable(),
  nextRun: z.string().nullable(),
  schedule: z.object({ time: z.string(), timezone: z.string() }),
  repository: z.string(),
  /** Where restores go on the server: `<data folder>/restores`. */
  restoreRoot: z.string(),
  lastDrill: DrillResult.nullable(),
  /** The last drill that passed, for "last drill passed N days ago". */
  lastPassedDrill: z.string().nullable(),
});
export type BackupsView = z.infer<typeof BackupsView>;

export const BackupNowResult = z.object({ result: z.enum(['success', 'partial', 'failed']), exitCode: z.number().int(), snapshotId: z.string().nullable(), message: z.string(), durationMs: z.number() });
export type BackupNowResult = z.infer<typeof BackupNowResult>;

export const BrowseRequest = z.object({
  profileId: ProfileId,
  snapshotId: SnapshotId,
  /** A folder inside Nextcloud's data; absent for the top. */
  path: RestorePath.optional(),
});
export const SnapshotEntry = z.object({ name: z.string(), path: z.string(), type: z.enum(['file', 'dir', 'other']), size: z.number().nullable(), mtime: z.string().nullable() });
export type SnapshotEntry = z.infer<typeof SnapshotEntry>;
export const BrowseResult = z.object({ snapshotId: SnapshotId, path: z.string(), entries: z.array(SnapshotEntry), truncated: z.boolean() });
export type BrowseResult = z.infer<typeof BrowseResult>;

export const RestoreRequest = z.object({
  profileId: ProfileId,
  snapshotId: SnapshotId,
  path: RestorePath,
  into: RestoreFolderName,
});
export type RestoreRequest = z.infer<typeof RestoreRequest>;

export const RestoreResult = z.object({
  /** The new folder on the server. */
  folder: z.string(),
  /** The restored file or folder itself: `<folder>/<its name>`. */
  restoredPath: z.string(),
  filesExpected: z.number().int(),
  filesRestored: z.number().int(),
  durationMs: z.number(),
});
export type RestoreResult = z.infer<typeof RestoreResult>;

export const BackupProgress = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    profileId: ProfileId,
    percent: z.number().min(0).max(1),
    filesDone: z.number().int(),
    totalFiles: z.number().int().nullable(),
    bytesDone: z.number(),
    totalBytes: z.number().nullable(),
  }),
  z.object({ kind: z.literal('step'), profileId: ProfileId, operation: z.enum(['backup', 'restore', 'drill']), text: z.string() }),
]);
export type BackupProgress = z.infer<typeof BackupProgress>;
