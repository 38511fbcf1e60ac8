/**
 * The WireGuard port through the home router while the fallback is on (facts §3): the server asks its router
 * itself, over the app's one SSH connection, because routers in secure mode map a port only to the address that
 * asks for it (a request from the laptop for the server's address is refused with 718 ConflictInMappingEntry).
 * UPnP IGD first (`upnpc`), then NAT-PMP (`natpmpc`); when neither answers, the admin gets exact words for
 * forwarding the port by hand. Every remote command is an argv built here and bounded by `timeout` on the server
 * (a router that drops SSDP or NAT-PMP packets would otherwise keep `upnpc` and `natpmpc` retrying for minutes).
 * Parsers read the tools' own output, recorded from the real programs in fixtures/.
 */
import type { PortMapping } from '../../contract/fallback';
import { isIPv4 } from '../../contract/validation';
import { AppError } from '../errors';
import { silentLogger, type Logger } from '../log';
import type { Argv } from '../ssh/argv';
import type { CommandRunner, ExecResult } from '../ssh/runner';

/** Seconds `upnpc` may take on the server (SSDP discovery alone waits about 8 s when no router answers). */
export const UPNPC_TIMEOUT_S = 12;
/** Seconds `natpmpc` may take (it retries with back-off for about two minutes when nothing answers). */
export const NATPMPC_TIMEOUT_S = 6;
/** How long a mapping lives unless asked otherwise; `map` again before it ends renews it in place. */
export const DEFAULT_LIFETIME_S = 86_400;

export const INSTALL_HINT = 'sudo apt install miniupnpc natpmpc';

/** Where upnpc looks for the router: a root description URL skips discovery; an interface picks the SSDP route. */
export interface UpnpTarget {
  readonly rootDescUrl?: string | undefined;
  readonly multicastIf?: string | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands (pure)

const bounded = (seconds: number, argv: Argv): Argv => ['timeout', '-k', '2', String(seconds), ...argv];

const upnpc = (t: UpnpTarget, args: readonly string[]): Argv =>
  bounded(UPNPC_TIMEOUT_S, ['upnpc', ...(t.rootDescUrl ? ['-u', t.rootDescUrl] : t.multicastIf ? ['-m', t.multicastIf] : []), ...args]);

const natpmpc = (gateway: string | null, args: readonly string[]): Argv =>
  bounded(NATPMPC_TIMEOUT_S, ['natpmpc', ...(gateway ? ['-g', gateway] : []), ...args]);

export const portMapCommands = {
  defaultRoute: (): Argv => ['ip', '-4', 'route', 'show', 'default'],
  routeTo: (address: string): Argv => ['ip', '-4', '-o', 'route', 'get', address],
  upnpStatus: (t: UpnpTarget): Argv => upnpc(t, ['-s']),
  upnpList: (t: UpnpTarget): Argv => upnpc(t, ['-l']),
  upnpAdd: (t: UpnpTarget, m: { lanIp: string; port: number; description: string; lifetimeSeconds: number }): Argv =>
    upnpc(t, ['-e', m.description, '-a', m.lanIp, String(m.port), String(m.port), 'UDP', String(m.lifetimeSeconds)]),
  upnpDelete: (t: UpnpTarget, port: number): Argv => upnpc(t, ['-d', String(port), 'UDP']),
  natpmpPublicIp: (gateway: string | null): Argv => natpmpc(gateway, []),
  /** Lifetime 0 deletes the mapping. */
  natpmpMap: (gateway: string | null, port: number, lifetimeSeconds: number): Argv =>
    natpmpc(gateway, ['-a', String(port), String(port), 'udp', String(lifetimeSeconds)]),
};

// ---------------------------------------------------------------------------------------------------------------
// Parsers (pure, against recorded outputs)

const line = (out: string, re: RegExp): string | null => re.exec(out)?.[1]?.trim() ?? null;
const ipv4 = (s: string | null): string | null => (s !== null && isIPv4(s) ? s : null);

export interface UpnpStatus {
  /** A valid Internet Gateway Device answered. */
  found: boolean;
  rootDescUrl: string | null;
  controlUrl: string | null;
  /** The router's host as the IGD's URL names it. */
  router: string | null;
  lanIp: string | null;
  externalIp: string | null;
}

export function parseUpnpStatus(out: string): UpnpStatus {
  const controlUrl = line(out, /^Found valid IGD : (\S+)/m);
  const rootDescUrl = line(out, /^\s*desc: (\S+)/m);
  const url = controlUrl ?? rootDescUrl;
  let router: string | null;
  try {
    router = url ? new URL(url).hostname : null;
  } catch {
    router = null;
  }
  return {
    found: controlUrl !== null,
    rootDescUrl,
    controlUrl,
    router,
    lanIp: ipv4(line(out, /^Local LAN ip address : (\S+)/m)),
    externalIp: ipv4(line(out, /^ExternalIPAddress = (\S+)/m)),
  };
}

export interface RouterMapping {
  externalPort: number;
  protocol: 'UDP' | 'TCP';
  internalIp: string;
  internalPort: number;
  description: string;
}

/** Rows of `upnpc -l`: ` 0 UDP 51830->10.213.82.2:51830 'M2 WireGuard' '' 604797`. */
export function parseUpnpList(out: string): RouterMapping[] {
  const rows: RouterMapping[] = [];
  const re = /^\s*\d+\s+(UDP|TCP)\s+(\d+)->(\d{1,3}(?:\.\d{1,3}){3}):(\d+)\s+'(.*)'\s+'[^']*'\s+\d+\s*$/gm;
  for (const m of out.matchAll(re)) {
    rows.push({ protocol: m[1] as 'UDP' | 'TCP', externalPort: Number(m[2]), internalIp: m[3] ?? '', internalPort: Number(m[4]), description: m[5] ?? '' });
  }
  return rows;
}

export type UpnpOutcome =
  | { ok: true; externalIp: string | null; externalPort: number; internalIp: string; internalPort: number; durationSeconds: number }
  | { ok: false; code: number | null; reason: string };

/** What `upnpc -a` answered: the redirection line, or the UPnP error code and its name. */
export function parseUpnpAdd(out: string): UpnpOutcome {
  const ok = /external (\S+):(\d+) UDP is redirected to internal (\S+):(\d+) \(duration=(\d+)\)/.exec(out);
  if (ok) {
    return { ok: true, externalIp: ipv4(ok[1] ?? null), externalPort: Number(ok[2]), internalIp: ok[3] ?? '', internalPort: Number(ok[4]), durationSeconds: Number(ok[5]) };
  }
  const failed = /failed with code (\d+) \(([^)]*)\)/.exec(out);
  if (failed) return { ok: false, code: Number(failed[1]), reason: `${failed[1]} ${failed[2] ?? ''}`.trim() };
  if (/No (valid )?(IGD )?UPNP (Internet Gateway )?Device found/i.test(out)) return { ok: false, code: null, reason: 'no UPnP router answered' };
  return { ok: false, code: null, reason: 'upnpc gave no answer it could read' };
}

/** `upnpc -d`: 0 = removed; 714 NoSuchEntryInArray = nothing to remove (also fine). */
export function parseUpnpDelete(out: string): { ok: boolean; code: number | null } {
  const code = line(out, /UPNP_DeletePortMapping\(\) returned : (-?\d+)/);
  if (code === null) return { ok: false, code: null };
  const n = Number(code);
  return { ok: n === 0 || n === 714, code: n };
}

export interface NatpmpAnswer {
  publicIp: string | null;
  mapped: { publicPort: number; privatePort: number; protocol: string; lifetimeSeconds: number } | null;
  /** Why it failed, in natpmpc's words; null when it answered. */
  failure: string | null;
}

export function parseNatpmp(out: string): NatpmpAnswer {
  // natpmpc 20150609 prints "liftime".
  const m = /Mapped public port (\d+) protocol (\w+) to local port (\d+) lif(?:e)?time (\d+)/.exec(out);
  const failed = line(out, /failed : (.+)$/m) ?? (/returned -\d+ \(FAILED\)/.test(out) ? 'the router did not answer' : null);
  return {
    publicIp: ipv4(line(out, /^Public IP address : (\S+)/m)),
    mapped: m ? { publicPort: Number(m[1]), protocol: m[2] ?? '', privatePort: Number(m[3]), lifetimeSeconds: Number(m[4]) } : null,
    failure: failed,
  };
}

/** `default via 192.168.1.1 dev eth0 …` → the router and the interface towards it. */
export function parseDefaultRoute(out: string): { gateway: string; dev: string | null } | null {
  const m = /^default via (\S+)(?:.*?\bdev (\S+))?/m.exec(out);
  return m && isIPv4(m[1] ?? '') ? { gateway: m[1] ?? '', dev: m[2] ?? null } : null;
}

/** `10.213.82.1 dev m2rr src 10.213.82.2 uid 1001` → the interface and this host's address towards it. */
export function parseRouteGet(out: string): { dev: string | null; src: string | null } {
  return { dev: line(out, /\bdev (\S+)/), src: ipv4(line(out, /\bsrc (\S+)/)) };
}

/** A timeout that could not start its program exits 127 (`timeout: failed to run command 'upnpc'`). */
export const toolMissing = (r: ExecResult): boolean => r.code === 127;

const octets = (ip: string): number[] => ip.split('.').map(Number);

/**
 * What the router's own internet address says about reaching it from outside: a carrier-grade NAT address
 * (100.64.0.0/10) or a private one (RFC 1918) means another NAT sits between the router and the internet.
 */
export function classifyExternalIp(ip: string | null): 'public' | 'cgnat' | 'private' | 'unknown' {
  if (ip === null || !isIPv4(ip)) return 'unknown';
  const [a = 0, b = 0] = octets(ip);
  if (a === 100 && b >= 64 && b <= 127) return 'cgnat';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  return 'public';
}

export function natWarning(externalIp: string | null, publicIp?: string | null): string | null {
  switch (classifyExternalIp(externalIp)) {
    case 'cgnat':
      return `The router's internet address ${externalIp} is a carrier-grade NAT address (100.64.0.0/10): the internet provider shares one public address among many homes, so port forwarding on this router cannot make the server reachable from the internet. Ask the provider for a public IPv4 address, or rely on Cloudflare.`;
    case 'private':
      return `The router's internet address ${externalIp} is a private address: it sits behind another router (double NAT), so port forwarding on this router alone cannot make the server reachable from the internet. Forward the port on the outer router too, or put one of them in bridge mode.`;
    default:
      if (externalIp && publicIp && isIPv4(publicIp) && publicIp !== externalIp) {
        return `The router says its internet address is ${externalIp}, but the internet sees this home as ${publicIp}: another NAT sits in between, so port forwarding on this router cannot make the server reachable from the internet.`;
      }
      return null;
  }
}

/** Exactly which port to forward where, for a router that speaks neither UPnP nor NAT-PMP (or refused). */
export function manualInstructions(port: number, lanIp: string | null, why: string): string {
  const target = lanIp ? `the server's address on your home network, ${lanIp}` : "the server's address on your home network (shown by `ip -4 addr` on the server)";
  return `${why} Forward UDP port ${port} by hand: in your router's settings (usually "Port forwarding" or "Virtual server"), send UDP port ${port} from the internet to ${target}, port ${port}. Protocol UDP only; no TCP is needed.`;
}

// ---------------------------------------------------------------------------------------------------------------
// The mapper

export interface Discovery {
  upnp: boolean;
  natpmp: boolean;
  externalIp: string | null;
  /** The server's own address on the home network. */
  lanIp: string | null;
  /** The router's address on the home network. */
  router: string | null;
  cgnat: boolean;
  /** One or two sentences a person reads: what answered, and any warning. */
  detail: string;
  /** Whether the tools exist on the server. */
  tools: { upnpc: boolean; natpmpc: boolean };
  /** The IGD's root description URL once found (later calls skip discovery). */
  rootDescUrl: string | null;
}

export interface PortMapperDeps {
  conn: CommandRunner;
  log?: Logger;
  /** The router's LAN address; by default the server's default gateway. Also where NAT-PMP is asked. */
  router?: string;
  /** How upnpc finds the router; by default the interface towards `router` (upnpc's own choice when unknown). */
  upnp?: UpnpTarget;
}

const PORT_FIELD = 'WireGuard port';

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new AppError('fallback.invalid', `${PORT_FIELD}: use a whole number from 1 to 65535 (it was ${String(port)}).`, {
      field: PORT_FIELD,
      hint: 'WireGuard listens on 51820 unless you chose another port.',
    });
  }
}

function checkDescription(description: string): void {
  if (!/^[\p{L}\p{N} ._()-]{1,60}$/u.test(description)) {
    throw new AppError('fallback.invalid', 'Port mapping description: use up to 60 letters, digits, spaces, dots, dashes or brackets.', {
      field: 'Port mapping description',
    });
  }
}

export class PortMapper {
  readonly #conn: CommandRunner;
  readonly #log: Logger;
  readonly #router: string | undefined;
  readonly #upnp: UpnpTarget;
  /** The IGD found last time: later calls ask it directly (milliseconds) instead of discovering again (seconds). */
  #knownRootDesc: string | null = null;

  constructor(deps: PortMapperDeps) {
    this.#conn = deps.conn;
    this.#log = deps.log ?? silentLogger;
    this.#router = deps.router;
    this.#upnp = deps.upnp ?? {};
  }

  async #run(argv: Argv, seconds: number): Promise<ExecResult> {
    return this.#conn.exec(argv, { timeoutMs: (seconds + 5) * 1000 });
  }

  /** The router's address, the interface towards it and this server's address on that side. */
  async #route(): Promise<{ router: string | null; dev: string | null; lanIp: string | null }> {
    let router = this.#router ?? null;
    let dev: string | null = null;
    if (router === null) {
      const r = await this.#run(portMapCommands.defaultRoute(), 5);
      const def = r.code === 0 ? parseDefaultRoute(r.stdout) : null;
      router = def?.gateway ?? null;
      dev = def?.dev ?? null;
    }
    if (router === null) return { router: null, dev, lanIp: null };
    const g = await this.#run(portMapCommands.routeTo(router), 5);
    const got = g.code === 0 ? parseRouteGet(g.stdout) : { dev: null, src: null };
    return { router, dev: got.dev ?? dev, lanIp: got.src };
  }

  /**
   * Ask the router what it speaks: UPnP (`upnpc -s`) and NAT-PMP (`natpmpc`) at once, each bounded. `publicIp`
   * (what the internet sees, e.g. from Cloudflare's trace) makes a double NAT visible even behind a public-looking
   * router address.
   */
  async discover(opts: { publicIp?: string | null } = {}): Promise<Discovery> {
    const route = await this.#route();
    const target: UpnpTarget = { rootDescUrl: this.#upnp.rootDescUrl, multicastIf: this.#upnp.multicastIf ?? route.dev ?? undefined };
    const askUpnp = async (): Promise<ExecResult> => {
      if (!target.rootDescUrl && this.#knownRootDesc) {
        const known = await this.#run(portMapCommands.upnpStatus({ rootDescUrl: this.#knownRootDesc }), UPNPC_TIMEOUT_S);
        // A router that restarted may answer on another port: then discover it again.
        if (toolMissing(known) || parseUpnpStatus(known.stdout).found) return known;
        this.#knownRootDesc = null;
      }
      return this.#run(portMapCommands.upnpStatus(target), UPNPC_TIMEOUT_S);
    };
    const [u, n] = await Promise.all([askUpnp(), this.#run(portMapCommands.natpmpPublicIp(route.router), NATPMPC_TIMEOUT_S)]);
    const tools = { upnpc: !toolMissing(u), natpmpc: !toolMissing(n) };
    const status = parseUpnpStatus(u.stdout + u.stderr);
    if (!status.found) {
      this.#knownRootDesc = null;
    } else if (status.rootDescUrl) {
      this.#knownRootDesc = status.rootDescUrl;
    }
    const pmp = parseNatpmp(n.stdout + n.stderr);
    const upnp = tools.upnpc && status.found;
    const natpmp = tools.natpmpc && n.code === 0 && pmp.publicIp !== null;
    const externalIp = (upnp ? status.externalIp : null) ?? (natpmp ? pmp.publicIp : null);
    const warning = natWarning(externalIp, opts.publicIp);
    const cgnat = warning !== null;
    const parts: string[] = [];
    if (!tools.upnpc || !tools.natpmpc) {
      const missing = [!tools.upnpc ? 'upnpc (package miniupnpc)' : null, !tools.natpmpc ? 'natpmpc (package natpmpc)' : null].filter(Boolean).join(' and ');
      parts.push(`The server lacks ${missing}, so it cannot ask the router to open the port; install ${!tools.upnpc && !tools.natpmpc ? 'them' : 'it'} with \`${INSTALL_HINT}\`.`);
    }
    const speaks = [upnp ? 'UPnP' : null, natpmp ? 'NAT-PMP' : null].filter(Boolean);
    parts.push(
      speaks.length > 0
        ? `The router${route.router ? ` (${status.router ?? route.router})` : ''} answers ${speaks.join(' and ')}; its internet address is ${externalIp ?? 'not known'}.`
        : `No router answered UPnP or NAT-PMP${route.router ? ` at ${route.router}` : ''}: the port has to be forwarded by hand.`,
    );
    if (warning) parts.push(warning);
    const d: Discovery = {
      upnp,
      natpmp,
      externalIp,
      lanIp: status.lanIp ?? route.lanIp,
      router: (upnp ? status.router : null) ?? route.router,
      cgnat,
      detail: parts.join(' '),
      tools,
      rootDescUrl: upnp ? (this.#upnp.rootDescUrl ?? status.rootDescUrl ?? this.#knownRootDesc) : null,
    };
    this.#log.info('port mapping: router discovered', { upnp, natpmp, externalIp, lanIp: d.lanIp, router: d.router, cgnat, tools });
    return d;
  }

  #target(d: Discovery): UpnpTarget {
    return d.rootDescUrl ? { rootDescUrl: d.rootDescUrl } : this.#upnp;
  }

  async #upnpList(d: Discovery): Promise<RouterMapping[]> {
    const r = await this.#run(portMapCommands.upnpList(this.#target(d)), UPNPC_TIMEOUT_S);
    return parseUpnpList(r.stdout);
  }

  /**
   * Open UDP `port` on the router towards this server, port for port: UPnP, else NAT-PMP, else `manual` with
   * instructions. Asking again for the same mapping renews it in place (routers replace an entry for the same
   * client), never adds a second one. A port the router already forwards to another device is an error.
   */
  async map(port: number, opts: { description: string; lifetimeSeconds?: number }): Promise<PortMapping> {
    checkPort(port);
    checkDescription(opts.description);
    const lifetime = opts.lifetimeSeconds ?? DEFAULT_LIFETIME_S;
    if (!Number.isInteger(lifetime) || lifetime < 0) throw new AppError('fallback.invalid', 'Port mapping lifetime: use a whole number of seconds.');
    const d = await this.discover();
    const reasons: string[] = [];
    if (d.upnp && d.lanIp) {
      const target = this.#target(d);
      const taken = (await this.#upnpList(d)).find((m) => m.protocol === 'UDP' && m.externalPort === port && m.internalIp !== d.lanIp);
      if (taken) {
        throw new AppError(
          'fallback.port-mapping',
          `${PORT_FIELD}: the router already forwards UDP port ${port} to another device (${taken.internalIp}, "${taken.description}").`,
          { field: PORT_FIELD, hint: 'Choose another WireGuard port, or remove that forwarding in the router’s settings.' },
        );
      }
      let r = parseUpnpAdd((await this.#run(portMapCommands.upnpAdd(target, { lanIp: d.lanIp, port, description: opts.description, lifetimeSeconds: lifetime }), UPNPC_TIMEOUT_S)).stdout);
      if (!r.ok && r.code === 725 && lifetime !== 0) {
        // 725 OnlyPermanentLeasesSupported: this router takes only mappings without an end.
        r = parseUpnpAdd((await this.#run(portMapCommands.upnpAdd(target, { lanIp: d.lanIp, port, description: opts.description, lifetimeSeconds: 0 }), UPNPC_TIMEOUT_S)).stdout);
      }
      if (r.ok && r.externalPort === port) {
        this.#log.info('port mapping: UPnP mapping in place', { port, lanIp: d.lanIp, durationSeconds: r.durationSeconds });
        return { kind: 'upnp', externalPort: port, externalIp: r.externalIp ?? d.externalIp, router: d.router };
      }
      const why = r.ok ? `it mapped port ${r.externalPort} instead of ${port}` : r.reason;
      this.#log.warn('port mapping: UPnP refused', { port, why });
      reasons.push(`The router refused the UPnP mapping (${why}).`);
    }
    if (d.natpmp) {
      const n = parseNatpmp((await this.#run(portMapCommands.natpmpMap(d.router, port, lifetime), NATPMPC_TIMEOUT_S)).stdout);
      if (n.mapped && n.mapped.publicPort === port) {
        this.#log.info('port mapping: NAT-PMP mapping in place', { port, lifetimeSeconds: n.mapped.lifetimeSeconds });
        return { kind: 'nat-pmp', externalPort: port, externalIp: n.publicIp ?? d.externalIp, lifetimeSeconds: n.mapped.lifetimeSeconds };
      }
      if (n.mapped) {
        // The router picked another public port: devices' configs name this one, so give it back and say so.
        await this.#run(portMapCommands.natpmpMap(d.router, port, 0), NATPMPC_TIMEOUT_S);
      }
      const why = n.mapped ? `it offered port ${n.mapped.publicPort} instead of ${port}` : (n.failure ?? 'no answer');
      this.#log.warn('port mapping: NAT-PMP refused', { port, why });
      reasons.push(`The router refused the NAT-PMP mapping (${why}).`);
    }
    if (!d.upnp && !d.natpmp) reasons.push(d.detail);
    return { kind: 'manual', externalPort: port, instructions: manualInstructions(port, d.lanIp, reasons.join(' ')) };
  }

  /** Close a mapping this mapper made; one that is already gone is fine. */
  async unmap(mapping: PortMapping): Promise<void> {
    switch (mapping.kind) {
      case 'manual':
      case 'none':
        return;
      case 'upnp': {
        const d = await this.discover();
        if (!d.upnp) {
          this.#log.warn('port mapping: no UPnP router to remove the mapping from', { port: mapping.externalPort });
          return;
        }
        const r = parseUpnpDelete((await this.#run(portMapCommands.upnpDelete(this.#target(d), mapping.externalPort), UPNPC_TIMEOUT_S)).stdout);
        if (!r.ok) {
          throw new AppError('fallback.port-mapping', `The router did not remove the UDP port ${mapping.externalPort} mapping (UPnP error ${r.code ?? 'unknown'}).`, {
            hint: 'Remove the forwarding in the router’s settings, or try again.',
          });
        }
        return;
      }
      case 'nat-pmp': {
        const route = await this.#route();
        const r = await this.#run(portMapCommands.natpmpMap(route.router, mapping.externalPort, 0), NATPMPC_TIMEOUT_S);
        const n = parseNatpmp(r.stdout + r.stderr);
        if (!n.mapped) {
          throw new AppError('fallback.port-mapping', `The router did not confirm removing the UDP port ${mapping.externalPort} mapping (${n.failure ?? 'no answer'}).`, {
            hint: `It ends by itself within ${mapping.lifetimeSeconds} seconds; or remove it in the router’s settings.`,
          });
        }
        return;
      }
      default: {
        const never: never = mapping;
        return never;
      }
    }
  }

  /** What the router forwards now, as UPnP lists it (empty when the router does not speak UPnP). */
  async list(): Promise<RouterMapping[]> {
    const d = await this.discover();
    return d.upnp ? this.#upnpList(d) : [];
  }

  /** Whether the router forwards UDP `port` to this server (seen in `upnpc -l`). */
  async isMapped(port: number): Promise<boolean> {
    checkPort(port);
    const d = await this.discover();
    if (!d.upnp) return false;
    return (await this.#upnpList(d)).some((m) => m.protocol === 'UDP' && m.externalPort === port && m.internalIp === d.lanIp && m.internalPort === port);
  }
}
