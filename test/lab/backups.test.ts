import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreRequest, type BackupProgress } from '../../electron/contract/backups';
import { StackSettings } from '../../electron/contract/stack';
import { BackupsService, createDrillStore } from '../../electron/core/backups/backups-service';
import { AppError } from '../../electron/core/errors';
import { silentLogger } from '../../electron/core/log';
import type { LogsTarget } from '../../electron/core/logs/logs-service';
import { Secret } from '../../electron/core/secrets/secret';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { composeGlobalArgs, type ComposeFiles } from '../../electron/core/stack/compose-commands';
import { backupScript } from '../../electron/core/stack/modules/backup';
import { DRILL_SCRIPT } from '../../electron/core/backups/drill-script';
import { parseDrillFile } from '../../electron/core/backups/drill-result';
import { ensureDocker } from '../../scripts/lab/docker';
import { imageRef } from '../../electron/core/stack/versions';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureSshd } from '../../scripts/lab/sshd';
import { adminStack } from '../support/admin-stack';
import { connectToLab } from '../support/ssh';

/**
 * Backups, restore and the restore drill against the lab: real sshd (as the admin, in the docker group), Docker
 * Engine 20.10, Compose 2.26 and the restic stand-in image (real restic). A Compose project of its own (never `m2`)
 * whose `backup` service is the backup module's as it renders it: the module's script as entrypoint, the password
 * from a 0600 env file, the repository, cache, status and dumps folders, and Nextcloud's html folder read-only at
 * /source/nextcloud. Nextcloud's data here is a folder of files the test writes.
 */
const PASSWORD = randomBytes(24).toString('base64url');
const project = `m2backups${process.pid}`;
const server = adminStack('m2admin', `m2-backups-lab-${process.pid}`);
const dir = server.root;
const dataRoot = path.join(dir, 'data');
const repo = path.join(dataRoot, 'backup-repo');
const ncData = path.join(dataRoot, 'nextcloud', 'html', 'data');
const files: ComposeFiles = { project, projectDir: dir, dir, envFiles: ['env/backup.env'] };
const settings = StackSettings.parse({ dataRoot, modules: { backup: { repository: repo } } });

const content: Record<string, Buffer> = {
  'admin/files/notes.txt': Buffer.from('shopping: milk, eggs\n'),
  'admin/files/Photos/holiday.bin': randomBytes(300 * 1024),
  'admin/files/Photos/ünïcødé 名前.txt': Buffer.from('ünïcødé ✓\n'),
  'admin/files/Photos/a*[b]?.txt': Buffer.from('glob characters in a name\n'),
  'admin/files/Photos/empty': Buffer.alloc(0),
  // Big enough that restic reports progress while it reads (4 status lines a second).
  'admin/files/Videos/film.bin': randomBytes(96 * 1024 * 1024),
};

let conn: SshConnection;
let target: LogsTarget;
let backups: BackupsService;
const events: BackupProgress[] = [];
const drillDir = path.join(dir, 'app-data', 'drills');

const compose = (...args: string[]) => conn.exec(['docker', 'compose', ...composeGlobalArgs(files), ...args], { timeoutMs: 180_000 });

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const appError = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
};

beforeAll(async () => {
  await ensureDocker();
  await ensureStandInImages();
  const sshd = await ensureSshd();
  server.makeAdminFolders(path.join(dir, 'env'), path.join(dataRoot, 'backup', 'status'), path.join(dataRoot, 'backup', 'dumps'), path.join(dataRoot, 'backup', 'cache'), repo);
  for (const [rel, data] of Object.entries(content)) {
    mkdirSync(path.dirname(path.join(ncData, rel)), { recursive: true });
    writeFileSync(path.join(ncData, rel), data);
  }
  const doc = {
    services: {
      backup: {
        image: imageRef('restic'),
        hostname: 'm2-server',
        entrypoint: ['/bin/sh', '/m2/backup.sh'],
        command: ['schedule'],
        environment: {
          TZ: 'UTC',
          RESTIC_REPOSITORY: '/repo',
          RESTIC_PASSWORD: '${BACKUP_RESTIC_PASSWORD}',
          RESTIC_CACHE_DIR: '/cache',
          RESTIC_PROGRESS_FPS: '0.0166',
          M2_BACKUP_TIME: '03:30',
          M2_BACKUP_KEEP_DAILY: '7',
          M2_BACKUP_KEEP_WEEKLY: '4',
          M2_BACKUP_KEEP_MONTHLY: '6',
          M2_BACKUP_DATABASES: '',
          M2_DRILL_EVERY_DAYS: '7',
        },
        volumes: [
          `${path.join(dir, 'backup.sh')}:/m2/backup.sh:ro`,
          `${path.join(dir, 'drill.sh')}:/m2/drill.sh:ro`,
          `${repo}:/repo`,
          `${path.join(dataRoot, 'backup', 'cache')}:/cache`,
          `${path.join(dataRoot, 'backup', 'status')}:/m2/status`,
          `${path.join(dataRoot, 'backup', 'dumps')}:/m2/dumps`,
          `${path.join(dataRoot, 'nextcloud', 'html')}:/source/nextcloud:ro`,
        ],
        network_mode: 'none',
        stop_grace_period: '1s',
      },
    },
  };
  // A database dump as the dump sidecar leaves it (the lab's backup has no database of its own).
  writeFileSync(path.join(dataRoot, 'backup', 'dumps', 'nextcloud.sql'), '--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (i int);\n--\n-- PostgreSQL database dump complete\n--\n');
  const write = (rel: string, text: string, mode: number): void => {
    const p = path.join(dir, rel);
    writeFileSync(p, text);
    chmodSync(p, mode);
    chownSync(p, server.uid, server.gid);
  };
  write('compose.yaml', YAML.stringify(doc), 0o644);
  write('backup.sh', backupScript, 0o644);
  write('drill.sh', DRILL_SCRIPT, 0o644);
  write('env/backup.env', `BACKUP_RESTIC_PASSWORD=${PASSWORD}\n`, 0o600);
  conn = await connectToLab(sshd);
  const up = await compose('up', '--detach', '--pull', 'never');
  if (up.code !== 0) throw new Error(`compose up failed: ${up.stderr}`);
  target = { conn, access: 'group', files, releaseId: 'lab', services: ['backup'], secrets: [new Secret(PASSWORD)] };
  backups = new BackupsService({
    target: async () => target,
    settings: async () => settings,
    drills: createDrillStore(drillDir),
    emit: (e) => events.push(e),
    log: silentLogger,
  });
  await until('the backup schedule to write its status file', () => existsSync(path.join(dataRoot, 'backup', 'status', 'status.json')) || undefined);
}, 300_000);

afterAll(async () => {
  if (conn) {
    await compose('down', '--timeout', '1', '--remove-orphans').catch(() => undefined);
    await conn.close();
  }
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('backups over the one SSH connection, restic in the backup container', () => {
  let snapshotId = '';

  it('backs up now: restic’s progress streams as it comes, the module records the run, the snapshot is listed', async () => {
    const r = await backups.run('lab');
    expect(r).toMatchObject({ result: 'success', exitCode: 0, message: 'Backup complete.' });
    expect(r.snapshotId).toMatch(/^[0-9a-f]{8,64}$/);
    snapshotId = r.snapshotId ?? '';
    const progress = events.filter((e) => e.kind === 'status');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ kind: 'status', profileId: 'lab' });
    const view = await backups.view('lab');
    expect(view.installed).toBe(true);
    expect(view.lastRun).toMatchObject({ result: 'success', snapshotId: r.snapshotId });
    expect(Date.parse(view.nextRun ?? '')).toBeGreaterThan(Date.now());
    expect(view.snapshots[0]?.id.startsWith(snapshotId)).toBe(true);
    expect(view.snapshots[0]).toMatchObject({ hostname: 'm2-server', tags: ['m2'], paths: ['/m2/dumps', '/source'] });
    expect(view.snapshots[0]?.sizeBytes).toBeGreaterThan(96 * 1024 * 1024);
    expect(JSON.stringify({ r, view, events })).not.toContain(PASSWORD);
  }, 300_000);

  it('lists a folder of Nextcloud’s data as the snapshot holds it', async () => {
    const top = await backups.browse('lab', snapshotId);
    expect(top.entries.map((e) => e.name)).toEqual(['admin']);
    const photos = await backups.browse('lab', snapshotId, 'admin/files/Photos');
    expect(photos.entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['a*[b]?.txt', 'file', content['admin/files/Photos/a*[b]?.txt']?.length],
      ['empty', 'file', 0],
      ['holiday.bin', 'file', 300 * 1024],
      ['ünïcødé 名前.txt', 'file', content['admin/files/Photos/ünïcødé 名前.txt']?.length],
    ]);
  }, 120_000);

  it('restores a deleted file into a new folder, byte for byte', async () => {
    rmSync(path.join(ncData, 'admin/files/notes.txt'));
    const r = await backups.restore(RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/notes.txt', into: 'notes-back' }));
    expect(r).toMatchObject({ folder: path.join(dataRoot, 'restores', 'notes-back'), filesExpected: 1, filesRestored: 1 });
    expect(r.restoredPath).toBe(path.join(dataRoot, 'restores', 'notes-back', 'notes.txt'));
    expect(readFileSync(r.restoredPath).equals(content['admin/files/notes.txt'] as Buffer)).toBe(true);
  }, 300_000);

  it('restores a folder whose names hold glob characters and unicode, byte for byte and nothing else', async () => {
    const r = await backups.restore(RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/Photos', into: 'photos' }));
    expect(r.filesRestored).toBe(4);
    for (const [rel, data] of Object.entries(content).filter(([k]) => k.startsWith('admin/files/Photos/'))) {
      expect(readFileSync(path.join(r.restoredPath, path.basename(rel))).equals(data), rel).toBe(true);
    }
    expect(readdirSync(r.folder)).toEqual(['Photos']);
    expect(readdirSync(r.restoredPath).sort()).toEqual(['a*[b]?.txt', 'empty', 'holiday.bin', 'ünïcødé 名前.txt']);
    // One file whose name is a glob matching several: only that one comes back.
    const one = await backups.restore(RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/Photos/a*[b]?.txt', into: 'glob-one' }));
    expect(one.filesRestored).toBe(1);
    expect(readdirSync(one.folder)).toEqual(['a*[b]?.txt']);
    expect(readFileSync(one.restoredPath).equals(content['admin/files/Photos/a*[b]?.txt'] as Buffer)).toBe(true);
  }, 300_000);

  it('never writes over a folder that exists, and says which field to change', async () => {
    const before = readFileSync(path.join(dataRoot, 'restores', 'notes-back', 'notes.txt'));
    const err = await appError(backups.restore(RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/Photos', into: 'notes-back' })));
    expect(err).toMatchObject({ code: 'backups.target-exists', field: 'into' });
    expect(err.userMessage).toContain('Restore into:');
    expect(readdirSync(path.join(dataRoot, 'restores', 'notes-back'))).toEqual(['notes.txt']);
    expect(readFileSync(path.join(dataRoot, 'restores', 'notes-back', 'notes.txt')).equals(before)).toBe(true);
  }, 120_000);

  it('refuses a path the snapshot does not hold before touching the server’s disk', async () => {
    const err = await appError(backups.restore(RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/nope.txt', into: 'nope' })));
    expect(err).toMatchObject({ code: 'backups.not-found', field: 'path' });
    expect(existsSync(path.join(dataRoot, 'restores', 'nope'))).toBe(false);
  }, 120_000);

  it('refuses hostile input in the contract: nothing reaches the server', () => {
    for (const [field, value] of [
      ['path', '../../../etc/passwd'],
      ['path', 'admin/files/$(touch /tmp/m2-canary)\nx'],
      ['into', '$(touch /tmp/m2-canary)'],
      ['into', '../../etc'],
      ['snapshotId', 'latest; id'],
    ] as const) {
      expect(() => RestoreRequest.parse({ profileId: 'lab', snapshotId, path: 'admin/files/notes.txt', into: 'x', [field]: value })).toThrow();
    }
    expect(existsSync('/tmp/m2-canary')).toBe(false);
  });

  it('a restore drill passes: the latest snapshot restored into scratch, checked, counted, the scratch deleted, the result kept', async () => {
    const d = await backups.drill('lab');
    expect(d.reason).toBeNull();
    expect(d.passed).toBe(true);
    // Nextcloud's files and the database dump.
    expect(d.filesExpected).toBe(Object.keys(content).length + 1);
    expect(d.filesRestored).toBe(d.filesExpected);
    expect(d.checks.map((c) => [c.name, c.passed])).toEqual([
      ['Latest snapshot', true],
      ['Repository check', true],
      ['Free space', true],
      ['Restore', true],
      ['File count', true],
      ['Database dumps', true],
    ]);
    expect(d.checks.at(-1)?.detail).toBe('1 of 1 read to pg_dump’s closing line');
    // The real df of the container's /tmp (Docker's disk here), compared before anything was restored.
    expect(d.checks[2]?.detail).toMatch(/^needs \d+(\.\d)? (MiB|GiB) \(the snapshot’s \d+(\.\d)? MiB plus 10% and 1\.0 GiB to spare\), \d+(\.\d)? [GT]iB free in the backup container’s \/tmp, on Docker’s disk$/);
    const scratch = await compose('exec', '-T', 'backup', 'sh', '-c', 'ls /tmp | grep -c m2-drill || true');
    expect(scratch.stdout.trim()).toBe('0');
    const view = await backups.view('lab');
    expect(view.lastDrill).toEqual(d);
    expect(view.lastPassedDrill).toBe(d.at);
    expect(statSync(path.join(drillDir, 'lab.json')).mode & 0o777).toBe(0o600);
  }, 300_000);

  it('a drill of a snapshot whose database dump was cut short fails and names the dumps', async () => {
    writeFileSync(path.join(dataRoot, 'backup', 'dumps', 'nextcloud.sql'), '--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (i int);\nCOPY t (i) FROM stdin;\n1\n');
    const run = await backups.run('lab');
    expect(run.result, JSON.stringify(run)).toBe('success');
    const d = await backups.drill('lab');
    expect(d.passed).toBe(false);
    expect(d.reason).toBe('Database dumps: 1 of 1 database dumps are not complete pg_dump files (cut short or an error instead of a dump): nextcloud.sql.');
  }, 300_000);

  it('a drill without room for the scratch restore fails on free space before restoring anything, and says how much', async () => {
    // The server's disk is not filled for this: the headroom (a constructor dependency) is set beyond any lab disk.
    const cramped = new BackupsService({
      target: async () => target,
      settings: async () => settings,
      drills: createDrillStore(drillDir),
      emit: (e) => events.push(e),
      log: silentLogger,
      drillHeadroom: { fraction: 0.1, bytes: 1024 ** 5 },
    });
    const d = await cramped.drill('lab');
    expect(d.passed).toBe(false);
    expect(d.reason).toMatch(/^Free space: not enough free space for a full restore drill: it needs 1\.0 PiB \(the snapshot’s \d+(\.\d)? MiB plus 10% and 1\.0 PiB to spare\), \d+(\.\d)? [GT]iB free in the backup container’s \/tmp, on Docker’s disk\. Nothing was restored\./);
    expect(d.checks.map((c) => [c.name, c.passed])).toEqual([
      ['Latest snapshot', true],
      ['Repository check', true],
      ['Free space', false],
    ]);
    expect(d.filesRestored).toBeNull();
    const scratch = await compose('exec', '-T', 'backup', 'sh', '-c', 'ls /tmp | grep -c m2-drill || true');
    expect(scratch.stdout.trim()).toBe('0');
  }, 300_000);

  it('the scheduled drill runs the same script in the backup container and leaves its result where live status reads it; it is not due again for a week', async () => {
    // A good dump again, and a fresh backup of it.
    writeFileSync(path.join(dataRoot, 'backup', 'dumps', 'nextcloud.sql'), '--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (i int);\n--\n-- PostgreSQL database dump complete\n--\n');
    expect((await backups.run('lab')).result).toBe('success');
    const r = await compose('exec', '-T', 'backup', '/bin/sh', '/m2/drill.sh', 'schedule');
    expect(r.code, r.stderr).toBe(0);
    const onDisk = parseDrillFile(readFileSync(path.join(dataRoot, 'backup', 'status', 'drill.json'), 'utf8'));
    // Nextcloud's files but the one deleted above, and the dump.
    expect(onDisk).toMatchObject({ trigger: 'schedule', passed: true, failed: null, filesExpected: Object.keys(content).length - 1 + 1, filesRestored: Object.keys(content).length });
    const view = await backups.view('lab');
    expect(view.lastDrill).toMatchObject({ trigger: 'schedule', passed: true, reason: null });
    expect(view.lastPassedDrill).toBe(onDisk?.finishedAt);
    // Passed just now: the schedule does not drill again until a week has gone.
    const again = await compose('exec', '-T', 'backup', '/bin/sh', '/m2/drill.sh', 'schedule');
    expect(again.stdout.trim()).toBe('m2-drill-not-due');
  }, 300_000);

  it('a drill on a damaged repository (a pack file cut in half) fails and says why; the last passed drill is still known', async () => {
    const passed = (await backups.view('lab')).lastPassedDrill;
    expect(passed).not.toBeNull();
    const copy = `${repo}.intact`;
    cpSync(repo, copy, { recursive: true });
    try {
      const packDirs = readdirSync(path.join(repo, 'data'));
      const packs = packDirs.flatMap((d) => readdirSync(path.join(repo, 'data', d)).map((f) => path.join(repo, 'data', d, f)));
      const biggest = packs.sort((a, b) => statSync(b).size - statSync(a).size)[0] ?? '';
      const size = statSync(biggest).size;
      expect(size).toBeGreaterThan(1024 * 1024);
      chmodSync(biggest, 0o600);
      truncateSync(biggest, Math.floor(size / 2));
      const d = await backups.drill('lab');
      expect(d.passed).toBe(false);
      // restic's check names the pack and what is wrong with it (0.18: "unexpected file size"), not its repair advice.
      expect(d.reason).toMatch(new RegExp(`^Repository check: restic check found errors: pack ${path.basename(biggest)}: (unexpected file size|.*too short)`));
      expect(d.reason).not.toMatch(/restic repair|troubleshooting/);
      expect(d.checks.at(-1)).toMatchObject({ name: 'Repository check', passed: false });
      const view = await backups.view('lab');
      expect(view.lastDrill?.passed).toBe(false);
      expect(view.lastPassedDrill).toBe(passed);
      // Live status reads the same failure from the server.
      expect(parseDrillFile(readFileSync(path.join(dataRoot, 'backup', 'status', 'drill.json'), 'utf8'))).toMatchObject({ passed: false, failed: 'check', lastPassedAt: passed });
    } finally {
      rmSync(repo, { recursive: true, force: true });
      cpSync(copy, repo, { recursive: true });
      rmSync(copy, { recursive: true, force: true });
    }
  }, 300_000);

});
