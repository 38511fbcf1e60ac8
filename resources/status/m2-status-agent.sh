#!/bin/sh
# m2-status-agent: the server side of M2 Companion's live status (DESIGN.md §3).
#
# The app uploads this file (content-addressed, ~/m2/agent/<sha>/m2-status-agent.sh) and runs it in ONE
# long-lived SSH exec channel. It writes newline-delimited JSON on stdout: every section once at start, then a
# section only when it changed (compared with the last line emitted for it), plus a heartbeat.
#
#   sh m2-status-agent.sh --project P [--interval S] [--cf-port N] [--jf-port N] [--backup-status FILE]
#                         [--drill-status FILE] [--backup-service NAME] [--http auto|curl|wget|docker] [--poll-ms N] [--sudo]
#                         [--intel-gpu auto|on|off] [--path DIR]...
#
# Stdin: the first line is the Jellyfin API key (may be empty). It is written to a header file in a 0700
# temp folder and handed to curl as `-H @file` (or `-H @-` inside a container): it never appears in argv or
# the environment. The rest of stdin is watched: end of file (the app closed the channel, or the SSH
# connection died) stops the agent and everything it started.
#
# What drives it: what the services push, where they push: `docker events` (containers: state, health, restarts,
# image) and each cloudflared's own log (`docker logs -f`: every edge connection registered or lost logs a line with
# connIndex=, which makes its /ready be read at once). Long-lived readers for what can only be sampled:
# with curl 7.84+ one curl per HTTP endpoint (cloudflared /ready and Jellyfin /Sessions every --poll-ms, 500 by default;
# /metrics every 4th), `nvidia-smi -lms` and `intel_gpu_top -J`, each through an awk
# that passes a sample on only when it changed (a playing session's progress alone at most every 10 s); and a 1 s
# ticker for the backup status file (a builtin read) every tick, AMD sysfs every 2, host CPU/memory every 5, free
# space every 60. All of them write short lines into one FIFO that the main loop reads, so one process writes stdout
# and nothing waits for another's interval. A quiet server costs a tick a second and a few kept-alive HTTP requests;
# nothing is started per sample. Without curl 7.84 (wget, busybox, `docker exec`), HTTP is sampled every tick by one
# process, and a sleep is started for each tick.
#
# It uses what a stock server has: sh, awk, docker; curl or wget when present; else `docker exec` into the
# Jellyfin container (which ships curl) to reach the services.

set -u
set -f
umask 077
trap '' PIPE

project=''
interval=1
cf_port=2000
jf_port=8096
backup_status=''
backup_service='backup'
drill_status=''
http_mode=auto
poll_ms=500
docker_cmd='docker'
use_sudo=false
intel_mode=auto
npaths=0
paths_list=''

while [ "$#" -gt 0 ]; do
  case "$1" in
    --project) project=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --cf-port) cf_port=$2; shift 2 ;;
    --jf-port) jf_port=$2; shift 2 ;;
    --backup-status) backup_status=$2; shift 2 ;;
    --backup-service) backup_service=$2; shift 2 ;;
    --drill-status) drill_status=$2; shift 2 ;;
    --http) http_mode=$2; shift 2 ;;
    --poll-ms) poll_ms=$2; shift 2 ;;
    --sudo) docker_cmd='sudo -n docker'; use_sudo=true; shift ;;
    --intel-gpu) intel_mode=$2; shift 2 ;;
    --path)
      # Paths travel in numbered variables: no word splitting, any byte but NUL and newline.
      eval "path_$npaths=\$2"
      npaths=$((npaths + 1))
      shift 2
      ;;
    *) printf '{"t":"error","what":"usage","message":"unknown argument"}\n'; exit 64 ;;
  esac
done
case "$project" in '' | *[!a-z0-9_-]*) printf '{"t":"error","what":"usage","message":"--project must be a compose project name"}\n'; exit 64 ;; esac
case "$interval" in '' | *[!0-9.]*) interval=1 ;; esac
case "$poll_ms" in '' | *[!0-9]*) poll_ms=500 ;; esac
[ "$poll_ms" -ge 100 ] || poll_ms=100
[ "$poll_ms" -le 15000 ] || poll_ms=15000
case "$cf_port$jf_port" in *[!0-9]*) printf '{"t":"error","what":"usage","message":"ports must be numbers"}\n'; exit 64 ;; esac

# Docker through the docker group, else through `sudo -n` (a user outside the group, as the stack's apply does):
# found once at start, so an app that has not run its preflight since it started still sees the containers.
if [ "$use_sudo" = false ] && ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1 &&
  sudo -n docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  docker_cmd='sudo -n docker'
  use_sudo=true
fi

IFS= read -r jf_key || jf_key=''

# Our own 0700 folder (mktemp -d), or a new one made here: never one that already exists (someone else's).
tmp=$(mktemp -d 2>/dev/null) || { tmp="/tmp/m2-status.$$.$(date +%s)"; mkdir -m 700 "$tmp" || exit 70; }
if [ -n "$jf_key" ]; then
  case "$jf_key" in *[!A-Za-z0-9]*) jf_key='' ;; esac
fi
if [ -n "$jf_key" ]; then
  printf 'Authorization: MediaBrowser Client="M2 Companion", Device="status agent", DeviceId="m2-status-agent", Version="1", Token="%s"\n' "$jf_key" > "$tmp/jf-header"
  # GNU wget takes the header from a wgetrc (never argv); busybox wget cannot, and goes through docker exec.
  printf 'header = Authorization: MediaBrowser Client="M2 Companion", Device="status agent", DeviceId="m2-status-agent", Version="1", Token="%s"\n' "$jf_key" > "$tmp/jf-wgetrc"
fi
jf_key=''

mkfifo "$tmp/q" || exit 70
exec 3<>"$tmp/q"
exec 4<&0

bg_pids=''
stream_pids=''
cleanup() {
  trap - EXIT INT TERM HUP
  rm -rf "$tmp"
  for p in $bg_pids $stream_pids; do kill "$p" 2>/dev/null; done
  # sshd makes each session its own process group with us as its leader: then end the whole group (subshells
  # waiting in sleep, docker events, a restic query). Never when we lead no group of our own (run by hand).
  pg=''
  read -r _p _c _s _pp pg _r < "/proc/$$/stat" 2>/dev/null
  if [ "$pg" = "$$" ]; then kill -s TERM -- "-$$" 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

have() { command -v "$1" >/dev/null 2>&1; }
if [ "$http_mode" = auto ]; then
  if have curl; then http_mode=curl; elif have wget; then http_mode=wget; else http_mode=docker; fi
fi
# curl 7.84+ (--rate) keeps one process per endpoint that fetches it every poll_ms over a kept-alive
# connection: no process start per sample (a curl start costs ~5 ms of CPU, a kept-alive GET well under 1).
wget_gnu=false
if [ "$http_mode" = wget ] && wget --version 2>/dev/null | grep -q '^GNU Wget'; then wget_gnu=true; fi
streams=false
if [ "$http_mode" = curl ] && curl --rate 1/s --version >/dev/null 2>&1; then streams=true; fi
http_rate="$((60000 / poll_ms))/m"
# cloudflared logs every edge connection it gains or loses, and that line makes its /ready (the count) be read at once;
# /ready (a few bytes) is still polled every poll_ms as well: in the lab bench a change did not always reach the app
# sooner through the log (p95 644 ms against ~500 polled), a cause not found yet. /metrics (colos, RTT, request
# counters; tens of kB from a real cloudflared, its RTT gauges changing at every read) comes 4 times slower.
metrics_rate="$((15000 / poll_ms))/m"
# A playing session's position, completion and frame rate change at every answer: alone, they go on at most every
# this many answers (10 s); a session that starts, ends, pauses or plays another way goes on at once.
progress_every=$((10000 / poll_ms))
# mawk fills its whole input buffer before it looks at a record unless told it is interactive: a 90-byte /ready
# answer would wait for 45 more. Other awks take -W interactive too or ignore it; one that refuses gets none.
awk_i=''
awk -W interactive 'BEGIN { }' </dev/null >/dev/null 2>&1 && awk_i='-W interactive'
has_nvidia=false
have nvidia-smi && has_nvidia=true
amd_files=''
for f in /sys/class/drm/card*/device/gpu_busy_percent; do [ -r "$f" ] && amd_files="$amd_files $f"; done
has_amd=false
[ -n "$amd_files" ] && has_amd=true
# Intel: intel_gpu_top (intel-gpu-tools) where it is installed and an Intel (0x8086) DRM device exists. It needs
# root or CAP_PERFMON; when it cannot read the PMU it exits, and is tried again later (with sudo -n under --sudo).
has_intel=false
if [ "$intel_mode" != off ] && have intel_gpu_top; then
  if [ "$intel_mode" = on ]; then
    has_intel=true
  else
    for f in /sys/class/drm/card*/device/vendor; do
      v=''
      [ -r "$f" ] && read -r v < "$f" 2>/dev/null
      [ "$v" = 0x8086 ] && has_intel=true
    done
  fi
fi
ncpu=0
while read -r k _; do case "$k" in cpu[0-9]*) ncpu=$((ncpu + 1)) ;; esac; done < /proc/stat
host_name=''
[ -r /proc/sys/kernel/hostname ] && read -r host_name < /proc/sys/kernel/hostname
case "$host_name" in *[!A-Za-z0-9._-]*) host_name='' ;; esac

printf '{"t":"hello","v":1,"pid":%s,"host":"%s","http":"%s","ncpu":%s,"caps":{"nvidia":%s,"amd":%s,"intel":%s},"interval":%s}\n' \
  "$$" "$host_name" "$http_mode" "$ncpu" "$has_nvidia" "$has_amd" "$has_intel" "$interval"

# --- producers into the FIFO ----------------------------------------------------------------------------
(
  c=''
  trap 'kill $c 2>/dev/null; exit 0' TERM
  # With curl 7.84+ one process ticks: a read of /dev/null paced by --rate, its -w line one write each (a sleep
  # started every second costs several times more). Where it cannot, or the interval does not divide a minute, sleep.
  if [ "$streams" = true ]; then
    case "$interval" in
      1 | 2 | 3 | 4 | 5 | 6 | 10 | 12 | 15 | 20 | 30 | 60)
        curl -s --rate "$((60 / interval))/m" -w 'tick\n' "file:///dev/null#[1-1000000000]" 2>/dev/null &
        c=$!
        wait "$c"
        ;;
    esac
  fi
  while :; do sleep "$interval" 2>/dev/null || sleep 1; echo tick; done
) >&3 &
bg_pids="$bg_pids $!"

(
  child=''
  trap 'kill $child 2>/dev/null; exit 0' TERM
  while :; do
    # docker events writes a line in pieces ("ev ", the action, "\n"): each goes on whole (one printf, one write), or
    # another producer's line lands inside it and both are lost.
    $docker_cmd events --format 'ev {{.Action}}' --filter type=container --filter "label=com.docker.compose.project=$project" \
      --filter event=create --filter event=start --filter event=restart --filter event=stop --filter event=die \
      --filter event=kill --filter event=pause --filter event=unpause --filter event=destroy --filter event=oom \
      --filter event=health_status --filter event=rename --filter event=update 2>/dev/null |
      while IFS= read -r e; do printf '%s\n' "$e"; done &
    child=$!
    wait "$child"
    # The daemon went away (restart, reboot): say so (the main loop resyncs), then try again.
    echo 'ev reconnect'
    sleep 2
  done
) >&3 &
bg_pids="$bg_pids $!"

# The stop signal is the end of stdin. Main reads "eof" and cleans up; when main cannot (killed, or stuck in a
# docker call to a hung dockerd), this watcher ends the agent's process group itself after 3 s.
agent_pg=''
read -r _p _c _s _pp agent_pg _r < "/proc/$$/stat" 2>/dev/null
(
  cat <&4 >/dev/null
  if kill -0 "$$" 2>/dev/null; then
    echo eof >&3
    sleep 3 </dev/null
  fi
  [ "$agent_pg" = "$$" ] && kill -s TERM -- "-$$" 2>/dev/null
) >/dev/null 2>&1 &
bg_pids="$bg_pids $!"
exec 4<&-

# --- sections ---------------------------------------------------------------------------------------------
nl='
'
last_containers=''
last_tunnel=''
last_jellyfin=''
last_backup_raw='-'
last_gpu=''
last_disk=''
last_snap=''
cf_targets=''
cf_ids=''
jf_ip=''
jf_id=''
backup_id=''

# Escape stdin into JSON string elements (one per line) joined by commas. split/join, not gsub replacement
# strings, because awks disagree on backslashes in gsub's replacement.
json_lines_awk='
function esc(s,   n, a, i, o) {
  gsub(/[\001-\010\013-\037\r]/, "", s)
  n = split(s, a, /\\/); o = a[1]; for (i = 2; i <= n; i++) o = o "\\\\" a[i]; s = o
  n = split(s, a, /"/); o = a[1]; for (i = 2; i <= n; i++) o = o "\\\"" a[i]; s = o
  gsub(/\t/, " ", s)
  return s
}'

containers() {
  ids=$($docker_cmd ps -aq --no-trunc --filter "label=com.docker.compose.project=$project" 2>/dev/null) || { emit_line containers '{"t":"containers","ok":false,"list":[]}'; return; }
  list=''
  cf_targets=''
  cf_ids=''
  jf_ip=''
  jf_id=''
  backup_id=''
  : > "$tmp/inspect"
  if [ -n "$ids" ]; then
    # One line per container: service, its IPs (comma-terminated), id, then the JSON object (Go templates
    # escape with `json`). Compose service names are [a-zA-Z0-9._-], so the first fields split cleanly.
    # shellcheck disable=SC2086
    $docker_cmd inspect --format '{{index .Config.Labels "com.docker.compose.service"}} ,{{range .NetworkSettings.Networks}}{{.IPAddress}},{{end}} {{.Id}} {"id":{{json .Id}},"name":{{json .Name}},"service":{{json (index .Config.Labels "com.docker.compose.service")}},"oneoff":{{json (index .Config.Labels "com.docker.compose.oneoff")}},"image":{{json .Config.Image}},"state":{{json .State.Status}},"health":{{if .State.Health}}{{json .State.Health.Status}}{{else}}null{{end}},"restarts":{{.RestartCount}},"exitCode":{{.State.ExitCode}},"startedAt":{{json .State.StartedAt}},"finishedAt":{{json .State.FinishedAt}},"oom":{{.State.OOMKilled}}}' $ids > "$tmp/inspect" 2>/dev/null
  fi
  while read -r svc ips id json; do
    [ -n "$json" ] || continue
    list="${list:+$list,}$json"
    case "$json" in *'"state":"running"'*) ;; *) continue ;; esac
    ips=${ips#,}
    ip=${ips%%,*}
    # Names and addresses go into URLs and JSON below: only the exact shapes the stack makes.
    case "$ip" in *[!0-9.]*) ip='' ;; esac
    case "$svc" in
      cloudflared | cloudflared-[0-9] | cloudflared-[0-9][0-9]) [ -n "$ip" ] && { cf_targets="$cf_targets $svc=$ip"; cf_ids="$cf_ids $id"; } ;;
      jellyfin) [ -n "$ip" ] && jf_ip=$ip; jf_id=$id ;;
    esac
    [ "$svc" = "$backup_service" ] && backup_id=$id
  done < "$tmp/inspect"
  emit_line containers "{\"t\":\"containers\",\"ok\":true,\"list\":[$list]}"
}

# Print a section only when it differs from the last one printed for it.
emit_line() {
  eval "prev=\${last_$1}"
  [ "$2" = "$prev" ] && return 0
  eval "last_$1=\$2"
  printf '%s\n' "$2"
}

http_awk="$json_lines_awk"'
/^@@M2 / {
  kind = $2; svc = $3; code = $4 + 0
  if (kind == "cf-ready") { ready[svc] = body; rcode[svc] = code; if (!(svc in seen)) { order[++n] = svc; seen[svc] = 1 } }
  else if (kind == "cf-metrics") { metrics[svc] = mbody; mcode[svc] = code; if (!(svc in seen)) { order[++n] = svc; seen[svc] = 1 } }
  else if (kind == "jf") { jbody = body; jcode = code; jseen = 1 }
  body = ""; mbody = ""; next
}
{
  body = body (body == "" ? "" : "\\n") esc($0)
  if ($0 ~ /^(cloudflared_tunnel_(ha_connections|total_requests|request_errors|server_locations)|quic_client_smoothed_rtt|build_info)[{ ]/) mbody = mbody (mbody == "" ? "" : ",") "\"" esc($0) "\""
}
END {
  printf "{\"t\":\"tunnel\",\"replicas\":["
  for (i = 1; i <= n; i++) {
    s = order[i]
    printf "%s{\"service\":\"%s\",\"readyCode\":%d,\"ready\":\"%s\",\"metricsCode\":%d,\"metrics\":[%s]}", (i > 1 ? "," : ""), s, rcode[s], ready[s], mcode[s], metrics[s]
  }
  printf "]}\n"
  if (jf) printf "{\"t\":\"jellyfin\",\"configured\":true,\"code\":%d,\"body\":\"%s\"}\n", jcode, jbody
  else printf "{\"t\":\"jellyfin\",\"configured\":false,\"code\":0,\"body\":\"\"}\n"
}'

# fetch KIND SERVICE URL [auth]: body, then a delimiter line with the HTTP code (0 = no answer).
fetch_one() {
  f_code=0
  case "$http_mode" in
    wget)
      if [ "${4:-}" = auth ] && [ "$wget_gnu" = true ]; then
        if WGETRC="$tmp/jf-wgetrc" wget -q -T 2 -O - "$3" 2>/dev/null; then f_code=200; fi
      elif [ "${4:-}" = auth ]; then
        if [ -n "$jf_id" ] && $docker_cmd exec -i "$jf_id" curl -s -m 2 -H @- "$3" < "$tmp/jf-header" 2>/dev/null; then f_code=200; fi
      elif wget -q -T 2 -O - "$3" 2>/dev/null; then f_code=200; fi
      ;;
    docker)
      [ -n "$jf_id" ] || { printf '\n@@M2 %s %s 0\n' "$1" "$2"; return; }
      if [ "${4:-}" = auth ]; then
        $docker_cmd exec -i "$jf_id" curl -s -m 2 -H @- "$3" < "$tmp/jf-header" 2>/dev/null && f_code=200
      else
        $docker_cmd exec "$jf_id" curl -s -m 2 "$3" 2>/dev/null && f_code=200
      fi
      ;;
  esac
  printf '\n@@M2 %s %s %s\n' "$1" "$2" "$f_code"
}

sample_http() {
  jf_on=0
  [ -n "$jf_ip" ] && [ -s "$tmp/jf-header" ] && jf_on=1
  if [ "$http_mode" = curl ]; then
    set --
    for t in $cf_targets; do
      [ "$#" -gt 0 ] && set -- "$@" --next
      set -- "$@" -s -m 2 -w "\n@@M2 cf-ready ${t%%=*} %{http_code}\n" "http://${t#*=}:$cf_port/ready" \
        --next -s -m 2 -w "\n@@M2 cf-metrics ${t%%=*} %{http_code}\n" "http://${t#*=}:$cf_port/metrics"
    done
    if [ "$jf_on" = 1 ]; then
      [ "$#" -gt 0 ] && set -- "$@" --next
      set -- "$@" -s -m 2 -H "@$tmp/jf-header" -w "\n@@M2 jf jellyfin %{http_code}\n" "http://$jf_ip:$jf_port/Sessions?activeWithinSeconds=960"
    fi
    if [ "$#" -gt 0 ]; then curl "$@" 2>/dev/null; else :; fi | awk -v jf="$jf_on" "$http_awk" > "$tmp/http"
  else
    {
      for t in $cf_targets; do
        fetch_one cf-ready "${t%%=*}" "http://${t#*=}:$cf_port/ready"
        fetch_one cf-metrics "${t%%=*}" "http://${t#*=}:$cf_port/metrics"
      done
      [ "$jf_on" = 1 ] && fetch_one jf jellyfin "http://$jf_ip:$jf_port/Sessions?activeWithinSeconds=960" auth
    } | awk -v jf="$jf_on" "$http_awk" > "$tmp/http"
  fi
  { IFS= read -r tl; IFS= read -r jl; } < "$tmp/http"
  [ -n "${tl:-}" ] && emit_line tunnel "$tl"
  [ -n "${jl:-}" ] && emit_line jellyfin "$jl"
}

# --- streaming HTTP (curl --rate) -------------------------------------------------------------------------
# Each endpoint gets a curl that walks a URL glob over the fragment (`#[1-N]`: never sent, so every request is
# the same GET) at most poll_ms apart, on one kept-alive connection, and an awk that folds each response into
# the JSON fragment the section needs. The awk writes a fragment to a file only when it changed (two files in
# turn, so the main loop never reads one being rewritten) and puts a short `v ID K` line into the FIFO: a quiet
# server costs no shell work at all. The -w marker goes to stderr (unbuffered; the body is flushed by -N) so it
# arrives with its response instead of with the next one.
# put(o): hand a fragment to the main loop when it differs from the last one (shared by every stream's awk).
# Every producer's line must reach the FIFO in ONE write (a line under PIPE_BUF is then never split): mawk -W
# interactive writes `print`'s record and its newline in two, and printf's pieces one by one, so two producers that
# write at once (the first answers after a start, a busy machine) interleave into lines the main loop drops, and a
# change that is then not repeated is never seen. printf "%s" of the whole line is one write in every awk.
put_awk='
function put(o,   f) {
  if (o == last) return
  last = o; k = 1 - k; f = out "." k
  print o > f; close(f)
  printf "%s", "v " id " " k "\n"; fflush()
}'
stream_awk="$json_lines_awk$put_awk"'
/^@@M2 reset$/ { body = ""; mbody = ""; raw = ""; next }
/^@@M2 [0-9]+$/ {
  if (kind == "cf-ready") put("\"readyCode\":" ($2 + 0) ",\"ready\":\"" body "\"")
  else if (kind == "cf-metrics") put("\"metricsCode\":" ($2 + 0) ",\"metrics\":[" mbody "]")
  else {
    o = "{\"t\":\"jellyfin\",\"configured\":true,\"code\":" ($2 + 0) ",\"body\":\"" body "\"}"
    if (o != last) {
      key = $2 " " raw
      gsub(/"(PositionTicks|CompletionPercentage|Framerate|LastActivityDate|LastPlaybackCheckIn|LastPausedDate)":("[^"]*"|[-+.0-9eE]+)/, "", key)
      if (key != lastkey || ++same >= slow) { lastkey = key; same = 0; put(o) }
    }
  }
  body = ""; mbody = ""; raw = ""
  next
}
kind == "cf-metrics" {
  if ($0 ~ /^(cloudflared_tunnel_(ha_connections|total_requests|request_errors|server_locations)|quic_client_smoothed_rtt|build_info)[{ ]/) mbody = mbody (mbody == "" ? "" : ",") "\"" esc($0) "\""
  next
}
{ body = body (body == "" ? "" : "\\n") esc($0); if (kind == "jf") raw = raw $0 "\n" }'

stream_key=''
stream_ids=''

# stream_start ID KIND RATE URL [curl options]
stream_start() {
  s_id=$1
  s_kind=$2
  s_rate=$3
  s_url=$4
  shift 4
  rm -f "$tmp/p.$s_id" "$tmp/v.$s_id.0" "$tmp/v.$s_id.1"
  mkfifo "$tmp/p.$s_id" || return 0
  # shellcheck disable=SC2086
  awk $awk_i -v id="$s_id" -v kind="$s_kind" -v out="$tmp/v.$s_id" -v slow="$progress_every" "$stream_awk" < "$tmp/p.$s_id" >&3 &
  stream_pids="$stream_pids $!"
  (
    c=''
    k=0
    trap 'kill $c 2>/dev/null; exit 0' TERM
    # USR1 (see kick): read now. This curl ends, its unfinished answer is dropped, and the next curl starts at once.
    trap 'k=1; kill $c 2>/dev/null' USR1
    # Held open across curl restarts, so the awk sees one stream; closed (awk ends) when this subshell ends.
    exec 5<>"$tmp/p.$s_id"
    while :; do
      curl -s -N -m 2 --rate "$s_rate" "$@" -w '%{stderr}\n@@M2 %{http_code}\n' "$s_url#[1-1000000000]" >&5 2>&5 &
      c=$!
      # A USR1 ends the first wait early; the second makes sure this curl wrote its last before the reset.
      wait "$c"
      wait "$c" 2>/dev/null
      c=''
      printf '\n@@M2 reset\n' >&5
      [ "$k" = 1 ] || sleep 1
      k=0
    done
  ) &
  stream_pids="$stream_pids $!"
  eval "sp_$s_id=\$!"
  stream_ids="$stream_ids $s_id"
}

# log_start ID CONTAINER: a cloudflared's log, followed (from now on); a line about an edge connection coming or going
# (registered, unregistered, terminated, a serve error, a retry: each with connIndex=) puts `k ID` into the FIFO. Not a
# request's error (those carry connIndex= too, with ingressRule=): an origin that fails every request must not make
# /ready be read at every one. Restarted after 5 s, then 10, 20, ... up to 10 minutes (a log driver Docker cannot read
# back stays cheap); a stop and start of the container starts it anew.
log_start() {
  rm -f "$tmp/l.$1"
  mkfifo "$tmp/l.$1" || return 0
  # shellcheck disable=SC2086
  awk $awk_i -v id="$1" '/connIndex=/ && /(Registered tunnel connection|Connection terminated|Serve tunnel error|Retrying connection)/ { printf "%s", "k " id "\n"; fflush() }' < "$tmp/l.$1" >&3 &
  stream_pids="$stream_pids $!"
  (
    c=''
    trap 'kill $c 2>/dev/null; exit 0' TERM
    exec 5<>"$tmp/l.$1"
    w=5
    while :; do
      t0=$(date +%s)
      $docker_cmd logs -f --tail 0 "$2" >&5 2>&5 &
      c=$!
      wait "$c"
      c=''
      # A follower that ran a minute or more ended for a reason of its own (a restart): start again soon. Only quick
      # failures back off, to at most 10 minutes; the sleep runs in the background so a TERM ends it at once.
      [ $(($(date +%s) - t0)) -lt 60 ] || w=5
      sleep "$w" &
      c=$!
      wait "$c"
      c=''
      w=$((w * 2))
      [ "$w" -le 600 ] || w=600
    done
  ) >/dev/null 2>&1 &
  stream_pids="$stream_pids $!"
}

# kick cN: cloudflared said its connections changed: its /ready stream reads now (a new curl: a few ms), and once more
# at the next tick (the line may come a moment before /ready counts the change); /metrics (colos) follows at its poll.
# At most four reads a tick (a replica's four connections registering at start): more lines wait for the next tick.
kicks_due=''
kick() {
  case " $kicks_due " in *" $1 "*) ;; *) kicks_due="$kicks_due $1" ;; esac
  eval "kt=\${kicked_$1:-}; kn=\${kickn_$1:-0}"
  if [ "$kt" = "$ticks" ]; then
    [ "$kn" -lt 4 ] || return 0
    kn=$((kn + 1))
  else
    kn=1
  fi
  eval "kicked_$1=\$ticks; kickn_$1=\$kn"
  eval "kill -USR1 \${sp_${1}r:-}" 2>/dev/null
}

stream_stop() {
  for p in $stream_pids; do kill "$p" 2>/dev/null; done
  for i in $stream_ids; do eval "sv_$i=''; sp_$i=''"; rm -f "$tmp/p.$i" "$tmp/l.$i"; done
  stream_pids=''
  stream_ids=''
}

# (Re)start the streams when what they reach changed (a container started, stopped, got another address).
streams_sync() {
  jf_on=0
  [ -n "$jf_ip" ] && [ -s "$tmp/jf-header" ] && jf_on=1
  key="$cf_targets|$cf_ids|$jf_on|$jf_ip"
  [ "$key" = "$stream_key" ] && return 0
  stream_key=$key
  stream_stop
  kicks_due=''
  i=0
  for t in $cf_targets; do
    stream_start "c${i}r" cf-ready "$http_rate" "http://${t#*=}:$cf_port/ready"
    stream_start "c${i}m" cf-metrics "$metrics_rate" "http://${t#*=}:$cf_port/metrics"
    i=$((i + 1))
  done
  i=0
  for id in $cf_ids; do
    log_start "c$i" "$id"
    stream_ids="$stream_ids c$i"
    i=$((i + 1))
  done
  [ "$jf_on" = 1 ] && stream_start jf jf "$http_rate" "http://$jf_ip:$jf_port/Sessions?activeWithinSeconds=960" -H "@$tmp/jf-header"
  compose_http
}

# The tunnel and jellyfin lines from the streams' latest fragments; a replica waits for both of its streams.
compose_http() {
  tl=''
  i=0
  for t in $cf_targets; do
    eval "r=\${sv_c${i}r:-}; m=\${sv_c${i}m:-}"
    [ -n "$r" ] && [ -n "$m" ] || { tl='-'; break; }
    tl="${tl:+$tl,}{\"service\":\"${t%%=*}\",$r,$m}"
    i=$((i + 1))
  done
  [ "$tl" = '-' ] || emit_line tunnel "{\"t\":\"tunnel\",\"replicas\":[$tl]}"
  # With Jellyfin on, its stream writes whole lines (below).
  [ "$jf_on" = 1 ] || emit_line jellyfin '{"t":"jellyfin","configured":false,"code":0,"body":""}'
}

sample_backup() {
  b=''
  [ -n "$backup_status" ] && [ -r "$backup_status" ] && { IFS= read -r b < "$backup_status" || :; }
  [ "$b" = "$last_backup_raw" ] && return 0
  last_backup_raw=$b
  case "$b" in
    '{'*'}') printf '%s\n' "$b" | awk "$json_lines_awk"'{ printf "{\"t\":\"backup\",\"present\":true,\"status\":\"%s\"}\n", esc($0) }' ;;
    *) printf '{"t":"backup","present":false,"status":""}\n' ;;
  esac
  # A finished run: ask restic (in the backup container, which holds the repository password) for the latest
  # snapshot, in the background — opening a repository costs restic a key derivation.
  case "$b" in *'"running":true'*) ;; *) snapshots ;; esac
}

# The restore drill's result (one line of JSON the drill script writes), passed on when it changed. Read every 5
# ticks, not every one: a drill's result is not urgent, and sh's read takes a byte per system call.
last_drill_raw='-'
sample_drill() {
  [ -n "$drill_status" ] || return 0
  d=''
  [ -r "$drill_status" ] && { IFS= read -r d < "$drill_status" || :; }
  [ "$d" = "$last_drill_raw" ] && return 0
  last_drill_raw=$d
  case "$d" in
    '') printf '{"t":"drill","present":false,"result":""}\n' ;;
    *) printf '%s\n' "$d" | awk "$json_lines_awk"'{ printf "{\"t\":\"drill\",\"present\":true,\"result\":\"%s\"}\n", esc($0) }' ;;
  esac
}

snapshots() {
  [ -n "$backup_id" ] || return 0
  (
    out=$($docker_cmd exec "$backup_id" restic snapshots --json --no-lock --latest 1 --host m2-server 2>/dev/null)
    code=$?
    printf '%s\n' "$out" > "$tmp/snap.$code.tmp" && mv -f "$tmp/snap.$code.tmp" "$tmp/snap"
    echo "snap $code"
  ) >&3 &
}

# --- GPU ---------------------------------------------------------------------------------------------------
# nvidia-smi and intel_gpu_top each cost tens of milliseconds to start: both run once, in their own loop mode
# (nvidia-smi -lms, intel_gpu_top -s), through an awk like the HTTP streams'. AMD is a sysfs read (a builtin).
nv_query='--query-gpu=index,name,utilization.gpu,utilization.encoder,utilization.decoder,encoder.stats.sessionCount,encoder.stats.averageFps,memory.used,memory.total'
gpu_ms=2000
nv_count=0
gpu_nv=''
gpu_amd=''
gpu_intel=''
nv_lines_awk="$json_lines_awk"'NF > 0 { o = o (o == "" ? "" : ",") "\"" esc($0) "\"" } END { print NR " " o }'
# One CSV line per GPU per loop: every n lines make one sample.
nv_stream_awk="$json_lines_awk$put_awk"'
NF == 0 { next }
{ o = o (c++ ? "," : "") "\"" esc($0) "\""; if (c >= n) { put(o); o = ""; c = 0 } }'
# intel_gpu_top -J prints a JSON array of objects, one per period, pretty-printed with tabs (igt-gpu-tools
# tools/intel_gpu_top.c json_open_struct/json_close_struct): a sample opens with an unindented "{" line and
# closes with an unindented "}" (its newline comes with the next sample, so a sample shows one period late).
# Framing by indentation needs no JSON parsing here; the per-client "clients" member (process names, printed
# unescaped) is left out. Each sample goes on as one JSON-escaped string, which the app parses.
intel_stream_awk="$json_lines_awk$put_awk"'
/^,?[{][ \t\r]*$/ { obj = "{"; on = 1; skip = 0; next }
!on { next }
/^[}],?[ \t\r]*$/ { sub(/,$/, "", obj); on = 0; if (length(obj) < 65536) put(esc(obj "}")); next }
skip { if ($0 ~ /^\t[}],?[ \t\r]*$/) skip = 0; next }
/^\t"clients"[ \t]*:/ { skip = 1; next }
{
  l = $0; sub(/^[ \t]+/, "", l); sub(/[ \t\r]+$/, "", l)
  if (substr(l, 1, 1) == "}") sub(/,$/, "", obj)
  obj = obj l
}'

# tool_stream ID AWK-PROGRAM N COMMAND...: COMMAND runs in its loop mode into the awk; when it exits it is started
# again after 5 s, then 10, 20, ... up to 10 minutes (a tool without the rights to read its counters stays cheap).
tool_stream() {
  t_id=$1
  t_prog=$2
  t_n=$3
  shift 3
  rm -f "$tmp/p.$t_id"
  mkfifo "$tmp/p.$t_id" || return 0
  # shellcheck disable=SC2086
  awk $awk_i -v id="$t_id" -v n="$t_n" -v out="$tmp/v.$t_id" "$t_prog" < "$tmp/p.$t_id" >&3 &
  bg_pids="$bg_pids $!"
  (
    c=''
    trap 'kill $c 2>/dev/null; exit 0' TERM
    exec 5<>"$tmp/p.$t_id"
    w=5
    while :; do
      "$@" >&5 2>/dev/null &
      c=$!
      wait "$c"
      sleep "$w"
      w=$((w * 2))
      [ "$w" -le 600 ] || w=600
    done
  ) &
  bg_pids="$bg_pids $!"
}

sample_gpu() {
  if [ "$has_nvidia" = true ] && [ "$nv_count" -eq 0 ]; then
    r=$(nvidia-smi "$nv_query" --format=csv,noheader,nounits 2>/dev/null | awk "$nv_lines_awk")
    nv_count=${r%% *}
    case "$nv_count" in '' | *[!0-9]*) nv_count=0 ;; esac
    gpu_nv=${r#* }
    [ "$nv_count" -gt 0 ] || gpu_nv=''
  fi
  a=''
  for f in $amd_files; do
    v=''
    read -r v < "$f" 2>/dev/null
    case "$v" in '' | *[!0-9]*) v=null ;; esac
    a="${a:+$a,}$v"
  done
  gpu_amd=$a
  emit_gpu
}

emit_gpu() {
  emit_line gpu "{\"t\":\"gpu\",\"nvidia\":[$gpu_nv],\"amdBusy\":[$gpu_amd],\"intel\":[${gpu_intel:+\"$gpu_intel\"}]}"
}

gpu_streams() {
  [ "$has_nvidia" = true ] && [ "$nv_count" -gt 0 ] && tool_stream nv "$nv_stream_awk" "$nv_count" nvidia-smi "$nv_query" --format=csv,noheader,nounits -lms "$gpu_ms"
  if [ "$has_intel" = true ]; then
    if [ "$use_sudo" = true ]; then
      tool_stream ig "$intel_stream_awk" 0 sudo -n intel_gpu_top -J -s "$gpu_ms"
    else
      tool_stream ig "$intel_stream_awk" 0 intel_gpu_top -J -s "$gpu_ms"
    fi
  fi
  return 0
}

sample_host() {
  read -r _c u n s i w q sq st _rest < /proc/stat
  mt=0
  ma=0
  # Both are in the first lines; stop there (sh reads a byte per system call, /proc/meminfo is ~1.5 kB).
  while read -r k v _u; do
    case "$k" in MemTotal:) mt=$v ;; MemAvailable:) ma=$v ;; esac
    [ "$mt" != 0 ] && [ "$ma" != 0 ] && break
  done < /proc/meminfo
  read -r l1 l5 l15 _r < /proc/loadavg
  read -r up _r < /proc/uptime
  printf '{"t":"host","cpu":[%s,%s,%s,%s,%s,%s,%s,%s],"memTotalKb":%s,"memAvailableKb":%s,"load":[%s,%s,%s],"uptimeS":%s}\n' \
    "$u" "$n" "$s" "$i" "${w:-0}" "${q:-0}" "${sq:-0}" "${st:-0}" "$mt" "$ma" "$l1" "$l5" "$l15" "${up%%.*}"
}

sample_disk() {
  set --
  idx=''
  j=0
  while [ "$j" -lt "$npaths" ]; do
    eval "p=\$path_$j"
    if [ -e "$p" ]; then set -- "$@" "$p"; idx="$idx $j"; fi
    j=$((j + 1))
  done
  d=''
  if [ "$#" -gt 0 ]; then
    # df -P prints one row per path asked, in order. A device name with spaces shifts the columns: the numbers are
    # found as the three before the capacity (NN%), and a row without them is skipped without shifting the rest.
    d=$(df -Pk -- "$@" 2>/dev/null | awk -v idx="$idx" 'BEGIN { n = split(idx, ix, " ") } NR > 1 { k++; for (f = 2; f + 3 <= NF; f++) if ($f ~ /^[0-9]+$/ && $(f + 1) ~ /^[0-9]+$/ && $(f + 2) ~ /^[0-9]+$/ && $(f + 3) ~ /^[0-9]+%$/) { if (k <= n) { printf "%s{\"i\":%d,\"sizeKb\":%s,\"usedKb\":%s,\"availKb\":%s}", (o++ ? "," : ""), ix[k], $f, $(f + 1), $(f + 2) }; break } }')
  fi
  emit_line disk "{\"t\":\"disk\",\"paths\":[$d],\"count\":$npaths}"
}

# --- the loop ---------------------------------------------------------------------------------------------
containers
sample_http
sample_backup
sample_drill
sample_gpu
sample_host
sample_disk
printf '{"t":"ready"}\n'
[ "$streams" = true ] && streams_sync
gpu_streams

ticks=0
while IFS= read -r line <&3; do
  case "$line" in
    tick)
      ticks=$((ticks + 1))
      [ "$streams" = true ] || sample_http
      if [ -n "$kicks_due" ]; then
        d=$kicks_due
        kicks_due=''
        for x in $d; do kick "$x"; done
        # The second read of each is the last.
        kicks_due=''
      fi
      sample_backup
      # The sysfs reads (AMD) every 2 ticks; nvidia-smi only until its loop runs (then every 30, in case it appears).
      if [ "$has_amd" = true ] && [ $((ticks % 2)) -eq 0 ]; then
        sample_gpu
      elif [ "$has_nvidia" = true ] && [ "$nv_count" -eq 0 ] && [ $((ticks % 30)) -eq 0 ]; then
        sample_gpu
        [ "$nv_count" -gt 0 ] && tool_stream nv "$nv_stream_awk" "$nv_count" nvidia-smi "$nv_query" --format=csv,noheader,nounits -lms "$gpu_ms"
      fi
      [ $((ticks % 5)) -eq 0 ] && sample_host
      [ $((ticks % 5)) -eq 0 ] && sample_drill
      [ $((ticks % 10)) -eq 0 ] && printf '{"t":"hb","n":%s}\n' "$ticks"
      [ $((ticks % 60)) -eq 0 ] && sample_disk
      # docker events carry every change; this resync only guards against one missed (a docker CLI costs ~12 ms).
      [ $((ticks % 300)) -eq 0 ] && { containers; [ "$streams" = true ] && streams_sync; }
      ;;
    'v '*)
      set -- $line
      # Only ids this script made (they name a variable): c<digits>r, c<digits>m, jf, nv or ig; K is 0 or 1.
      case "${2:-}:${3:-}" in c*[rm]:[01] | jf:[01] | nv:[01] | ig:[01]) ;; *) continue ;; esac
      n=${2#c}
      n=${n%[rm]}
      case "$2" in jf | nv | ig) ;; *) case "$n" in '' | *[!0-9]*) continue ;; esac ;; esac
      if [ "$2" = jf ]; then
        # A session list is kilobytes, and sh's read takes a byte per system call (~2.5 ms for 5 kB, every
        # half second while something plays): the awk wrote the whole line, one cat prints it (~0.8 ms).
        [ "$jf_on" = 1 ] && cat "$tmp/v.jf.$3" 2>/dev/null && last_jellyfin=stream
        continue
      fi
      v=''
      IFS= read -r v < "$tmp/v.$2.$3" || :
      [ -n "$v" ] || continue
      case "$2" in
        nv) gpu_nv=$v; emit_gpu ;;
        ig) gpu_intel=$v; emit_gpu ;;
        *) eval "sv_$2=\$v"; compose_http ;;
      esac
      ;;
    'k '*)
      k=${line#k }
      case "$k" in c[0-9] | c[0-9][0-9]) [ "$streams" = true ] && kick "$k" ;; esac
      ;;
    'ev '*)
      containers
      if [ "$streams" = true ]; then
        streams_sync
      else
        # A container that just started or stopped changes what can be sampled: sample now.
        case "$line" in *start* | *die* | *stop* | *health_status* | *reconnect*) sample_http ;; esac
      fi
      ;;
    'snap '*)
      code=${line#snap }
      s=''
      [ -r "$tmp/snap" ] && s=$(awk "$json_lines_awk"'{ o = o (o == "" ? "" : "\\n") esc($0) } END { print o }' "$tmp/snap")
      emit_line snap "{\"t\":\"snapshots\",\"code\":$code,\"body\":\"$s\"}"
      ;;
    eof) exit 0 ;;
  esac
done
