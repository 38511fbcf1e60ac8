#!/bin/sh
# m2-apply: the server side of one apply of the M2 Companion stack.
#
# The app uploads this file to ~/m2/bin/m2-apply.sh and runs it in one SSH exec channel for the whole apply:
#   sh m2-apply.sh M2DIR PROJECT WAIT_TIMEOUT_S SUDO DECISION_TIMEOUT_S
# It holds ~/m2/.lock (flock) until it exits, so applies never overlap, and takes commands on stdin, one a line:
#   up NEW PREV   docker compose up --wait for releases/NEW; PREV is the release to go back to, or - (first install)
#   commit        point `current` at NEW (ln -s + mv -T, atomic)
#   rollback      bring PREV back up (or `down` NEW when PREV is -)
#   abort         stop a running `up` (the admin cancelled), roll back
#   fail          stop a running `up` (the app saw a container of NEW fail for good), roll back
#   quit          exit; after a commit or a rollback: the app has finished its tidying under the lock
# After a commit or a rollback it keeps the lock until `quit` or end of file (at most a minute), so the app
# can remove old releases while no other apply can start. If stdin reaches end of file (the SSH connection was
# lost) or no decision comes within DECISION_TIMEOUT_S after `up`, it rolls back by itself: a cut connection
# leaves the previous release running and `current` unswitched. It prints NDJSON events on stdout; Compose's
# own output (plain, `--ansi never`) goes to releases/NEW/apply.log (0600), emptied at each `up`.
#
# It never evaluates its input: release ids are checked against [0-9A-Za-z-], paths come only from its
# arguments, and each release's compose arguments are read from its compose.args file, one per line.
# No `set -e`: every step's status is checked where it matters.

set -u
set -f
umask 077
# A lost connection closes our stdout: writes then fail (EPIPE) instead of killing us; sshd's hangup is ignored.
trap '' HUP PIPE

if [ "$#" -ne 5 ]; then echo 'usage: m2-apply.sh M2DIR PROJECT WAIT_TIMEOUT_S SUDO DECISION_TIMEOUT_S' >&2; exit 64; fi
m2dir=$1
project=$2
wait_s=$3
sudo=$4
decide_s=$5
case $project in '' | *[!a-z0-9_-]*) echo 'PROJECT must be a compose project name' >&2; exit 64 ;; esac
case $wait_s$decide_s in *[!0-9]* | '') echo 'timeouts must be whole seconds' >&2; exit 64 ;; esac
case $sudo in 0 | 1) ;; *) echo 'SUDO must be 0 or 1' >&2; exit 64 ;; esac

say() { printf '%s\n' "$1" 2>/dev/null || :; }

exec 9>>"$m2dir/.lock" || { say '{"event":"error","what":"lock-file"}'; exit 70; }
if ! command -v flock >/dev/null 2>&1; then say '{"event":"error","what":"no-flock"}'; exit 69; fi
flock -n 9 || { say '{"event":"busy"}'; exit 75; }

# One queue of events for the main loop: lines from stdin ("in ..."), end of stdin ("eof"), the compose job
# ("pid N", "done RC") and timers ("timeout", "killtimer"). A FIFO opened read-write never reports EOF, and
# each event is one short write (atomic on a pipe), so writers never interleave.
fifo="$m2dir/.m2-apply.$$.fifo"
rm -f "$fifo"
mkfifo "$fifo" || { say '{"event":"error","what":"fifo"}'; exit 70; }
exec 3<>"$fifo"
rm -f "$fifo"

reader=
timer_pid=
gone=
cleanup() {
  for p in $reader $timer_pid; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

# A background job's stdin is /dev/null unless it is taken from a saved descriptor.
exec 4<&0
(
  while IFS= read -r line; do printf 'in %s\n' "$line" >&3; done
  printf 'eof\n' >&3
) <&4 9>&- &
reader=$!
exec 4<&-

next() {
  ev=
  IFS= read -r ev <&3 || ev=eof
}

timer() { # SECONDS WORD
  [ -n "$timer_pid" ] && kill "$timer_pid" 2>/dev/null
  (sleep "$1"; printf '%s\n' "$2" >&3) </dev/null >/dev/null 2>&1 9>&- &
  timer_pid=$!
}

stop_timer() {
  [ -n "$timer_pid" ] && kill "$timer_pid" 2>/dev/null
  timer_pid=
}

# dc ARGS_FILE ARG...: docker compose with the release's global arguments, then ARG...; replaces the shell,
# so call it in a subshell. Each line of ARGS_FILE is one argument.
dc() {
  af=$1
  shift
  [ -r "$af" ] || exit 126
  n=$#
  while IFS= read -r a; do set -- "$@" "$a"; done <"$af"
  i=0
  while [ "$i" -lt "$n" ]; do
    set -- "$@" "$1"
    shift
    i=$((i + 1))
  done
  if [ "$sudo" = 1 ]; then exec sudo -n -- docker compose --ansi never "$@"; fi
  exec docker compose --ansi never "$@"
}

dk() {
  if [ "$sudo" = 1 ]; then sudo -n -- docker "$@"; else docker "$@"; fi
}

# Containers of the project that were created but never started are what an interrupted create or recreate
# leaves behind (compose creates the new container under a temporary name first); remove them before going back.
tidy() {
  ids=$(dk ps --all --quiet --filter "label=com.docker.compose.project=$project" --filter status=created 2>/dev/null)
  [ -n "$ids" ] && dk rm --force $ids </dev/null >>"$log" 2>&1 3>&- 9>&-
  :
}

# Compose in the background (same process group, so a kill of the group stops it too); its pid and exit
# status arrive as events.
start_bg() {
  (
    (dc "$@") </dev/null >>"$log" 2>&1 3>&- &
    p=$!
    printf 'pid %s\n' "$p" >&3
    wait "$p"
    printf 'done %s\n' "$?" >&3
  ) </dev/null >/dev/null 2>&1 9>&- &
}

cpid=
# Stop the background compose: TERM (sudo passes it on), KILL after 15 s; wait for its "done".
stop_bg() {
  [ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null
  timer 15 killtimer
  while next; do
    case $ev in
      'pid '*)
        cpid=${ev#pid }
        kill -TERM "$cpid" 2>/dev/null
        ;;
      'done '*) break ;;
      killtimer) [ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null ;;
    esac
  done
  stop_timer
}

rollback() { # WHY (a fixed word)
  stop_timer
  tidy
  if [ "$prev" = - ]; then
    say "{\"event\":\"rolling-back\",\"mode\":\"down\",\"why\":\"$1\"}"
    (dc "$new_args" down --remove-orphans --timeout 10) </dev/null >>"$log" 2>&1 3>&- 9>&-
  else
    say "{\"event\":\"rolling-back\",\"mode\":\"up\",\"why\":\"$1\"}"
    (dc "$prev_args" up --detach --wait --wait-timeout "$wait_s" --remove-orphans --pull never) </dev/null >>"$log" 2>&1 3>&- 9>&-
  fi
  rc=$?
  say "{\"event\":\"rolled-back\",\"rc\":$rc}"
  linger
}

# Done: hold the lock until the app says quit (or goes away), a minute at most.
linger() {
  [ -n "$gone" ] && exit 0
  timer 60 linger-timeout
  while next; do
    case $ev in
      'in quit' | eof | linger-timeout) exit 0 ;;
    esac
  done
  exit 0
}

commit() {
  if [ "$prev" != - ] && [ "$prev" != "$new" ]; then printf '%s\n' "$prev" >"$m2dir/releases/$new/previous" 2>/dev/null; fi
  tmp="$m2dir/.current.$$"
  rm -f "$tmp"
  if ln -s "releases/$new" "$tmp" && mv -fT "$tmp" "$m2dir/current"; then
    say '{"event":"committed"}'
    linger
  fi
  rm -f "$tmp"
  say '{"event":"error","what":"switch"}'
  rollback switch-failed
}

valid_id() {
  case $1 in '' | *[!0-9A-Za-z-]*) return 1 ;; esac
  return 0
}

say "{\"event\":\"locked\",\"pid\":$$}"

# 1. Wait for "up NEW PREV" (or quit). Nothing runs before it, so an end of stdin here changes nothing.
timer "$decide_s" timeout
new=
prev=
while next; do
  case $ev in
    'in up '*)
      rest=${ev#in up }
      new=${rest%% *}
      prev=${rest#* }
      if ! valid_id "$new" || ! valid_id "$prev" || [ "$new" = "$rest" ]; then say '{"event":"error","what":"bad-up"}'; exit 65; fi
      break
      ;;
    'in quit' | eof | timeout) exit 0 ;;
  esac
done
stop_timer
[ -n "$new" ] || exit 0

new_args="$m2dir/releases/$new/compose.args"
log="$m2dir/releases/$new/apply.log"
prev_args="$m2dir/releases/$prev/compose.args"
if [ ! -r "$new_args" ]; then say '{"event":"error","what":"no-release"}'; exit 66; fi
if [ "$prev" != - ] && [ ! -r "$prev_args" ]; then say '{"event":"error","what":"no-previous"}'; exit 66; fi
: >"$log"

# 2. up --wait, watching stdin: end of file or "abort" stops it and rolls back.
say '{"event":"starting"}'
start_bg "$new_args" up --detach --wait --wait-timeout "$wait_s" --remove-orphans --pull never
up_rc=
while next; do
  case $ev in
    'pid '*) cpid=${ev#pid } ;;
    'done '*)
      up_rc=${ev#done }
      break
      ;;
    'in abort')
      say '{"event":"aborting"}'
      stop_bg
      rollback aborted
      ;;
    'in fail')
      say '{"event":"failing"}'
      stop_bg
      rollback failed
      ;;
    eof)
      gone=1
      stop_bg
      rollback connection-lost
      ;;
  esac
done
say "{\"event\":\"up\",\"rc\":$up_rc}"

# 3. The app checks health, reads logs, then decides. No decision (a lost connection, a hung app) = roll back.
timer "$decide_s" timeout
while next; do
  case $ev in
    'in commit')
      stop_timer
      commit
      ;;
    'in rollback') rollback requested ;;
    'in abort') rollback aborted ;;
    'in fail') rollback failed ;;
    eof)
      gone=1
      rollback connection-lost
      ;;
    timeout) rollback no-decision ;;
  esac
done
gone=1
rollback connection-lost
