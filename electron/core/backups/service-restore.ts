/**
 * What a whole-service restore touches, per service, and its plan (pure: no server). A service's folders come back
 * from the snapshot's copy of them (`/source/<name>`, as the backup module mounts them); its database is a fresh one
 * loaded from the snapshot's dump (`/m2/dumps/<db>.sql`, pg_dump's plain format, which expects an empty database).
 */
import path from 'node:path';
import type { SnapshotSummary } from '../../contract/backups';
import type { RestorableService, ServiceRestorePlan } from '../../contract/restores';
import { restorableServiceTitle } from '../../contract/restores';
import type { StackSettings } from '../../contract/stack';
import { formatBytes } from '../preflight/checks';
import { backupServiceName } from '../stack/modules/backup';
import { dataDir } from '../stack/modules/common';
import { parseDfRow } from '../preflight/parse';
import { DUMPS_MOUNT } from './restore-commands';
import { filesAtOrBelow, type LsNode } from './restic-json';

/** Room kept free beyond what a restore writes: a share of it plus a fixed amount (logs, other services, restic's cache). */
export interface RestoreHeadroom {
  readonly fraction: number;
  readonly bytes: number;
}
export const RESTORE_HEADROOM: RestoreHeadroom = { fraction: 0.1, bytes: 1024 ** 3 };

/** A filesystem block: a file takes whole blocks, a folder at least one, so many small files take more than their sizes. */
const BLOCK = 4096;

/** What restoring these nodes takes on disk, at least: each file's size in whole blocks, one block a folder. */
export function footprintOf(nodes: readonly LsNode[]): number {
  let total = 0;
  for (const n of nodes) {
    if (n.type === 'file') total += Math.ceil((n.size ?? 0) / BLOCK) * BLOCK;
    else if (n.type === 'dir') total += BLOCK;
  }
  return total;
}

/** Free bytes from `df -Pk <folder>` (GNU or busybox), or null when its output is not a df row. */
export function freeOfDf(stdout: string): number | null {
  return parseDfRow(stdout.trim(), 1024)?.availableBytes ?? null;
}

export interface ServiceDefinition {
  readonly service: RestorableService;
  /** Its folder under the data root, which holds the folders below. */
  readonly module: string;
  /** Folders inside the module's folder and where the snapshot holds them. */
  readonly folders: ReadonlyArray<{ readonly name: string; readonly snapshotPath: string }>;
  /** Its Postgres database: the folder inside the module's folder, the Compose services and the dump's name. */
  readonly database: { readonly folder: string; readonly name: string; readonly service: string; readonly dumpService: string } | null;
  /** Compose services stopped for the restore, in order (the apps, then the dump sidecar, then the database). */
  readonly stops: readonly string[];
  readonly enabled: (s: StackSettings) => boolean;
}

export const serviceDefinitions: Record<RestorableService, ServiceDefinition> = {
  nextcloud: {
    service: 'nextcloud',
    module: 'nextcloud',
    folders: [{ name: 'html', snapshotPath: '/source/nextcloud' }],
    database: { folder: 'db', name: 'nextcloud', service: 'nextcloud-db', dumpService: 'nextcloud-db-dump' },
    stops: ['nextcloud-cron', 'nextcloud', 'nextcloud-db-dump', 'nextcloud-db'],
    enabled: (s) => s.modules.nextcloud.enabled,
  },
  authentik: {
    service: 'authentik',
    module: 'authentik',
    folders: [{ name: 'data', snapshotPath: '/source/authentik-data' }],
    database: { folder: 'db', name: 'authentik', service: 'authentik-db', dumpService: 'authentik-db-dump' },
    stops: ['authentik-worker', 'authentik-server', 'authentik-db-dump', 'authentik-db'],
    enabled: (s) => s.modules.authentik.enabled,
  },
  jellyfin: {
    service: 'jellyfin',
    module: 'jellyfin',
    folders: [{ name: 'config', snapshotPath: '/source/jellyfin-config' }],
    database: null,
    stops: ['jellyfin'],
    enabled: () => true,
  },
};

export const moduleDirOf = (s: StackSettings, d: ServiceDefinition): string => dataDir(s, d.module);
export const dumpPathOf = (d: ServiceDefinition): string | null => (d.database ? `${DUMPS_MOUNT}/${d.database.name}.sql` : null);
/** The folder names a swap moves, the database's last. */
export const swappedNames = (d: ServiceDefinition): string[] => [...d.folders.map((f) => f.name), ...(d.database ? [d.database.folder] : [])];

/**
 * The Compose services a restore stops, as the live release has them: the service's own, then the backup (its
 * schedule must not back up a half-restored folder, and its mounts of the moved folders are renewed when it starts).
 */
export function stopsOf(d: ServiceDefinition, releaseServices: readonly string[]): string[] {
  return [...d.stops, backupServiceName].filter((s) => releaseServices.includes(s));
}

/** The order they start in again: the database first (the dump is loaded into it), then the rest. */
export function startsOf(d: ServiceDefinition, stops: readonly string[]): { database: string | null; rest: string[] } {
  const db = d.database && stops.includes(d.database.service) ? d.database.service : null;
  return { database: db, rest: [...stops].reverse().filter((s) => s !== db) };
}

export interface PlanInput {
  readonly definition: ServiceDefinition;
  readonly settings: StackSettings;
  readonly snapshot: SnapshotSummary;
  /** `restic ls --json --recursive` of each folder's snapshot path and of the dump, together. */
  readonly nodes: readonly LsNode[];
  readonly releaseServices: readonly string[];
  readonly freeBytes: number;
  readonly headroom: RestoreHeadroom;
}

/** What is missing from the snapshot for this service, in the admin's words (null when everything is there). */
export function missingFromSnapshot(d: ServiceDefinition, nodes: readonly LsNode[]): string | null {
  const title = restorableServiceTitle[d.service];
  for (const f of d.folders) {
    if (!nodes.some((n) => n.path === f.snapshotPath && n.type === 'dir')) return `this snapshot holds no ${title} folder (${f.snapshotPath})`;
  }
  const dump = dumpPathOf(d);
  if (dump && !nodes.some((n) => n.path === dump && n.type === 'file')) return `this snapshot holds no ${title} database dump (${dump})`;
  return null;
}

export function servicePlan(p: PlanInput): ServiceRestorePlan {
  const d = p.definition;
  const title = restorableServiceTitle[d.service];
  const moduleDir = moduleDirOf(p.settings, d);
  const folders = d.folders.map((f) => {
    const below = p.nodes.filter((n) => n.path === f.snapshotPath || n.path.startsWith(`${f.snapshotPath}/`));
    return {
      serverPath: path.posix.join(moduleDir, f.name),
      snapshotPath: f.snapshotPath,
      files: filesAtOrBelow(below, f.snapshotPath),
      bytes: below.reduce((sum, n) => sum + (n.type === 'file' ? (n.size ?? 0) : 0), 0),
    };
  });
  const dumpNode = p.nodes.find((n) => n.path === dumpPathOf(d));
  const database = d.database ? { name: d.database.name, dumpBytes: dumpNode?.size ?? 0 } : null;
  // The data from before stays on the disk until the restored service is healthy: the copy, the dump taken out of
  // the snapshot and the fresh database loaded from it (about the dump's size again) all need room beside it.
  const footprint = footprintOf(p.nodes.filter((n) => n.path !== dumpPathOf(d))) + 2 * (database?.dumpBytes ?? 0);
  const needed = Math.ceil(footprint * (1 + p.headroom.fraction)) + p.headroom.bytes;
  const fits = { enough: p.freeBytes >= needed, needed };
  const spare = `${Math.round(p.headroom.fraction * 100)}% and ${formatBytes(p.headroom.bytes)} to spare`;
  const words = fits.enough
    ? `needs ${formatBytes(fits.needed)} (the restored data’s ${formatBytes(footprint)} plus ${spare}), ${formatBytes(p.freeBytes)} free in ${moduleDir}`
    : `not enough free space to restore ${title}: it needs ${formatBytes(fits.needed)} (the restored data’s ${formatBytes(footprint)} plus ${spare}) while the data from before is kept, ${formatBytes(p.freeBytes)} free in ${moduleDir}. Nothing was changed. Free space on that disk, then try again.`;
  const stops = stopsOf(d, p.releaseServices);
  const short = p.snapshot.shortId;
  const steps = [
    ...folders.map((f) => `Restore ${f.files} files (${formatBytes(f.bytes)}) of ${title}’s folder from snapshot ${short} beside ${f.serverPath}, while ${title} still runs.`),
    ...(database ? [`Take ${title}’s database dump (${formatBytes(database.dumpBytes)}) out of the snapshot and check it is complete.`] : []),
    `Stop ${stops.join(', ')}.`,
    `Move the current ${folders.map((f) => f.serverPath).join(' and ')}${d.database ? ` and database (${path.posix.join(moduleDir, d.database.folder)})` : ''} aside and put the restored ${folders.length > 1 ? 'folders' : 'folder'} in place.`,
    ...(database ? [`Start a fresh ${title} database and load the dump into it in one transaction.`] : []),
    `Start ${stops.join(', ')} and wait until they are healthy.`,
    `Remove the data from before. If any step fails, it is put back instead and ${title} is started again.`,
  ];
  return { service: d.service, snapshotId: p.snapshot.id, snapshotTime: p.snapshot.time, stops, folders, database, steps, space: { neededBytes: fits.needed, freeBytes: p.freeBytes, enough: fits.enough, words } };
}

/** `snapshot=…` / `started=…` lines of a journal. */
export function parseJournal(text: string): { snapshotId: string; startedAt: string } | null {
  const get = (k: string): string | undefined => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim();
  const snapshotId = get('snapshot');
  const startedAt = get('started');
  return snapshotId && startedAt ? { snapshotId, startedAt } : null;
}

/** The journals script's output: path → content. */
export function splitJournals(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | null = null;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('== ')) {
      current = line.slice(3);
      out.set(current, '');
    } else if (current !== null) out.set(current, `${out.get(current) ?? ''}${line}\n`);
  }
  return out;
}
