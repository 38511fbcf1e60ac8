import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { drillResultLine, parseDrillFile, toDrillResult } from './drill-result';
import { backupScript } from '../stack/modules/backup';
import { DRILL_SCRIPT, EXIT_DRILL_BUSY } from './drill-script';

/**
 * The drill script for real under the host's sh (the lab runs it in busybox ash), with a fake restic (and, where a
 * test needs one, a fake df) first in PATH. The fake restic answers from files: the snapshot, the listing, and the
 * tree a restore writes.
 */
const ID = 'a1'.repeat(32);
const complete = '--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (i int);\n--\n-- PostgreSQL database dump complete\n--\n';
const node = (p: string, type: 'file' | 'dir', size?: number): string =>
  JSON.stringify({ name: path.posix.basename(p), type, path: p, uid: 0, gid: 0, ...(size === undefined ? {} : { size }), struct_type: 'node' });

const fakeRestic = `#!/bin/sh
echo "$*" >> "$FAKE/restic.log"
case "$1" in
  snapshots) [ -e "$FAKE/snapshots.fail" ] && { cat "$FAKE/snapshots.fail" >&2; exit 1; }; cat "$FAKE/snapshots" ;;
  check) [ -e "$FAKE/check.fail" ] && { cat "$FAKE/check.fail"; echo 'Fatal: repository contains errors' >&2; exit 1; }; echo 'load indexes'; echo 'no errors were found' ;;
  ls) echo '{"time":"2026-12-01T03:30:00Z","id":"x","struct_type":"snapshot"}'; cat "$FAKE/ls" ;;
  restore) [ -e "$FAKE/restore.wait" ] && { mkdir -p "$4/partial"; echo x > "$4/partial/a"; touch "$FAKE/restore.started"; sleep 30; }
    cp -R "$FAKE/tree/." "$4/"; [ -e "$FAKE/restore.fail" ] && { cat "$FAKE/restore.fail" >&2; exit 1; }; exit 0 ;;
esac
`;

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function setup(tree: Record<string, string> = { 'source/nextcloud/data/a.txt': 'hello', 'source/nextcloud/data/b/c.bin': 'x'.repeat(5000), 'm2/dumps/nextcloud.sql': complete }): Record<string, string> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'm2-drill-sh-'));
  for (const d of ['bin', 'status', 'scratch', 'fake/tree']) mkdirSync(path.join(dir, d), { recursive: true });
  const fake = path.join(dir, 'fake');
  writeFileSync(path.join(dir, 'bin', 'restic'), fakeRestic);
  chmodSync(path.join(dir, 'bin', 'restic'), 0o755);
  writeFileSync(path.join(fake, 'snapshots'), `[{"time":"2026-12-01T03:30:00.5Z","tree":"t","paths":["/m2/dumps","/source"],"hostname":"m2-server","id":"${ID}","short_id":"a1a1a1a1"}]\n`);
  const lines = [node('/m2', 'dir'), node('/m2/dumps', 'dir'), node('/source', 'dir')];
  for (const [rel, text] of Object.entries(tree)) {
    mkdirSync(path.dirname(path.join(fake, 'tree', rel)), { recursive: true });
    writeFileSync(path.join(fake, 'tree', rel), text);
    lines.push(node(`/${rel}`, 'file', Buffer.byteLength(text)));
  }
  writeFileSync(path.join(fake, 'ls'), `${lines.join('\n')}\n`);
  writeFileSync(path.join(dir, 'drill.sh'), DRILL_SCRIPT);
  return {
    PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    FAKE: fake,
    M2_STATUS_DIR: path.join(dir, 'status'),
    M2_LOCK_DIR: path.join(dir, 'lock'),
    M2_DRILL_SCRATCH: path.join(dir, 'scratch'),
    M2_DRILL_HEADROOM_BYTES: '0',
  };
}

function fakeDf(out: string, code = 0): void {
  writeFileSync(path.join(dir, 'fake', 'df.out'), out);
  writeFileSync(path.join(dir, 'bin', 'df'), `#!/bin/sh\ncat "$FAKE/df.out"\nexit ${code}\n`);
  chmodSync(path.join(dir, 'bin', 'df'), 0o755);
}

const run = (env: Record<string, string>, trigger = 'app'): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile('sh', [path.join(dir, 'drill.sh'), trigger], { env, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
  );

const fileOnServer = (): string => readFileSync(path.join(dir, 'status', 'drill.json'), 'utf8');

describe('the drill script under sh', () => {
  it('passes: restores into scratch, counts, reads the dumps, deletes the scratch, and leaves one line where live status reads it', async () => {
    const env = setup();
    const r = await run(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('m2-drill-step ')).map((l) => l.slice(14))).toEqual(['snapshots', 'check', 'list', 'space', 'restore']);
    const f = drillResultLine(r.stdout);
    expect(f).toMatchObject({ passed: true, failed: null, trigger: 'app', snapshotId: ID, snapshotTime: '2026-12-01T03:30:00.5Z', filesExpected: 3, filesRestored: 3, dumps: 1, badDumps: 0, subset: '5%' });
    // Each file in whole 4 KiB blocks (5000 bytes take two), one block a folder.
    expect(f?.footprintBytes).toBe(3 * 4096 + 4096 + 2 * 4096 + 4096);
    expect(f?.lastPassedAt).toBe(f?.finishedAt);
    expect(fileOnServer().split('\n')).toHaveLength(2);
    expect(parseDrillFile(fileOnServer())).toEqual(f);
    expect(readFileSync(path.join(dir, 'status', 'drill-last'), 'utf8')).toMatch(/^\d+ 1\n$/);
    expect(readdirSync(path.join(dir, 'scratch'))).toEqual([]);
    expect(existsSync(env.M2_LOCK_DIR ?? '')).toBe(false);
    const words = f ? toDrillResult(f) : null;
    expect(words?.checks.map((c) => [c.name, c.passed])).toEqual([
      ['Latest snapshot', true],
      ['Repository check', true],
      ['Free space', true],
      ['Restore', true],
      ['File count', true],
      ['Database dumps', true],
    ]);
    expect(words?.checks[0]?.detail).toBe('a1a1a1a1 of 2026-12-01T03:30:00.5Z');
    expect(words?.checks.at(-1)?.detail).toBe('1 of 1 read to pg_dump’s closing line');
  }, 60_000);

  it('counts a file whose name quotes restic’s own fields once, and never as its size', async () => {
    const hostile = 'source/nextcloud/data/x","type":"file","size":999999999999,"struct_type":"node';
    const env = setup({ [hostile]: 'ab', 'source/nextcloud/data/$(touch canary)\n': 'c' });
    const r = await run(env);
    const f = drillResultLine(r.stdout);
    expect(f, r.stderr).toMatchObject({ passed: true, filesExpected: 2, filesRestored: 2, footprintBytes: 2 * 4096 + 3 * 4096 });
    expect(existsSync(path.join(dir, 'canary'))).toBe(false);
  }, 60_000);

  it('counts a file with line breaks in its name once, on both sides (restic’s JSON escapes them; the restore is counted per file)', async () => {
    const env = setup({ 'source/nextcloud/data/two\nlines.txt': 'a', 'source/nextcloud/data/\nends and starts\n': 'b', 'm2/dumps/nextcloud.sql': complete });
    expect(readdirSync(path.join(env.FAKE ?? '', 'tree', 'source', 'nextcloud', 'data'))).toContain('two\nlines.txt');
    const r = await run(env);
    expect(drillResultLine(r.stdout), r.stderr).toMatchObject({ passed: true, failed: null, filesExpected: 3, filesRestored: 3 });
  }, 60_000);

  it('a damaged repository fails at restic’s check, says which pack, and restores nothing', async () => {
    const env = setup();
    writeFileSync(path.join(env.FAKE ?? '', 'check.fail'), 'load indexes\ncheck all packs\npack 5f3c2a1b: unexpected file size: got 1500179, expected 3000359\n\nThe repository contains damaged pack files. These damaged files must be removed.\nrestic repair packs 5f3c2a1b\n');
    const r = await run(env);
    expect(r.code).toBe(1);
    const f = drillResultLine(r.stdout);
    expect(f).toMatchObject({ passed: false, failed: 'check', checkCode: 1, filesRestored: null });
    const words = f ? toDrillResult(f) : null;
    expect(words?.reason).toMatch(/^Repository check: restic check found errors: pack 5f3c2a1b: unexpected file size: got 1500179, expected 3000359/);
    expect(words?.reason).toContain('Fatal: repository contains errors');
    expect(readFileSync(path.join(dir, 'fake', 'restic.log'), 'utf8')).not.toContain('restore');
    expect(readFileSync(path.join(dir, 'status', 'drill-last'), 'utf8')).toMatch(/^\d+ 0\n$/);
  }, 60_000);

  it('refuses to restore without room, reading df’s columns whatever the device and mount point are called', async () => {
    const env = setup();
    fakeDf('Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 9 99999 1 8 90% /mnt/scratch disk\n');
    const r = await run(env);
    const f = drillResultLine(r.stdout);
    expect(f).toMatchObject({ passed: false, failed: 'space', freeKb: 8, mount: '/mnt/scratch disk', restoreCode: null });
    expect(toDrillResult(f as never).reason).toMatch(/^Free space: not enough free space for a full restore drill: it needs .*, 8\.0 KiB free in the backup container’s \/tmp \(a disk of its own mounted at \/mnt\/scratch disk\)\. Nothing was restored\./);
    expect(readFileSync(path.join(dir, 'fake', 'restic.log'), 'utf8')).not.toContain('restore');
    // The rule: the footprint (28 KiB here) plus 10%, rounded up to a byte (31,540), plus the fixed room — to the KiB.
    fakeDf('Filesystem 1024-blocks Used Available Capacity Mounted on\noverlay 99 1 31 1% /\n');
    expect(drillResultLine((await run(env)).stdout)).toMatchObject({ passed: true, neededBytes: 31_540, freeKb: 31, mount: '/' });
    fakeDf('Filesystem 1024-blocks Used Available Capacity Mounted on\noverlay 99 1 30 1% /\n');
    expect(drillResultLine((await run(env)).stdout)).toMatchObject({ passed: false, failed: 'space', neededBytes: 31_540 });
    fakeDf('Filesystem 1024-blocks Used Available Capacity Mounted on\noverlay 99 1 1048606 1% /\n');
    expect(drillResultLine((await run({ ...env, M2_DRILL_HEADROOM_BYTES: String(1024 ** 3) })).stdout)).toMatchObject({ passed: false, neededBytes: 31_540 + 1024 ** 3 });
    // An unreadable df refuses too.
    fakeDf("df: can't find mount point\n", 1);
    const g = drillResultLine((await run(env)).stdout);
    expect(toDrillResult(g as never).reason).toBe("Free space: could not read the free space of the backup container’s /tmp: df: can't find mount point. Nothing was restored.");
  }, 60_000);

  it('fails when fewer files land than the snapshot lists, and when a dump was cut short (naming it)', async () => {
    const env = setup();
    rmSync(path.join(env.FAKE ?? '', 'tree', 'source', 'nextcloud', 'data', 'a.txt'));
    const f = drillResultLine((await run(env)).stdout);
    expect(toDrillResult(f as never).reason).toBe('File count: the snapshot lists 3 files but 2 were restored.');
    const env2 = setup({ 'm2/dumps/nextcloud.sql': complete, 'm2/dumps/authentik.sql': '--\n-- PostgreSQL database dump\n--\nCOPY t (i) FROM stdin;\n1\n' });
    const g = drillResultLine((await run(env2)).stdout);
    expect(toDrillResult(g as never).reason).toBe('Database dumps: 1 of 2 database dumps are not complete pg_dump files (cut short or an error instead of a dump): authentik.sql.');
  }, 60_000);

  it('says why restic could not list or restore, and that there is nothing to drill yet', async () => {
    const env = setup();
    writeFileSync(path.join(env.FAKE ?? '', 'restore.fail'), 'ignoring error for /source/b: ReadFull(<data/dac96e8e7e>): file is too short\nFatal: There were 1 errors\n');
    const f = drillResultLine((await run(env)).stdout);
    expect(toDrillResult(f as never).reason).toBe('Restore: restic could not restore the snapshot: ignoring error for /source/b: ReadFull(<data/dac96e8e7e>): file is too short Fatal: There were 1 errors');
    writeFileSync(path.join(env.FAKE ?? '', 'snapshots'), '[]\n');
    const g = drillResultLine((await run(env)).stdout);
    expect(toDrillResult(g as never).reason).toBe('Latest snapshot: there is no snapshot to restore yet; back up first.');
    writeFileSync(path.join(env.FAKE ?? '', 'snapshots.fail'), 'Fatal: unable to open config file: "quoted" \\ back\tslash\n');
    const h = drillResultLine((await run(env)).stdout);
    expect(toDrillResult(h as never).reason).toBe('Latest snapshot: restic could not list the snapshots: Fatal: unable to open config file: "quoted" \\ back slash');
    // The failures kept the last pass.
    expect(h?.lastPassedAt).toBeNull();
  }, 60_000);

  it('removes the scratch a drill cut short left behind, once it holds the lock (and only then)', async () => {
    const env = setup();
    const scratch = path.join(dir, 'scratch');
    for (const d of ['m2-drill.Ab12Cd/source/nextcloud/data', 'm2-drill-work.Xy34Zw', 'm2-drill.\n$(touch canary)', 'keep-me', 'm2-drillish']) mkdirSync(path.join(scratch, d), { recursive: true });
    writeFileSync(path.join(scratch, 'm2-drill.Ab12Cd/source/nextcloud/data/big.bin'), 'x'.repeat(10_000));
    writeFileSync(path.join(scratch, 'm2-drill.plain-file'), 'x');
    // While a backup (or a drill) holds the lock, what is there may be in use: left alone.
    mkdirSync(env.M2_LOCK_DIR ?? '');
    expect((await run(env)).code).toBe(EXIT_DRILL_BUSY);
    expect(readdirSync(scratch)).toHaveLength(6);
    rmSync(env.M2_LOCK_DIR ?? '', { recursive: true });
    const r = await run(env);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(scratch).sort()).toEqual(['keep-me', 'm2-drillish']);
    expect(existsSync(path.join(dir, 'canary'))).toBe(false);
  }, 60_000);

  it('a container stop while the scheduled drill restores (TERM to backup.sh, PID 1; the rest killed 10 s later) leaves no scratch and no lock', async () => {
    const env = setup();
    writeFileSync(path.join(env.FAKE ?? '', 'restore.wait'), '');
    // The backup the loop runs first: restic's config is there, the backup saves something, retention passes.
    const summary = '{"message_type":"summary","files_new":1,"data_added":1,"total_bytes_processed":1,"snapshot_id":"' + ID + '"}';
    writeFileSync(path.join(dir, 'bin', 'restic'), fakeRestic.replace('case "$1" in\n', `case "$1" in\n  cat) exit 0 ;;\n  backup) echo '${summary}' ;;\n  forget) exit 0 ;;\n`));
    writeFileSync(path.join(dir, 'backup.sh'), backupScript);
    for (const d of ['dumps', 'source', 'tmp']) mkdirSync(path.join(dir, d));
    // The loop runs at once when the set time is now: not in a minute's last seconds, or it would wait a day.
    if (new Date().getUTCSeconds() >= 50) await new Promise((r) => setTimeout(r, 11_000));
    const t = new Date();
    const hhmm = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
    const loopEnv = { ...env, TZ: 'UTC', TMPDIR: path.join(dir, 'tmp'), M2_DUMPS_DIR: path.join(dir, 'dumps'), M2_SOURCE_DIR: path.join(dir, 'source'), M2_BACKUP_TIME: hhmm, M2_BACKUP_KEEP_DAILY: '7', M2_BACKUP_KEEP_WEEKLY: '0', M2_BACKUP_KEEP_MONTHLY: '6', M2_BACKUP_DATABASES: '', M2_BACKUP_DUMP_TIMEOUT: '1', M2_DRILL_SCRIPT: path.join(dir, 'drill.sh') };
    // Its own process group, so that what docker does after its grace period (kill everything) can be done here.
    const loop = spawn('sh', [path.join(dir, 'backup.sh'), 'schedule'], { env: loopEnv, stdio: 'ignore', detached: true });
    const exited = new Promise<number | null>((resolve) => loop.on('exit', (code) => resolve(code)));
    let code: number | null | 'killed' | undefined;
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(path.join(dir, 'fake', 'restore.started')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(readdirSync(path.join(dir, 'scratch')).length).toBe(2);
      loop.kill('SIGTERM');
      code = await Promise.race([exited, new Promise<'killed'>((r) => setTimeout(() => r('killed'), 10_000))]);
    } finally {
      try {
        process.kill(-(loop.pid ?? 0), 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
    expect(readdirSync(path.join(dir, 'scratch'))).toEqual([]);
    expect(existsSync(env.M2_LOCK_DIR ?? '')).toBe(false);
    expect(code).toBe(143);
  }, 90_000);

  it('waits for nobody: a backup holding the lock makes it exit 75 and leaves the lock alone', async () => {
    const env = setup();
    mkdirSync(env.M2_LOCK_DIR ?? '');
    const r = await run(env);
    expect(r.code).toBe(EXIT_DRILL_BUSY);
    expect(existsSync(env.M2_LOCK_DIR ?? '')).toBe(true);
    expect(existsSync(path.join(dir, 'fake', 'restic.log'))).toBe(false);
  }, 60_000);

  it('on a schedule, drills only when none ran, the last failed, or the last pass is a week old', async () => {
    const env = setup();
    const last = path.join(dir, 'status', 'drill-last');
    const now = Math.floor(Date.now() / 1000);
    const ran = async (): Promise<boolean> => {
      rmSync(path.join(dir, 'fake', 'restic.log'), { force: true });
      const r = await run(env, 'schedule');
      expect(r.code, r.stderr).toBe(0);
      return existsSync(path.join(dir, 'fake', 'restic.log'));
    };
    expect(await ran()).toBe(true);
    expect(drillResultLine(readFileSync(path.join(dir, 'status', 'drill.json'), 'utf8').replace(/^/, 'm2-drill-result '))?.trigger).toBe('schedule');
    expect(await ran()).toBe(false);
    writeFileSync(last, `${now - 6 * 86_400} 1\n`);
    expect(await ran()).toBe(false);
    writeFileSync(last, `${now - 7 * 86_400 + 3_600} 1\n`);
    expect(await ran()).toBe(true);
    writeFileSync(last, `${now - 60} 0\n`);
    expect(await ran()).toBe(true);
    writeFileSync(last, 'garbage $(touch canary)\n');
    expect(await ran()).toBe(true);
    expect(existsSync(path.join(dir, 'canary'))).toBe(false);
  }, 60_000);

  it('removes its scratch and releases the lock when stopped half-way through the restore', async () => {
    const env = setup();
    writeFileSync(path.join(env.FAKE ?? '', 'restore.wait'), '');
    const child = spawn('sh', [path.join(dir, 'drill.sh'), 'app'], { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!existsSync(path.join(dir, 'fake', 'restore.started')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(path.join(dir, 'scratch')).length).toBe(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(readdirSync(path.join(dir, 'scratch'))).toEqual([]);
    expect(existsSync(env.M2_LOCK_DIR ?? '')).toBe(false);
  }, 60_000);

  it('refuses settings that are not numbers before touching anything', async () => {
    const env = setup();
    const r = await run({ ...env, M2_DRILL_HEADROOM_PERCENT: '10; touch canary' });
    expect(r.code).toBe(64);
    expect(existsSync(path.join(dir, 'canary'))).toBe(false);
    expect(existsSync(path.join(dir, 'fake', 'restic.log'))).toBe(false);
  }, 60_000);
});
