import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComposeFiles } from '../stack/compose-commands';
import { DRILL_SCRIPT } from './drill-script';
import { backupCommands, EXIT_FOLDER_EXISTS, EXIT_FOLDER_NOT_MADE, nextcloudPath, RESTORE_SCRIPT, RESTORES_MOUNT } from './backup-commands';

const files: ComposeFiles = { project: 'm2', projectDir: '/srv/m2/.m2/releases/r1', dir: '/srv/m2/.m2/releases/r1', envFiles: ['env/backup.env'] };
const c = backupCommands('group', files);
const compose = ['docker', 'compose', '--project-name', 'm2', '--project-directory', '/srv/m2/.m2/releases/r1', '--file', '/srv/m2/.m2/releases/r1/compose.yaml', '--env-file', '/srv/m2/.m2/releases/r1/env/backup.env'];

describe('backup commands', () => {
  it('runs restic inside the backup container, where its environment holds the password', () => {
    expect(c.snapshots()).toEqual([...compose, 'exec', '-T', 'backup', 'restic', 'snapshots', '--json', '--no-lock']);
    expect(c.backupNow()).toEqual([...compose, 'exec', '-T', '--env', 'M2_BACKUP_PROGRESS=1', '--env', 'RESTIC_PROGRESS_FPS=4', 'backup', '/bin/sh', '/m2/backup.sh', 'once']);
  });

  it('lists a folder after `--`, so a path is never read as an option', () => {
    expect(c.ls('0123abcd', nextcloudPath('admin/files/-rf'), true)).toEqual([...compose, 'exec', '-T', 'backup', 'restic', 'ls', '--json', '--no-lock', '--recursive', '--', '0123abcd', '/source/nextcloud/data/admin/files/-rf']);
  });

  it('restores through a constant script with the folder, snapshot and path as its arguments', () => {
    const argv = c.restore('/srv/m2/restores', 'x$(reboot)', '0123abcd', '/source/nextcloud/data/a b', 'dir');
    expect(argv).toEqual([...compose, 'run', '--rm', '--no-deps', '-T', '--volume', '/srv/m2/restores:/m2/restores', '--entrypoint', '/bin/sh', 'backup', '-c', RESTORE_SCRIPT, 'm2-restore', 'x$(reboot)', '0123abcd', '/source/nextcloud/data/a b', 'dir']);
    expect(RESTORE_SCRIPT).not.toContain('x$(reboot)');
  });

  it('runs the drill as the constant script the schedule runs, its headroom and share of data as env', () => {
    expect(c.drill({ fraction: 0.1, bytes: 1024 ** 5 })).toEqual([
      ...compose, 'exec', '-T', '--env', 'M2_DRILL_HEADROOM_PERCENT=10', '--env', 'M2_DRILL_HEADROOM_BYTES=1125899906842624', '--env', 'M2_DRILL_SUBSET=5%', 'backup', '/bin/sh', '-c', DRILL_SCRIPT, 'm2-drill', 'app',
    ]);
    expect(c.lastDrill()).toEqual([...compose, 'exec', '-T', 'backup', 'cat', '/m2/status/drill.json']);
  });

  it('puts sudo in front when the admin reaches Docker through sudo', () => {
    expect(backupCommands('sudo', files).snapshots().slice(0, 3)).toEqual(['sudo', '-n', '--']);
  });
});

/**
 * The restore script itself under a real sh, with a fake restic first in PATH and the restores mount pointed at a
 * folder of the test (the only change to the script is that one path).
 */
describe('the restore script under sh', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'm2-restore-script-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const bin = path.join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'restic'), '#!/bin/sh\n[ "$1" = dump ] && printf \'restored bytes\\n\'\n', { mode: 0o755 });
  const run = (mount: string, folder: string) => {
    expect(RESTORE_SCRIPT).toContain(`${RESTORES_MOUNT}/$1`);
    const script = RESTORE_SCRIPT.split(`${RESTORES_MOUNT}/`).join(`${mount}/`);
    return spawnSync('/bin/sh', ['-c', script, 'm2-restore', folder, '0123abcd', '/source/nextcloud/data/admin/files/notes.txt', 'file'], {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      encoding: 'utf8',
    });
  };

  it('makes the new folder, restores into it and counts what landed', () => {
    const restores = path.join(work, 'ok');
    mkdirSync(restores);
    const r = run(restores, 'back');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('m2-restored files=1 bytes=15\n');
    expect(readFileSync(path.join(restores, 'back', 'notes.txt'), 'utf8')).toBe('restored bytes\n');
  });

  it('counts a restored file with a line break in its name once', () => {
    const restores = path.join(work, 'newline');
    mkdirSync(restores);
    const script = RESTORE_SCRIPT.split(`${RESTORES_MOUNT}/`).join(`${restores}/`);
    // restic restore <id>:<path> --target <out>: one file whose name holds a line break, and one without.
    writeFileSync(path.join(bin, 'restic'), '#!/bin/sh\n[ "$1" = restore ] && mkdir -p "$4" && printf ab > "$4/two\nlines" && printf c > "$4/plain"\n', { mode: 0o755 });
    try {
      const r = spawnSync('/bin/sh', ['-c', script, 'm2-restore', 'back', '0123abcd', '/source/nextcloud/data/admin/files/docs', 'dir'], { env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(path.join(restores, 'back', 'docs')).sort()).toEqual(['plain', 'two\nlines']);
      expect(r.stdout).toBe('m2-restored files=2 bytes=3\n');
    } finally {
      writeFileSync(path.join(bin, 'restic'), '#!/bin/sh\n[ "$1" = dump ] && printf \'restored bytes\\n\'\n', { mode: 0o755 });
    }
  });

  it('says "exists already" only when the folder is there, and leaves it untouched', () => {
    const restores = path.join(work, 'exists');
    mkdirSync(path.join(restores, 'back'), { recursive: true });
    writeFileSync(path.join(restores, 'back', 'keep.txt'), 'mine');
    const r = run(restores, 'back');
    expect(r.status).toBe(EXIT_FOLDER_EXISTS);
    expect(r.stderr).toBe(`m2: ${restores}/back exists already\n`);
    expect(readdirSync(path.join(restores, 'back'))).toEqual(['keep.txt']);
  });

  it('reports any other mkdir failure with mkdir’s own words and its own exit status, never as "exists already"', () => {
    // The restores "folder" is a file, so mkdir fails (not a directory) while nothing exists at the new folder's path:
    // the same path through the script as no space or a read-only disk, and one that fails even for root.
    const restores = path.join(work, 'a-file');
    writeFileSync(restores, '');
    const r = run(restores, 'back');
    expect(r.status).toBe(EXIT_FOLDER_NOT_MADE);
    expect(r.stderr).toMatch(new RegExp(`^m2: could not make ${restores}/back: mkdir: .*${restores}/back.*Not a directory\\n$`));
    expect(r.stderr).not.toContain('exists already');
    expect(r.stdout).toBe('');
  });

});
