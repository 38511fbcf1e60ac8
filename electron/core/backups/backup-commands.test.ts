import { describe, expect, it } from 'vitest';
import type { ComposeFiles } from '../stack/compose-commands';
import { backupCommands, nextcloudPath, RESTORE_SCRIPT } from './backup-commands';

const files: ComposeFiles = { project: 'm2', projectDir: '/srv/m2/.m2/releases/r1', dir: '/srv/m2/.m2/releases/r1', envFiles: ['env/backup.env'] };
const c = backupCommands('group', files);
const compose = ['docker', 'compose', '--project-name', 'm2', '--project-directory', '/srv/m2/.m2/releases/r1', '--file', '/srv/m2/.m2/releases/r1/compose.yaml', '--env-file', '/srv/m2/.m2/releases/r1/env/backup.env'];

describe('backup commands', () => {
  it('runs restic inside the backup container, where its environment holds the password', () => {
    expect(c.snapshots()).toEqual([...compose, 'exec', '-T', 'backup', 'restic', 'snapshots', '--json', '--no-lock']);
    expect(c.check()).toEqual([...compose, 'exec', '-T', 'backup', 'restic', 'check', '--read-data-subset=5%']);
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

  it('puts sudo in front when the admin reaches Docker through sudo', () => {
    expect(backupCommands('sudo', files).snapshots().slice(0, 3)).toEqual(['sudo', '-n', '--']);
  });
});
