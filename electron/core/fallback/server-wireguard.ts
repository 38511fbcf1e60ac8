/**
 * The server side of the WireGuard fallback: the app drives the stack's WireGuard toolbox container (host network,
 * see electron/core/stack/modules/wireguard.ts) over SSH. OFF = the interface m2wg0 does not exist, nothing listens
 * on the UDP port; ON = `wg-quick up /config/m2/m2wg0.conf` inside the running container. Peers change with
 * `wg syncconf` on a stripped copy of the config: no restart, running sessions keep going.
 *
 * Remote commands are data: the builders below return argv arrays (pure, unit-tested exactly); the few shell
 * scripts run inside the container are constant text that takes every path and name as "$@", never built from
 * strings. The config holds the server's private key: it is written only with conn.writeFileAtomic (0600, folder
 * 0700), never passes through argv, and `wg show … dump` has its private-key column blanked before it leaves the
 * container.
 */
import { secretMask } from '../../contract/stack';
import { AppError, SEE_LOG } from '../errors';
import { withSudo, type Argv } from '../ssh/argv';
import { remoteCommandFailed, runChecked, type FailureWords } from '../ssh/remote-command';
import type { CommandRunner, ExecResult } from '../ssh/runner';
import { ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL } from '../stack/compose-commands';
import { WG_CONF_IN_CONTAINER, WG_INTERFACE, WG_UP_MARKER, wgConfDir, wgConfPath } from '../stack/modules/wireguard';
import { ipForwardArgv, parseIpForward } from './lan-forward';
import { parseWgShowDump, type WgDump } from './wg-config';

/** The compose service of the toolbox (electron/core/stack/modules/wireguard.ts). */
export const WG_SERVICE = 'wireguard';

/** What the fallback needs of the SSH connection (SshConnection has all of it). */
export interface ServerWireGuardConnection extends CommandRunner {
  writeFileAtomic(remotePath: string, data: string | Uint8Array, opts?: { mode?: number }): Promise<unknown>;
}

export interface ServerWireGuardOptions {
  readonly conn: ServerWireGuardConnection;
  /** The stack's data root on the server (`<dataRoot>/wireguard` is the toolbox's /config). */
  readonly dataRoot: string;
  /** Docker through `sudo -n` (SSH user outside the docker group). */
  readonly sudo: boolean;
  /** Compose project; 'm2' in the product. */
  readonly project: string;
}

/** up = the interface is up and wg-quick finished; partial = an interface without a finished `up` (a cut run); down = no interface. */
export type ServerWireGuardState = 'up' | 'partial' | 'down';

// ---------------------------------------------------------------------------------------------------------------
// Scripts run inside the container by `sh -c <script> sh <conf> <iface> <marker>`: constant text, arguments as $1…

/**
 * Wait (up to 10 s) until the interface and a userspace daemon's socket are gone. A userspace wireguard-go can hang
 * on its way out (seen in the lab while its log went to a pipe nobody read any more): after 3 s the interface is
 * deleted by hand, which ends the daemon too.
 */
const IFACE_GONE = [
  'n=0',
  'while ip link show "$i" >/dev/null 2>&1 || [ -S "/var/run/wireguard/$i.sock" ]; do',
  '  n=$((n+1))',
  '  if [ "$n" -eq 30 ]; then rm -f "/var/run/wireguard/$i.sock"; ip link del "$i" >/dev/null 2>&1; fi',
  '  if [ "$n" -gt 100 ]; then echo "m2: $i is still there after 10 s" >&2; exit 70; fi',
  '  sleep 0.1',
  'done',
].join('\n');

/**
 * The config's PostDown lines (the home-network cleanup: every line ends in `|| true`), `%i` filled in, output dropped.
 * wg-quick runs PostDown only on `down`; a PostUp that fails half-way (on `up` or on a replay) leaves what it added
 * before the failing line, which this takes away again: nothing half-done stays in the server's firewall.
 */
const POST_DOWN = 'sed -n "s/^PostDown = //p" "$conf" | sed "s/%i/$i/g" | while IFS= read -r hook; do eval "$hook"; done >/dev/null 2>&1';

/** Idempotent up: a complete up stays as it is; anything partial is taken down first, then `wg-quick up`. */
export const UP_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'if [ -e "$mark" ] && wg show "$i" >/dev/null 2>&1; then exit 0; fi',
  'rm -f "$mark"',
  'wg-quick down "$conf" >/dev/null 2>&1 || { rm -f "/var/run/wireguard/$i.sock"; ip link del "$i" >/dev/null 2>&1; }',
  IFACE_GONE,
  // wg-quick takes its interface away when a PostUp line fails, but not the lines before it.
  `wg-quick up "$conf" || { rc=$?; ${POST_DOWN}; exit $rc; }`,
  'touch "$mark"',
].join('\n');

/** Idempotent down: no interface → nothing to do; otherwise `wg-quick down`, and by hand if that cannot. */
export const DOWN_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'rm -f "$mark"',
  'if ! ip link show "$i" >/dev/null 2>&1 && ! [ -S "/var/run/wireguard/$i.sock" ]; then exit 0; fi',
  'wg-quick down "$conf" >/dev/null 2>&1 || { rm -f "/var/run/wireguard/$i.sock"; ip link del "$i" >/dev/null 2>&1; }',
  IFACE_GONE,
].join('\n');

/** Peers (and keys, port) from the config onto the running interface, sessions kept; nothing while it is not up. */
export const SYNC_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'if ! [ -e "$mark" ] || ! wg show "$i" >/dev/null 2>&1; then exit 0; fi',
  'tmp=$(mktemp) || exit 70',
  'wg-quick strip "$conf" > "$tmp" && wg syncconf "$i" "$tmp"; rc=$?',
  'rm -f "$tmp"',
  'exit $rc',
].join('\n');

/**
 * Replay the config's PostDown lines, then its PostUp lines, while the interface is up (nothing while it is not): how
 * a change of "let devices reach the home network" reaches a running endpoint, since `wg syncconf` applies peers only.
 * The lines are the app's own (lan-forward.ts: constant text and canonical ranges), run with `%i` replaced exactly as
 * wg-quick runs them; PostDown never fails and PostUp is idempotent, so replaying twice changes nothing twice.
 */
export const RULES_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'if ! [ -e "$mark" ] || ! wg show "$i" >/dev/null 2>&1; then exit 0; fi',
  'tmp=$(mktemp) || exit 70',
  '{ sed -n "s/^PostDown = //p" "$conf"; sed -n "s/^PostUp = //p" "$conf"; } | sed "s/%i/$i/g" > "$tmp"',
  'rc=0',
  'while IFS= read -r hook; do eval "$hook" || { rc=$?; echo "m2: failed: $hook" >&2; break; }; done < "$tmp"',
  // A PostUp that failed half-way: devices reach the server only, never half the home network.
  `if [ "$rc" -ne 0 ]; then ${POST_DOWN}; fi`,
  'rm -f "$tmp"',
  'exit $rc',
].join('\n');

/** One word: up, partial or down. */
export const STATE_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'if wg show "$i" >/dev/null 2>&1 || ip link show "$i" >/dev/null 2>&1; then if [ -e "$mark" ]; then echo up; else echo partial; fi; else echo down; fi',
].join('\n');

/** `wg show <if> dump` with the private key blanked (it never leaves the container), or the word down. */
export const SHOW_SCRIPT = [
  'conf=$1; i=$2; mark=$3',
  'if ! wg show "$i" >/dev/null 2>&1; then echo down; exit 0; fi',
  `wg show "$i" dump | awk 'BEGIN { FS = OFS = "\\t" } NR == 1 { $1 = "(hidden)" } { print }'`,
].join('\n');

// ---------------------------------------------------------------------------------------------------------------
// argv builders (pure)

export const serverWireGuardCommands = (o: { sudo: boolean; project: string; dataRoot: string }) => {
  const docker = (argv: Argv): Argv => (o.sudo ? withSudo(argv) : argv);
  const script = (containerId: string, text: string): Argv => docker(['docker', 'exec', containerId, 'sh', '-c', text, 'sh', WG_CONF_IN_CONTAINER, WG_INTERFACE, WG_UP_MARKER]);
  return {
    /** Running containers of the project's wireguard service, by compose labels (never by a guessed name). */
    findContainer: (): Argv =>
      docker([
        'docker', 'ps',
        '--filter', `label=${PROJECT_LABEL}=${o.project}`,
        '--filter', `label=${SERVICE_LABEL}=${WG_SERVICE}`,
        '--filter', `label=${ONEOFF_LABEL}=False`,
        '--filter', 'status=running',
        '--quiet', '--no-trunc',
      ]),
    /** The config's folder, private to the SSH user (the toolbox reads it as root). */
    makeConfDir: (): Argv => ['sh', '-c', 'mkdir -p -- "$1" && chmod 0700 -- "$1"', 'sh', wgConfDir(o.dataRoot)],
    removeConf: (): Argv => ['rm', '-f', '--', wgConfPath(o.dataRoot)],
    up: (containerId: string): Argv => script(containerId, UP_SCRIPT),
    down: (containerId: string): Argv => script(containerId, DOWN_SCRIPT),
    sync: (containerId: string): Argv => script(containerId, SYNC_SCRIPT),
    state: (containerId: string): Argv => script(containerId, STATE_SCRIPT),
    show: (containerId: string): Argv => script(containerId, SHOW_SCRIPT),
    rules: (containerId: string): Argv => script(containerId, RULES_SCRIPT),
    /** The host's IPv4 forwarding (a host-network container shares it but may not change it). */
    ipForward: (): Argv => ipForwardArgv(),
  };
};

/** The running toolbox's id from `docker ps --quiet --no-trunc`, or null; two running is a broken project. */
export const parseContainerId = (stdout: string): string | null => {
  const ids = stdout.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{12,64}$/.test(s));
  if (ids.length > 1) {
    throw new AppError('fallback.switch-failed', `The server runs ${ids.length} WireGuard containers for this stack.`, {
      hint: 'Apply the stack again from the Services page; it keeps one.',
    });
  }
  return ids[0] ?? null;
};

/** The state word the state script prints. */
export const parseState = (stdout: string): ServerWireGuardState => {
  const w = stdout.trim();
  if (w === 'up' || w === 'partial' || w === 'down') return w;
  throw new AppError('fallback.switch-failed', 'The server gave an answer about WireGuard that M2 Companion does not understand.', {
    hint: `Try again; ${SEE_LOG}.`,
    cause: new Error(`the state script printed ${JSON.stringify(w.slice(0, 200))}`),
  });
};

/** Anything that looks like a WireGuard key (44 characters of base64) is masked before text reaches a log or a message. */
export const redactKeys = (text: string): string => text.replace(/[A-Za-z0-9+/]{43}=/g, secretMask);

const lastLines = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^\s*[│┌└]/.test(l))
    .slice(-n)
    .join('\n');

/** A failed remote command as an AppError: the last lines in the message; argv, status and stderr (keys masked) kept for the log. */
const switchWords = (what: string, hint: string): FailureWords => ({ code: 'fallback.switch-failed', message: (_, { output, status }) => `${what} failed on the server: ${lastLines(output, 2) || status}.`, hint });
export const remoteFailure = (what: string, argv: Argv, r: ExecResult, hint: string): AppError => remoteCommandFailed(argv, r, switchWords(what, hint), { redact: redactKeys });

const NOT_RUNNING_HINT = 'Turn on WireGuard under Services and apply the stack, then try again.';
const SWITCH_HINT = 'Check that the WireGuard container runs (Services) and that the port is free, then try again. The fallback stays off.';

// ---------------------------------------------------------------------------------------------------------------

export class ServerWireGuard {
  readonly #o: ServerWireGuardOptions;
  readonly #cmd: ReturnType<typeof serverWireGuardCommands>;
  /** One switch operation at a time per server (up, down, sync, config writes). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: ServerWireGuardOptions) {
    this.#o = o;
    this.#cmd = serverWireGuardCommands(o);
  }

  /** Host path of the config (0600) on the server. */
  get configPath(): string {
    return wgConfPath(this.#o.dataRoot);
  }

  /** Write the server config (from renderServerConfig): folder 0700, file 0600, atomically. Does not apply it (see sync). */
  writeConfig(content: string): Promise<void> {
    return this.#serial(async () => {
      await this.#run(this.#cmd.makeConfDir(), 'Preparing the WireGuard folder', 'Check that the stack’s data folder exists and is writable by the SSH user.');
      await this.#o.conn.writeFileAtomic(this.configPath, content, { mode: 0o600 });
    });
  }

  /** Remove the config (the interface must be down first; a later `up` then fails). */
  removeConfig(): Promise<void> {
    return this.#serial(async () => {
      await this.#run(this.#cmd.removeConf(), 'Removing the WireGuard config', 'Check that the SSH user may write the stack’s data folder.');
    });
  }

  /** Open the endpoint: `wg-quick up` in the toolbox. Already up → nothing happens; a partial state is redone. */
  up(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.#serial(async () => {
      const id = await this.#container();
      if (id === null) throw new AppError('fallback.switch-failed', 'The WireGuard container is not running on the server.', { hint: NOT_RUNNING_HINT });
      await this.#run(this.#cmd.up(id), 'Turning the WireGuard endpoint on', SWITCH_HINT, opts.timeoutMs ?? 60_000);
    });
  }

  /** Close the endpoint: the interface goes, nothing listens. Already down (or no container) → nothing happens. */
  down(): Promise<void> {
    return this.#serial(async () => {
      const id = await this.#container();
      if (id === null) return;
      await this.#run(this.#cmd.down(id), 'Turning the WireGuard endpoint off', 'Try again; if it stays on, restart the WireGuard container from Services.', 60_000);
    });
  }

  /** Apply the written config's peers to the running interface (no restart); nothing while it is down. */
  sync(): Promise<void> {
    return this.#serial(async () => {
      const id = await this.#container();
      if (id === null) return;
      await this.#run(this.#cmd.sync(id), 'Updating the WireGuard devices', SWITCH_HINT);
    });
  }

  /** Apply the written config's PostUp/PostDown (the home-network rules) to the running endpoint; nothing while it is down. */
  applyRules(): Promise<void> {
    return this.#serial(async () => {
      const id = await this.#container();
      if (id === null) return;
      await this.#run(this.#cmd.rules(id), 'Updating the home-network rules', 'Check that the WireGuard container may change the server’s firewall (NET_ADMIN), or turn “Let devices reach the home network” off.');
    });
  }

  /** Whether the server forwards IPv4 between its interfaces (needed for devices to reach the home network). */
  async ipForwarding(): Promise<boolean> {
    return parseIpForward((await this.#run(this.#cmd.ipForward(), 'Reading the server’s IP forwarding', 'Check the connection to the server, then try again.')).stdout);
  }

  async state(): Promise<ServerWireGuardState> {
    const id = await this.#container();
    if (id === null) return 'down';
    return parseState((await this.#run(this.#cmd.state(id), 'Reading the WireGuard state', SWITCH_HINT)).stdout);
  }

  async isUp(): Promise<boolean> {
    return (await this.state()) === 'up';
  }

  /** `wg show m2wg0 dump`, parsed (no private key); null while the interface is down or the toolbox is not running. */
  async show(): Promise<WgDump | null> {
    const id = await this.#container();
    if (id === null) return null;
    const r = await this.#run(this.#cmd.show(id), 'Reading the WireGuard peers', SWITCH_HINT);
    return r.stdout.trim() === 'down' ? null : parseWgShowDump(r.stdout);
  }

  async containerRunning(): Promise<boolean> {
    return (await this.#container()) !== null;
  }

  async #container(): Promise<string | null> {
    const r = await this.#run(this.#cmd.findContainer(), 'Finding the WireGuard container', 'Check that Docker runs on the server and that the SSH user may use it.');
    return parseContainerId(r.stdout);
  }

  async #run(argv: Argv, what: string, hint: string, timeoutMs = 30_000): Promise<ExecResult> {
    return runChecked(this.#o.conn, argv, switchWords(what, hint), { redact: redactKeys, exec: { timeoutMs } });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
