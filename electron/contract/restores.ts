import { z } from 'zod';
import { RestorePath, SnapshotId } from './backups';
import { ProfileId } from './profiles';

/**
 * Restores that put data back where it lives (the Backups page): a file or folder of Nextcloud's data in place (with
 * Nextcloud in maintenance mode and its files rescanned), and a whole service from one snapshot (Nextcloud's folder
 * and database dump, Authentik's data and database dump, Jellyfin's config) with a plan shown first, the service
 * stopped, restored, health-checked, and the data from before put back if any step fails.
 */

/** The services a whole restore knows. */
export const RestorableService = z.enum(['nextcloud', 'authentik', 'jellyfin'], { error: 'Service: choose Nextcloud, Authentik or Jellyfin.' });
export type RestorableService = z.infer<typeof RestorableService>;

export const restorableServiceTitle: Record<RestorableService, string> = { nextcloud: 'Nextcloud', authentik: 'Authentik', jellyfin: 'Jellyfin' };

export const InPlaceRequest = z.object({ profileId: ProfileId, snapshotId: SnapshotId, path: RestorePath });
export type InPlaceRequest = z.infer<typeof InPlaceRequest>;

export const InPlaceResult = z.object({
  /** Where the file or folder is again, on the server. */
  restoredPath: z.string(),
  /** What was at that place before, kept beside it under this name (null when nothing was there). */
  keptAs: z.string().nullable(),
  filesExpected: z.number().int(),
  filesRestored: z.number().int(),
  /** The path given to `occ files:scan --path` and what it counted. */
  scan: z.object({ path: z.string(), folders: z.number().int().nullable(), files: z.number().int().nullable() }),
  durationMs: z.number(),
});
export type InPlaceResult = z.infer<typeof InPlaceResult>;

export const ServiceRestoreRequest = z.object({ profileId: ProfileId, snapshotId: SnapshotId, service: RestorableService });
export type ServiceRestoreRequest = z.infer<typeof ServiceRestoreRequest>;

export const ServiceRestorePlan = z.object({
  service: RestorableService,
  snapshotId: SnapshotId,
  snapshotTime: z.string(),
  /** The Compose services stopped for the restore and started again after. */
  stops: z.array(z.string()),
  /** Folders replaced: the server's folder, what the snapshot holds for it. */
  folders: z.array(z.object({ serverPath: z.string(), snapshotPath: z.string(), files: z.number().int(), bytes: z.number() })),
  /** The database loaded from the snapshot's dump into a fresh database, when the service has one. */
  database: z.object({ name: z.string(), dumpBytes: z.number() }).nullable(),
  /** What the steps will be, in order, in the admin's words. */
  steps: z.array(z.string()),
  /** Free space: what the restore needs while the data from before is kept aside, and what the disk has. */
  space: z.object({ neededBytes: z.number(), freeBytes: z.number(), enough: z.boolean(), words: z.string() }),
});
export type ServiceRestorePlan = z.infer<typeof ServiceRestorePlan>;

export const ServiceRestoreRun = ServiceRestoreRequest.extend({
  /** The admin saw the plan and confirmed it. */
  confirmed: z.literal(true, { error: 'Restore whole service: confirm the plan first.' }),
});
export type ServiceRestoreRun = z.infer<typeof ServiceRestoreRun>;

export const ServiceRestoreResult = z.object({
  service: RestorableService,
  snapshotId: SnapshotId,
  /** Every step done, with what it found. */
  steps: z.array(z.object({ name: z.string(), detail: z.string() })),
  /** The services came back healthy (the restore fails otherwise, and the data from before is put back). */
  healthy: z.literal(true),
  durationMs: z.number(),
});
export type ServiceRestoreResult = z.infer<typeof ServiceRestoreResult>;

/** A whole-service restore that stopped without finishing or putting the data back (the app or the connection went away). */
export const UnfinishedRestore = z.object({
  service: RestorableService,
  snapshotId: z.string(),
  startedAt: z.string(),
  /** The folders from before, kept aside on the server. */
  keptAside: z.array(z.string()),
});
export type UnfinishedRestore = z.infer<typeof UnfinishedRestore>;

export const UnfinishedRestores = z.object({ unfinished: z.array(UnfinishedRestore) });
export type UnfinishedRestores = z.infer<typeof UnfinishedRestores>;

export const PutBackRequest = z.object({ profileId: ProfileId, service: RestorableService });
export type PutBackRequest = z.infer<typeof PutBackRequest>;
export const PutBackResult = z.object({ service: RestorableService, healthy: z.boolean(), detail: z.string() });
export type PutBackResult = z.infer<typeof PutBackResult>;
