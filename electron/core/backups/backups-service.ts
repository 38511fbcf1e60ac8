/**
 * Backups of one server's stack over its one SSH connection: the snapshots restic keeps, the backup module's last and
 * next run (its status file), "Back up now" with restic's progress pushed as it comes, a file or folder of
 * Nextcloud's data restored into a new folder (checked: a restore that lands nothing is an error, not a success),
 * and the restore drill, whose results are kept per server.
 */
import path from 'node:path';
import { z } from 'zod';
import type { BackupNowResult, BackupProgress, BackupsView, BrowseResult, DrillResult, RestoreRequest, RestoreResult } from '../../contract/backups';
import { DrillResult as DrillResultSchema } from '../../contract/backups';
import type { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { ProfileJsonStore } from '../fs/json-store';
import type { Logger } from '../log';
import { LineRedactor } from '../logs/line-redactor';
import type { LogsTarget } from '../logs/logs-service';
import { checkExit, lastLines, remoteCommandFailed, runChecked, type FailureWords } from '../ssh/remote-command';
import { backupServiceName } from '../stack/modules/backup';
import { backupCommands, EXIT_FOLDER_EXISTS, EXIT_FOLDER_NOT_MADE, nextcloudPath, NEXTCLOUD_DATA, RESTORES_MOUNT } from './backup-commands';
import { drillResultLine, drillStepOf, drillStepText, latestDrills, parseDrillFile, toDrillResult } from './drill-result';
import { EXIT_DRILL_BUSY } from './drill-script';
import { DRILL_HEADROOM, type DrillHeadroom } from './drill-space';
import { childrenOf, filesAtOrBelow, parseLs, parseMarker, parseSnapshots, parseStatusFile, progressOf } from './restic-json';

/** How many drill results are kept per server. */
export const KEPT_DRILLS = 20;
/** Entries of one folder the page lists at most. */
export const MAX_ENTRIES = 2_000;

export const DrillHistory = z.object({ drills: z.array(DrillResultSchema) });
export type DrillHistory = z.infer<typeof DrillHistory>;

export const createDrillStore = (dir: string): ProfileJsonStore<typeof DrillHistory> =>
  new ProfileJsonStore({ dir, schema: DrillHistory, empty: () => ({ drills: [] }), what: 'restore drill results' });

export interface BackupsServiceDeps {
  /** The live release's compose files, services and every secret kept for the server (masked in all output). */
  readonly target: (profileId: string) => Promise<LogsTarget>;
  readonly settings: (profileId: string) => Promise<StackSettings>;
  readonly drills: Pick<ProfileJsonStore<typeof DrillHistory>, 'read' | 'update'>;
  readonly emit: (e: BackupProgress) => void;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Room the drill keeps free beyond the snapshot's size (DRILL_HEADROOM unless given). */
  readonly drillHeadroom?: DrillHeadroom;
}

const READ_TIMEOUT_MS = 120_000;
const LONG_TIMEOUT_MS = 6 * 3_600_000;

export class BackupsService {
  readonly #deps: BackupsServiceDeps;
  /** One backup, restore or drill at a time per server: they share the repository's lock and the server's disk. */
  readonly #busy = new Map<string, string>();

  constructor(deps: BackupsServiceDeps) {
    this.#deps = deps;
  }

  #now(): Date {
    return this.#deps.now?.() ?? new Date();
  }

  async view(profileId: string): Promise<BackupsView> {
    const settings = await this.#deps.settings(profileId);
    const t = await this.#deps.target(profileId);
    const installed = t.services.includes(backupServiceName);
    const history = await this.#deps.drills.read(profileId);
    const base = {
      enabled: settings.modules.backup.enabled,
      installed,
      schedule: { time: settings.modules.backup.time, timezone: settings.timezone },
      repository: settings.modules.backup.repository,
      restoreRoot: restoresDir(settings),
      lastDrill: history.drills.at(-1) ?? null,
      lastPassedDrill: history.drills.filter((d) => d.passed).at(-1)?.at ?? null,
    };
    if (!installed || !settings.modules.backup.enabled) return { ...base, snapshots: [], running: false, lastRun: null, nextRun: null };
    const c = backupCommands(t.access, t.files);
    const [statusR, snapsR, drillR] = await Promise.all([
      t.conn.exec(c.status(), { timeoutMs: READ_TIMEOUT_MS }),
      t.conn.exec(c.snapshots(), { timeoutMs: READ_TIMEOUT_MS }),
      t.conn.exec(c.lastDrill(), { timeoutMs: READ_TIMEOUT_MS }),
    ]);
    // The server's drill.json also knows the scheduled drills (none yet: no file, not an error).
    const drills = latestDrills(history.drills, drillR.code === 0 ? parseDrillFile(drillR.stdout) : null, (s) => redactAll(s, t));
    const status = statusR.code === 0 ? parseStatusFile(statusR.stdout) : null;
    let snapshots: BackupsView['snapshots'] = [];
    if (snapsR.code === 0) snapshots = parseSnapshots(snapsR.stdout);
    else if (status?.lastRun) {
      // Before the first run there is no repository yet; after one, a failing list is worth saying.
      throw remoteCommandFailed(c.snapshots(), snapsR, words('backups.failed', (why) => `Could not list the snapshots: ${why}`, 'Check that the backup service runs (Logs page), then look again.'), this.#mask(t));
    }
    return { ...base, ...drills, snapshots, running: status?.running ?? false, lastRun: status?.lastRun ?? null, nextRun: status?.nextRun ?? null };
  }

  async run(profileId: string): Promise<BackupNowResult> {
    return this.#exclusive(profileId, 'a backup', async () => {
      const t = await this.#installed(profileId);
      const c = backupCommands(t.access, t.files);
      const started = Date.now();
      this.#deps.emit({ kind: 'step', profileId, operation: 'backup', text: 'Asking for fresh database dumps, then backing up…' });
      let pending = '';
      const onStdout = (d: Buffer): void => {
        pending += d.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) {
          const p = progressOf(l, profileId);
          if (p) this.#deps.emit(p);
        }
      };
      const argv = c.backupNow();
      const r = await t.conn.exec(argv, { timeoutMs: LONG_TIMEOUT_MS, onStdout });
      if (r.code === 75) throw new AppError('backups.busy', 'A backup is running on the server already.', { hint: 'Wait for it to finish; this page shows its result.' });
      const status = parseStatusFile((await t.conn.exec(c.status(), { timeoutMs: READ_TIMEOUT_MS })).stdout);
      const last = status?.lastRun;
      if (!last || (r.code !== 0 && r.code !== 3 && r.code !== 1)) {
        throw remoteCommandFailed(argv, r, words('backups.failed', (why) => `The backup did not run: ${why}`, 'Check that the backup service runs (Logs page), then try again.'), this.#mask(t));
      }
      this.#deps.log.info('backup now', { profileId, result: last.result, exitCode: last.exitCode });
      return { result: last.result, exitCode: last.exitCode, snapshotId: last.snapshotId, message: last.message, durationMs: Date.now() - started };
    });
  }

  async browse(profileId: string, snapshotId: string, rel?: string): Promise<BrowseResult> {
    const t = await this.#installed(profileId);
    const c = backupCommands(t.access, t.files);
    const dir = nextcloudPath(rel);
    const argv = c.ls(snapshotId, dir, false);
    const r = await runChecked(t.conn, argv, words('backups.not-found', (why) => `Could not read that folder of the snapshot: ${why}`, 'Choose a snapshot and folder from the list.', 'path'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
    const entries = childrenOf(parseLs(r.stdout), dir, NEXTCLOUD_DATA);
    return { snapshotId, path: rel ?? '', entries: entries.slice(0, MAX_ENTRIES), truncated: entries.length > MAX_ENTRIES };
  }

  async restore(req: RestoreRequest): Promise<RestoreResult> {
    return this.#exclusive(req.profileId, 'a restore', async () => {
      const t = await this.#installed(req.profileId);
      const settings = await this.#deps.settings(req.profileId);
      const c = backupCommands(t.access, t.files);
      const started = Date.now();
      const snapPath = nextcloudPath(req.path);
      this.#deps.emit({ kind: 'step', profileId: req.profileId, operation: 'restore', text: `Reading ${req.path} in the snapshot…` });
      const ls = await runChecked(t.conn, c.ls(req.snapshotId, snapPath, true), words('backups.not-found', (why) => `Could not read the snapshot: ${why}`, 'Choose a snapshot from the list.', 'snapshotId'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
      const nodes = parseLs(ls.stdout);
      const node = nodes.find((n) => n.path === snapPath);
      if (!node || (node.type !== 'file' && node.type !== 'dir')) {
        throw new AppError('backups.not-found', `What to restore: “${req.path.slice(0, 200)}” is not in snapshot ${req.snapshotId.slice(0, 8)}.`, { field: 'path', hint: 'Choose a file or folder from the snapshot’s list.' });
      }
      const expected = filesAtOrBelow(nodes, snapPath);
      const root = restoresDir(settings);
      const folder = path.posix.join(root, req.into);
      this.#deps.emit({ kind: 'step', profileId: req.profileId, operation: 'restore', text: `Restoring into ${folder}…` });
      const argv = c.restore(root, req.into, req.snapshotId, snapPath, node.type);
      const r = await t.conn.exec(argv, { timeoutMs: LONG_TIMEOUT_MS });
      if (r.code === EXIT_FOLDER_EXISTS) {
        throw new AppError('backups.target-exists', `Restore into: ${folder} exists already; a restore never writes over anything.`, { field: 'into', hint: 'Name a new folder.' });
      }
      if (r.code === EXIT_FOLDER_NOT_MADE) {
        throw new AppError('backups.failed', `Restore into: the server could not make ${folder}: ${mkdirWords(redactAll(r.stderr, t), root)}`, {
          field: 'into',
          hint: `Check that the disk holding ${root} has free space and is writable, then try again.`,
        });
      }
      checkExit(argv, r, words('backups.failed', (why) => `The restore failed: ${why}`, 'Check the server’s free disk space, then try again into a new folder.'), this.#mask(t));
      const counted = parseMarker(r.stdout, 'm2-restored');
      const restored = counted?.files ?? 0;
      const restoredPath = path.posix.join(folder, path.posix.basename(snapPath));
      if (restored === 0 && expected > 0) {
        throw new AppError('backups.restored-nothing', `restic finished without error but restored no file of ${req.path.slice(0, 200)} (the snapshot holds ${expected}).`, {
          hint: `Nothing was changed but the empty folder ${folder}. Choose the file again from the snapshot’s list and restore into a new folder.`,
        });
      }
      if (restored !== expected) {
        throw new AppError('backups.failed', `The restore landed ${restored} of the ${expected} files of ${req.path.slice(0, 200)} in ${folder}.`, { hint: 'Check the server’s free disk space, then restore again into a new folder.' });
      }
      this.#deps.log.info('restore', { profileId: req.profileId, files: restored });
      return { folder, restoredPath, filesExpected: expected, filesRestored: restored, durationMs: Date.now() - started };
    });
  }

  /**
   * The restore drill: the drill script (drill-script.ts) in the backup container — the one the container's schedule
   * runs — with its steps shown as they come; its result line in words. It also leaves the result where live status
   * reads it.
   */
  async drill(profileId: string): Promise<DrillResult> {
    return this.#exclusive(profileId, 'a restore drill', async () => {
      const t = await this.#installed(profileId);
      const c = backupCommands(t.access, t.files);
      const started = Date.now();
      let pending = '';
      const onStdout = (d: Buffer): void => {
        pending += d.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) {
          const s = drillStepOf(l);
          if (s) this.#deps.emit({ kind: 'step', profileId, operation: 'drill', text: drillStepText[s] });
        }
      };
      const argv = c.drill(this.#deps.drillHeadroom ?? DRILL_HEADROOM);
      const r = await t.conn.exec(argv, { timeoutMs: LONG_TIMEOUT_MS, onStdout });
      if (r.code === EXIT_DRILL_BUSY) throw new AppError('backups.busy', 'A backup or restore drill is running on the server already.', { hint: 'Wait for it to finish, then run the drill again.' });
      const file = drillResultLine(r.stdout);
      const result: DrillResult = file
        ? toDrillResult(file, { redact: (s) => redactAll(s, t), durationMs: Date.now() - started })
        : {
            at: this.#now().toISOString(),
            passed: false,
            trigger: 'app',
            snapshotId: null,
            filesExpected: null,
            filesRestored: null,
            durationMs: Date.now() - started,
            checks: [{ name: 'Drill', passed: false, detail: `the drill did not finish: ${this.#said(t, r.stderr || r.stdout) || `exit ${String(r.code)}`}` }],
            reason: `Drill: the drill did not finish: ${this.#said(t, r.stderr || r.stdout) || `exit ${String(r.code)}`}`,
          };
      await this.#deps.drills.update(profileId, (h) => {
        h.drills = [...h.drills, result].slice(-KEPT_DRILLS);
      });
      this.#deps.log.info('restore drill', { profileId, passed: result.passed });
      return result;
    });
  }

  async #installed(profileId: string): Promise<LogsTarget> {
    const settings = await this.#deps.settings(profileId);
    if (!settings.modules.backup.enabled) throw new AppError('backups.disabled', 'Backups are turned off in this server’s stack settings.', { hint: 'Turn them on in Setup → Services & storage and install again.' });
    const t = await this.#deps.target(profileId);
    if (!t.services.includes(backupServiceName)) throw new AppError('stack.not-installed', 'The backup service is not installed on this server yet.', { hint: 'Install the stack from Setup first.' });
    return t;
  }

  /** Runs f as the server's one backup, restore or drill (the restores that put data back share the rule). */
  exclusive<T>(profileId: string, what: string, f: () => Promise<T>): Promise<T> {
    return this.#exclusive(profileId, what, f);
  }

  async #exclusive<T>(profileId: string, what: string, f: () => Promise<T>): Promise<T> {
    const running = this.#busy.get(profileId);
    if (running) throw new AppError('backups.busy', `${capitalise(running)} is running on this server.`, { hint: 'Wait for it to finish, then try again.' });
    this.#busy.set(profileId, what);
    try {
      return await f();
    } finally {
      this.#busy.delete(profileId);
    }
  }

  #mask(t: LogsTarget): { redact: (text: string) => string } {
    return { redact: (text) => redactAll(text, t) };
  }

  #said(t: LogsTarget, text: string): string {
    return lastLines(redactAll(text, t), 4);
  }
}

export const restoresDir = (s: StackSettings): string => path.posix.join(s.dataRoot, 'restores');

/** mkdir's own words from the restore script's "could not make" line, with the container's mount named as the server's folder. */
export function mkdirWords(stderr: string, root: string): string {
  const line = stderr.split('\n').findLast((l) => l.startsWith('m2: could not make ')) ?? lastLines(stderr, 1);
  const why = line.replace(/^m2: could not make [^:]*: /, '').split(`${RESTORES_MOUNT}/`).join(`${root}/`);
  return why.slice(0, 300) || 'mkdir failed without saying why';
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

const words = (code: FailureWords['code'], message: (why: string) => string, hint: string, field?: string): FailureWords => ({ code, message, hint, ...(field ? { field } : {}) });

function redactAll(text: string, t: LogsTarget): string {
  const r = new LineRedactor(t.secrets);
  return [...r.push(text), ...r.end()].map((l) => l.text).join('\n');
}

