import { describe, expect, it } from 'vitest';
import type { BackupProgress } from '../../contract/backups';
import { ServiceRestoreRun } from '../../contract/restores';
import { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';
import type { ExecResult } from '../ssh/runner';
import { EXIT_COUNT_MISMATCH } from './restore-commands';
import { RestoresService } from './restores-service';
import { remoteFacts } from '../ssh/remote-command';
import { ServerOperations } from '../server-operations';

/**
 * The restores' decisions against a scripted server (the lab test runs them against real Docker and restic): the
 * order of the steps, what a failing step puts back, what a cut connection leaves, and what runs before nothing may.
 */
const files = { project: 'm2', projectDir: '/srv/m2', dir: '/srv/m2/releases/r1', envFiles: [] };
const PASSWORD = 'hunter2-very-secret';
const SERVICES = ['backup', 'nextcloud', 'nextcloud-cron', 'nextcloud-db', 'nextcloud-db-dump', 'nextcloud-redis', 'jellyfin'];
const SNAP = '0123abcd'.repeat(8);
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const node = (p: string, type: string, size = 0) => JSON.stringify({ name: p.split('/').at(-1), type, path: p, size, uid: 33, gid: 33, mode: 0o644, struct_type: 'node' });
const snapshots = JSON.stringify([{ id: SNAP, short_id: SNAP.slice(0, 8), time: '2026-12-05T03:30:00Z', paths: ['/m2/dumps', '/source'], hostname: 'm2-server', tags: ['m2'] }]);
const DF = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100000000 1000 99999000 1% /\n';
const DUMP = '--\n-- PostgreSQL database dump\n--\n--\n-- PostgreSQL database dump complete\n--\n';

/** Which step an argv is, by what only that step's argv holds. */
function stepOf(argv: Argv): string {
  const a = argv.join(' ');
  if (argv.includes('m2-service-restore')) return argv[argv.indexOf('m2-service-restore') + 1] ?? '?';
  if (argv.includes('m2-in-place')) return 'in-place';
  if (argv.includes('m2-journals')) return 'journals';
  if (a.includes(' psql ')) return 'load-dump';
  if (a.includes('restic snapshots')) return 'snapshots';
  if (a.includes('restic ls')) return `ls ${argv.at(-1) ?? ''}`;
  if (argv[0] === 'df') return 'df';
  if (a.includes(' occ ')) return `occ ${argv.slice(argv.indexOf('--no-interaction') + 1).join(' ')}`;
  if (a.includes(' stop ')) return `stop ${argv.slice(argv.indexOf('--') + 1).join(',')}`;
  if (a.includes(' up ')) return `up ${argv.slice(argv.indexOf('--') + 1).join(',')}`;
  return a;
}

type Answer = ExecResult | Error | ((n: number) => ExecResult | Error);

function service(answers: Record<string, Answer> = {}, operations?: ServerOperations) {
  const ran: string[] = [];
  const argvs: Argv[] = [];
  const events: BackupProgress[] = [];
  const seen = new Map<string, number>();
  const s = new RestoresService({
    target: async () => ({
      conn: {
        exec: async (argv: Argv) => {
          const step = stepOf(argv);
          ran.push(step);
          argvs.push(argv);
          const n = (seen.get(step) ?? 0) + 1;
          seen.set(step, n);
          const given = answers[step];
          const a = typeof given === 'function' ? given(n) : given;
          if (a instanceof Error) throw a;
          if (a) return a;
          if (step === 'snapshots') return ok(snapshots);
          if (step === 'ls /source/nextcloud') return ok([node('/source/nextcloud', 'dir'), node('/source/nextcloud/data', 'dir'), node('/source/nextcloud/data/a.txt', 'file', 10), node('/source/nextcloud/config.php', 'file', 100)].join('\n'));
          if (step === 'ls /m2/dumps/nextcloud.sql') return ok(node('/m2/dumps/nextcloud.sql', 'file', DUMP.length));
          if (step === 'ls /source/jellyfin-config') return ok([node('/source/jellyfin-config', 'dir'), node('/source/jellyfin-config/system.xml', 'file', 5)].join('\n'));
          if (step === 'df') return ok(DF);
          if (step === 'prepare') return ok(`m2-prepared-html files=2\nm2-prepared-config files=1\nm2-dump bytes=${DUMP.length}\n`);
          return ok();
        },
      },
      access: 'group',
      files,
      releaseId: 'r1',
      services: SERVICES,
      secrets: [new Secret(PASSWORD)],
    }),
    settings: async () => StackSettings.parse({ dataRoot: '/srv/data', modules: { nextcloud: { enabled: true } } }),
    exclusive: (_p, _w, f) => f(),
    ...(operations ? { operations } : {}),
    emit: (e) => events.push(e),
    log: silentLogger,
    now: () => new Date('2026-12-05T05:31:07Z'),
  });
  return { s, ran, argvs, events };
}

const appError = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
};

const READS = ['snapshots', 'ls /source/nextcloud', 'ls /m2/dumps/nextcloud.sql', 'df'];
const STOPS = 'nextcloud-cron,nextcloud,nextcloud-db-dump,nextcloud-db,backup';
const req = { profileId: 'home', snapshotId: SNAP, service: 'nextcloud' as const };

describe('whole-service restore', () => {
  it('plans without changing anything: what stops, what moves, the dump, the free space', async () => {
    const { s, ran } = service();
    const plan = await s.plan(req);
    expect(ran).toEqual(['journals', ...READS]);
    expect(plan.stops).toEqual(STOPS.split(','));
    expect(plan.folders).toEqual([{ serverPath: '/srv/data/nextcloud/html', snapshotPath: '/source/nextcloud', files: 2, bytes: 110 }]);
    expect(plan.database).toEqual({ name: 'nextcloud', dumpBytes: DUMP.length });
    expect(plan.space.enough).toBe(true);
    expect(plan.steps.at(-1)).toMatch(/If any step fails, it is put back instead and Nextcloud is started again/);
  });

  it('restores beside the live data first, then stops, swaps, loads a fresh database, starts and only then removes the data from before', async () => {
    const { s, ran } = service();
    const r = await s.restoreService(req);
    expect(r.healthy).toBe(true);
    expect(ran).toEqual(['journals', ...READS, 'prepare', `stop ${STOPS}`, 'swap', 'up nextcloud-db', 'load-dump', 'up backup,nextcloud-db-dump,nextcloud,nextcloud-cron', 'finish']);
    expect(r.steps.map((x) => x.name)).toEqual(['Restored beside', 'Stopped', 'Swapped', 'Database', 'Healthy', 'Finished']);
  });

  it('a dump that fails to load puts the data from before back and starts the service again, and says so', async () => {
    const { s, ran } = service({ 'load-dump': { code: 3, stdout: '', stderr: `psql:/m2/dumps/nextcloud.sql.tmp-restore:12: ERROR:  syntax error at or near "SELEC" (password ${PASSWORD})` } });
    const err = await appError(s.restoreService(req));
    expect(err.code).toBe('backups.restore-failed');
    expect(err.userMessage).toMatch(/^The restore of Nextcloud failed while loading the database dump: .*syntax error at or near "SELEC".*\. The data from before is back in place and Nextcloud runs again\.$/);
    expect(err.userMessage).not.toContain(PASSWORD);
    expect(ran.slice(ran.indexOf('load-dump'))).toEqual(['load-dump', `stop ${STOPS}`, 'back', 'up nextcloud-db,backup,nextcloud-db-dump,nextcloud,nextcloud-cron']);
    expect(ran).not.toContain('finish');
  });

  it('a service that does not come back healthy is put back too', async () => {
    const { s, ran } = service({ 'up backup,nextcloud-db-dump,nextcloud,nextcloud-cron': (n) => (n === 1 ? { code: 1, stdout: '', stderr: 'container m2-nextcloud-1 is unhealthy' } : ok()) });
    const err = await appError(s.restoreService(req));
    expect(err.userMessage).toMatch(/failed while starting Nextcloud again: container m2-nextcloud-1 is unhealthy\. The data from before is back/);
    expect(ran.slice(-3)).toEqual([`stop ${STOPS}`, 'back', 'up nextcloud-db,backup,nextcloud-db-dump,nextcloud,nextcloud-cron']);
  });

  it('a connection cut mid-restore: putting back runs when the connection answers again; when it cannot, the data stays aside and the page says where', async () => {
    const cut = new AppError('ssh.disconnected', 'The connection closed while docker ran.');
    const redialled = service({ swap: cut });
    const e1 = await appError(redialled.s.restoreService(req));
    expect(e1.userMessage).toMatch(/failed while moving the folders: The connection closed while docker ran\. The data from before is back in place/);
    expect(redialled.ran.slice(-3)).toEqual([`stop ${STOPS}`, 'back', 'up nextcloud-db,backup,nextcloud-db-dump,nextcloud,nextcloud-cron']);

    const gone = service({ 'load-dump': cut, [`stop ${STOPS}`]: (n) => (n === 1 ? ok() : cut) });
    const e2 = await appError(gone.s.restoreService(req));
    expect(e2.userMessage).toMatch(/Putting the data from before back did not finish: The connection closed/);
    expect(e2.hint).toBe('The data from before is kept in /srv/data/nextcloud (html.m2-before-restore, db.m2-before-restore); use “Put back the data from before” on the Backups page.');
    expect(gone.ran).not.toContain('back');
  });

  it('a short copy fails before anything is stopped, and nothing live changes', async () => {
    const { s, ran } = service({ prepare: ok('m2-prepared-html files=1\nm2-dump bytes=10\n') });
    const err = await appError(s.restoreService(req));
    expect(err.userMessage).toBe('The restore of Nextcloud failed before anything was stopped: restic restored 1 of the 2 files of /source/nextcloud. Nothing was changed and Nextcloud still runs.');
    // Only the copies are removed: an aside found now would be an earlier restore's, and back would move it over the live data.
    expect(ran.slice(-2)).toEqual(['prepare', 'discard']);
    expect(ran.some((r) => r.startsWith('stop'))).toBe(false);
  });

  it('is refused while an install holds the server, and an install while the restore runs; nothing runs on the server', async () => {
    const ops = new ServerOperations();
    let release = (): void => undefined;
    const installing = ops.exclusive('home', 'an install', 'stack.busy', () => new Promise<void>((r) => (release = r)));
    const { s, ran } = service({}, ops);
    const e1 = await appError(s.restoreService(req));
    expect(e1).toMatchObject({ code: 'backups.busy', userMessage: 'An install is running on this server, so a restore of Nextcloud cannot start now.' });
    expect(await appError(s.putBack({ profileId: 'home', service: 'nextcloud' }))).toMatchObject({ code: 'backups.busy' });
    expect(ran).toEqual([]);
    release();
    await installing;

    let stopped = (): void => undefined;
    const held = new Promise<void>((r) => (stopped = r));
    const slow = service({ [`stop ${STOPS}`]: () => (stopped(), ok()) }, ops);
    const restoring = slow.s.restoreService(req);
    await held;
    const e2 = await appError(ops.exclusive('home', 'an install', 'stack.busy', async () => undefined));
    expect(e2.userMessage).toBe('A restore of Nextcloud is running on this server, so an install cannot start now.');
    expect((await restoring).healthy).toBe(true);
    expect(ops.running('home')).toBeNull();
  });

  it('a failed prepare removes only the copies, never puts back', async () => {
    const { s, ran } = service({ prepare: { code: 1, stdout: '', stderr: 'Fatal: unable to open repository' } });
    const err = await appError(s.restoreService(req));
    expect(err.userMessage).toMatch(/failed before anything was stopped: Fatal: unable to open repository\. Nothing was changed/);
    expect(ran.slice(-2)).toEqual(['prepare', 'discard']);
    expect(ran).not.toContain('back');
  });

  it('a swap refused over an earlier restore’s aside (exit 17) starts the services again without putting back', async () => {
    const { s, ran } = service({ swap: { code: 17, stdout: '', stderr: 'm2: html.m2-before-restore is there from an earlier restore' } });
    const err = await appError(s.restoreService(req));
    expect(err.code).toBe('backups.restore-failed');
    expect(err.userMessage).toBe('The restore of Nextcloud did not start: m2: html.m2-before-restore is there from an earlier restore. Nothing was changed and Nextcloud runs again.');
    expect(err.hint).toMatch(/^Look at \/srv\/data\/nextcloud\/html\.m2-before-restore, \/srv\/data\/nextcloud\/db\.m2-before-restore: data kept from an earlier restore/);
    expect(ran.slice(ran.indexOf('swap'))).toEqual(['swap', 'discard', 'up nextcloud-db,backup,nextcloud-db-dump,nextcloud,nextcloud-cron']);
    expect(ran).not.toContain('back');
  });

  it('a finish that could not remove the data from before says so, and that the restore stays listed until it is removed', async () => {
    const { s } = service({ finish: { code: 1, stdout: 'm2-finished rc=1', stderr: 'rm: cannot remove html.m2-before-restore/x: Device or resource busy' } });
    const r = await s.restoreService(req);
    expect(r.healthy).toBe(true);
    expect(r.steps.at(-1)?.detail).toMatch(/^the data from before could not all be removed \(rm: cannot remove .*busy\); remove \/srv\/data\/nextcloud\/html\.m2-before-restore, .*\/srv\/data\/nextcloud\/\.m2-service-restore by hand/);
  });

  it('refuses without room, and over an unfinished earlier restore, before changing anything', async () => {
    const small = service({ df: ok('Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 900 100 90% /srv\n') });
    const e1 = await appError(small.s.restoreService(req));
    expect(e1.code).toBe('backups.no-room');
    expect(e1.userMessage).toMatch(/^Free space: not enough free space to restore Nextcloud: it needs 1\.0 GiB/);
    expect(small.ran).toEqual(['journals', ...READS]);

    const earlier = service({ journals: ok('== /srv/data/nextcloud/.m2-service-restore\nsnapshot=ab\nstarted=2026-12-04T01:00:00Z\n') });
    const e2 = await appError(earlier.s.restoreService(req));
    expect(e2).toMatchObject({ code: 'backups.restore-unfinished', field: 'service' });
    // Before reading the snapshot: the cut may have left the backup container stopped.
    expect(earlier.ran).toEqual(['journals']);
    expect(await appError(earlier.s.plan(req))).toMatchObject({ code: 'backups.restore-unfinished' });
    expect(await earlier.s.unfinished('home')).toEqual([{ service: 'nextcloud', snapshotId: 'ab', startedAt: '2026-12-04T01:00:00Z', keptAside: ['/srv/data/nextcloud/html.m2-before-restore', '/srv/data/nextcloud/db.m2-before-restore'] }]);
    const back = await earlier.s.putBack({ profileId: 'home', service: 'nextcloud' });
    expect(back).toMatchObject({ service: 'nextcloud', healthy: true });
    expect(earlier.ran.slice(-3)).toEqual([`stop ${STOPS}`, 'back', 'up nextcloud-db,backup,nextcloud-db-dump,nextcloud,nextcloud-cron']);
  });

  it('Jellyfin: only its config folder, no database step', async () => {
    const { s, ran } = service();
    await s.restoreService({ ...req, service: 'jellyfin' });
    expect(ran).toEqual(['journals', 'snapshots', 'ls /source/jellyfin-config', 'df', 'prepare', 'stop jellyfin,backup', 'swap', 'up backup,jellyfin', 'finish']);
  });

  it('runs only after the admin confirmed the plan (the contract)', () => {
    expect(ServiceRestoreRun.safeParse(req).error?.issues[0]?.message).toBe('Restore whole service: confirm the plan first.');
    expect(ServiceRestoreRun.safeParse({ ...req, service: 'nextcloud; rm -rf /' }).error?.issues[0]?.message).toBe('Service: choose Nextcloud, Authentik or Jellyfin.');
    expect(ServiceRestoreRun.safeParse({ ...req, confirmed: true }).success).toBe(true);
  });
});

describe('restore in place', () => {
  const ls = ok([node('/source/nextcloud/data/admin/files/notes.txt', 'file', 12)].join('\n'));
  const SCAN = '| Folders | Files | New | Updated | Removed | Errors | Elapsed time |\n| 1 | 2 | 1 | 0 | 0 | 0 | 00:00:00 |\n';

  it('maintenance on, restore, maintenance off, then files:scan of the item’s folder', async () => {
    const { s, ran, argvs } = service({ 'ls /source/nextcloud/data/admin/files/notes.txt': ls, 'in-place': ok('m2-inplace files=1 kept=1\n'), 'occ files:scan --path=/admin/files': ok(SCAN) });
    const r = await s.inPlace({ profileId: 'home', snapshotId: SNAP, path: 'admin/files/notes.txt' });
    expect(ran).toEqual(['ls /source/nextcloud/data/admin/files/notes.txt', 'occ maintenance:mode --on', 'in-place', 'occ maintenance:mode --off', 'occ files:scan --path=/admin/files']);
    expect(r).toMatchObject({ restoredPath: '/srv/data/nextcloud/html/data/admin/files/notes.txt', keptAs: '/srv/data/nextcloud/html/data/admin/files/notes (before restore 2026-12-05 05.31.07).txt', filesRestored: 1, scan: { path: '/admin/files', folders: 1, files: 2 } });
    expect(argvs[2]?.slice(-8)).toEqual(['admin/files/notes.txt', 'notes (before restore 2026-12-05 05.31.07).txt', SNAP, '/source/nextcloud/data/admin/files/notes.txt', 'file', '1', '33:33', '644']);
  });

  it('takes Nextcloud out of maintenance mode even when the restore fails, and says nothing in place changed', async () => {
    const { s, ran } = service({ 'ls /source/nextcloud/data/admin/files/notes.txt': ls, 'in-place': { code: EXIT_COUNT_MISMATCH, stdout: 'm2-inplace files=0 kept=0\n', stderr: '' } });
    const err = await appError(s.inPlace({ profileId: 'home', snapshotId: SNAP, path: 'admin/files/notes.txt' }));
    expect(err).toMatchObject({ code: 'backups.restored-nothing' });
    expect(err.userMessage).toBe('restic restored 0 of the 1 files of admin/files/notes.txt, so nothing in place was changed.');
    expect(ran).toEqual(['ls /source/nextcloud/data/admin/files/notes.txt', 'occ maintenance:mode --on', 'in-place', 'occ maintenance:mode --off']);
  });

  it('any other failure says the server’s last words, and carries the command and its status for the log', async () => {
    const { s } = service({ 'ls /source/nextcloud/data/admin/files/notes.txt': ls, 'in-place': { code: 1, stdout: '', stderr: 'restic: no space left on device\n' } });
    const err = await appError(s.inPlace({ profileId: 'home', snapshotId: SNAP, path: 'admin/files/notes.txt' }));
    expect(err).toMatchObject({ code: 'backups.failed' });
    expect(err.userMessage).toBe('The restore in place failed: restic: no space left on device. What was there before is still in place.');
    const facts = remoteFacts(err);
    expect(facts?.message).toContain('exit 1');
  });

  it('refuses Nextcloud’s own folders before anything runs', async () => {
    const { s, ran } = service();
    const err = await appError(s.inPlace({ profileId: 'home', snapshotId: SNAP, path: 'appdata_oc1/x' }));
    expect(err).toMatchObject({ field: 'path' });
    expect(ran).toEqual([]);
  });
});
