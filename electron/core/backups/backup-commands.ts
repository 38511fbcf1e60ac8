/**
 * The commands behind the Backups page, as argv (STYLE.md §3). restic runs where the backup module runs it: inside
 * the stack's `backup` container (`docker compose exec`), whose environment holds RESTIC_REPOSITORY and
 * RESTIC_PASSWORD from the server's 0600 env file, so no password is ever on argv. A restore into a folder of the
 * server uses `docker compose run` of the same service with that folder's parent mounted; its folder name, snapshot
 * id and path arrive as arguments of a constant script ("$@"), never inside a shell line.
 */
import path from 'node:path';
import { type Argv } from '../ssh/argv';
import { composeGlobalArgs, docker, type ComposeFiles, type DockerAccessKind } from '../stack/compose-commands';
import { backupOnceCommand, backupServiceName, backupStatusTarget } from '../stack/modules/backup';
import { DRILL_RESULT_TARGET, DRILL_SCRIPT } from './drill-script';
import type { DrillHeadroom } from './drill-space';

/** Where the backup script mounts the services' folders; Nextcloud's html folder is `nextcloud` below it. */
export const SOURCE_ROOT = '/source';
/** Nextcloud's data folder as the snapshots hold it (the image's default `datadirectory`). */
export const NEXTCLOUD_DATA = `${SOURCE_ROOT}/nextcloud/data`;
/** Where a restore's parent folder (`<data folder>/restores`) is mounted in its one-off container. */
export const RESTORES_MOUNT = '/m2/restores';
/** Exit status of the restore script when the chosen folder exists already. */
export const EXIT_FOLDER_EXISTS = 17;
/** Exit status of the restore script when the new folder could not be made for another reason (no space, read-only). */
export const EXIT_FOLDER_NOT_MADE = 18;
/** Where the drill's scratch restore goes, inside the backup container (its writable layer: Docker's disk). */
export const DRILL_SCRATCH_ROOT = '/tmp';
/** Share of the repository's data the drill reads back. */
export const DRILL_READ_SUBSET = '5%';

/** The snapshot path of a path inside Nextcloud's data (validated by the contract: no `..`, no empty parts). */
export const nextcloudPath = (rel?: string): string => (rel ? path.posix.join(NEXTCLOUD_DATA, rel) : NEXTCLOUD_DATA);

/**
 * Make the new folder (never one that exists) and restore one path of one snapshot into it by its exact path, never a
 * pattern (restic's --include is a glob, and a name holding `*` or `[` matches nothing or more): a folder with
 * `restore <id>:<path>` into `<folder>/<its name>`, a file with `dump <id> <path>`. Then print how many files and
 * bytes landed: restic can exit 0 having restored nothing, so the count is the answer. Arguments: folder name,
 * snapshot id, snapshot path, `dir` or `file`.
 */
export const RESTORE_SCRIPT = [
  'set -u',
  `dest=${RESTORES_MOUNT}/$1`,
  // Only a folder (or anything) already there is "exists already"; mkdir's own words otherwise (no space, read-only).
  'if ! why=$(mkdir "$dest" 2>&1); then',
  `  if [ -e "$dest" ] || [ -L "$dest" ]; then echo "m2: $dest exists already" >&2; exit ${EXIT_FOLDER_EXISTS}; fi`,
  `  echo "m2: could not make $dest: $why" >&2; exit ${EXIT_FOLDER_NOT_MADE}`,
  'fi',
  'out="$dest/${3##*/}"',
  'if [ "$4" = dir ]; then',
  '  restic restore "$2:$3" --target "$out" >&2 || exit $?',
  'else',
  '  restic dump "$2" "$3" > "$out" || exit $?',
  'fi',
  // One character a file, not one line: a name may hold a line break.
  `files=$(find "$out" -type f -exec printf '%.0sx' {} + 2> /dev/null | wc -c)`,
  'bytes=$(find "$out" -type f -exec cat {} + 2> /dev/null | wc -c)',
  'echo "m2-restored files=$files bytes=$bytes"',
].join('\n');

export const backupCommands = (access: DockerAccessKind, files: ComposeFiles) => {
  const compose = (...args: string[]): Argv => docker(access, ['docker', 'compose', ...composeGlobalArgs(files), ...args]);
  const exec = (...argv: string[]): Argv => compose('exec', '-T', backupServiceName, ...argv);
  const execEnv = (env: Record<string, string>, ...argv: string[]): Argv =>
    compose('exec', '-T', ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]), backupServiceName, ...argv);
  return {
    snapshots: (): Argv => exec('restic', 'snapshots', '--json', '--no-lock'),
    /** Restore size of every snapshot in one object per snapshot id (restic < 0.17 records no size in the snapshot). */
    stats: (snapshotId: string): Argv => exec('restic', 'stats', '--json', '--no-lock', snapshotId),
    status: (): Argv => exec('cat', backupStatusTarget),
    /** The module's own run (dumps, backup, retention, status file), with restic's JSON lines on stdout as they come. */
    backupNow: (): Argv => execEnv({ M2_BACKUP_PROGRESS: '1', RESTIC_PROGRESS_FPS: '4' }, ...backupOnceCommand),
    /** One folder's entries (the folder itself comes first, then its children); with `recursive` everything below. */
    ls: (snapshotId: string, snapshotPath: string, recursive: boolean): Argv =>
      exec('restic', 'ls', '--json', '--no-lock', ...(recursive ? ['--recursive'] : []), '--', snapshotId, snapshotPath),
    restore: (restoresDir: string, folder: string, snapshotId: string, snapshotPath: string, kind: 'dir' | 'file'): Argv =>
      compose('run', '--rm', '--no-deps', '-T', '--volume', `${restoresDir}:${RESTORES_MOUNT}`, '--entrypoint', '/bin/sh', backupServiceName, '-c', RESTORE_SCRIPT, 'm2-restore', folder, snapshotId, snapshotPath, kind),
    /**
     * The restore drill (drill-script.ts), the same script the backup container's schedule runs, given as text so a
     * stack installed before it drills too; its headroom and the share of data checked as env, never in the text.
     */
    drill: (room: DrillHeadroom): Argv =>
      execEnv(
        { M2_DRILL_HEADROOM_PERCENT: String(Math.round(room.fraction * 100)), M2_DRILL_HEADROOM_BYTES: String(Math.round(room.bytes)), M2_DRILL_SUBSET: DRILL_READ_SUBSET },
        '/bin/sh',
        '-c',
        DRILL_SCRIPT,
        'm2-drill',
        'app',
      ),
    /** The result the last drill (scheduled or not) left where live status reads it. */
    lastDrill: (): Argv => exec('cat', DRILL_RESULT_TARGET),
  };
};
export type BackupCommands = ReturnType<typeof backupCommands>;
