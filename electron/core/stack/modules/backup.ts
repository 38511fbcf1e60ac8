/**
 * Backup (stack-facts §7): restic in a long-running container whose POSIX-sh loop runs once a day at the
 * admin's time (server local time): it asks the dump sidecars for fresh database dumps, backs up the dumps and
 * the services' config/data folders (read-only), applies the retention policy, and writes a machine-readable
 * status file (`<dataRoot>/backup/status/status.json`, replaced atomically) that status work reads.
 *
 * One Postgres dump sidecar per database (`nextcloud-db-dump`, `authentik-db-dump`) answers requests through
 * marker files in the shared dumps folder, so the backup container needs neither a network nor the Docker socket.
 * Run a backup now with `docker compose exec backup` + `backupOnceCommand`.
 */
import type { StackSettings } from '../../../contract/stack';
import { DRILL_EVERY_DAYS, DRILL_SCRIPT, DRILL_SCRIPT_TARGET } from '../../backups/drill-script';
import { varRef, type ModuleContext, type ModuleFile, type ModuleOutput, type SecretRequest, type StackModule } from '../types';
import { authentikDb, authentikDirs, authentikVars } from './authentik';
import { baseService, bind, dataDir, healthcheck, secretOf } from './common';
import { nextcloudDb, nextcloudDirs, nextcloudVars } from './nextcloud';

export const resticPasswordSecret = 'backup.restic-password';
export const resticPasswordVar = 'BACKUP_RESTIC_PASSWORD';
/** Fixed: restic keys snapshots by host, and a container's hostname changes with every recreate otherwise. */
export const backupHostname = 'm2-server';
export const backupServiceName = 'backup';
const scriptTarget = '/m2/backup.sh';
/** Exit codes of `once`: 0 success, 3 partial, 1 failed, 75 another backup is running. */
export const backupOnceCommand: readonly string[] = ['/bin/sh', scriptTarget, 'once'];
/** Status file inside the backup container (the host path is `backupDirs(settings).status/status.json`). */
export const backupStatusTarget = '/m2/status/status.json';

export const backupDirs = (s: StackSettings): { dumps: string; status: string; cache: string } => ({
  dumps: dataDir(s, 'backup', 'dumps'),
  status: dataDir(s, 'backup', 'status'),
  cache: dataDir(s, 'backup', 'cache'),
});

/**
 * A shell script written as a template without substitutions: raw text (backslashes kept for sed), with `\${`
 * standing for the shell's `${`.
 */
const shellScript = (strings: TemplateStringsArray): string => strings.raw.join('').replace(/\\\$\{/g, '${');

/**
 * The scheduler and runner. Shell: busybox ash (the lab's stand-in) and Alpine's (restic/restic). Settings
 * arrive as env variables, so the script itself never changes with settings.
 */
export const backupScript = shellScript`#!/bin/sh
# M2 Companion backup: restic once a day with database dumps first, and a status file.
# Usage: backup.sh [schedule|once|status]. Settings come from the environment (compose.yaml).
set -u
status_dir=\${M2_STATUS_DIR:-/m2/status}
dumps_dir=\${M2_DUMPS_DIR:-/m2/dumps}
source_dir=\${M2_SOURCE_DIR:-/source}
lock_dir=\${M2_LOCK_DIR:-/tmp/m2-backup.lock}
drill_script=\${M2_DRILL_SCRIPT:-/m2/drill.sh}
work=\${TMPDIR:-/tmp}
host=m2-server

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

json_escape() { printf '%s' "$1" | tr '\n\r\t' '   ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | cut -c1-400; }

num_or_null() { case "$1" in '' | *[!0-9]*) printf 'null' ;; *) printf '%s' "$1" ;; esac; }

# Today at M2_BACKUP_TIME (local time, TZ), or tomorrow when that has passed; as UTC ISO 8601.
next_run() {
  now_s=$(date +%s)
  t=$(date -d "$(date +%Y-%m-%d) $M2_BACKUP_TIME" +%s 2>/dev/null) || { printf 'null'; return; }
  [ "$t" -le "$now_s" ] && t=$((t + 86400))
  printf '"%s"' "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
}

write_atomic() { # file content
  tmp="$1.tmp.$$"
  printf '%s\n' "$2" > "$tmp" && mv -f "$tmp" "$1"
}

write_status() { # running
  last=null
  [ -s "$status_dir/last-run.json" ] && last=$(cat "$status_dir/last-run.json")
  write_atomic "$status_dir/status.json" "{\"version\":1,\"running\":$1,\"lastRun\":$last,\"nextRun\":$(next_run)}"
}

# Ask every dump sidecar for a fresh dump and wait for all (bounded). Sets dump_failed.
request_dumps() {
  dump_failed=""
  for db in \${M2_BACKUP_DATABASES:-}; do
    rm -f "$dumps_dir/$db.done" "$dumps_dir/$db.failed"
    : > "$dumps_dir/$db.request"
  done
  waited=0
  for db in \${M2_BACKUP_DATABASES:-}; do
    while [ ! -e "$dumps_dir/$db.done" ] && [ ! -e "$dumps_dir/$db.failed" ] && [ "$waited" -lt "\${M2_BACKUP_DUMP_TIMEOUT:-900}" ]; do
      sleep 1
      waited=$((waited + 1))
    done
    if [ ! -e "$dumps_dir/$db.done" ]; then
      dump_failed="$dump_failed $db"
      rm -f "$dumps_dir/$db.request"
      [ -s "$dumps_dir/$db.failed" ] && log "dump of $db failed: $(tail -n 1 "$dumps_dir/$db.failed")"
    fi
  done
}

add_message() { message="\${message:+$message }$1"; }

run_backup() {
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  start_s=$(date +%s)
  write_status true
  request_dumps
  out="$work/m2-backup.out"
  err="$work/m2-backup.err"
  : > "$err"
  if ! restic cat config > /dev/null 2>> "$err"; then
    log "initialising the restic repository"
    restic init > /dev/null 2>> "$err"
  fi
  # With M2_BACKUP_PROGRESS=1 (a run the app started) restic's JSON lines also go to stdout, as they come.
  rm -f "$work/m2-backup.code"
  {
    restic backup --json --host "$host" --tag m2 \
      --exclude '*.request' --exclude '*.done' --exclude '*.failed' --exclude '*.tmp*' --exclude '*.err' \
      "$dumps_dir" "$source_dir" 2>> "$err"
    echo $? > "$work/m2-backup.code"
  } | if [ "\${M2_BACKUP_PROGRESS:-0}" = 1 ]; then tee "$out"; else cat > "$out"; fi
  code=$(cat "$work/m2-backup.code" 2> /dev/null || echo 1)
  summary=$(grep '"message_type":"summary"' "$out" | tail -n 1)
  snap=$(printf '%s' "$summary" | sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p')
  added=$(printf '%s' "$summary" | sed -n 's/.*"data_added":\([0-9]*\).*/\1/p')
  total=$(printf '%s' "$summary" | sed -n 's/.*"total_bytes_processed":\([0-9]*\).*/\1/p')
  forget_code=0
  if [ "$code" -eq 0 ] || [ "$code" -eq 3 ]; then
    set --
    [ "\${M2_BACKUP_KEEP_DAILY:-0}" -gt 0 ] && set -- "$@" --keep-daily "$M2_BACKUP_KEEP_DAILY"
    [ "\${M2_BACKUP_KEEP_WEEKLY:-0}" -gt 0 ] && set -- "$@" --keep-weekly "$M2_BACKUP_KEEP_WEEKLY"
    [ "\${M2_BACKUP_KEEP_MONTHLY:-0}" -gt 0 ] && set -- "$@" --keep-monthly "$M2_BACKUP_KEEP_MONTHLY"
    restic forget --host "$host" --prune "$@" > /dev/null 2>> "$err"
    forget_code=$?
  fi
  if [ "$code" -eq 0 ] && [ "$forget_code" -eq 0 ] && [ -z "$dump_failed" ]; then
    result=success
    rc=0
    message="Backup complete."
  elif [ "$code" -eq 0 ] || [ "$code" -eq 3 ]; then
    result=partial
    rc=3
    message=""
    [ -n "$dump_failed" ] && add_message "Database dumps failed:$dump_failed."
    [ "$code" -eq 3 ] && add_message "Some files could not be read."
    [ "$forget_code" -ne 0 ] && add_message "Removing old snapshots failed (exit $forget_code)."
  else
    result=failed
    rc=1
    message="restic backup failed (exit $code): $(grep -v '^[[:space:]]*$' "$err" | tail -n 1)"
  fi
  end_s=$(date +%s)
  snap_json=null
  [ -n "$snap" ] && snap_json="\"$snap\""
  write_atomic "$status_dir/last-run.json" "{\"startedAt\":\"$started\",\"finishedAt\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"result\":\"$result\",\"exitCode\":$code,\"snapshotId\":$snap_json,\"durationSeconds\":$((end_s - start_s)),\"bytesAdded\":$(num_or_null "$added"),\"totalBytes\":$(num_or_null "$total"),\"message\":\"$(json_escape "$message")\"}"
  write_status false
  log "$result: $message"
  return $rc
}

locked_run() {
  if ! mkdir "$lock_dir" 2> /dev/null; then
    log "another backup is running"
    return 75
  fi
  run_backup
  rc=$?
  rmdir "$lock_dir"
  return $rc
}

schedule() {
  # A lock left by a run the container's stop cut short.
  rmdir "$lock_dir" 2> /dev/null
  write_status false
  last_day=""
  [ -s "$status_dir/last-scheduled-day" ] && last_day=$(cat "$status_dir/last-scheduled-day")
  log "scheduled daily at $M2_BACKUP_TIME (\${TZ:-UTC})"
  while :; do
    today=$(date +%Y-%m-%d)
    if [ "$(date +%H:%M)" = "$M2_BACKUP_TIME" ] && [ "$today" != "$last_day" ]; then
      last_day=$today
      write_atomic "$status_dir/last-scheduled-day" "$today"
      locked_run
      # After a run that saved something, the restore drill when one is due (drill.sh decides; weekly). In the
      # background with wait: this shell is PID 1, the only process docker stop signals, and sh runs a trap only
      # once its foreground child ends, so a foreground drill would be killed with its scratch copy left behind.
      # The trap below passes TERM on; the drill's own trap stops restic and removes the scratch.
      case $? in
        0 | 3)
          if [ -r "$drill_script" ]; then
            /bin/sh "$drill_script" schedule > /dev/null &
            drill_pid=$!
            wait "$drill_pid"
            drill_pid=''
          fi
          ;;
      esac
    fi
    sleep 20 &
    wait $!
  done
}

drill_pid=''
trap '[ -n "$drill_pid" ] && kill -TERM "$drill_pid" 2> /dev/null && wait "$drill_pid"; exit 143' TERM INT
mkdir -p "$status_dir" "$dumps_dir"
case "\${1:-schedule}" in
  schedule) schedule ;;
  once)
    locked_run
    exit $?
    ;;
  status) cat "$status_dir/status.json" ;;
  *)
    echo "usage: backup.sh [schedule|once|status]" >&2
    exit 64
    ;;
esac
`;

/** The dump sidecar's loop: a request file in, `<name>.sql` (replaced atomically) and a done marker out. */
export const pgDumpScript = shellScript`#!/bin/sh
# M2 Companion: answers the backup's dump requests for one Postgres database.
set -u
trap 'exit 143' TERM INT
umask 077
name=$M2_DUMP_NAME
dir=/m2/dumps
while :; do
  if [ -e "$dir/$name.request" ]; then
    rm -f "$dir/$name.request" "$dir/$name.done" "$dir/$name.failed"
    if pg_dump --no-password -h "$PGHOST" -U "$PGUSER" -d "$PGDATABASE" -f "$dir/$name.sql.tmp" 2> "$dir/$name.err"; then
      mv -f "$dir/$name.sql.tmp" "$dir/$name.sql"
      date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/$name.done"
    else
      rm -f "$dir/$name.sql.tmp"
      mv -f "$dir/$name.err" "$dir/$name.failed"
    fi
    rm -f "$dir/$name.err"
  fi
  sleep 2 &
  wait $!
done
`;

const backupFile: ModuleFile = { name: 'backup.sh', content: backupScript, mode: 0o644 };
const drillFile: ModuleFile = { name: 'drill.sh', content: DRILL_SCRIPT, mode: 0o644 };
const pgDumpFile: ModuleFile = { name: 'pg-dump.sh', content: pgDumpScript, mode: 0o644 };

interface Database {
  readonly name: 'nextcloud' | 'authentik';
  readonly host: string;
  readonly user: string;
  readonly db: string;
  readonly passwordVar: string;
}

const databases = (s: StackSettings): Database[] => [
  ...(s.modules.nextcloud.enabled ? [{ name: 'nextcloud' as const, host: nextcloudDb.host, user: nextcloudDb.user, db: nextcloudDb.name, passwordVar: nextcloudVars.dbPassword }] : []),
  ...(s.modules.authentik.enabled ? [{ name: 'authentik' as const, host: authentikDb.host, user: authentikDb.user, db: authentikDb.name, passwordVar: authentikVars.dbPassword }] : []),
];

/** The folders backed up besides the dumps: name under /source → host folder. Databases go in as dumps. */
export function backupSources(s: StackSettings): Array<[name: string, hostDir: string]> {
  return [
    ['jellyfin-config', dataDir(s, 'jellyfin', 'config')],
    ...(s.modules.nextcloud.enabled ? [['nextcloud', nextcloudDirs(s).html] as [string, string]] : []),
    ...(s.modules.authentik.enabled ? [['authentik-data', authentikDirs(s).data] as [string, string]] : []),
    ...(s.modules.wireguard.enabled ? [['wireguard', dataDir(s, 'wireguard')] as [string, string]] : []),
    ...(s.modules.mediaAutomation.enabled
      ? (['sonarr', 'radarr', 'qbittorrent'].map((app) => [app, dataDir(s, 'media-automation', app)]) as Array<[string, string]>)
      : []),
  ];
}

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const b = s.modules.backup;
  const dirs = backupDirs(s);
  const dbs = databases(s);
  const dumps = bind(dirs.dumps, '/m2/dumps');

  const backup = {
    ...baseService('backup', ctx.image('restic')),
    hostname: backupHostname,
    entrypoint: ['/bin/sh', scriptTarget],
    command: ['schedule'],
    environment: {
      TZ: s.timezone,
      RESTIC_REPOSITORY: '/repo',
      RESTIC_PASSWORD: varRef(resticPasswordVar),
      RESTIC_CACHE_DIR: '/cache',
      // One progress line a minute instead of ten a second in the --json output.
      RESTIC_PROGRESS_FPS: '0.0166',
      M2_BACKUP_TIME: b.time,
      M2_BACKUP_KEEP_DAILY: String(b.keepDaily),
      M2_BACKUP_KEEP_WEEKLY: String(b.keepWeekly),
      M2_BACKUP_KEEP_MONTHLY: String(b.keepMonthly),
      M2_BACKUP_DATABASES: dbs.map((d) => d.name).join(' '),
      M2_DRILL_EVERY_DAYS: String(DRILL_EVERY_DAYS),
    },
    volumes: [
      bind(ctx.fileRef(backupFile), scriptTarget, 'ro'),
      bind(ctx.fileRef(drillFile), DRILL_SCRIPT_TARGET, 'ro'),
      bind(b.repository, '/repo'),
      bind(dirs.cache, '/cache'),
      bind(dirs.status, '/m2/status'),
      dumps,
      ...backupSources(s).map(([name, dir]) => bind(dir, `/source/${name}`, 'ro')),
    ],
    // A local repository needs no network at all.
    network_mode: 'none',
    healthcheck: healthcheck(['CMD-SHELL', `test -s ${backupStatusTarget}`], '30s'),
  };

  const services: Record<string, Record<string, unknown>> = { [backupServiceName]: backup };
  for (const d of dbs) {
    services[`${d.name}-db-dump`] = {
      ...baseService('backup', ctx.image('postgres')),
      entrypoint: ['/bin/sh', '/m2/pg-dump.sh'],
      environment: { M2_DUMP_NAME: d.name, PGHOST: d.host, PGUSER: d.user, PGDATABASE: d.db, PGPASSWORD: varRef(d.passwordVar) },
      volumes: [bind(ctx.fileRef(pgDumpFile), '/m2/pg-dump.sh', 'ro'), dumps],
      networks: ['internal'],
      depends_on: { [d.host]: { condition: 'service_healthy' } },
      healthcheck: healthcheck(['CMD', 'pg_isready', '-q', '-h', d.host, '-U', d.user, '-d', d.db], '60s'),
    };
  }

  return {
    module: 'backup',
    services,
    envFiles: [{ name: 'backup', entries: [[resticPasswordVar, secretOf(ctx, resticPasswordSecret)]] }],
    files: dbs.length > 0 ? [backupFile, drillFile, pgDumpFile] : [backupFile, drillFile],
    hostDirs: [b.repository, dirs.cache, dirs.status, dirs.dumps],
    ports: [],
  };
}

export const backupModule: StackModule = {
  id: 'backup',
  enabled: (s) => s.modules.backup.enabled,
  secrets: (): SecretRequest[] => [{ name: resticPasswordSecret, kind: 'token', generated: true }],
  render,
};
