/**
 * The restore drill, as one POSIX-sh script that runs inside the stack's `backup` container, where restic, the
 * repository and its password already are. The same text runs both ways (one implementation):
 *
 * - on a schedule, without the laptop: the backup module mounts it at DRILL_SCRIPT_TARGET, and its daily loop runs
 *   `drill.sh schedule` after a backup that saved something; the script itself decides whether a drill is due
 *   (none yet, the last one failed, or the last one is DRILL_EVERY_DAYS old);
 * - on demand: the app runs it with `docker compose exec backup /bin/sh -c <this script> m2-drill app`, so a stack
 *   installed before this script existed drills on demand too.
 *
 * What it does: take the backup lock (one backup or drill at a time), find the latest snapshot, run restic's own
 * check with a share of the data read back, list the snapshot (its files and what they take on disk), refuse
 * without room for a full scratch restore, restore the whole snapshot into a scratch folder, count the files
 * against the listing, read every database dump whole, and delete the scratch whatever happened.
 *
 * It writes its result as ONE line of JSON (numbers, codes and restic's last words, no sentences) to
 * `<status dir>/drill.json`, atomically, where the status agent reads it (live status, the Dashboard,
 * notifications), and prints the same line after `m2-drill-result ` on stdout for the app. The app turns it into
 * words (drill-result.ts). Progress: `m2-drill-step <name>` lines on stdout.
 */

/** Where the backup module mounts the drill script in the backup container. */
export const DRILL_SCRIPT_TARGET = '/m2/drill.sh';
/** The drill's result inside the backup container (the host path is `backupDirs(settings).status/drill.json`). */
export const DRILL_RESULT_TARGET = '/m2/status/drill.json';
export const DRILL_RESULT_FILE = 'drill.json';
/** A scheduled drill runs after the daily backup when the last drill is this old (or failed, or there is none). */
export const DRILL_EVERY_DAYS = 7;
/** Live status warns when no drill has passed for this long (a weekly drill plus a day's slack). */
export const DRILL_WARN_AFTER_DAYS = 8;
/** Exit status when a backup or another drill holds the lock. */
export const EXIT_DRILL_BUSY = 75;
/** Prefix of the result line on stdout. */
export const DRILL_RESULT_MARKER = 'm2-drill-result ';
export const DRILL_STEP_MARKER = 'm2-drill-step ';

/** The steps, in order, as `m2-drill-step` names them. */
export const DRILL_STEPS = ['snapshots', 'check', 'list', 'space', 'restore'] as const;
export type DrillStep = (typeof DRILL_STEPS)[number];

/**
 * Where a failed drill stopped (`failed` in the result). `nosnapshot`: the repository holds no snapshot yet;
 * `df`: the free space could not be read; `space`: not enough of it; `count`: fewer files restored than listed;
 * `dumps`: a database dump is not a whole pg_dump file.
 */
export const DRILL_FAILURES = ['snapshots', 'nosnapshot', 'check', 'list', 'df', 'space', 'restore', 'count', 'dumps'] as const;
export type DrillFailure = (typeof DRILL_FAILURES)[number];

/**
 * The script. Shell: busybox ash (the lab's stand-in image and Alpine's restic/restic). Settings arrive as env
 * variables (the scratch folder, the share of data checked, the headroom, the schedule); nothing from the admin is
 * ever part of it. Written as a plain string: `${` below is the shell's.
 */
export const DRILL_SCRIPT = String.raw`#!/bin/sh
# M2 Companion restore drill. Usage: drill.sh [app|schedule]. Writes <status dir>/drill.json (one line).
set -u
status_dir=${'$'}{M2_STATUS_DIR:-/m2/status}
lock_dir=${'$'}{M2_LOCK_DIR:-/tmp/m2-backup.lock}
scratch_root=${'$'}{M2_DRILL_SCRATCH:-/tmp}
subset=${'$'}{M2_DRILL_SUBSET:-5%}
pct=${'$'}{M2_DRILL_HEADROOM_PERCENT:-10}
spare=${'$'}{M2_DRILL_HEADROOM_BYTES:-1073741824}
every=${'$'}{M2_DRILL_EVERY_DAYS:-${DRILL_EVERY_DAYS}}
trigger=${'$'}{1:-app}
case "$trigger" in app | schedule) ;; *) echo "usage: drill.sh [app|schedule]" >&2; exit 64 ;; esac
case "$pct:$spare:$every" in *[!0-9:]* | :* | *::* | *:) echo "m2: the drill's settings must be whole numbers" >&2; exit 64 ;; esac
case "$subset" in *[!0-9%./]* | '') echo "m2: M2_DRILL_SUBSET must be like 5% or 1/20" >&2; exit 64 ;; esac

log() { printf '%s drill: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
step() { printf 'm2-drill-step %s\n' "$1"; }

# A scheduled drill runs when none ran yet, the last one failed, or the last one is "every" days old (half a day
# of slack: it starts after the backup, whose length varies).
if [ "$trigger" = schedule ]; then
  last_s=''
  last_ok=''
  [ -s "$status_dir/drill-last" ] && read -r last_s last_ok < "$status_dir/drill-last"
  case "$last_s" in '' | *[!0-9]*) last_s='' ;; esac
  if [ -n "$last_s" ] && [ "$last_ok" = 1 ] && [ $(($(date +%s) - last_s)) -lt $((every * 86400 - 43200)) ]; then
    echo "m2-drill-not-due"
    exit 0
  fi
fi

if ! mkdir "$lock_dir" 2> /dev/null; then
  log "a backup or another drill is running"
  exit 75
fi
# What a drill cut short by a container stop left (the lock is ours, so no drill is using it): a full scratch copy.
rm -rf "$scratch_root"/m2-drill.* "$scratch_root"/m2-drill-work.*
work=''
scratch=''
rpid=''
# A signal ends the drill at once (the restore runs in the background so the shell is not deaf while it does):
# restic is stopped, then the scratch goes and the lock is released.
trap '[ -n "$rpid" ] && kill "$rpid" 2> /dev/null && wait "$rpid"; rm -rf "$work" "$scratch"; rmdir "$lock_dir" 2> /dev/null' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
work=$(mktemp -d "$scratch_root/m2-drill-work.XXXXXX") || exit 1

# Text → a JSON string: control characters dropped, blank lines left out, restic's progress and chatter too,
# the first 6 and last 4 lines kept, each at most 300 characters.
jstr() {
  printf '%s\n' "$1" | awk '
function esc(s,   n, a, i, o) {
  gsub(/[\001-\010\013-\037\177\r]/, "", s)
  gsub(/\t/, " ", s)
  s = substr(s, 1, 300)
  n = split(s, a, /\\/); o = a[1]; for (i = 2; i <= n; i++) o = o "\\\\" a[i]; s = o
  n = split(s, a, /"/); o = a[1]; for (i = 2; i <= n; i++) o = o "\\\"" a[i]; s = o
  return s
}
/^[[:space:]]*$/ { next }
/^(using temporary cache|create exclusive lock|load indexes|check all packs|check snapshots|read .* of data|no errors were found|\[[0-9])/ { next }
{ l[++n] = esc($0) }
END { o = ""; k = 0; for (i = 1; i <= n; i++) if (i <= 6 || i > n - 4) o = o (k++ ? "\\n" : "") l[i]; printf "\"%s\"", o }'
}
num() { case "$1" in '' | *[!0-9]*) printf 'null' ;; *) printf '%s' "$1" ;; esac; }
str() { if [ -n "$1" ]; then printf '"%s"' "$1"; else printf 'null'; fi; }

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_s=$(date +%s)
failed=''
said=''
snap=''
snap_time=''
snaps_code=''
check_code=''
ls_code=''
files=''
footprint=''
free_kb=''
mount=''
needed=''
restore_code=''
restored=''
dumps=''
bad=''
bad_names=''

drill() {
  step snapshots
  out=$(restic snapshots --json --no-lock latest 2> "$work/err")
  snaps_code=$?
  if [ "$snaps_code" -ne 0 ]; then
    failed=snapshots
    said=$(cat "$work/err"; printf '%s\n' "$out")
    return
  fi
  # One snapshot object: its id (64 hex digits; "short_id" has no quote before "id") and time.
  snap=$(printf '%s' "$out" | sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p' | head -n 1)
  snap_time=$(printf '%s' "$out" | sed -n 's/^\[{"time":"\([0-9T:.+Z-]*\)".*/\1/p' | head -n 1)
  if [ -z "$snap" ]; then
    failed=nosnapshot
    return
  fi

  step check
  restic check "--read-data-subset=$subset" > "$work/check" 2>&1
  check_code=$?
  if [ "$check_code" -ne 0 ]; then
    failed=check
    said=$(cat "$work/check")
    return
  fi

  # Files and what they take on disk: each file's size in whole 4 KiB blocks, one block a folder. restic's JSON
  # escapes every quote inside a name, so ',"type":"file",' and '"size":' only match the fields themselves, and
  # every line break, so one line is one entry.
  step list
  { restic ls --json --no-lock "$snap" 2> "$work/err"; echo $? > "$work/ls.code"; } | awk '
index($0, "\"struct_type\":\"node\"") == 0 { next }
index($0, ",\"type\":\"file\",") { f++; s = 0; if (match($0, /"size":[0-9]+/)) s = substr($0, RSTART + 7, RLENGTH - 7) + 0; fp += int((s + 4095) / 4096) * 4096; next }
index($0, ",\"type\":\"dir\",") { fp += 4096 }
END { printf "%d %.0f\n", f, fp }' > "$work/ls"
  ls_code=$(cat "$work/ls.code" 2> /dev/null || echo 1)
  if [ "$ls_code" -ne 0 ]; then
    failed=list
    said=$(cat "$work/err")
    return
  fi
  read -r files footprint < "$work/ls"

  # Room for the whole snapshot plus the headroom where the scratch goes, or no restore at all: a drill that
  # passed on a sample would claim more than it proved, and filling Docker's disk stops every service.
  step space
  df -Pk "$scratch_root" > "$work/df" 2>&1
  df_code=$?
  # The three numbers before the capacity (NN%), whatever the device name holds; the mount point after it.
  awk 'NR > 1 { for (f = 2; f + 3 <= NF; f++) if ($f ~ /^[0-9]+$/ && $(f + 1) ~ /^[0-9]+$/ && $(f + 2) ~ /^[0-9]+$/ && $(f + 3) ~ /^[0-9]+%$/) { m = ""; for (i = f + 4; i <= NF; i++) m = m (m == "" ? "" : " ") $i; print $(f + 2), m; exit } }' "$work/df" > "$work/free"
  read -r free_kb mount < "$work/free" || :
  case "$free_kb" in '' | *[!0-9]*) free_kb='' ;; esac
  if [ "$df_code" -ne 0 ] || [ -z "$free_kb" ]; then
    failed=df
    said=$(cat "$work/df")
    [ -n "$said" ] || said="df exit $df_code"
    return
  fi
  mount=$(printf '%s' "$mount" | tr -d '"\\' | cut -c1-200)
  needed=$(awk -v fp="$footprint" -v p="$pct" -v b="$spare" 'BEGIN { n = fp * (100 + p) / 100; if (n > int(n)) n = int(n) + 1; printf "%.0f\n", n + b }')
  if ! awk -v free="$free_kb" -v need="$needed" 'BEGIN { exit !(free * 1024 >= need) }'; then
    failed=space
    return
  fi

  step restore
  scratch=$(mktemp -d "$scratch_root/m2-drill.XXXXXX") || { failed=restore; restore_code=1; said="could not make a scratch folder in $scratch_root"; return; }
  restic restore "$snap" --target "$scratch" > "$work/restore" 2>&1 &
  rpid=$!
  wait "$rpid"
  restore_code=$?
  rpid=''
  # One character a file, not one line: a name may hold a line break.
  restored=$(find "$scratch" -type f -exec printf '%.0sx' {} + | wc -c | tr -d ' ')
  # pg_dump's plain format names itself in its first lines and ends with its closing line; a dump cut short or
  # replaced by an error does not. (Plain SQL has no pg_restore --list: it is read whole instead.)
  dumps=0
  bad=0
  for d in "$scratch"/m2/dumps/*.sql; do
    [ -f "$d" ] || continue
    dumps=$((dumps + 1))
    if ! { head -n 5 "$d" | grep -q "PostgreSQL database dump" && tail -c 200 "$d" | grep -q "PostgreSQL database dump complete"; }; then
      bad=$((bad + 1))
      bad_names="$bad_names${'$'}{bad_names:+ }$(printf '%s' "${'$'}{d##*/}" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-64)"
    fi
  done
  rm -rf "$scratch"
  scratch=''
  if [ "$restore_code" -ne 0 ]; then
    failed=restore
    said=$(cat "$work/restore")
  elif [ "$restored" != "$files" ]; then
    failed=count
  elif [ "$bad" -gt 0 ]; then
    failed=dumps
  fi
}
drill

passed=true
[ -n "$failed" ] && passed=false
last_passed=''
[ -s "$status_dir/drill-passed" ] && read -r last_passed < "$status_dir/drill-passed"
case "$last_passed" in *[!0-9TZ:.+-]*) last_passed='' ;; esac
finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[ "$passed" = true ] && last_passed=$finished
said_json=null
[ -n "$said" ] && said_json=$(jstr "$said")
result="{\"version\":1,\"trigger\":\"$trigger\",\"startedAt\":\"$started\",\"finishedAt\":\"$finished\",\"durationSeconds\":$(($(date +%s) - start_s)),\"passed\":$passed,\"failed\":$(str "$failed"),\"snapshotId\":$(str "$snap"),\"snapshotTime\":$(str "$snap_time"),\"snapshotsCode\":$(num "$snaps_code"),\"checkCode\":$(num "$check_code"),\"subset\":\"$subset\",\"listCode\":$(num "$ls_code"),\"filesExpected\":$(num "$files"),\"footprintBytes\":$(num "$footprint"),\"freeKb\":$(num "$free_kb"),\"mount\":$(str "$mount"),\"neededBytes\":$(num "$needed"),\"headroomPercent\":$pct,\"headroomBytes\":$spare,\"restoreCode\":$(num "$restore_code"),\"filesRestored\":$(num "$restored"),\"dumps\":$(num "$dumps"),\"badDumps\":$(num "$bad"),\"badDumpNames\":$(str "$bad_names"),\"said\":$said_json,\"lastPassedAt\":$(str "$last_passed")}"

# Kept where live status reads it (replaced atomically), with the schedule's memory of the last drill.
if mkdir -p "$status_dir" 2> /dev/null; then
  printf '%s\n' "$result" > "$status_dir/drill.json.tmp.$$" && mv -f "$status_dir/drill.json.tmp.$$" "$status_dir/drill.json"
  ok=0
  [ "$passed" = true ] && ok=1 && printf '%s\n' "$finished" > "$status_dir/drill-passed"
  printf '%s %s\n' "$start_s" "$ok" > "$status_dir/drill-last"
fi
printf 'm2-drill-result %s\n' "$result"
if [ "$passed" = true ]; then log "passed (snapshot $snap, $restored files)"; exit 0; fi
log "failed at $failed"
exit 1
`;
