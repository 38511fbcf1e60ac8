import { describe, expect, it } from 'vitest';
import { RestoreRequest, type BackupProgress } from '../../contract/backups';
import { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';
import type { ExecResult } from '../ssh/runner';
import { BackupsService, type BackupsServiceDeps, type DrillHistory } from './backups-service';

/**
 * The service's own decisions against a scripted server (the lab test runs the same against real restic): what a
 * restore that lands nothing is called, and how a drill words a failing check. Each answer is chosen by the
 * command's restic verb.
 */
const files = { project: 'm2', projectDir: '/srv/m2/.m2', dir: '/srv/m2/.m2/releases/r1', envFiles: [] };
const PASSWORD = 'hunter2-very-secret';

function service(answers: Record<string, ExecResult>, extra: Partial<BackupsServiceDeps> = {}) {
  const ran: Argv[] = [];
  let history: DrillHistory = { drills: [] };
  const events: BackupProgress[] = [];
  const s = new BackupsService({
    target: async () => ({
      conn: {
        exec: async (argv: Argv, opts?: { onStdout?: (d: Buffer) => void }) => {
          ran.push(argv);
          const key = Object.keys(answers).find((k) => argv.join(' ').includes(k));
          const answer = key ? (answers[key] as ExecResult) : { code: 0, stdout: '', stderr: '' };
          opts?.onStdout?.(Buffer.from(answer.stdout));
          return answer;
        },
      },
      access: 'group',
      files,
      releaseId: 'r1',
      services: ['backup'],
      secrets: [new Secret(PASSWORD)],
    }),
    settings: async () => StackSettings.parse({ dataRoot: '/srv/m2' }),
    drills: {
      read: async () => history,
      update: async (_p: string, change: (h: DrillHistory) => void) => {
        const next = structuredClone(history);
        change(next);
        history = next;
        return history;
      },
    },
    emit: (e) => events.push(e),
    log: silentLogger,
    ...extra,
  });
  return { s, ran, events, history: () => history };
}

const node = (p: string, type: string) => JSON.stringify({ name: p.split('/').at(-1), type, path: p, struct_type: 'node' });
const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

describe('backups service', () => {
  it('calls a restore that exits 0 but lands no file an error, never a success', async () => {
    const { s } = service({
      'restic ls': ok([node('/source/nextcloud/data/admin/files/Photos', 'dir'), node('/source/nextcloud/data/admin/files/Photos/p.jpg', 'file')].join('\n')),
      'm2-restore': ok('m2-restored files=0 bytes=0\n'),
    });
    const err = await s.restore(RestoreRequest.parse({ profileId: 'home', snapshotId: 'abcdef12', path: 'admin/files/Photos', into: 'back' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'backups.restored-nothing' });
    expect((err as AppError).userMessage).toBe('restic finished without error but restored no file of admin/files/Photos (the snapshot holds 1).');
  });

  it('names a folder mkdir could not make (no space, read-only) by its own words, under “Restore into”, never “exists already”', async () => {
    const { s } = service({
      'restic ls': ok(node('/source/nextcloud/data/admin/files/notes.txt', 'file')),
      'm2-restore': { code: 18, stdout: '', stderr: "m2: could not make /m2/restores/back: mkdir: can't create directory '/m2/restores/back': No space left on device\n" },
    });
    const err = await s.restore(RestoreRequest.parse({ profileId: 'home', snapshotId: 'abcdef12', path: 'admin/files/notes.txt', into: 'back' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'backups.failed', field: 'into' });
    expect((err as AppError).userMessage).toBe("Restore into: the server could not make /srv/m2/restores/back: mkdir: can't create directory '/srv/m2/restores/back': No space left on device");
    expect((err as AppError).hint).toBe('Check that the disk holding /srv/m2/restores has free space and is writable, then try again.');
  });

  it('runs one restore, backup or drill at a time per server', async () => {
    const waiting: Array<() => void> = [];
    const slow = new BackupsService({
      target: async () => {
        await new Promise<void>((r) => waiting.push(r));
        throw new AppError('internal', 'stopped');
      },
      settings: async () => StackSettings.parse({ dataRoot: '/srv/m2' }),
      drills: { read: async () => ({ drills: [] }), update: async () => ({ drills: [] }) },
      emit: () => undefined,
      log: silentLogger,
    });
    const first = slow.drill('home');
    await expect(slow.run('home')).rejects.toMatchObject({ code: 'backups.busy' });
    // Another server is not held up.
    const other = slow.run('other');
    while (waiting.length < 2) await new Promise((r) => setTimeout(r, 1));
    for (const w of waiting.splice(0)) w();
    await expect(first).rejects.toMatchObject({ code: 'internal' });
    await expect(other).rejects.toMatchObject({ code: 'internal' });
    // Free again once it ended.
    const again = slow.run('home');
    while (waiting.length < 1) await new Promise((r) => setTimeout(r, 1));
    waiting[0]?.();
    await expect(again).rejects.toMatchObject({ code: 'internal' });
  });

  const result = (over: Record<string, unknown>): string =>
    JSON.stringify({
      version: 1, trigger: 'app', startedAt: '2026-12-05T03:40:00Z', finishedAt: '2026-12-05T03:41:00Z', durationSeconds: 60, passed: true, failed: null,
      snapshotId: 'a'.repeat(64), snapshotTime: '2026-12-05T03:30:00Z', snapshotsCode: 0, checkCode: 0, subset: '5%', listCode: 0, filesExpected: 3, footprintBytes: 16384,
      freeKb: 15 * 1024 * 1024, mount: '/', neededBytes: 1073759846, headroomPercent: 10, headroomBytes: 1073741824, restoreCode: 0, filesRestored: 3, dumps: 1, badDumps: 0,
      badDumpNames: null, said: null, lastPassedAt: '2026-12-05T03:41:00Z', ...over,
    });

  it('runs the drill script, shows its steps as they come, and words its result line', async () => {
    const { s, ran, events, history } = service({ 'm2-drill': ok(`m2-drill-step snapshots\nm2-drill-step check\nm2-drill-step bogus\nm2-drill-result ${result({})}\n`) });
    const d = await s.drill('home');
    expect(d).toMatchObject({ passed: true, reason: null, trigger: 'app', at: '2026-12-05T03:41:00Z', filesExpected: 3, filesRestored: 3 });
    expect(d.checks.map((c) => c.name)).toEqual(['Latest snapshot', 'Repository check', 'Free space', 'Restore', 'File count', 'Database dumps']);
    expect(d.checks[2]?.detail).toBe('needs 1.0 GiB (the snapshot’s 16.0 KiB plus 10% and 1.0 GiB to spare), 15.0 GiB free in the backup container’s /tmp, on Docker’s disk');
    expect(events.map((e) => (e.kind === 'step' ? e.text : ''))).toEqual(['Finding the latest snapshot…', 'Checking the repository and reading back part of its data…']);
    expect(ran).toHaveLength(1);
    expect(ran[0]?.slice(-2)).toEqual(['m2-drill', 'app']);
    expect(history().drills).toEqual([d]);
  });

  it('a drill whose check fails says why, masks secrets, and keeps the result', async () => {
    const said = `pack 5f3c2a1b: not found (password ${PASSWORD})\nFatal: repository contains errors`;
    const { s, history } = service({ 'm2-drill': { code: 1, stdout: `m2-drill-result ${result({ passed: false, failed: 'check', checkCode: 1, said })}\n`, stderr: '' } });
    const d = await s.drill('home');
    expect(d.passed).toBe(false);
    expect(d.reason).toBe('Repository check: restic check found errors: pack 5f3c2a1b: not found (password ••••••••) Fatal: repository contains errors');
    expect(JSON.stringify(d)).not.toContain(PASSWORD);
    expect(history().drills).toEqual([d]);
  });

  it('says a backup holds the server’s lock, and a drill that printed no result failed with its last words', async () => {
    const busy = service({ 'm2-drill': { code: 75, stdout: '', stderr: 'drill: a backup or another drill is running\n' } });
    await expect(busy.s.drill('home')).rejects.toMatchObject({ code: 'backups.busy' });
    expect(busy.history().drills).toEqual([]);
    const { s } = service({ 'm2-drill': { code: 137, stdout: 'm2-drill-step restore\nm2-drill-result {"version":1,"passed":true}\n', stderr: `Killed ${PASSWORD}\n` } });
    const d = await s.drill('home');
    expect(d).toMatchObject({ passed: false, reason: 'Drill: the drill did not finish: Killed ••••••••' });
  });

  it('shows the scheduled drill the server ran while the app was away, with the last pass it remembers', async () => {
    const scheduled = result({ trigger: 'schedule', finishedAt: '2026-12-06T03:41:00Z', passed: false, failed: 'dumps', badDumps: 1, badDumpNames: 'nextcloud.sql', lastPassedAt: '2026-12-05T03:41:00Z' });
    const { s } = service({ 'cat /m2/status/drill.json': ok(`${scheduled}\n`), 'restic snapshots': ok('[]'), 'cat /m2/status/status.json': { code: 1, stdout: '', stderr: '' } });
    const v = await s.view('home');
    expect(v.lastDrill).toMatchObject({ trigger: 'schedule', passed: false, at: '2026-12-06T03:41:00Z' });
    expect(v.lastDrill?.reason).toBe('Database dumps: 1 of 1 database dumps are not complete pg_dump files (cut short or an error instead of a dump): nextcloud.sql.');
    expect(v.lastPassedDrill).toBe('2026-12-05T03:41:00Z');
    // A hostile or broken file is not a drill.
    const bad = service({ 'cat /m2/status/drill.json': ok('{"version":1,"passed":true,"reason":"<script>"}'), 'restic snapshots': ok('[]') });
    const w = await bad.s.view('home');
    expect(w.lastDrill).toBeNull();
    expect(w.lastPassedDrill).toBeNull();
  });
});
