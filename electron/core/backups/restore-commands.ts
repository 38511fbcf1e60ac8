/**
 * The commands of the restores that put data back where it lives, as argv (STYLE.md §3). File work runs as root in a
 * one-off container of the stack's `backup` service (its image holds restic, its environment the repository and its
 * password), with the one folder it changes mounted; every name, path and snapshot id reaches a constant script as an
 * argument ("$@"), never inside a shell line. Services are stopped and started through Compose with the live
 * release's files; a database dump is loaded by `psql` in a one-off container of the database's dump sidecar, whose
 * environment already holds the database's host, role and password.
 *
 * Folders of a whole-service restore, in the service's folder under the data root (`<dataRoot>/<module>`):
 * `<name>.m2-restoring` (the snapshot's copy, made while the service still runs), `<name>.m2-before-restore` (what
 * was there: kept until the restored service is healthy, put back otherwise) and `.m2-service-restore` (written
 * before the first folder moves, removed when the restore is finished or undone: an unfinished restore shows).
 */
import { type Argv } from '../ssh/argv';
import { composeGlobalArgs, docker, type ComposeFiles, type DockerAccessKind } from '../stack/compose-commands';
import { backupServiceName } from '../stack/modules/backup';

/** Where a whole-service restore mounts the service's folder (`<dataRoot>/<module>`). */
export const MODULE_MOUNT = '/m2/target';
/** Where an in-place restore mounts Nextcloud's data folder. */
export const NCDATA_MOUNT = '/m2/ncdata';
/** The dumps folder, as the backup service and the dump sidecars mount it. */
export const DUMPS_MOUNT = '/m2/dumps';
export const INCOMING_SUFFIX = '.m2-restoring';
export const ASIDE_SUFFIX = '.m2-before-restore';
export const JOURNAL = '.m2-service-restore';
/** A dump taken out of a snapshot for loading; `*.tmp*` is never backed up. */
export const DUMP_SUFFIX = '.sql.tmp-restore';
/** Exit statuses of the scripts (besides restic's own). */
export const EXIT_ASIDE_EXISTS = 17;
export const EXIT_NOT_MADE = 18;
export const EXIT_NO_PARENT = 19;
export const EXIT_MOVE_FAILED = 20;
export const EXIT_COUNT_MISMATCH = 21;
export const EXIT_BAD_DUMP = 22;
/** `back` refused: the restore had finished and only removing the data from before failed. */
export const EXIT_FINISHING = 23;
/** How long Compose waits for restored services to be healthy. */
export const WAIT_TIMEOUT_S = 600;
/** Seconds a service gets to stop. */
export const STOP_TIMEOUT_S = 30;

/**
 * One file or folder of Nextcloud's data back in its place. Arguments: the path inside the data folder, the name
 * the current one is kept under beside it, snapshot id, snapshot path, `dir` or `file`, the files expected, and for
 * a file its owner (`uid:gid`) and mode (octal), which `restic dump` does not restore. The snapshot's copy is made
 * in a hidden folder beside the place first and counted; only a full count moves anything: the current one aside
 * (never deleted), the copy into the place (and the current one back if that fails).
 */
export const IN_PLACE_SCRIPT = [
  'set -u',
  `dest=${NCDATA_MOUNT}/$1`,
  'parent=${dest%/*}',
  'name=${dest##*/}',
  `[ -d "$parent" ] || { echo "m2: the folder $parent is not there" >&2; exit ${EXIT_NO_PARENT}; }`,
  `if [ -e "$parent/$2" ] || [ -L "$parent/$2" ]; then echo "m2: $parent/$2 exists already" >&2; exit ${EXIT_ASIDE_EXISTS}; fi`,
  `tmp=$(mktemp -d "$parent/${INCOMING_SUFFIX}.XXXXXX") || exit ${EXIT_NOT_MADE}`,
  // Removed whatever happens, on a signal too (exit from the handler runs the EXIT trap).
  "trap 'rm -rf \"$tmp\"' EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'if [ "$5" = dir ]; then',
  '  restic restore "$3:$4" --target "$tmp/$name" >&2 || exit $?',
  'else',
  '  restic dump "$3" "$4" > "$tmp/$name" || exit $?',
  'fi',
  // restic makes a restore's target folder itself root's and 0700, and dump sets neither: the snapshot's say.
  'chown "$7" "$tmp/$name" && chmod "$8" "$tmp/$name" || exit $?',
  // One x per file: a name may hold a line break, so lines are not files.
  `files=$(find "$tmp/$name" -type f -exec printf '%.0sx' {} + | wc -c)`,
  `[ "$files" -eq "$6" ] || { echo "m2: restored $files of $6 files" >&2; echo "m2-inplace files=$files kept=0"; exit ${EXIT_COUNT_MISMATCH}; }`,
  'kept=0',
  'if [ -e "$dest" ] || [ -L "$dest" ]; then mv "$dest" "$parent/$2" || exit $?; kept=1; fi',
  'if ! mv "$tmp/$name" "$dest"; then',
  '  [ "$kept" = 1 ] && mv "$parent/$2" "$dest"',
  `  exit ${EXIT_MOVE_FAILED}`,
  'fi',
  'echo "m2-inplace files=$files kept=$kept"',
].join('\n');

/**
 * A whole service's folders, in `MODULE_MOUNT`. `prepare <snap> <dump> <name>=<uid:gid>=<mode>=<snapshot path>…`: the
 * snapshot's copy of each folder beside it (`<name>.m2-restoring`, with the snapshot's owner and mode) and the dump out of the snapshot (empty `<dump>`: none),
 * read whole (pg_dump's header and closing line). `swap <snap> <started> <db> <name>…`: the journal first, then each
 * folder aside and its copy in its place, and the database folder aside with an empty one for a fresh database.
 * `discard <name>…`: after a failed prepare, the copies and the dump taken out removed (nothing live has moved).
 * `back <name>…`: only when this restore's journal is there, what its swap moved aside back in its place (whatever part
 * of it ran), copies and journal removed; without the journal only the copies go. Refused once `finish` has begun.
 * `finish <name>…`: marks the journal, then the folders from before and the copies removed; the journal goes only
 * when every removal did, and the step fails otherwise.
 */
export const SERVICE_SCRIPT = [
  'set -u',
  'op=$1; shift',
  `dumps_dir=${DUMPS_MOUNT}`,
  `cd ${MODULE_MOUNT} || exit 1`,
  'case "$op" in',
  'prepare)',
  '  snap=$1; dump=$2; shift 2',
  '  for spec do',
  // <name>=<uid:gid>=<mode>=<snapshot path>
  '    name=${spec%%=*}; rest=${spec#*=}; owner=${rest%%=*}; rest=${rest#*=}; mode=${rest%%=*}; spath=${rest#*=}',
  `    rm -rf "$name${INCOMING_SUFFIX}"`,
  `    restic restore "$snap:$spath" --target "$name${INCOMING_SUFFIX}" >&2 || exit $?`,
  // restic makes the target folder itself root's and 0700 (the service could not read it): the snapshot's owner and mode.
  `    chown "$owner" "$name${INCOMING_SUFFIX}" && chmod "$mode" "$name${INCOMING_SUFFIX}" || exit $?`,
  `    echo "m2-prepared-$name files=$(find "$name${INCOMING_SUFFIX}" -type f -exec printf '%.0sx' {} + | wc -c)"`,
  '  done',
  '  if [ -n "$dump" ]; then',
  `    out=$dumps_dir/$dump${DUMP_SUFFIX}`,
  // The snapshot holds the dumps where the backup container mounts them.
  `    restic dump "$snap" "${DUMPS_MOUNT}/$dump.sql" > "$out" || exit $?`,
  '    head -n 5 "$out" | grep -q "PostgreSQL database dump" && tail -c 200 "$out" | grep -q "PostgreSQL database dump complete" ||',
  `      { echo "m2: the database dump in the snapshot is not a complete pg_dump file" >&2; exit ${EXIT_BAD_DUMP}; }`,
  '    echo "m2-dump bytes=$(wc -c < "$out")"',
  '  fi',
  '  ;;',
  'swap)',
  '  snap=$1; started=$2; db=$3; shift 3',
  '  for name in "$@" $db; do',
  `    if [ -e "$name${ASIDE_SUFFIX}" ]; then echo "m2: $name${ASIDE_SUFFIX} is there from an earlier restore" >&2; exit ${EXIT_ASIDE_EXISTS}; fi`,
  '  done',
  `  printf 'snapshot=%s\\nstarted=%s\\n' "$snap" "$started" > ${JOURNAL}.tmp && mv -f ${JOURNAL}.tmp ${JOURNAL} || exit ${EXIT_MOVE_FAILED}`,
  '  for name do',
  // A folder that is gone is kept aside as an empty one, so that putting back always has something to move.
  `    { [ -e "$name" ] || mkdir "$name"; } && mv "$name" "$name${ASIDE_SUFFIX}" && mv "$name${INCOMING_SUFFIX}" "$name" || exit ${EXIT_MOVE_FAILED}`,
  '  done',
  '  if [ -n "$db" ]; then',
  `    mv "$db" "$db${ASIDE_SUFFIX}" && mkdir -m 700 "$db" || exit ${EXIT_MOVE_FAILED}`,
  '  fi',
  '  echo "m2-swapped"',
  '  ;;',
  'discard)',
  // After a failed prepare: only the copies and the dump taken out; nothing live has moved.
  `  for name do rm -rf "$name${INCOMING_SUFFIX}"; done`,
  `  rm -f "$dumps_dir"/*${DUMP_SUFFIX}`,
  '  echo "m2-discarded"',
  '  ;;',
  'back)',
  // Only this restore's asides: its journal is written before the first folder moves. An aside without it is an
  // earlier restore's, and moving it in would delete the live folder.
  `  if [ ! -f ${JOURNAL} ]; then`,
  `    for name do rm -rf "$name${INCOMING_SUFFIX}"; done`,
  `    rm -f "$dumps_dir"/*${DUMP_SUFFIX}`,
  '    echo "m2-back rc=0 journal=0"',
  '    exit 0',
  '  fi',
  // The restore had finished (the restored service was healthy) and only removing the data from before failed: that
  // data may be part-deleted, so it never goes back over the restored one.
  `  if grep -qx 'finishing=1' ${JOURNAL}; then`,
  `    echo "m2: the restore had finished and only removing the data from before failed; remove $* (each with ${ASIDE_SUFFIX}) and ${JOURNAL} by hand" >&2`,
  `    exit ${EXIT_FINISHING}`,
  '  fi',
  '  rc=0',
  '  for name do',
  `    if [ -e "$name${ASIDE_SUFFIX}" ]; then rm -rf "$name" && mv "$name${ASIDE_SUFFIX}" "$name" || rc=${EXIT_MOVE_FAILED}; fi`,
  `    rm -rf "$name${INCOMING_SUFFIX}"`,
  '  done',
  `  rm -f "$dumps_dir"/*${DUMP_SUFFIX}`,
  `  [ "$rc" -eq 0 ] && rm -f ${JOURNAL}`,
  '  echo "m2-back rc=$rc journal=1"',
  '  exit $rc',
  '  ;;',
  'finish)',
  // Marked first: from here on the data from before is being deleted and must never be put back.
  `  echo 'finishing=1' >> ${JOURNAL} || exit ${EXIT_MOVE_FAILED}`,
  '  rc=0',
  `  for name do rm -rf "$name${ASIDE_SUFFIX}" "$name${INCOMING_SUFFIX}" || rc=1; done`,
  `  rm -f "$dumps_dir"/*${DUMP_SUFFIX} || rc=1`,
  // The journal goes only when all else went: a restore whose old data is still there shows as unfinished.
  `  [ "$rc" -eq 0 ] && { rm -f ${JOURNAL} || rc=1; }`,
  '  echo "m2-finished rc=$rc"',
  '  exit $rc',
  '  ;;',
  '*) echo "m2: unknown step $op" >&2; exit 64 ;;',
  'esac',
].join('\n');

/** Prints each journal given that is there, under a `== <path>` line (run on the server as the admin; paths as "$@"). */
export const JOURNALS_SCRIPT = 'for f do if [ -f "$f" ]; then echo "== $f"; cat "$f"; fi; done; exit 0';

export const restoreCommands = (access: DockerAccessKind, files: ComposeFiles) => {
  const compose = (...args: string[]): Argv => docker(access, ['docker', 'compose', ...composeGlobalArgs(files), ...args]);
  const oneOff = (mount: [host: string, target: string], script: string, name: string, ...args: string[]): Argv =>
    compose('run', '--rm', '--no-deps', '-T', '--volume', `${mount[0]}:${mount[1]}`, '--entrypoint', '/bin/sh', backupServiceName, '-c', script, name, ...args);
  return {
    inPlace: (dataDir: string, rel: string, asideName: string, snapshotId: string, snapshotPath: string, kind: 'dir' | 'file', expected: number, owner: string, mode: string): Argv =>
      oneOff([dataDir, NCDATA_MOUNT], IN_PLACE_SCRIPT, 'm2-in-place', rel, asideName, snapshotId, snapshotPath, kind, String(expected), owner, mode),
    prepare: (moduleDir: string, snapshotId: string, dump: string, folders: ReadonlyArray<{ name: string; owner: string; mode: string; snapshotPath: string }>): Argv =>
      oneOff([moduleDir, MODULE_MOUNT], SERVICE_SCRIPT, 'm2-service-restore', 'prepare', snapshotId, dump, ...folders.map((f) => `${f.name}=${f.owner}=${f.mode}=${f.snapshotPath}`)),
    swap: (moduleDir: string, snapshotId: string, startedAt: string, db: string, names: readonly string[]): Argv =>
      oneOff([moduleDir, MODULE_MOUNT], SERVICE_SCRIPT, 'm2-service-restore', 'swap', snapshotId, startedAt, db, ...names),
    back: (moduleDir: string, names: readonly string[]): Argv => oneOff([moduleDir, MODULE_MOUNT], SERVICE_SCRIPT, 'm2-service-restore', 'back', ...names),
    discard: (moduleDir: string, names: readonly string[]): Argv => oneOff([moduleDir, MODULE_MOUNT], SERVICE_SCRIPT, 'm2-service-restore', 'discard', ...names),
    finish: (moduleDir: string, names: readonly string[]): Argv => oneOff([moduleDir, MODULE_MOUNT], SERVICE_SCRIPT, 'm2-service-restore', 'finish', ...names),
    /** The dump loaded in one transaction, stopping at the first error, by psql in a one-off dump sidecar. */
    loadDump: (dumpService: string, dump: string): Argv =>
      compose('run', '--rm', '--no-deps', '-T', '--entrypoint', 'psql', dumpService, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', `${DUMPS_MOUNT}/${dump}${DUMP_SUFFIX}`),
    stop: (services: readonly string[]): Argv => compose('stop', '--timeout', String(STOP_TIMEOUT_S), '--', ...services),
    /** Started as the live release declares them (no recreate unless changed), waiting until healthy. */
    up: (services: readonly string[]): Argv => compose('up', '--detach', '--no-deps', '--wait', '--wait-timeout', String(WAIT_TIMEOUT_S), '--pull', 'never', '--', ...services),
    /** `php occ` as www-data, the owner of config.php (stack-facts §6). */
    occ: (...args: string[]): Argv => compose('exec', '-T', '--user', 'www-data', 'nextcloud', 'php', 'occ', '--no-interaction', ...args),
    /** Free space of a folder of the server, read there (KiB blocks). */
    df: (dir: string): Argv => ['df', '-Pk', '--', dir],
    journals: (paths: readonly string[]): Argv => ['sh', '-c', JOURNALS_SCRIPT, 'm2-journals', ...paths],
  };
};
export type RestoreCommands = ReturnType<typeof restoreCommands>;
