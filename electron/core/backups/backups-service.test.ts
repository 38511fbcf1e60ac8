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
        exec: async (argv: Argv) => {
          ran.push(argv);
          const key = Object.keys(answers).find((k) => argv.join(' ').includes(k));
          return key ? (answers[key] as ExecResult) : { code: 0, stdout: '', stderr: '' };
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

  it('a drill whose check fails says why, masks secrets, and keeps the result', async () => {
    const snaps = JSON.stringify([{ id: 'a'.repeat(64), short_id: 'aaaaaaaa', time: '2026-12-01T03:30:00Z', paths: ['/source'], hostname: 'm2-server' }]);
    const { s, ran, history } = service({
      'restic snapshots': ok(snaps),
      'restic check': { code: 1, stdout: 'load indexes\ncheck all packs\n', stderr: `pack 5f3c2a1b: not found (password ${PASSWORD})\nFatal: repository contains errors\n` },
    });
    const d = await s.drill('home');
    expect(d.passed).toBe(false);
    expect(d.reason).toBe('Repository check: restic check found errors: pack 5f3c2a1b: not found (password ••••••••) Fatal: repository contains errors');
    expect(JSON.stringify(d)).not.toContain(PASSWORD);
    expect(history().drills).toEqual([d]);
    // The scratch restore never ran on a repository that failed its check.
    expect(ran.some((a) => a.includes('m2-drill'))).toBe(false);
  });

  describe('the drill’s scratch restore needs room to spare on Docker’s disk', () => {
    const snaps = JSON.stringify([{ id: 'b'.repeat(64), short_id: 'bbbbbbbb', time: '2026-12-01T03:30:00Z', paths: ['/source'], hostname: 'm2-server' }]);
    const GiB = 1024 ** 3;
    // 3 files of 4 GiB and a folder: 12 GiB and one block, so 13.2 GiB and 1 GiB to spare are needed.
    const listing = ['/source', '/source/a', '/source/b', '/source/c'].map((p, i) => JSON.stringify({ name: p, type: i === 0 ? 'dir' : 'file', path: p, size: i === 0 ? 0 : 4 * GiB, struct_type: 'node' })).join('\n');
    const df = (freeKiB: number, mount = '/'): ExecResult => ok(`Filesystem 1024-blocks Used Available Capacity Mounted on\noverlay 999999999 1 ${freeKiB} 50% ${mount}\n`);
    const answers = (free: ExecResult): Record<string, ExecResult> => ({ 'restic snapshots': ok(snaps), 'restic ls': ok(listing), 'df -Pk /tmp': free, 'm2-drill': ok('m2-drill restore=0 files=3 dumps=0 bad=0\n') });

    it('refuses to restore when the snapshot and the headroom do not fit, and says how much is needed and free where', async () => {
      const { s, ran } = service(answers(df(10 * 1024 * 1024)));
      const d = await s.drill('home');
      expect(d.passed).toBe(false);
      expect(d.reason).toBe(
        'Free space: not enough free space for a full restore drill: it needs 14.2 GiB (the snapshot’s 12.0 GiB plus 10% and 1.0 GiB to spare), 10.0 GiB free in the backup container’s /tmp, on Docker’s disk. Nothing was restored. Free space on that disk, then run the drill again.',
      );
      expect(d.checks.map((c) => [c.name, c.passed])).toEqual([['Latest snapshot', true], ['Repository check', true], ['Free space', false]]);
      expect(ran.some((a) => a.includes('m2-drill'))).toBe(false);
    });

    it('restores once there is room, and records the check', async () => {
      const { s, ran } = service(answers(df(15 * 1024 * 1024)));
      const d = await s.drill('home');
      expect(d.reason).toBeNull();
      expect(d.checks.map((c) => c.name)).toEqual(['Latest snapshot', 'Repository check', 'Free space', 'Restore', 'File count', 'Database dumps']);
      expect(d.checks[2]?.detail).toBe('needs 14.2 GiB (the snapshot’s 12.0 GiB plus 10% and 1.0 GiB to spare), 15.0 GiB free in the backup container’s /tmp, on Docker’s disk');
      expect(ran.findIndex((a) => a.includes('df'))).toBeLessThan(ran.findIndex((a) => a.includes('m2-drill')));
    });

    it('takes the headroom from its constructor, and names a scratch folder that is a disk of its own', async () => {
      const { s } = service(answers(df(15 * 1024 * 1024, '/tmp')), { drillHeadroom: { fraction: 0, bytes: 4 * GiB } });
      const d = await s.drill('home');
      expect(d.reason).toMatch(/^Free space: not enough free space for a full restore drill: it needs 16\.0 GiB \(the snapshot’s 12\.0 GiB plus 0% and 4\.0 GiB to spare\), 15\.0 GiB free in the backup container’s \/tmp \(a disk of its own mounted at \/tmp\)\./);
    });

    it('does not restore when the free space cannot be read', async () => {
      const { s, ran } = service(answers({ code: 1, stdout: '', stderr: "df: /tmp: can't find mount point\n" }));
      const d = await s.drill('home');
      expect(d.reason).toBe("Free space: could not read the free space of the backup container’s /tmp: df: /tmp: can't find mount point. Nothing was restored.");
      expect(ran.some((a) => a.includes('m2-drill'))).toBe(false);
    });
  });
});
