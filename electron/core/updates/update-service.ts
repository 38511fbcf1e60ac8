/**
 * Updates of a server's images: the check (each image in use asked of the registry the server pulls from, over the
 * server's SSH connection), and an update as one careful install — checked against the registry, a backup first,
 * the stack installed with the new tags (only services whose image changed are recreated; health-gated, rolled
 * back by the apply engine when one fails), and then the per-server versions table and the saved settings record
 * what runs. A failed or cut-off update leaves the settings as they were; its retry reuses its record (and its
 * backup, when that is recent), so retries never add records or backups.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ApplyResult, ServiceHealth, StackSettings } from '../../contract/stack';
import { UpdateCheck as UpdateCheckSchema, UpdateRecord as UpdateRecordSchema, VersionRow as VersionRowSchema } from '../../contract/updates';
import type { ImageUpdate, UpdateApplyResult, UpdateChange, UpdateCheck, UpdateProgress, UpdateRecord, UpdatesView } from '../../contract/updates';
import { AppError } from '../errors';
import { ProfileJsonStore } from '../fs/json-store';
import type { Logger } from '../log';
import { pinnedImages, type ImageKey } from '../stack/versions';
import { registryOf } from './image-ref';
import { imagesInUse, imageUpdate, planUpdate, sameChanges } from './plan';
import { RegistryClient, type HttpGet } from './registry';
import { ServerOperations } from '../server-operations';

/** Records kept per server. */
export const KEPT_RECORDS = 50;
/** The scheduled check runs when the last check of a server is older than this. */
export const DAILY_MS = 24 * 3_600_000;
/** How often the schedule looks whether a connected server is due. */
export const SCHEDULE_EVERY_MS = 3_600_000;
/** A retry of the same update within this time reuses the backup its first attempt took. */
export const BACKUP_REUSE_MS = 24 * 3_600_000;

const Pending = z.object({ id: z.string(), changes: UpdateRecordSchema.shape.changes, backupSnapshot: z.string().nullable(), backupAt: z.string().nullable(), attempts: z.number().int() });

export const UpdatesFile = z.object({
  versions: z.array(VersionRowSchema),
  history: z.array(UpdateRecordSchema),
  lastCheck: UpdateCheckSchema.nullable(),
  /** The update that started and has not ended as 'updated': its retry continues it. */
  pending: Pending.nullable(),
  /** The available updates the daily check last told the admin about (`jellyfin 10.11.12, redis 7.4.6`), so each set is told once. */
  notified: z.string().nullable().default(null),
});
export type UpdatesFile = z.infer<typeof UpdatesFile>;

export const createUpdatesStore = (dir: string): ProfileJsonStore<typeof UpdatesFile> =>
  new ProfileJsonStore({ dir, schema: UpdatesFile, empty: () => ({ versions: [], history: [], lastCheck: null, pending: null, notified: null }), what: 'image versions and updates' });

export interface UpdateServiceDeps {
  /** The server's saved stack settings (throws when none are saved). */
  readonly settings: (profileId: string) => Promise<StackSettings>;
  readonly saveSettings: (profileId: string, settings: StackSettings) => Promise<void>;
  /** HTTP from the server's side (serverHttp over its SSH connection); closed after each use. */
  readonly http: (profileId: string) => { get: HttpGet; close: () => Promise<void> };
  /** What runs now (for which services use an image); [] when it cannot be read. */
  readonly running: (profileId: string) => Promise<readonly ServiceHealth[]>;
  /**
   * A backup now (the Backups page's "Back up now"): its snapshot id, or `skipped` saying why there is none (the
   * backup module is off). Throws when a backup was tried and failed: the update then stops, nothing changed.
   */
  readonly backup: (profileId: string) => Promise<{ snapshotId: string | null; skipped?: string }>;
  /** Install these settings (StackService.apply with `settings`); its progress goes out as `stack:progress`. */
  readonly apply: (profileId: string, settings: StackSettings) => Promise<ApplyResult>;
  readonly store: Pick<ProfileJsonStore<typeof UpdatesFile>, 'read' | 'update'>;
  readonly emit: (p: UpdateProgress) => void;
  readonly log: Logger;
  readonly now?: () => Date;
  /** The app's one-operation-per-server lock, shared with installs and restores (a lock of its own when not given). */
  readonly operations?: ServerOperations;
}

export class UpdateService {
  readonly #deps: UpdateServiceDeps;
  readonly #busy = new Set<string>();
  readonly #operations: ServerOperations;

  constructor(deps: UpdateServiceDeps) {
    this.#deps = deps;
    this.#operations = deps.operations ?? new ServerOperations();
  }

  #now(): Date {
    return this.#deps.now?.() ?? new Date();
  }

  async view(profileId: string): Promise<UpdatesView> {
    const f = await this.#deps.store.read(profileId);
    return { versions: f.versions, history: f.history, lastCheck: f.lastCheck };
  }

  /**
   * Ask the registry of every image the stack runs for newer tags. A registry that cannot be asked is named on its
   * images' rows (the others still answer); when none answers at all, it throws naming the registry. Nothing on the
   * server changes either way.
   */
  async check(profileId: string): Promise<UpdateCheck> {
    const settings = await this.#deps.settings(profileId);
    const keys = imagesInUse(settings);
    this.#deps.emit({ profileId, step: 'check', text: `Asking the registry about ${String(keys.length)} images…` });
    const running = await this.#deps.running(profileId).catch(() => [] as ServiceHealth[]);
    const http = this.#deps.http(profileId);
    const client = new RegistryClient(http.get);
    const images: ImageUpdate[] = [];
    let firstError: unknown;
    try {
      // One at a time: a check is rare, and a registry is not asked many things at once from one server.
      for (const key of keys) {
        const r = registryOf(pinnedImages[key].repository, settings.imageRegistry);
        try {
          images.push(imageUpdate(settings, key, { tags: await client.tags(r) }, running));
        } catch (err) {
          firstError ??= err;
          images.push(imageUpdate(settings, key, { error: err instanceof AppError ? err.userMessage : 'The registry could not be asked.' }, running));
        }
      }
    } finally {
      await http.close();
    }
    if (images.length > 0 && images.every((i) => i.error !== null)) throw firstError;
    const check: UpdateCheck = { profileId, checkedAt: this.#now().toISOString(), images, available: images.filter((i) => i.candidates.length > 0).length };
    await this.#deps.store.update(profileId, (f) => {
      f.lastCheck = check;
    });
    return check;
  }

  /**
   * The daily check of one server: when its last check is a day old, check again; when the check finds updates the
   * admin has not been told about (another image, or a newer tag), say so once. Null when nothing is to be said (not
   * due, nothing new, an update running, or the registry not reached: the next hour tries again).
   */
  async dailyCheck(profileId: string): Promise<{ title: string; body: string } | null> {
    if (this.#busy.has(profileId)) return null;
    const f = await this.#deps.store.read(profileId);
    if (f.lastCheck && this.#now().getTime() - Date.parse(f.lastCheck.checkedAt) < DAILY_MS) return null;
    let check: UpdateCheck;
    try {
      check = await this.check(profileId);
    } catch (err) {
      this.#deps.log.warn('daily update check failed', { profileId, error: err instanceof AppError ? err.code : 'internal' });
      return null;
    }
    const offered = check.images.flatMap((i) => (i.candidates[0] ? [`${i.key} ${i.candidates[0].tag}`] : [])).sort();
    const signature = offered.length > 0 ? offered.join(', ') : null;
    if (signature === f.notified) return null;
    await this.#deps.store.update(profileId, (file) => {
      file.notified = signature;
    });
    if (signature === null) return null;
    return {
      title: offered.length === 1 ? 'An update is available' : `${String(offered.length)} updates are available`,
      body: `${signature}. Open Services → Updates to read what changes and to update.`,
    };
  }

  /**
   * Every SCHEDULE_EVERY_MS, the daily check of each server `servers()` names (the connected ones); what it finds goes
   * to `notify`. Returns the stop. The timer does not keep the app running.
   */
  startDailyChecks(servers: () => Promise<readonly string[]>, notify: (profileId: string, n: { title: string; body: string }) => void, everyMs = SCHEDULE_EVERY_MS): () => void {
    let running = false;
    const tick = async (): Promise<void> => {
      if (running) return;
      running = true;
      try {
        for (const id of await servers()) {
          const n = await this.dailyCheck(id).catch(() => null);
          if (n) notify(id, n);
        }
      } catch {
        // The list of servers could not be read: the next tick tries again.
      } finally {
        running = false;
      }
    };
    const timer = setInterval(() => void tick(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Apply the chosen updates (see the file's comment). Throws, with nothing changed, before the install starts. */
  async apply(profileId: string, requested: ReadonlyArray<{ key: string; tag: string }>): Promise<UpdateApplyResult> {
    if (this.#busy.has(profileId)) throw new AppError('updates.busy', 'An update is already running for this server.', { hint: 'Wait for it to finish.' });
    this.#busy.add(profileId);
    try {
      const what = `an update of ${requested.map((r) => r.key).join(', ').slice(0, 200) || 'the stack'}`;
      // Its install runs inside this hold (the lock knows it is this update's): no install or restore in between.
      return await this.#operations.exclusive(profileId, what, 'updates.busy', () => this.#apply(profileId, requested));
    } finally {
      this.#busy.delete(profileId);
    }
  }

  async #apply(profileId: string, requested: ReadonlyArray<{ key: string; tag: string }>): Promise<UpdateApplyResult> {
    const emit = (step: UpdateProgress['step'], text: string): void => this.#deps.emit({ profileId, step, text });
    const saved = await this.#deps.settings(profileId);
    const plan = planUpdate(saved, requested);
    if (plan.changes.length === 0) throw new AppError('updates.invalid', 'Those versions run on this server already.', { field: 'updates', hint: 'Check for updates again.' });

    // The registry first: each new tag must be there (a typo or a withdrawn tag stops here, nothing changed).
    emit('check', 'Checking the new versions in the registry…');
    const digests = await this.#digests(profileId, plan.settings, plan.changes);

    const file = await this.#deps.store.read(profileId);
    const retry = file.pending && sameChanges(file.pending.changes, plan.changes) ? file.pending : null;
    const id = retry?.id ?? randomBytes(6).toString('hex');
    const attempts = (retry?.attempts ?? 0) + 1;

    // A backup first, unless this update's earlier attempt took one recently.
    let backup: UpdateApplyResult['backup'];
    const recent = retry?.backupSnapshot && retry.backupAt && this.#now().getTime() - Date.parse(retry.backupAt) < BACKUP_REUSE_MS;
    if (recent && retry?.backupSnapshot) {
      backup = { snapshotId: retry.backupSnapshot, reused: true, note: `The backup taken by the first try (${retry.backupSnapshot.slice(0, 8)}) is used again.` };
      emit('backup', backup.note ?? '');
    } else {
      emit('backup', 'Backing up before the update…');
      let b: { snapshotId: string | null; skipped?: string };
      try {
        b = await this.#deps.backup(profileId);
      } catch (err) {
        const why = err instanceof AppError ? err.userMessage : 'the backup failed';
        throw new AppError('updates.backup-failed', `The update did not start: the backup before it failed (${why}).`, { cause: err, hint: 'Fix the backup (Backups page), then update again. Nothing was changed.' });
      }
      backup = { snapshotId: b.snapshotId, reused: false, note: b.skipped ?? null };
    }
    const backupAt = backup.reused ? (retry?.backupAt ?? null) : this.#now().toISOString();
    await this.#deps.store.update(profileId, (f) => {
      f.pending = { id, changes: plan.changes, backupSnapshot: backup.snapshotId, backupAt: backup.snapshotId ? backupAt : null, attempts };
    });

    emit('install', `Installing ${plan.changes.map((c) => `${c.key} ${c.to}`).join(', ')}…`);
    let result: ApplyResult;
    try {
      result = await this.#deps.apply(profileId, plan.settings);
    } catch (err) {
      const said = downloadFailed(err, plan.settings, plan.changes) ?? err;
      await this.#record(profileId, { id, at: this.#now().toISOString(), changes: plan.changes, outcome: 'failed', message: said instanceof AppError ? said.userMessage : 'The install failed.', backupSnapshot: backup.snapshotId, releaseId: null, attempts });
      throw said;
    }
    emit('record', 'Recording the result…');
    if (result.kind === 'applied') {
      // Only the updated tags are written into the settings as they are now: a change saved while the update ran stays.
      const now = await this.#deps.settings(profileId).catch(() => saved);
      const overrides: Record<string, string> = { ...now.imageOverrides };
      for (const c of plan.changes) {
        const tag = plan.settings.imageOverrides[c.key];
        if (tag === undefined) delete overrides[c.key];
        else overrides[c.key] = tag;
      }
      await this.#deps.saveSettings(profileId, { ...now, imageOverrides: overrides });
      const record: UpdateRecord = {
        id,
        at: this.#now().toISOString(),
        changes: plan.changes,
        outcome: 'updated',
        message: `${plan.changes.map((c) => `${c.key} ${c.from} → ${c.to}`).join(', ')}: release ${result.releaseId} is live and healthy.`,
        backupSnapshot: backup.snapshotId,
        releaseId: result.releaseId,
        attempts,
      };
      await this.#record(profileId, record, (f) => {
        for (const c of plan.changes) {
          const row = { key: c.key, tag: c.to, digest: digests.get(c.key) ?? null, since: record.at, from: c.from };
          const i = f.versions.findIndex((v) => v.key === c.key);
          if (i >= 0) f.versions[i] = row;
          else f.versions.push(row);
        }
        f.pending = null;
      });
      this.#deps.log.info('update applied', { profileId, id, attempts });
      return { outcome: 'updated', record, backup, apply: result };
    }
    const r = result.report;
    const record: UpdateRecord = {
      id,
      at: this.#now().toISOString(),
      changes: plan.changes,
      outcome: 'rolled-back',
      message: `${r.reason} ${r.restored ? 'The previous versions run again.' : 'Bringing the previous versions back did not finish cleanly: look at the services.'}`,
      backupSnapshot: backup.snapshotId,
      releaseId: result.attemptedRelease,
      attempts,
    };
    await this.#record(profileId, record);
    this.#deps.log.warn('update rolled back', { profileId, id, failedService: r.failedService, restored: r.restored });
    return { outcome: 'rolled-back', record, backup, apply: result };
  }

  async #digests(profileId: string, settings: StackSettings, changes: readonly UpdateChange[]): Promise<Map<string, string>> {
    const http = this.#deps.http(profileId);
    const client = new RegistryClient(http.get);
    const out = new Map<string, string>();
    try {
      for (const c of changes) {
        const r = registryOf(pinnedImages[c.key as ImageKey].repository, settings.imageRegistry);
        const d = await client.digest(r, c.to);
        if (d === null) throw new AppError('updates.not-found', `${r.label} has no ${r.name}:${c.to}.`, { field: 'updates', hint: 'Check for updates again and choose from the list. Nothing was changed.' });
        out.set(c.key, d);
      }
    } finally {
      await http.close();
    }
    return out;
  }

  /** Keep `record` (replacing the one with its id: a retry never adds one) and whatever else `also` changes. */
  async #record(profileId: string, record: UpdateRecord, also?: (f: UpdatesFile) => void): Promise<void> {
    await this.#deps.store.update(profileId, (f) => {
      const i = f.history.findIndex((h) => h.id === record.id);
      if (i >= 0) f.history[i] = record;
      else f.history.push(record);
      f.history = f.history.slice(-KEPT_RECORDS);
      also?.(f);
    });
  }
}

/**
 * The install stopped because a new image could not be downloaded (the registry went away before or during the
 * pull) and it is not on the server: said as the registry's failure, with what still runs. The apply engine stops
 * before any container is touched in that case, so the old versions serve on.
 */
function downloadFailed(err: unknown, settings: StackSettings, changes: readonly UpdateChange[]): AppError | null {
  if (!(err instanceof AppError) || err.code !== 'stack.image-missing') return null;
  const registries = [...new Set(changes.map((c) => registryOf(pinnedImages[c.key as ImageKey].repository, settings.imageRegistry).label))].join(', ');
  return new AppError(
    'updates.registry-unreachable',
    `The new ${changes.length === 1 ? 'version' : 'versions'} could not be downloaded from the image registry ${registries} (${err.userMessage.replace(/\.$/, '')}). Nothing was changed: ${changes.map((c) => `${c.key} ${c.from}`).join(', ')} still ${changes.length === 1 ? 'runs' : 'run'}.`,
    { cause: err, hint: `Check that ${registries} is reachable from the server, then update again (the backup taken is used again).` },
  );
}
