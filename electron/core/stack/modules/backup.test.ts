import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VarRef } from '../types';
import { DRILL_SCRIPT } from '../../backups/drill-script';
import { backupModule, backupScript, pgDumpScript } from './backup';
import { testContext, testM2Dir } from './test-context';

type Svc = Record<string, unknown> & { environment: Record<string, unknown>; volumes: Array<Record<string, unknown>> };

describe('backup module', () => {
  it('runs restic with the script, the repository, a fixed hostname and no network, with every source read-only', () => {
    const out = backupModule.render(testContext({ dataRoot: '/data', timezone: 'Europe/Berlin', modules: { backup: { repository: '/mnt/disk2/restic', time: '04:15', keepDaily: 10, keepWeekly: 0, keepMonthly: 12 } } }));
    const svc = out.services.backup as Svc;
    expect(svc).toMatchObject({ image: 'restic/restic:0.19.1', hostname: 'm2-server', entrypoint: ['/bin/sh', '/m2/backup.sh'], command: ['schedule'], network_mode: 'none' });
    expect(svc.environment).toEqual({
      TZ: 'Europe/Berlin',
      RESTIC_REPOSITORY: '/repo',
      RESTIC_PASSWORD: new VarRef('BACKUP_RESTIC_PASSWORD'),
      RESTIC_CACHE_DIR: '/cache',
      RESTIC_PROGRESS_FPS: '0.0166',
      M2_BACKUP_TIME: '04:15',
      M2_BACKUP_KEEP_DAILY: '10',
      M2_BACKUP_KEEP_WEEKLY: '0',
      M2_BACKUP_KEEP_MONTHLY: '12',
      M2_BACKUP_DATABASES: 'nextcloud authentik',
      M2_DRILL_EVERY_DAYS: '7',
    });
    const script = out.files.find((f) => f.name === 'backup.sh');
    expect(script?.content).toBe(backupScript);
    expect(svc.volumes[0]).toEqual({ type: 'bind', source: expect.stringMatching(new RegExp(`^${testM2Dir}/files/[0-9a-f]{16}/backup\\.sh$`)), target: '/m2/backup.sh', read_only: true });
    // The restore drill the schedule runs: the same script the app runs on demand.
    expect(out.files.find((f) => f.name === 'drill.sh')?.content).toBe(DRILL_SCRIPT);
    expect(svc.volumes[1]).toEqual({ type: 'bind', source: expect.stringMatching(new RegExp(`^${testM2Dir}/files/[0-9a-f]{16}/drill\\.sh$`)), target: '/m2/drill.sh', read_only: true });
    expect(svc.volumes.slice(2, 6)).toEqual([
      { type: 'bind', source: '/mnt/disk2/restic', target: '/repo' },
      { type: 'bind', source: '/data/backup/cache', target: '/cache' },
      { type: 'bind', source: '/data/backup/status', target: '/m2/status' },
      { type: 'bind', source: '/data/backup/dumps', target: '/m2/dumps' },
    ]);
    expect(svc.volumes.slice(6)).toEqual([
      { type: 'bind', source: '/data/jellyfin/config', target: '/source/jellyfin-config', read_only: true },
      { type: 'bind', source: '/data/nextcloud/html', target: '/source/nextcloud', read_only: true },
      { type: 'bind', source: '/data/authentik/data', target: '/source/authentik-data', read_only: true },
    ]);
    expect(out.hostDirs).toEqual(['/mnt/disk2/restic', '/data/backup/cache', '/data/backup/status', '/data/backup/dumps']);
  });

  it('has one dump sidecar per enabled database, on the internal network, with the database password by reference', () => {
    const out = backupModule.render(testContext());
    expect(Object.keys(out.services)).toEqual(['backup', 'nextcloud-db-dump', 'authentik-db-dump']);
    const nc = out.services['nextcloud-db-dump'] as Svc;
    expect(nc).toMatchObject({ image: 'postgres:16-alpine', entrypoint: ['/bin/sh', '/m2/pg-dump.sh'], networks: ['internal'], labels: { 'io.m2.module': 'backup' } });
    expect(nc.environment).toEqual({ M2_DUMP_NAME: 'nextcloud', PGHOST: 'nextcloud-db', PGUSER: 'nextcloud', PGDATABASE: 'nextcloud', PGPASSWORD: new VarRef('NEXTCLOUD_DB_PASSWORD') });
    expect((out.services['authentik-db-dump'] as Svc).environment.PGPASSWORD).toEqual(new VarRef('AUTHENTIK_DB_PASSWORD'));
    const only = backupModule.render(testContext({ modules: { nextcloud: { enabled: false }, authentik: { enabled: false } } }));
    expect(Object.keys(only.services)).toEqual(['backup']);
    expect((only.services.backup as Svc).environment.M2_BACKUP_DATABASES).toBe('');
    expect(only.files.map((f) => f.name)).toEqual(['backup.sh', 'drill.sh']);
  });
});

/** The scripts run for real in the host's sh, with a fake restic on PATH. */
describe('backup.sh', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setup(restic: string): Record<string, string> {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-backup-sh-'));
    for (const d of ['bin', 'status', 'dumps', 'source/app', 'tmp']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, 'bin', 'restic'), `#!/bin/sh\necho "$*" >> "${dir}/restic.log"\n${restic}\n`);
    chmodSync(path.join(dir, 'bin', 'restic'), 0o755);
    writeFileSync(path.join(dir, 'backup.sh'), backupScript);
    return {
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}`,
      TZ: 'UTC',
      TMPDIR: path.join(dir, 'tmp'),
      M2_STATUS_DIR: path.join(dir, 'status'),
      M2_DUMPS_DIR: path.join(dir, 'dumps'),
      M2_SOURCE_DIR: path.join(dir, 'source'),
      M2_LOCK_DIR: path.join(dir, 'tmp', 'lock'),
      M2_BACKUP_TIME: '03:30',
      M2_BACKUP_KEEP_DAILY: '7',
      M2_BACKUP_KEEP_WEEKLY: '0',
      M2_BACKUP_KEEP_MONTHLY: '6',
      M2_BACKUP_DATABASES: '',
      M2_BACKUP_DUMP_TIMEOUT: '1',
    };
  }

  const run = (env: Record<string, string>, arg = 'once'): Promise<number> =>
    new Promise((resolve) => execFile('sh', [path.join(dir, 'backup.sh'), arg], { env, timeout: 20_000 }, (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0)));
  const status = (): { running: boolean; nextRun: string; lastRun: Record<string, unknown> } => JSON.parse(readFileSync(path.join(dir, 'status', 'status.json'), 'utf8')) as never;

  const summary = '{"message_type":"summary","files_new":2,"data_added":1234,"total_bytes_processed":98765,"snapshot_id":"4f2e9c1a00000000000000000000000000000000000000000000000000000001"}';
  const ok = `case "$1" in cat) exit 0;; backup) echo '{"message_type":"status","percent_done":0.5}'; echo '${summary}'; exit 0;; forget) exit 0;; esac`;

  it('records a successful run: snapshot id, bytes, duration, next run at the set time; applies retention without zero policies', async () => {
    const env = setup(ok);
    expect(await run(env)).toBe(0);
    const s = status();
    expect(s.running).toBe(false);
    expect(s.lastRun).toMatchObject({ result: 'success', exitCode: 0, snapshotId: '4f2e9c1a00000000000000000000000000000000000000000000000000000001', bytesAdded: 1234, totalBytes: 98765, message: 'Backup complete.' });
    expect(Number.isNaN(Date.parse(String(s.lastRun.startedAt)))).toBe(false);
    expect(s.lastRun.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(s.nextRun).toMatch(/^\d{4}-\d\d-\d\dT03:30:00Z$/);
    expect(Date.parse(s.nextRun) - Date.now()).toBeGreaterThan(0);
    expect(Date.parse(s.nextRun) - Date.now()).toBeLessThanOrEqual(86_400_000);
    const log = readFileSync(path.join(dir, 'restic.log'), 'utf8');
    expect(log).toContain(`forget --host m2-server --prune --keep-daily 7 --keep-monthly 6\n`);
    expect(log).not.toContain('--keep-weekly');
    expect(log).toMatch(/^backup --json --host m2-server --tag m2 .*dumps .*source$/m);
    expect(existsSync(path.join(dir, 'tmp', 'lock'))).toBe(false);
  });

  it('initialises a repository that does not exist yet', async () => {
    const env = setup(`case "$1" in cat) exit 10;; init) exit 0;; backup) echo '${summary}'; exit 0;; esac`);
    expect(await run(env)).toBe(0);
    expect(readFileSync(path.join(dir, 'restic.log'), 'utf8').split('\n').slice(0, 2)).toEqual(['cat config', 'init']);
  });

  it('reports a failed run with restic\'s exit code and last error line, escaped for JSON', async () => {
    const env = setup(`case "$1" in cat) exit 0;; backup) echo 'Fatal: unable to open "repo" \\\\ here' >&2; exit 12;; esac`);
    expect(await run(env)).toBe(1);
    expect(status().lastRun).toMatchObject({ result: 'failed', exitCode: 12, snapshotId: null, bytesAdded: null, message: 'restic backup failed (exit 12): Fatal: unable to open "repo" \\ here' });
    expect(readFileSync(path.join(dir, 'restic.log'), 'utf8')).not.toContain('forget');
  });

  it('reports partial when restic could not read some files (exit 3) or a database dump did not come', async () => {
    const env = setup(`case "$1" in cat) exit 0;; backup) echo '${summary}'; exit 3;; forget) exit 0;; esac`);
    expect(await run(env)).toBe(3);
    expect(status().lastRun).toMatchObject({ result: 'partial', exitCode: 3, message: 'Some files could not be read.' });
    rmSync(dir, { recursive: true, force: true });
    const env2 = setup(ok);
    expect(await run({ ...env2, M2_BACKUP_DATABASES: 'nextcloud' })).toBe(3);
    expect(status().lastRun).toMatchObject({ result: 'partial', exitCode: 0, message: 'Database dumps failed: nextcloud.' });
    expect(existsSync(path.join(dir, 'dumps', 'nextcloud.request'))).toBe(false);
  });

  it('refuses to start a second run while one holds the lock', async () => {
    const env = setup(ok);
    mkdirSync(env.M2_LOCK_DIR ?? '');
    expect(await run(env)).toBe(75);
    expect(existsSync(path.join(dir, 'restic.log'))).toBe(false);
  });

  it('runs the restore drill after a scheduled run that saved something, and not after one that failed', async () => {
    const env = setup(ok);
    const drill = path.join(dir, 'drill.sh');
    writeFileSync(drill, `echo "$*" >> "${dir}/drill.log"\n`);
    const schedule = async (restic: string): Promise<string> => {
      // The loop runs at once when the set time is now: not in a minute's last seconds, or it would wait a day.
      if (new Date().getUTCSeconds() >= 55) await new Promise((r) => setTimeout(r, 6_000));
      const t = new Date();
      const hhmm = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
      return new Promise((resolve, reject) => {
        writeFileSync(path.join(dir, 'bin', 'restic'), `#!/bin/sh\n${restic}\n`);
        rmSync(path.join(dir, 'status', 'last-scheduled-day'), { force: true });
        const child = execFile('sh', [path.join(dir, 'backup.sh'), 'schedule'], { env: { ...env, M2_BACKUP_TIME: hhmm, M2_DRILL_SCRIPT: drill } });
        const deadline = Date.now() + 30_000;
        const drillLog = path.join(dir, 'drill.log');
        let ranAt = 0;
        const poll = setInterval(() => {
          // The run is over once its status is written and its lock released; the drill (if any) comes next.
          if (!ranAt && existsSync(path.join(dir, 'status', 'last-run.json')) && !status().running && !existsSync(env.M2_LOCK_DIR ?? '')) ranAt = Date.now();
          const settled = ranAt > 0 && (existsSync(drillLog) || Date.now() - ranAt > 2_000);
          if (settled || Date.now() > deadline) {
            clearInterval(poll);
            child.kill('SIGTERM');
            if (settled) resolve(existsSync(drillLog) ? readFileSync(drillLog, 'utf8') : '');
            else reject(new Error('no scheduled run'));
          }
        }, 100);
      });
    };
    expect(await schedule(ok)).toBe('schedule\n');
    rmSync(path.join(dir, 'drill.log'), { force: true });
    rmSync(path.join(dir, 'status', 'last-run.json'));
    expect(await schedule(`case "$1" in cat) exit 0;; backup) echo 'Fatal: no' >&2; exit 1;; esac`)).toBe('');
  }, 90_000);

  it('is answered by the dump sidecar loop: request in, dump and done marker out', async () => {
    const env = setup(ok);
    writeFileSync(path.join(dir, 'bin', 'pg_dump'), '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -f ] && out=$2; shift; done\necho "-- PostgreSQL database dump" > "$out"\n');
    chmodSync(path.join(dir, 'bin', 'pg_dump'), 0o755);
    const dumper = pgDumpScript.replace('dir=/m2/dumps', `dir=${path.join(dir, 'dumps')}`);
    writeFileSync(path.join(dir, 'pg-dump.sh'), dumper);
    const child = execFile('sh', [path.join(dir, 'pg-dump.sh')], { env: { ...env, M2_DUMP_NAME: 'nextcloud', PGHOST: 'db', PGUSER: 'u', PGDATABASE: 'd' } });
    try {
      expect(await run({ ...env, M2_BACKUP_DATABASES: 'nextcloud', M2_BACKUP_DUMP_TIMEOUT: '15' })).toBe(0);
      expect(readFileSync(path.join(dir, 'dumps', 'nextcloud.sql'), 'utf8')).toBe('-- PostgreSQL database dump\n');
      expect(existsSync(path.join(dir, 'dumps', 'nextcloud.done'))).toBe(true);
      expect(status().lastRun).toMatchObject({ result: 'success' });
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);
});
