/**
 * Restores that put data back where it lives, over the server's one SSH connection:
 *
 * - **In place**: one file or folder of a user's Nextcloud files, with Nextcloud in maintenance mode while it moves;
 *   the snapshot's copy is made and counted beside the place first, what is there now is kept beside it (never
 *   deleted), then `occ files:scan --path` makes Nextcloud see both.
 * - **A whole service** (Nextcloud, Authentik, Jellyfin): a plan first (what the snapshot holds, what stops, the free
 *   space), then the snapshot's copy beside the live folders while the service still runs, the service stopped, the
 *   folders swapped (the current ones kept aside, a journal on the server saying so), a fresh database loaded from
 *   the dump, the service started and waited for until healthy, and only then the data from before removed. Any
 *   failing step puts the data from before back and starts the service again. When that cannot run (the app or the
 *   connection went away), the journal stays and the Backups page offers to put the data back.
 */
import path from 'node:path';
import type { BackupProgress } from '../../contract/backups';
import {
  restorableServiceTitle,
  type InPlaceRequest,
  type InPlaceResult,
  type PutBackRequest,
  type PutBackResult,
  type ServiceRestorePlan,
  type ServiceRestoreRequest,
  type ServiceRestoreResult,
  type UnfinishedRestore,
} from '../../contract/restores';
import type { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { ServerOperations } from '../server-operations';
import type { Logger } from '../log';
import { LineRedactor } from '../logs/line-redactor';
import type { LogsTarget } from '../logs/logs-service';
import { checkExit, lastLines, runChecked, type FailureWords } from '../ssh/remote-command';
import type { ExecResult } from '../ssh/runner';
import { backupServiceName } from '../stack/modules/backup';
import { nextcloudDirs } from '../stack/modules/nextcloud';
import { backupCommands, nextcloudPath } from './backup-commands';
import { keptName, ownerAndMode, parseFilesScan, placeOf, scanPathOf } from './in-place-restore';
import {
  ASIDE_SUFFIX,
  EXIT_ASIDE_EXISTS,
  EXIT_COUNT_MISMATCH,
  EXIT_NO_PARENT,
  JOURNAL,
  restoreCommands,
  type RestoreCommands,
} from './restore-commands';
import { filesAtOrBelow, parseLs, parseMarker, parseSnapshots } from './restic-json';
import { freeOfDf, missingFromSnapshot, moduleDirOf, parseJournal, RESTORE_HEADROOM, serviceDefinitions, servicePlan, splitJournals, startsOf, swappedNames, type RestoreHeadroom, type ServiceDefinition } from './service-restore';

export interface RestoresServiceDeps {
  /** The live release's compose files, services and every secret kept for the server (masked in all output). */
  readonly target: (profileId: string) => Promise<LogsTarget>;
  readonly settings: (profileId: string) => Promise<StackSettings>;
  /** One backup, restore or drill at a time per server (the Backups service's rule, shared). */
  readonly exclusive: <T>(profileId: string, what: string, f: () => Promise<T>) => Promise<T>;
  /** The app's one-operation-per-server lock, shared with installs and updates (a lock of its own when not given). */
  readonly operations?: ServerOperations;
  readonly emit: (e: BackupProgress) => void;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Room a whole-service restore keeps free beyond what it writes (RESTORE_HEADROOM unless given). */
  readonly headroom?: RestoreHeadroom;
}

const READ_TIMEOUT_MS = 120_000;
const LONG_TIMEOUT_MS = 6 * 3_600_000;
/** Starting services and waiting for their health checks (Compose waits WAIT_TIMEOUT_S itself). */
const UP_TIMEOUT_MS = 15 * 60_000;

export class RestoresService {
  readonly #deps: RestoresServiceDeps;
  readonly #operations: ServerOperations;

  constructor(deps: RestoresServiceDeps) {
    this.#deps = deps;
    this.#operations = deps.operations ?? new ServerOperations();
  }

  /** Both rules: one backup or restore at a time, and nothing else changing the server (an install, an update). */
  #exclusive<T>(profileId: string, what: string, f: () => Promise<T>): Promise<T> {
    return this.#operations.exclusive(profileId, what, 'backups.busy', () => this.#deps.exclusive(profileId, what, f));
  }

  #now(): Date {
    return this.#deps.now?.() ?? new Date();
  }

  #step(profileId: string, text: string): void {
    this.#deps.emit({ kind: 'step', profileId, operation: 'restore', text });
  }

  /** One file or folder of a user's Nextcloud files back in its place; what is there now is kept beside it. */
  async inPlace(req: InPlaceRequest): Promise<InPlaceResult> {
    const scanPath = scanPathOf(req.path);
    return this.#exclusive(req.profileId, 'a restore', async () => {
      const { t, settings } = await this.#installed(req.profileId, ['nextcloud']);
      const b = backupCommands(t.access, t.files);
      const c = restoreCommands(t.access, t.files);
      const started = Date.now();
      const snapPath = nextcloudPath(req.path);
      this.#step(req.profileId, `Reading ${req.path} in the snapshot…`);
      const ls = await runChecked(t.conn, b.ls(req.snapshotId, snapPath, true), words('backups.not-found', (why) => `Could not read the snapshot: ${why}`, 'Choose a snapshot from the list.', 'snapshotId'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
      const nodes = parseLs(ls.stdout);
      const node = nodes.find((n) => n.path === snapPath);
      if (!node || (node.type !== 'file' && node.type !== 'dir')) {
        throw new AppError('backups.not-found', `What to restore: “${req.path.slice(0, 200)}” is not in snapshot ${req.snapshotId.slice(0, 8)}.`, { field: 'path', hint: 'Choose a file or folder from the snapshot’s list.' });
      }
      const expected = filesAtOrBelow(nodes, snapPath);
      const { owner, mode } = ownerAndMode(ls.stdout, snapPath);
      const dataDir = path.posix.join(nextcloudDirs(settings).html, 'data');
      const place = placeOf(dataDir, req.path);
      const kept = keptName(place.name, node.type === 'dir', this.#now());

      this.#step(req.profileId, 'Putting Nextcloud in maintenance mode…');
      await this.#occ(t, c, ['maintenance:mode', '--on'], 'could not put Nextcloud in maintenance mode');
      let r: ExecResult;
      const inPlace = c.inPlace(dataDir, req.path, kept, req.snapshotId, snapPath, node.type, expected, owner, mode);
      try {
        this.#step(req.profileId, `Restoring ${req.path} in place…`);
        r = await t.conn.exec(inPlace, { timeoutMs: LONG_TIMEOUT_MS });
      } finally {
        this.#step(req.profileId, 'Taking Nextcloud out of maintenance mode…');
        await this.#occ(t, c, ['maintenance:mode', '--off'], 'could not take Nextcloud out of maintenance mode; run “occ maintenance:mode --off” in its container');
      }
      if (r.code === EXIT_NO_PARENT) {
        throw new AppError('backups.not-found', `What to restore: its folder ${place.parent} is not there any more, so it cannot go back in place.`, { field: 'path', hint: 'Restore that folder in place instead, or restore into a new folder.' });
      }
      if (r.code === EXIT_COUNT_MISMATCH) {
        const m = parseMarker(r.stdout, 'm2-inplace');
        const got = m?.files ?? 0;
        throw new AppError(got === 0 && expected > 0 ? 'backups.restored-nothing' : 'backups.failed', `restic restored ${got} of the ${expected} files of ${req.path.slice(0, 200)}, so nothing in place was changed.`, {
          hint: 'Check the server’s free disk space, then try again, or restore into a new folder.',
        });
      }
      if (r.code === EXIT_ASIDE_EXISTS) {
        throw new AppError('backups.target-exists', `What to restore: ${path.posix.join(place.parent, kept)} exists already, so what is there now could not be kept aside. Nothing was changed.`, { field: 'path', hint: 'Try again in a second.' });
      }
      checkExit(
        inPlace,
        r,
        { code: 'backups.failed', message: (why) => `The restore in place failed: ${why}. What was there before is still in place.`, hint: 'Check the server’s free disk space, then try again.' },
        { redact: (text) => redactAll(text, t) },
      );
      const m = parseMarker(r.stdout, 'm2-inplace');
      this.#step(req.profileId, `Rescanning ${scanPath} in Nextcloud…`);
      const scanR = await t.conn.exec(c.occ('files:scan', `--path=${scanPath}`), { timeoutMs: LONG_TIMEOUT_MS });
      const scan = parseFilesScan(scanR.stdout);
      if (scanR.code !== 0 || scan.problem || (scan.errors ?? 0) > 0 || scan.files === null) {
        throw new AppError('backups.failed', `${req.path.slice(0, 200)} is back in place, but Nextcloud’s rescan failed: ${scan.problem ?? (this.#said(t, scanR.stderr || scanR.stdout) || `exit ${String(scanR.code)}`)}`, {
          hint: `Nextcloud shows the file once it is rescanned: run “occ files:scan --path=${scanPath}” in its container.`,
        });
      }
      this.#deps.log.info('restore in place', { profileId: req.profileId, files: m?.files ?? 0, kept: m?.kept === 1 });
      return {
        restoredPath: place.full,
        keptAs: m?.kept === 1 ? path.posix.join(place.parent, kept) : null,
        filesExpected: expected,
        filesRestored: m?.files ?? 0,
        scan: { path: scanPath, folders: scan.folders, files: scan.files },
        durationMs: Date.now() - started,
      };
    });
  }

  /** What a whole restore of the service from this snapshot would do; nothing changes. */
  async plan(req: ServiceRestoreRequest): Promise<ServiceRestorePlan> {
    const d = serviceDefinitions[req.service];
    const { t, settings } = await this.#installed(req.profileId, d.stops.slice(0, 1));
    // First: an unfinished restore may have left the backup container (which reads the snapshot) stopped.
    if ((await this.#unfinished(t, settings)).some((u) => u.service === d.service)) throw unfinishedError(restorableServiceTitle[d.service]);
    return this.#plan(t, settings, d, req.snapshotId);
  }

  async #plan(t: LogsTarget, settings: StackSettings, d: ServiceDefinition, snapshotId: string): Promise<ServiceRestorePlan> {
    return (await this.#planWithOwners(t, settings, d, snapshotId)).plan;
  }

  /** The plan, and each folder's owner and mode as the snapshot has them (restic does not give them to a restore's target). */
  async #planWithOwners(t: LogsTarget, settings: StackSettings, d: ServiceDefinition, snapshotId: string): Promise<{ plan: ServiceRestorePlan; owners: Map<string, { owner: string; mode: string }> }> {
    const b = backupCommands(t.access, t.files);
    const c = restoreCommands(t.access, t.files);
    const title = restorableServiceTitle[d.service];
    if (!d.enabled(settings)) throw new AppError('backups.not-found', `Service: ${title} is not part of this server’s stack.`, { field: 'service', hint: 'Choose a service that is installed.' });
    const snaps = await runChecked(t.conn, b.snapshots(), words('backups.failed', (why) => `Could not list the snapshots: ${why}`, 'Check that the backup service runs (Logs page), then look again.'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
    const snapshot = parseSnapshots(snaps.stdout).find((s) => s.id === snapshotId || s.id.startsWith(snapshotId));
    if (!snapshot) throw new AppError('backups.not-found', `Snapshot: ${snapshotId.slice(0, 8)} is not in the repository.`, { field: 'snapshotId', hint: 'Choose a snapshot from the list.' });
    const paths = [...d.folders.map((f) => f.snapshotPath), ...(d.database ? [`/m2/dumps/${d.database.name}.sql`] : [])];
    const nodes = [];
    const owners = new Map<string, { owner: string; mode: string }>();
    for (const p of paths) {
      const r = await t.conn.exec(b.ls(snapshot.id, p, true), { timeoutMs: LONG_TIMEOUT_MS });
      nodes.push(...(r.code === 0 ? parseLs(r.stdout) : []));
      if (r.code === 0) owners.set(p, ownerAndMode(r.stdout, p));
    }
    const missing = missingFromSnapshot(d, nodes);
    if (missing) throw new AppError('backups.not-found', `Snapshot: ${missing}.`, { field: 'snapshotId', hint: 'Choose a snapshot taken while the service was installed.' });
    const moduleDir = moduleDirOf(settings, d);
    const df = await t.conn.exec(c.df(moduleDir), { timeoutMs: READ_TIMEOUT_MS });
    const free = df.code === 0 ? freeOfDf(df.stdout) : null;
    if (free === null) throw new AppError('backups.failed', `Could not read the free space of ${moduleDir}: ${this.#said(t, df.stderr || df.stdout) || `exit ${String(df.code)}`}. Nothing was changed.`, { hint: 'Check that the folder exists on the server, then try again.' });
    return { plan: servicePlan({ definition: d, settings, snapshot, nodes, releaseServices: t.services, freeBytes: free, headroom: this.#deps.headroom ?? RESTORE_HEADROOM }), owners };
  }

  /** The whole service back from the snapshot, by the plan; the data from before is put back if any step fails. */
  async restoreService(req: ServiceRestoreRequest): Promise<ServiceRestoreResult> {
    const d = serviceDefinitions[req.service];
    const title = restorableServiceTitle[d.service];
    return this.#exclusive(req.profileId, `a restore of ${title}`, async () => {
      const { t, settings } = await this.#installed(req.profileId, d.stops.slice(0, 1));
      const started = Date.now();
      // First: an unfinished restore may have left the backup container (which reads the snapshot) stopped.
      if ((await this.#unfinished(t, settings)).some((u) => u.service === d.service)) throw unfinishedError(title);
      const { plan, owners } = await this.#planWithOwners(t, settings, d, req.snapshotId);
      if (!plan.space.enough) throw new AppError('backups.no-room', `Free space: ${plan.space.words}`, { hint: 'Free space on the server’s disk, then try again.' });
      const c = restoreCommands(t.access, t.files);
      const moduleDir = moduleDirOf(settings, d);
      const names = swappedNames(d);
      const { database, rest } = startsOf(d, plan.stops);
      const done: Array<{ name: string; detail: string }> = [];
      const say = (text: string): void => this.#step(req.profileId, text);
      const run = async (argv: readonly string[], timeoutMs: number): Promise<ExecResult> => t.conn.exec(argv, { timeoutMs });

      // 1. The snapshot's copy beside the live folders, while the service still runs: nothing live changes yet.
      say(`Restoring ${title}’s data from snapshot ${plan.snapshotId.slice(0, 8)} beside the current one…`);
      const folders = d.folders.map((f) => ({ name: f.name, snapshotPath: f.snapshotPath, ...(owners.get(f.snapshotPath) ?? { owner: '0:0', mode: '755' }) }));
      const prep = await run(c.prepare(moduleDir, plan.snapshotId, d.database?.name ?? '', folders), LONG_TIMEOUT_MS);
      const prepFailed = prep.code !== 0 ? this.#said(t, prep.stderr || prep.stdout) || `exit ${String(prep.code)}` : null;
      const counts = d.folders.map((f, i) => ({ f, got: parseMarker(prep.stdout, `m2-prepared-${f.name}`)?.files ?? 0, want: plan.folders[i]?.files ?? 0 }));
      const short = counts.find((x) => x.got !== x.want);
      if (prepFailed || short) {
        // Only the copies: nothing live has moved, and an aside found here is an earlier restore's, not this one's.
        await run(c.discard(moduleDir, names), LONG_TIMEOUT_MS).catch(() => undefined);
        const why = prepFailed ?? `restic restored ${short?.got ?? 0} of the ${short?.want ?? 0} files of ${short?.f.snapshotPath ?? ''}`;
        throw new AppError('backups.restore-failed', `The restore of ${title} failed before anything was stopped: ${why}. Nothing was changed and ${title} still runs.`, {
          hint: 'Check the server’s free disk space and the snapshot (run a restore drill), then try again.',
        });
      }
      done.push({ name: 'Restored beside', detail: counts.map((x) => `${x.got} files of ${x.f.snapshotPath}`).join(', ') + (d.database ? `, the ${d.database.name} database dump (complete)` : '') });

      // From here on, a failing step puts the data from before back.
      const putBack = async (step: string, said: string): Promise<never> => {
        const why = said.replace(/[.\s]+$/, '');
        say(`The restore failed while ${step}; putting the data from before back…`);
        this.#deps.log.warn('service restore failed, putting back', { profileId: req.profileId, service: d.service, step });
        const back = await this.#putBack(t, c, d, moduleDir, names, plan.stops).catch((err: unknown) => ({ healthy: false, detail: errorWords(err) }));
        throw new AppError(
          'backups.restore-failed',
          back.healthy
            ? `The restore of ${title} failed while ${step}: ${why}. The data from before is back in place and ${title} runs again.`
            : `The restore of ${title} failed while ${step}: ${why}. Putting the data from before back did not finish: ${back.detail}`,
          { hint: back.healthy ? 'Check the snapshot with a restore drill, then try again.' : `The data from before is kept in ${moduleDir} (${names.map((n) => n + ASIDE_SUFFIX).join(', ')}); use “Put back the data from before” on the Backups page.` },
        );
      };
      /** `handled` may take a failure first (true: taken); any other failure puts back. */
      const step = async (what: string, argv: readonly string[], timeoutMs: number, handled?: (r: ExecResult) => Promise<boolean>): Promise<ExecResult> => {
        let r: ExecResult;
        try {
          r = await run(argv, timeoutMs);
        } catch (err) {
          return putBack(what, errorWords(err));
        }
        if (r.code !== 0 && handled && (await handled(r))) return r;
        if (r.code !== 0) return putBack(what, this.#said(t, r.stderr || r.stdout) || `exit ${String(r.code)}`);
        return r;
      };

      say(`Stopping ${plan.stops.join(', ')}…`);
      await step(`stopping ${title}`, c.stop(plan.stops), READ_TIMEOUT_MS);
      done.push({ name: 'Stopped', detail: plan.stops.join(', ') });
      say('Moving the current data aside and the restored data in place…');
      const swapArgv = c.swap(moduleDir, plan.snapshotId, this.#now().toISOString(), d.database?.folder ?? '', d.folders.map((f) => f.name));
      await step('moving the folders', swapArgv, READ_TIMEOUT_MS, async (r) => {
        if (r.code !== EXIT_ASIDE_EXISTS) return false;
        // Refused before its journal and before anything moved: the asides there are an earlier restore's, so putting
        // back would move them over the live data. Only the services start again.
        say(`An earlier restore’s data is still kept aside; starting ${plan.stops.join(', ')} again…`);
        await run(c.discard(moduleDir, names), LONG_TIMEOUT_MS).catch(() => undefined);
        const up = await run(c.up([...(database ? [database] : []), ...rest]), UP_TIMEOUT_MS).catch((err: unknown) => ({ code: -1, stdout: '', stderr: errorWords(err) }) as ExecResult);
        throw new AppError(
          'backups.restore-failed',
          `The restore of ${title} did not start: ${this.#said(t, r.stderr || r.stdout) || `exit ${String(r.code)}`}. Nothing was changed` +
            (up.code === 0 ? ` and ${title} runs again.` : `, but ${title} did not start again: ${this.#said(t, up.stderr || up.stdout) || `exit ${String(up.code)}`}.`),
          { hint: `Look at ${names.map((n) => path.posix.join(moduleDir, n + ASIDE_SUFFIX)).join(', ')}: data kept from an earlier restore. Remove it by hand once you are sure it is not needed, then try again.` },
        );
      });
      done.push({ name: 'Swapped', detail: `the data from before kept as ${names.map((n) => path.posix.join(moduleDir, n + ASIDE_SUFFIX)).join(', ')}` });
      if (d.database && database) {
        say(`Starting a fresh ${title} database…`);
        await step('starting a fresh database', c.up([database]), UP_TIMEOUT_MS);
        say(`Loading the ${title} database dump…`);
        await step('loading the database dump', c.loadDump(d.database.dumpService, d.database.name), LONG_TIMEOUT_MS);
        done.push({ name: 'Database', detail: `a fresh ${d.database.name} database loaded from the snapshot’s dump (${plan.database?.dumpBytes ?? 0} bytes)` });
      }
      say(`Starting ${rest.join(', ')} and waiting until they are healthy…`);
      await step(`starting ${title} again`, c.up(rest), UP_TIMEOUT_MS);
      done.push({ name: 'Healthy', detail: `${plan.stops.join(', ')} started and healthy` });
      say('Removing the data from before…');
      const fin = await run(c.finish(moduleDir, names), LONG_TIMEOUT_MS).catch((err: unknown) => ({ code: -1, stdout: '', stderr: errorWords(err) }) as ExecResult);
      done.push({
        name: 'Finished',
        detail:
          fin.code === 0
            ? 'the data from before removed'
            : `the data from before could not all be removed (${this.#said(t, fin.stderr) || `exit ${String(fin.code)}`}); remove ${[...names.map((n) => n + ASIDE_SUFFIX), JOURNAL].map((n) => path.posix.join(moduleDir, n)).join(', ')} by hand. Until then the restore shows as unfinished and no new restore of ${title} runs`,
      });
      this.#deps.log.info('service restore', { profileId: req.profileId, service: d.service });
      return { service: d.service, snapshotId: plan.snapshotId, steps: done, healthy: true, durationMs: Date.now() - started };
    });
  }

  /** Whole-service restores that stopped half-way: their journal is still on the server. */
  async unfinished(profileId: string): Promise<UnfinishedRestore[]> {
    const settings = await this.#deps.settings(profileId);
    const t = await this.#deps.target(profileId);
    if (!t.services.includes(backupServiceName)) return [];
    return this.#unfinished(t, settings);
  }

  async #unfinished(t: LogsTarget, settings: StackSettings): Promise<UnfinishedRestore[]> {
    const defs = Object.values(serviceDefinitions).filter((d) => d.enabled(settings));
    const journals = defs.map((d) => path.posix.join(moduleDirOf(settings, d), JOURNAL));
    const r = await runChecked(t.conn, restoreCommands(t.access, t.files).journals(journals), words('backups.failed', (why) => `Could not look for unfinished restores: ${why}`, 'Try again.'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
    const found = splitJournals(r.stdout);
    const out: UnfinishedRestore[] = [];
    defs.forEach((d, i) => {
      const text = found.get(journals[i] ?? '');
      const j = text === undefined ? null : parseJournal(text);
      if (text !== undefined) {
        out.push({
          service: d.service,
          snapshotId: j?.snapshotId ?? 'unknown',
          startedAt: j?.startedAt ?? 'unknown',
          keptAside: swappedNames(d).map((n) => path.posix.join(moduleDirOf(settings, d), n + ASIDE_SUFFIX)),
        });
      }
    });
    return out;
  }

  /** An unfinished restore undone: the service stopped, the data from before put back, started and waited for. */
  async putBack(req: PutBackRequest): Promise<PutBackResult> {
    const d = serviceDefinitions[req.service];
    const title = restorableServiceTitle[d.service];
    return this.#exclusive(req.profileId, `putting ${title}’s data back`, async () => {
      const { t, settings } = await this.#installed(req.profileId, d.stops.slice(0, 1));
      if (!(await this.#unfinished(t, settings)).some((u) => u.service === d.service)) {
        throw new AppError('backups.not-found', `Service: no unfinished restore of ${title} is on the server.`, { field: 'service', hint: 'Look again: the page lists unfinished restores.' });
      }
      this.#step(req.profileId, `Putting ${title}’s data from before back…`);
      const r = await this.#putBack(t, restoreCommands(t.access, t.files), d, moduleDirOf(settings, d), swappedNames(d), [...d.stops, backupServiceName].filter((s) => t.services.includes(s)));
      return { service: d.service, ...r };
    });
  }

  /** Stop, put back, start (database first) and wait. Throws only when putting back itself fails. */
  async #putBack(t: LogsTarget, c: RestoreCommands, d: ServiceDefinition, moduleDir: string, names: readonly string[], stops: readonly string[]): Promise<{ healthy: boolean; detail: string }> {
    await t.conn.exec(c.stop(stops), { timeoutMs: READ_TIMEOUT_MS });
    await runChecked(t.conn, c.back(moduleDir, names), { code: 'backups.restore-failed', message: (why) => `moving the data from before back failed: ${why}`, hint: 'The data from before is still kept aside on the server: the Backups page lists the unfinished restore, with “Put back the data from before”.' }, { redact: (text) => redactAll(text, t), exec: { timeoutMs: LONG_TIMEOUT_MS } });
    const { database, rest } = startsOf(d, stops);
    const up = await t.conn.exec(c.up([...(database ? [database] : []), ...rest]), { timeoutMs: UP_TIMEOUT_MS });
    return up.code === 0
      ? { healthy: true, detail: `the data from before is back and ${stops.join(', ')} run again` }
      : { healthy: false, detail: `the data from before is back, but ${restorableServiceTitle[d.service]} did not come back healthy: ${this.#said(t, up.stderr || up.stdout)}` };
  }

  async #occ(t: LogsTarget, c: RestoreCommands, args: string[], what: string): Promise<void> {
    await runChecked(t.conn, c.occ(...args), words('backups.failed', (why) => `Nextcloud: ${what}: ${why}`, 'Check that Nextcloud runs (Logs page), then try again.'), { ...this.#mask(t), exec: { timeoutMs: READ_TIMEOUT_MS } });
  }

  async #installed(profileId: string, needs: readonly string[]): Promise<{ t: LogsTarget; settings: StackSettings }> {
    const settings = await this.#deps.settings(profileId);
    if (!settings.modules.backup.enabled) throw new AppError('backups.disabled', 'Backups are turned off in this server’s stack settings.', { hint: 'Turn them on in Setup → Services & storage and install again.' });
    const t = await this.#deps.target(profileId);
    for (const s of [backupServiceName, ...needs]) {
      if (!t.services.includes(s)) throw new AppError('stack.not-installed', `${s === backupServiceName ? 'The backup service' : s} is not installed on this server.`, { hint: 'Install the stack from Setup first.' });
    }
    return { t, settings };
  }

  #mask(t: LogsTarget): { redact: (text: string) => string } {
    return { redact: (text) => redactAll(text, t) };
  }

  #said(t: LogsTarget, text: string): string {
    return lastLines(redactAll(text, t), 3);
  }
}

const unfinishedError = (title: string): AppError =>
  new AppError('backups.restore-unfinished', `An earlier restore of ${title} did not finish; its data from before is still kept aside on the server.`, {
    field: 'service',
    hint: 'Put that data back first (“Put back the data from before” on this page), then restore again.',
  });

const errorWords = (err: unknown): string => (err instanceof AppError ? err.userMessage : err instanceof Error ? err.message : String(err));

const words = (code: FailureWords['code'], message: (why: string) => string, hint: string, field?: string): FailureWords => ({ code, message, hint, ...(field ? { field } : {}) });

function redactAll(text: string, t: LogsTarget): string {
  const r = new LineRedactor(t.secrets);
  return [...r.push(text), ...r.end()].map((l) => l.text).join('\n');
}

