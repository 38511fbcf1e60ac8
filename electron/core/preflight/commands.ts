import { type Argv, withSudo } from '../ssh/argv';

/**
 * Every command preflight runs on the server, as argv. The scripts are constants: nothing the admin
 * types is ever part of script text. Data paths and the probe target travel as positional arguments
 * ("$@"), which the remote shell never parses as code.
 */

/** Cloudflare's tunnel edge; cloudflared dials it on 7844 (TCP for HTTP/2, UDP for QUIC). */
export const CLOUDFLARE_EDGE = { host: 'region1.v2.argotunnel.com', port: 7844 } as const;

/** Seconds any single probe may take on the server (a hung dockerd must not hang preflight). */
export const PROBE_TIMEOUT_S = 10;
export const EGRESS_TIMEOUT_S = 5;

/** Section markers the facts script prints around each command's output (stdout and stderr together). */
export const SECTION_BEGIN = '@@m2:begin:';
export const SECTION_END = '@@m2:end:';

/** `$0` of each script, so `ps` on the server shows what is running. */
export const FACTS_NAME = 'm2-preflight-facts';
export const DISK_NAME = 'm2-preflight-disk';
export const EGRESS_NAME = 'm2-preflight-egress';

/** Read-only facts, in one round trip. Each section: begin marker, output, end marker with exit code. */
export const FACTS_SCRIPT = String.raw`
if timeout 1 true >/dev/null 2>&1; then m2t() { timeout ${PROBE_TIMEOUT_S} "$@"; }; else m2t() { "$@"; }; fi
m2run() { m2n=$1; shift; printf '\n${SECTION_BEGIN}%s\n' "$m2n"; "$@" 2>&1; m2rc=$?; printf '\n${SECTION_END}%s:%s\n' "$m2n" "$m2rc"; }
m2osrel() { cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release; }
m2tools() { for c in bash nc timeout sudo systemctl rc-service timedatectl nvidia-ctk apt-get dnf apk; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done; :; }
m2vendors() { for d in /dev/dri/renderD*; do [ -e "$d" ] || continue; n=$(basename "$d"); v=$(cat "/sys/class/drm/$n/device/vendor" 2>/dev/null) || v=unknown; printf '%s %s\n' "$n" "$v"; done; :; }
m2groups() { getent group render video 2>/dev/null || grep -E '^(render|video):' /etc/group; }
m2run os-release m2osrel
m2run uname uname -sm
m2run id id -nG
m2run tools m2tools
m2run docker-version m2t docker version --format '{{json .}}'
m2run docker-info m2t docker info --format '{{json .}}'
m2run compose m2t docker compose version --short
m2run compose-standalone m2t docker-compose version
m2run nvidia-smi m2t nvidia-smi --query-gpu=driver_version,name --format=csv,noheader
m2run dri ls -l /dev/dri
m2run render-vendors m2vendors
m2run groups m2groups
m2run ntp m2t timedatectl show -p NTPSynchronized --value
m2run date date +%s
`.trim();

/**
 * For each path ("$@"): whether it exists, is a folder and is writable by the login user, then its
 * filesystem's space (bytes; `df -Pk` where a df has no -B). Paths are numbered, never echoed.
 */
export const DISK_SCRIPT = String.raw`
if timeout 1 true >/dev/null 2>&1; then m2t() { timeout ${PROBE_TIMEOUT_S} "$@"; }; else m2t() { "$@"; }; fi
i=0
for p do
  i=$((i+1))
  printf '@@m2:path:%s\n' "$i"
  if [ ! -e "$p" ]; then echo state=missing; continue; fi
  if [ ! -d "$p" ]; then echo state=not-dir
  elif [ ! -w "$p" ]; then echo state=not-writable
  else echo state=ok; fi
  if out=$(m2t df -PB1 -- "$p" 2>&1); then printf 'unit=1\n%s\n' "$out"
  elif out=$(m2t df -Pk -- "$p" 2>&1); then printf 'unit=1024\n%s\n' "$out"
  else printf 'unit=error\n%s\n' "$out"; fi
done
`.trim();

/**
 * One outbound TCP connection to "$1":"$2" with what a stock server has: bash's /dev/tcp, else nc.
 * Bounded by `timeout` (DNS included) where the server has it.
 */
export const EGRESS_SCRIPT = String.raw`
if timeout 1 true >/dev/null 2>&1; then m2t() { timeout ${EGRESS_TIMEOUT_S} "$@"; }; else m2t() { "$@"; }; fi
if command -v bash >/dev/null 2>&1; then
  echo method=bash
  m2t bash -c 'exec 3<>"/dev/tcp/$1/$2"' m2-egress "$1" "$2" 2>&1; echo "rc=$?"
elif command -v nc >/dev/null 2>&1; then
  echo method=nc
  m2t nc -z -w ${EGRESS_TIMEOUT_S} "$1" "$2" 2>&1; echo "rc=$?"
else
  echo method=none
fi
`.trim();

export const preflightCommands = {
  facts: (): Argv => ['sh', '-c', FACTS_SCRIPT, FACTS_NAME],
  disk: (paths: readonly string[]): Argv => ['sh', '-c', DISK_SCRIPT, DISK_NAME, ...paths],
  egress: (host: string = CLOUDFLARE_EDGE.host, port: number = CLOUDFLARE_EDGE.port): Argv => [
    'sh',
    '-c',
    EGRESS_SCRIPT,
    EGRESS_NAME,
    host,
    String(port),
  ],
  /** Docker as the login user is in the facts script; this is the fallback through passwordless sudo. */
  sudoDockerInfo: (): Argv => withSudo(['docker', 'info', '--format', '{{json .}}']),
} as const;
