/**
 * The outage fallback of each server profile (DESIGN.md §1 "Outage"): the switch (fail-closed, idempotent, one
 * at a time per server), household devices and their keys (private keys only in the keychain), the endpoint
 * (router port mapping, last public address, DNS-only name), and this computer's own tunnel home.
 *
 * Fail-closed means: the endpoint is open only between a successful "on" and the next "off"; a switch that fails
 * half-way closes what it opened before it reports, and a retry finishes what a cut connection interrupted
 * (every server step is idempotent: up when up, down when down, unmap when unmapped are no-ops).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describeMapping, lanCidrProblem } from '../../contract/fallback';
import type {
  DeviceConfig,
  FallbackDevice,
  FallbackMode,
  FallbackProgress,
  FallbackSettings,
  FallbackView,
  LaptopTunnel,
  OutageState,
  PortMapping,
} from '../../contract/fallback';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import type { ProfileJsonStore } from '../fs/json-store';
import type { FallbackFile, StoredDevice } from './fallback-store';
import { isFromOutside, isInSubnet, nextFreeAddress, serverAddress } from './addresses';
import { generateKeyPair, generatePresharedKey, publicKeyOf } from './wg-keys';
import { configFileName, renderPeerConfig, renderServerConfig, type parseWgShowDump } from './wg-config';
import { qrSvgDataUrl } from './qr';
import { IP_FORWARD_HINT, IP_FORWARD_OFF, lanForwardRules } from './lan-forward';

type WgDump = ReturnType<typeof parseWgShowDump>;

/** The server's WireGuard interface, driven inside the stack's wireguard container (server-wireguard.ts). */
export interface ServerWireGuardPort {
  writeConfig(content: string): Promise<void>;
  up(): Promise<void>;
  down(): Promise<void>;
  sync(): Promise<void>;
  isUp(): Promise<boolean>;
  show(): Promise<WgDump>;
  containerRunning(): Promise<boolean>;
  /** Replay the written config's PostDown/PostUp (the home-network rules) on the running endpoint; nothing while down. */
  applyRules(): Promise<void>;
  /** Whether the server forwards IPv4 (net.ipv4.ip_forward). */
  ipForwarding(): Promise<boolean>;
}

/** The home router, asked from the server (port-mapping.ts). */
export interface PortMapperPort {
  discover(): Promise<{ upnp: boolean; natpmp: boolean; externalIp: string | null; lanIp: string | null; router: string | null; cgnat: boolean; detail: string }>;
  map(port: number, opts: { description: string; lifetimeSeconds?: number }): Promise<PortMapping>;
  unmap(mapping: PortMapping): Promise<void>;
}

/** The DNS-only record for the endpoint name (ddns.ts). */
export interface EndpointDnsPort {
  upsert(name: string, ip: string): Promise<{ changed: boolean }>;
}

/** This computer's tunnel, the platform's way (laptop-tunnel.ts). */
export interface LaptopTunnelPort {
  detect(): Promise<LaptopTunnel['method']>;
  up(name: string, config: Secret): Promise<LaptopTunnel>;
  down(name: string): Promise<LaptopTunnel>;
}

/** What the fallback needs to know of the installed stack. */
export interface StackFacts {
  readonly installed: boolean;
  readonly wireguardEnabled: boolean;
  readonly port: number;
  /** Jellyfin's port on the server when it is published on every interface (so it answers at the tunnel address). */
  readonly jellyfinPort: number | null;
  /** Nextcloud's port likewise (published with the fallback installed); null when it does not answer there. */
  readonly nextcloudPort?: number | null;
  /** Authentik's public name when the module is on (it is reached only through Cloudflare); null or absent otherwise. */
  readonly authentikHost?: string | null;
}

/** The one SSH connection to a server, as the fallback uses it. */
export interface FallbackConnection {
  readonly target: { readonly host: string; readonly port: number };
}

export interface FallbackServiceDeps<C extends FallbackConnection = FallbackConnection> {
  readonly store: ProfileJsonStore<typeof FallbackFile>;
  readonly secrets: SecretStore | undefined;
  /** The live connection, or an AppError 'server.not-connected'. */
  readonly connection: (profileId: string) => C;
  readonly stackFacts: (profileId: string) => Promise<StackFacts>;
  /** The WireGuard port from the profile's own settings (no trip to the server); stackFacts' port when absent. */
  readonly wireguardPort?: (profileId: string) => Promise<number>;
  readonly serverWireGuard: (profileId: string, conn: C) => ServerWireGuardPort | Promise<ServerWireGuardPort>;
  readonly portMapper: (profileId: string, conn: C) => PortMapperPort;
  /** The home connection's public address as seen from the server; null when it cannot be told. */
  readonly publicIp?: (profileId: string, conn: C) => Promise<string | null>;
  /** The endpoint name's DNS record, when a Cloudflare token and zone exist for the profile. */
  readonly endpointDns?: (profileId: string) => Promise<EndpointDnsPort | undefined>;
  readonly laptop: LaptopTunnelPort;
  /** Move (or, with null, move back) the profile's SSH connection onto the tunnel; true when it is connected there. */
  readonly routeSsh?: (profileId: string, via: { host: string; port: number } | null) => Promise<boolean>;
  /** The outage state from the outage monitor; null while nothing is known. */
  readonly outage?: (profileId: string) => OutageState | null;
  /** The admin's Cloudflare zone, where the endpoint name's record is kept; null without one. */
  readonly zoneName?: (profileId: string) => Promise<string | null>;
  /**
   * Make the stack's services accept the tunnel address as their own (Nextcloud's trusted domains); words for the
   * switch's step. Only asked when a service answers there.
   */
  readonly trustTunnelAddress?: (profileId: string, conn: C, address: string) => Promise<string>;
  /** Start checking the Cloudflare path of a server whose fallback is looked at (idempotent). */
  readonly watchOutage?: (profileId: string) => void;
  readonly log: Logger;
  readonly onProgress: (p: FallbackProgress) => void;
  readonly onChanged: (view: FallbackView) => void;
  readonly now?: () => Date;
  /** How often a router mapping is asked again while the fallback is on (UPnP and NAT-PMP mappings expire); 6 h by default. */
  readonly renewMappingMs?: number;
}

const SERVER_KEY = 'fallback.server-key';
const deviceKey = (id: string): string => `fallback.device.${id}.key`;
const devicePsk = (id: string): string => `fallback.device.${id}.psk`;
const LAPTOP_NAME = 'This computer';
const MAPPING_DESCRIPTION = 'M2 Companion WireGuard fallback';
/** What the app names this computer's tunnel (an interface name: at most 15 characters). */
/**
 * This computer's tunnel for a server: an interface name (at most 15 characters), readable and unique per server —
 * the id's start and a short hash of the whole id, so two servers whose ids start alike never share a tunnel.
 */
export const laptopTunnelName = (profileId: string): string =>
  `m2-${profileId.slice(0, 7).replace(/-+$/, '')}-${createHash('sha256').update(profileId).digest('hex').slice(0, 4)}`;

/** Whether the server's home-network rules differ between two settings (the option, its range, the tunnel's subnet). */
const lanRulesChanged = (a: FallbackSettings, b: FallbackSettings): boolean =>
  a.allowLan !== b.allowLan || (b.allowLan && (a.lanCidr !== b.lanCidr || a.subnet !== b.subnet));

/** Which of the services at the tunnel address show their own sign-in page there (Authentik's is behind Cloudflare). */
const ownSignIn = (services: ReadonlyArray<{ service: string }>): string => {
  const names = services.map((x) => x.service).filter((n) => n === 'Jellyfin' || n === 'Nextcloud');
  if (names.length === 0) return '';
  return names.length === 1 ? ` ${names[0] ?? ''} answers at its address above with its own sign-in page.` : ` ${names.join(' and ')} answer at their addresses above with their own sign-in pages.`;
};

/** Names compare the way a person reads them: case, width and surrounding spaces do not make a new name. */
const sameName = (a: string, b: string): boolean => a.normalize('NFKC').trim().toLocaleLowerCase() === b.normalize('NFKC').trim().toLocaleLowerCase();

export class FallbackService<C extends FallbackConnection = FallbackConnection> {
  readonly #deps: FallbackServiceDeps<C>;
  readonly #now: () => Date;
  /** A switch in flight per profile, with where it is going. */
  readonly #switching = new Map<string, { to: 'on' | 'off'; step: string; since: string; done: Promise<FallbackView> }>();
  /** The last switch that failed, until the next one starts. */
  readonly #failed = new Map<string, Extract<FallbackMode, { kind: 'failed' }>>();
  readonly #laptop = new Map<string, LaptopTunnel>();
  /** Device changes (add, revoke) run one after another per profile, and never during a switch's config write. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Router mappings renewed while the fallback is on. */
  readonly #renewals = new Map<string, NodeJS.Timeout>();
  /** Why devices cannot reach the home network although allowed (IP forwarding off), from the last check. */
  readonly #lanWarnings = new Map<string, string>();

  constructor(deps: FallbackServiceDeps<C>) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  // ------------------------------------------------------------------------------------------------------------
  // The view

  async view(profileId: string, opts: { live?: boolean } = {}): Promise<FallbackView> {
    this.#deps.watchOutage?.(profileId);
    const file = await this.#deps.store.read(profileId);
    const facts = await this.#facts(profileId);
    const settings = file.settings;
    const server = serverAddress(settings.subnet);
    const stats = opts.live === false ? null : await this.#liveStats(profileId, file);
    const mode = this.#mode(profileId, file);
    const services: FallbackView['services'] = [];
    if (facts.jellyfinPort !== null) services.push({ service: 'Jellyfin', url: `http://${server}:${facts.jellyfinPort}` });
    if (facts.nextcloudPort != null) services.push({ service: 'Nextcloud', url: `http://${server}:${facts.nextcloudPort}` });
    services.push({ service: 'SSH (this app)', url: `ssh://${settings.sshAddress || server}` });
    return {
      profileId,
      ready: facts.ready,
      notReadyReason: facts.notReadyReason,
      settings,
      mode,
      endpoint: {
        name: settings.endpointName === '' ? null : settings.endpointName,
        lastKnownIp: file.lastKnownIp,
        lastKnownAt: file.lastKnownAt,
        port: facts.port,
        warning: file.endpointWarning,
        reachedFromOutside: this.#reachedFromOutside(profileId, file, stats),
      },
      serverAddress: server,
      services,
      devices: file.devices.map((d) => this.#deviceView(d, file.settings, stats)),
      laptop: this.#laptop.get(profileId) ?? { method: 'none', state: 'down', detail: 'This computer’s tunnel is down; it comes up when you turn the fallback on.', sshOverWireguard: false },
      outage: this.#deps.outage?.(profileId) ?? null,
      lanWarning: settings.allowLan ? (this.#lanWarnings.get(profileId) ?? null) : null,
      unavailable: facts.authentikHost
        ? [
            {
              service: 'Sign-in with Authentik',
              reason: `${facts.authentikHost} is reached only through Cloudflare, so signing in with Authentik is not available over the tunnel until Cloudflare is back.${ownSignIn(services)}`,
            },
          ]
        : [],
    };
  }

  async #facts(
    profileId: string,
  ): Promise<{ ready: boolean; notReadyReason: string | null; port: number; jellyfinPort: number | null; nextcloudPort: number | null; authentikHost: string | null }> {
    let facts: StackFacts;
    try {
      facts = await this.#deps.stackFacts(profileId);
    } catch (err) {
      const why = err instanceof AppError ? err.userMessage : 'The stack’s state could not be read.';
      return { ready: false, notReadyReason: why, port: 51820, jellyfinPort: null, nextcloudPort: null, authentikHost: null };
    }
    const base = { port: facts.port, jellyfinPort: facts.jellyfinPort, nextcloudPort: facts.nextcloudPort ?? null, authentikHost: facts.authentikHost ?? null };
    if (!facts.wireguardEnabled) return { ...base, ready: false, notReadyReason: 'Turn on WireGuard in Services (Fallback: WireGuard), then install, so the server has the fallback endpoint.' };
    if (!facts.installed) return { ...base, ready: false, notReadyReason: 'Install the stack with WireGuard turned on first (Setup → Install).' };
    return { ...base, ready: true, notReadyReason: null };
  }

  #mode(profileId: string, file: FallbackFile): FallbackMode {
    const running = this.#switching.get(profileId);
    if (running) return { kind: 'switching', to: running.to, step: running.step, since: running.since };
    const failed = this.#failed.get(profileId);
    if (failed) return failed;
    return file.switch.kind === 'on' ? { kind: 'on', since: file.switch.since, mapping: file.switch.mapping } : { kind: 'off', since: file.switch.since };
  }

  /** Handshakes and transfer from the server while the fallback is on; nothing (not an error) otherwise. */
  async #liveStats(profileId: string, file: FallbackFile): Promise<WgDump> {
    if (file.switch.kind !== 'on' || this.#switching.has(profileId)) return null;
    try {
      const conn = this.#deps.connection(profileId);
      return await (await this.#deps.serverWireGuard(profileId, conn)).show();
    } catch {
      return null;
    }
  }

  /**
   * The server's own proof that the port reaches home: the latest handshake since the switch went on from a device
   * outside the home network. Asked of the server (wg show), so it holds for a port forwarded by hand as well.
   */
  #reachedFromOutside(profileId: string, file: FallbackFile, stats: WgDump): FallbackView['endpoint']['reachedFromOutside'] {
    if (file.switch.kind !== 'on' || !stats) return null;
    const since = Date.parse(file.switch.since) / 1000;
    const home: string[] = [];
    if (file.settings.sshAddress !== '') home.push(file.settings.sshAddress);
    try {
      home.push(this.#deps.connection(profileId).target.host);
    } catch {
      // not connected: the settings' address alone
    }
    let best: { device: string; from: string; at: number } | null = null;
    for (const peer of stats.peers) {
      const ip = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(peer.endpoint ?? '')?.[1];
      if (!ip || peer.latestHandshake < since - 5 || !isFromOutside(ip, home, file.settings.subnet)) continue;
      const device = file.devices.find((d) => d.publicKey === peer.publicKey);
      if (device && (!best || peer.latestHandshake > best.at)) best = { device: device.name, from: ip, at: peer.latestHandshake };
    }
    return best ? { device: best.device, from: best.from, at: new Date(best.at * 1000).toISOString() } : null;
  }

  #deviceView(d: StoredDevice, settings: FallbackSettings, stats: WgDump): FallbackDevice {
    const peer = stats?.peers.find((p) => p.publicKey === d.publicKey);
    return {
      id: d.id,
      name: d.name,
      kind: d.kind,
      address: d.address,
      publicKey: d.publicKey,
      allowedIps: this.#deviceAllowedIps(d, settings),
      createdAt: d.createdAt,
      lastHandshake: peer && peer.latestHandshake > 0 ? new Date(peer.latestHandshake * 1000).toISOString() : null,
      rxBytes: peer ? peer.rxBytes : null,
      txBytes: peer ? peer.txBytes : null,
    };
  }

  /** What a device may reach through the tunnel: the server only, unless the admin lets devices reach the home network. */
  #deviceAllowedIps(d: StoredDevice, settings: FallbackSettings): string[] {
    const ips = [`${serverAddress(settings.subnet)}/32`];
    if (d.kind === 'laptop' && settings.sshAddress !== '' && !isInSubnet(settings.sshAddress, settings.subnet)) ips.push(`${settings.sshAddress}/32`);
    // Household devices only: this computer needs the server, and a home range routed through its tunnel could shadow
    // the network it sits on away from home.
    if (d.kind === 'household' && settings.allowLan && settings.lanCidr !== '') ips.push(settings.lanCidr);
    return ips;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Settings

  async saveSettings(profileId: string, settings: FallbackSettings): Promise<FallbackView> {
    // The contract checks this too; the service does not rely on its caller.
    const lanProblem = lanCidrProblem(settings);
    if (lanProblem) throw new AppError('fallback.invalid', lanProblem, { field: 'lanCidr', hint: 'Enter your home network’s range as your router shows it, such as 192.168.1.0/24.' });
    const name = settings.endpointName;
    if (name !== '' && !/^[0-9.]+$/.test(name) && this.#deps.zoneName) {
      const zone = await this.#deps.zoneName(profileId).catch(() => null);
      if (zone && name !== zone && !name.endsWith(`.${zone}`)) {
        throw new AppError('fallback.invalid', `Endpoint name: use a name inside your Cloudflare zone ${zone}, such as home.${zone}, so the app can keep it pointing home.`, {
          field: 'endpointName',
          hint: 'Or leave it empty: devices then use the last public address seen.',
        });
      }
    }
    return this.#serial(profileId, async () => {
      const file = await this.#deps.store.read(profileId);
      if (file.settings.subnet !== settings.subnet && file.devices.length > 0) {
        throw new AppError('fallback.invalid', 'Tunnel subnet: it cannot change while devices have addresses in it.', {
          field: 'subnet',
          hint: 'Remove the devices first, or keep the subnet.',
        });
      }
      await this.#deps.store.update(profileId, (f) => {
        f.settings = settings;
      });
      // Devices' reach follows the settings at once while the endpoint is open: peers by syncconf, and the
      // home-network rules replayed when that option changed.
      if (file.switch.kind === 'on') {
        await this.#pushConfig(profileId, true);
        if (lanRulesChanged(file.settings, settings)) {
          const wg = await this.#deps.serverWireGuard(profileId, this.#deps.connection(profileId));
          await wg.applyRules();
          if (settings.allowLan) await this.#checkForwarding(profileId, wg);
        }
      }
      if (!settings.allowLan) this.#lanWarnings.delete(profileId);
      return this.#changed(profileId);
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // The switch

  /** Turn the fallback on or off. Asking for the state it is in, or is already going to, changes nothing twice. */
  switch(profileId: string, on: boolean): Promise<FallbackView> {
    const to = on ? 'on' : 'off';
    const running = this.#switching.get(profileId);
    if (running) {
      if (running.to === to) return running.done;
      return Promise.reject(new AppError('fallback.busy', `The fallback is being switched ${running.to} right now.`, { hint: 'Wait for it to finish, then switch again.' }));
    }
    // Registered before the first await, so a second ask in the same moment joins this one.
    const entry: { to: 'on' | 'off'; step: string; since: string; done: Promise<FallbackView> } = { to, step: 'Starting', since: this.#now().toISOString(), done: Promise.resolve(null as never) };
    this.#switching.set(profileId, entry);
    entry.done = this.#runSwitch(profileId, entry);
    return entry.done;
  }

  async #runSwitch(profileId: string, entry: { to: 'on' | 'off'; step: string }): Promise<FallbackView> {
    const { to } = entry;
    let settled = false;
    try {
      const file = await this.#deps.store.read(profileId);
      if (file.switch.kind === to && !this.#failed.has(profileId)) settled = true;
      else {
        this.#failed.delete(profileId);
        void this.#changed(profileId, { live: false }).catch(() => undefined);
        if (to === 'on') await this.#switchOn(profileId, entry);
        else await this.#switchOff(profileId, entry);
      }
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('fallback.switch-failed', 'The switch failed for an unexpected reason.', { cause: err });
      if (!(err instanceof AppError)) this.#deps.log.error('fallback switch: unexpected error', { profile: profileId, error: err });
      this.#failed.set(profileId, {
        kind: 'failed',
        to,
        reason: e.userMessage,
        hint: e.hint ?? (to === 'on' ? 'Check the connection to the server, then switch on again.' : 'Switch off again; every step is safe to repeat.'),
        since: this.#now().toISOString(),
      });
      this.#deps.log.warn('fallback switch failed', { profile: profileId, to, code: e.code, message: e.userMessage });
    } finally {
      this.#switching.delete(profileId);
    }
    // Already where it was asked to be: nothing changed, nothing to announce.
    if (settled) return this.view(profileId);
    const view = await this.#changed(profileId);
    const failed = this.#failed.get(profileId);
    if (failed) throw new AppError('fallback.switch-failed', failed.reason, { hint: failed.hint });
    return view;
  }

  #progress(profileId: string, entry: { step: string } | undefined, step: string, state: FallbackProgress['state'], detail: string): void {
    if (entry && state === 'running') entry.step = step;
    this.#deps.onProgress({ profileId, step, state, detail, at: this.#now().toISOString() });
  }

  async #step<T>(profileId: string, entry: { step: string }, step: string, detail: string, fn: () => Promise<T>, done?: (v: T) => string): Promise<T> {
    this.#progress(profileId, entry, step, 'running', detail);
    try {
      const v = await fn();
      this.#progress(profileId, entry, step, 'done', done ? done(v) : detail);
      return v;
    } catch (err) {
      this.#progress(profileId, entry, step, 'failed', err instanceof AppError ? err.userMessage : 'failed');
      throw err;
    }
  }

  async #switchOn(profileId: string, entry: { step: string }): Promise<void> {
    const facts = await this.#facts(profileId);
    if (!facts.ready) throw new AppError('fallback.not-ready', facts.notReadyReason ?? 'The fallback is not ready.', { hint: 'Then switch on again.' });
    const conn = this.#deps.connection(profileId);
    const wg = await this.#deps.serverWireGuard(profileId, conn);
    await this.#step(profileId, entry, 'Check the server', 'Is the WireGuard container running?', async () => {
      if (!(await wg.containerRunning())) {
        throw new AppError('fallback.not-ready', 'The WireGuard container is not running on the server.', { hint: 'Install the stack again (Setup → Install) so it starts, then switch on.' });
      }
    });
    await this.#step(profileId, entry, 'Keys', 'The server’s key and this computer’s key', () => this.#ensureKeys(profileId));
    // The router is asked, and the public address looked up, while the endpoint opens: none waits for another.
    // The mapping points at the server whether or not the endpoint opens; a failed open takes it away again.
    const mapping = this.#step(
      profileId,
      entry,
      'Map the router port',
      'Asking the home router (UPnP or NAT-PMP) from the server',
      () => this.#map(profileId, conn, facts.port),
      (m) => describeMapping(m),
    );
    // Its failure is handled below, when the endpoint's own steps are done (not an unhandled rejection meanwhile).
    mapping.catch(() => undefined);
    const address = this.#step(profileId, entry, 'Endpoint address', 'The home connection’s public address and its name', () => this.#refreshEndpoint(profileId, conn), (s) => s).catch(() => undefined);
    // Services answer at the tunnel address with links on that address; one that cannot be told yet is said in its
    // step, and the endpoint opens all the same (Jellyfin and SSH need nothing).
    const trust = this.#trustTunnelAddress(profileId, entry, conn, facts.nextcloudPort);
    const lan = this.#homeNetworkStep(profileId, entry, wg);
    let opened = false;
    const closeEndpoint = (): Promise<void> =>
      wg.down().catch((e: unknown) => this.#deps.log.warn('fallback: closing after a failed switch-on failed too', { profile: profileId, error: String(e) }));
    try {
      await this.#step(profileId, entry, 'Write the WireGuard config', 'Every device’s public key, mode 0600', () => this.#pushConfig(profileId, false, facts.port));
      await this.#step(profileId, entry, 'Open the endpoint', `UDP port ${facts.port}`, async () => {
        opened = true;
        await wg.up().catch(async (err: unknown) => {
          // With the home network allowed, wg-quick also runs its firewall rules: say which option to turn off.
          const { settings } = await this.#deps.store.read(profileId);
          if (!settings.allowLan || !(err instanceof AppError)) throw err;
          throw new AppError(err.code, err.userMessage, {
            hint: `${err.hint ?? ''} If the message names iptables, the server’s firewall refused the home-network rules: turn “Let devices reach the home network” off and switch on again.`.trim(),
            cause: err,
          });
        });
      });
    } catch (err) {
      // Fail closed: nothing stays open after a failed switch-on.
      if (opened) await closeEndpoint();
      const m = await mapping.catch(() => null);
      if (m && (m.kind === 'upnp' || m.kind === 'nat-pmp')) {
        await this.#deps
          .portMapper(profileId, conn)
          .unmap(m)
          .catch((e: unknown) => this.#deps.log.warn('fallback: removing the router port after a failed switch-on failed', { profile: profileId, error: String(e) }));
      }
      await Promise.all([address, trust, lan]);
      throw err;
    }
    let mapped: PortMapping;
    try {
      mapped = await mapping;
    } catch (err) {
      await closeEndpoint();
      await Promise.all([address, trust, lan]);
      throw err;
    }
    await this.#deps.store.update(profileId, (f) => {
      f.switch = { kind: 'on', since: this.#now().toISOString(), mapping: mapped };
    });
    this.#keepMapping(profileId, facts.port, mapped);
    await Promise.all([address, trust, lan]);
  }

  /**
   * With the home network allowed: is IP forwarding on? The rules are in the config either way (they do no harm
   * without forwarding); when it is off the step says how to turn it on, and the endpoint opens all the same.
   */
  async #homeNetworkStep(profileId: string, entry: { step: string }, wg: ServerWireGuardPort): Promise<void> {
    const { settings } = await this.#deps.store.read(profileId);
    if (!settings.allowLan) {
      this.#lanWarnings.delete(profileId);
      return;
    }
    await this.#step(profileId, entry, 'Home network', `Devices may reach ${settings.lanCidr}: is IP forwarding on?`, async () => {
      if (!(await this.#checkForwarding(profileId, wg))) throw new AppError('fallback.not-ready', `${IP_FORWARD_OFF} ${IP_FORWARD_HINT}`, { field: 'allowLan', hint: IP_FORWARD_HINT });
      return `Devices reach ${settings.lanCidr} through the server (forwarded and masqueraded).`;
    }, (s) => s).catch((err: unknown) => this.#deps.log.warn('fallback: the home network is not reachable through the tunnel', { profile: profileId, error: err instanceof AppError ? err.userMessage : String(err) }));
  }

  /** Read ip_forward; remember the warning when it is off (shown beside the option), forget it when on. */
  async #checkForwarding(profileId: string, wg: ServerWireGuardPort): Promise<boolean> {
    const on = await wg.ipForwarding();
    if (on) this.#lanWarnings.delete(profileId);
    else this.#lanWarnings.set(profileId, `${IP_FORWARD_OFF} ${IP_FORWARD_HINT}`);
    return on;
  }

  async #trustTunnelAddress(profileId: string, entry: { step: string }, conn: C, nextcloudPort: number | null): Promise<void> {
    if (nextcloudPort === null || !this.#deps.trustTunnelAddress) return;
    const file = await this.#deps.store.read(profileId);
    const address = serverAddress(file.settings.subnet);
    await this.#step(profileId, entry, 'Services at the tunnel address', `Nextcloud answers at ${address}:${nextcloudPort}`, () => this.#deps.trustTunnelAddress?.(profileId, conn, address) ?? Promise.resolve(''), (s) => s).catch(
      (err: unknown) => this.#deps.log.warn('fallback: the services could not be told the tunnel address', { profile: profileId, error: err instanceof AppError ? err.userMessage : String(err) }),
    );
  }

  async #switchOff(profileId: string, entry: { step: string }): Promise<void> {
    const file = await this.#deps.store.read(profileId);
    // Closing the endpoint over an SSH connection that runs through it would cut the branch the app sits on:
    // this computer goes back to the usual path first, or the switch stays on and says why.
    const laptop = this.#laptop.get(profileId);
    if (laptop?.state === 'up') {
      await this.#step(profileId, entry, 'This computer', 'Back to the usual way to the server', async () => {
        if (laptop.sshOverWireguard && this.#deps.routeSsh) {
          const back = await this.#deps.routeSsh(profileId, null).catch(() => false);
          if (!back) {
            throw new AppError('fallback.laptop-tunnel', 'This computer reaches the server only through the fallback right now, so turning it off would cut the connection.', {
              hint: 'Turn it off once this computer is back on the home network (or can reach the server another way).',
            });
          }
        }
        const down = await this.#deps.laptop.down(laptopTunnelName(profileId));
        this.#laptop.set(profileId, { ...down, sshOverWireguard: false });
      });
    }
    const conn = this.#deps.connection(profileId);
    const wg = await this.#deps.serverWireGuard(profileId, conn);
    if (file.switch.kind === 'on' && file.switch.mapping.kind !== 'none' && file.switch.mapping.kind !== 'manual') {
      const mapping = file.switch.mapping;
      await this.#step(profileId, entry, 'Remove the router port', describeMapping(mapping), () => this.#deps.portMapper(profileId, conn).unmap(mapping));
    }
    await this.#step(profileId, entry, 'Close the endpoint', 'Take the WireGuard interface down', () => wg.down());
    this.#stopRenewal(profileId);
    await this.#deps.store.update(profileId, (f) => {
      f.switch = { kind: 'off', since: this.#now().toISOString() };
    });
  }

  /** While on, ask the router again before its mapping expires (asking again renews it, never duplicates it). */
  #keepMapping(profileId: string, port: number, mapping: PortMapping): void {
    this.#stopRenewal(profileId);
    if (mapping.kind !== 'upnp' && mapping.kind !== 'nat-pmp') return;
    const timer = setInterval(() => {
      void (async () => {
        const file = await this.#deps.store.read(profileId);
        if (file.switch.kind !== 'on' || this.#switching.has(profileId)) return;
        const next = await this.#map(profileId, this.#deps.connection(profileId), port);
        await this.#deps.store.update(profileId, (f) => {
          if (f.switch.kind === 'on') f.switch = { ...f.switch, mapping: next };
        });
        this.#deps.log.info('fallback: router mapping renewed', { profile: profileId, kind: next.kind });
      })().catch((err: unknown) => this.#deps.log.warn('fallback: renewing the router mapping failed', { profile: profileId, error: err instanceof AppError ? err.userMessage : String(err) }));
    }, this.#deps.renewMappingMs ?? 6 * 3_600_000);
    timer.unref?.();
    this.#renewals.set(profileId, timer);
  }

  #stopRenewal(profileId: string): void {
    const t = this.#renewals.get(profileId);
    if (t) clearInterval(t);
    this.#renewals.delete(profileId);
  }

  /** Stop background work (quit). */
  stop(): void {
    for (const id of [...this.#renewals.keys()]) this.#stopRenewal(id);
  }

  /**
   * A removed server: its router-mapping renewal stops, what is remembered in memory goes, and this computer's tunnel
   * to it is taken down with its config file (which holds this computer's private key). A tunnel that cannot be taken
   * down keeps the server, so the admin can finish by hand and remove it again.
   */
  async forgetProfile(profileId: string): Promise<void> {
    this.#stopRenewal(profileId);
    this.#failed.delete(profileId);
    this.#laptop.delete(profileId);
    const down = await this.#deps.laptop.down(laptopTunnelName(profileId));
    if (down.state === 'failed' || down.state === 'handed-off') {
      throw new AppError('fallback.laptop-tunnel', `This computer’s tunnel to the server is still up: ${down.detail}`, { hint: 'Take it down, then remove the server again.' });
    }
  }

  async #map(profileId: string, conn: C, port: number): Promise<PortMapping> {
    const mapper = this.#deps.portMapper(profileId, conn);
    try {
      return await mapper.map(port, { description: MAPPING_DESCRIPTION });
    } catch (err) {
      if (err instanceof AppError && err.code !== 'fallback.port-mapping') throw err;
      const why = err instanceof AppError ? err.userMessage : 'The router did not answer.';
      return { kind: 'manual', externalPort: port, instructions: `${why} Forward UDP port ${port} on your router to this server.` };
    }
  }

  async #refreshEndpoint(profileId: string, conn: C): Promise<string> {
    const ip = (await this.#deps.publicIp?.(profileId, conn).catch(() => null)) ?? null;
    const file = await this.#deps.store.update(profileId, (f) => {
      if (ip !== null) {
        f.lastKnownIp = ip;
        f.lastKnownAt = this.#now().toISOString();
      }
    });
    const name = file.settings.endpointName;
    if (ip === null) return 'The public address could not be seen from the server; the last known one stays.';
    if (name === '' || /^[0-9.]+$/.test(name)) return `Public address ${ip}.`;
    const dns = await this.#deps.endpointDns?.(profileId).catch(() => undefined);
    if (!dns) return `Public address ${ip}; ${name} is not updated (no Cloudflare token or zone).`;
    const r = await dns.upsert(name, ip);
    return r.changed ? `${name} now points to ${ip}.` : `${name} already points to ${ip}.`;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Keys and the server's config

  #requireSecrets(): SecretStore {
    if (!this.#deps.secrets) {
      throw new AppError('secrets.unavailable', 'No keychain is available, so the fallback cannot keep its keys.', { hint: 'Unlock or install your system keychain, then try again.' });
    }
    return this.#deps.secrets;
  }

  /** The server's key pair and this computer's device, made once. */
  async #ensureKeys(profileId: string): Promise<void> {
    const secrets = this.#requireSecrets();
    const file = await this.#deps.store.read(profileId);
    let serverKey = await secrets.get(profileId, SERVER_KEY);
    if (!serverKey) {
      const pair = generateKeyPair();
      await secrets.set(profileId, SERVER_KEY, pair.privateKey);
      serverKey = pair.privateKey;
    }
    const serverPublicKey = publicKeyOf(serverKey);
    if (file.serverPublicKey !== serverPublicKey) {
      await this.#deps.store.update(profileId, (f) => {
        f.serverPublicKey = serverPublicKey;
      });
    }
    if (!file.devices.some((d) => d.kind === 'laptop')) await this.#createDevice(profileId, LAPTOP_NAME, 'laptop');
  }

  async #createDevice(profileId: string, name: string, kind: StoredDevice['kind']): Promise<StoredDevice> {
    const secrets = this.#requireSecrets();
    const id = randomBytes(8).toString('hex');
    const pair = generateKeyPair();
    // Keys first: a device in the list always has its keys; keys without a device are harmless and overwritten never.
    await secrets.set(profileId, deviceKey(id), pair.privateKey);
    await secrets.set(profileId, devicePsk(id), generatePresharedKey());
    let created: StoredDevice | undefined;
    await this.#deps.store.update(profileId, (f) => {
      const address = nextFreeAddress(f.settings.subnet, f.devices.map((d) => d.address));
      created = { id, name, kind, address, publicKey: pair.publicKey, createdAt: this.#now().toISOString() };
      f.devices.push(created);
    });
    if (!created) throw new AppError('internal', 'The device was not saved.');
    return created;
  }

  /** Render the server's config from the devices and write it; with `sync`, apply it to the running interface. */
  async #pushConfig(profileId: string, sync: boolean, knownPort?: number): Promise<void> {
    const secrets = this.#requireSecrets();
    const file = await this.#deps.store.read(profileId);
    const serverKey = await secrets.get(profileId, SERVER_KEY);
    if (!serverKey) throw new AppError('fallback.not-ready', 'The server’s WireGuard key is missing from the keychain.', { hint: 'Switch the fallback on: a new key is made, and devices get new configs.' });
    const psks = await Promise.all(file.devices.map((d) => secrets.get(profileId, devicePsk(d.id))));
    // A device's own reach is enforced on the server too: its AllowedIPs there are its address alone.
    const peers = file.devices.map((d, i) => {
      const psk = psks[i];
      return { id: d.id, name: d.name, publicKey: d.publicKey, ...(psk ? { presharedKey: psk } : {}), allowedIps: [`${d.address}/32`] };
    });
    const listenPort = knownPort ?? (await this.#port(profileId));
    // The home-network rules (or, without the option, only the PostDown that removes them) ride in the config.
    const rules = lanForwardRules(file.settings);
    const rendered = renderServerConfig({ privateKey: serverKey, address: `${serverAddress(file.settings.subnet)}/24`, listenPort, peers, postUp: rules.postUp, postDown: rules.postDown });
    const conn = this.#deps.connection(profileId);
    const wg = await this.#deps.serverWireGuard(profileId, conn);
    await wg.writeConfig(rendered.content);
    if (sync) await wg.sync();
  }

  /** The WireGuard port as the profile's settings say, without asking the server when the settings can be read here. */
  #port(profileId: string): Promise<number> {
    return this.#deps.wireguardPort ? this.#deps.wireguardPort(profileId) : this.#deps.stackFacts(profileId).then((f) => f.port);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Devices

  async addDevice(profileId: string, name: string): Promise<FallbackView> {
    this.#requireSecrets();
    return this.#serial(profileId, async () => {
      const file = await this.#deps.store.read(profileId);
      if (file.devices.some((d) => sameName(d.name, name)) || sameName(name, LAPTOP_NAME)) {
        throw new AppError('fallback.duplicate', `Device name: there is already a device called “${name}”.`, { field: 'name', hint: 'Choose another name, or revoke the old device first.' });
      }
      const device = await this.#createDevice(profileId, name, 'household');
      if (file.switch.kind === 'on') {
        try {
          await this.#pushConfig(profileId, true);
        } catch (err) {
          // Nothing half-done: the device goes again if the server did not take it.
          await this.#forgetDevice(profileId, device.id);
          throw err;
        }
      }
      this.#deps.log.info('fallback device added', { profile: profileId, device: device.id, address: device.address });
      return this.#changed(profileId);
    });
  }

  async revokeDevice(profileId: string, deviceId: string): Promise<FallbackView> {
    return this.#serial(profileId, async () => {
      const file = await this.#deps.store.read(profileId);
      const device = file.devices.find((d) => d.id === deviceId);
      if (!device) throw new AppError('fallback.not-found', 'Device: it is not in the list (already revoked?).', { field: 'deviceId' });
      if (file.switch.kind === 'on') {
        // Server first: if it cannot be told, the device stays listed and revoking again finishes the job.
        await this.#deps.store.update(profileId, (f) => {
          f.devices = f.devices.filter((d) => d.id !== deviceId);
        });
        try {
          await this.#pushConfig(profileId, true);
        } catch (err) {
          await this.#deps.store.update(profileId, (f) => {
            if (!f.devices.some((d) => d.id === deviceId)) f.devices.push(device);
          });
          throw err;
        }
      }
      await this.#forgetDevice(profileId, deviceId);
      this.#deps.log.info('fallback device revoked', { profile: profileId, device: deviceId });
      return this.#changed(profileId);
    });
  }

  async #forgetDevice(profileId: string, deviceId: string): Promise<void> {
    await this.#deps.store.update(profileId, (f) => {
      f.devices = f.devices.filter((d) => d.id !== deviceId);
    });
    const secrets = this.#requireSecrets();
    await secrets.delete(profileId, deviceKey(deviceId));
    await secrets.delete(profileId, devicePsk(deviceId));
  }

  /** The one call that reveals a device's private key: its config and QR code, made on demand, never logged. */
  async deviceConfig(profileId: string, deviceId: string): Promise<DeviceConfig> {
    const { config, device } = await this.#peerConfig(profileId, deviceId);
    const text = config.reveal();
    this.#deps.log.info('fallback device config revealed', { profile: profileId, device: deviceId });
    return { deviceId, fileName: configFileName(device.name), config: text, qrSvgDataUrl: await qrSvgDataUrl(text) };
  }

  async #peerConfig(profileId: string, deviceId: string): Promise<{ config: Secret; device: StoredDevice }> {
    const secrets = this.#requireSecrets();
    const file = await this.#deps.store.read(profileId);
    const device = file.devices.find((d) => d.id === deviceId);
    if (!device) throw new AppError('fallback.not-found', 'Device: it is not in the list (already revoked?).', { field: 'deviceId' });
    const [key, psk, serverKey] = await Promise.all([secrets.get(profileId, deviceKey(device.id)), secrets.get(profileId, devicePsk(device.id)), secrets.get(profileId, SERVER_KEY)]);
    if (!key) throw new AppError('fallback.not-found', `The key of “${device.name}” is missing from the keychain.`, { hint: 'Revoke the device and add it again.' });
    if (!serverKey) throw new AppError('fallback.not-ready', 'The server has no WireGuard key yet.', { hint: 'Switch the fallback on once; devices can then connect.' });
    const port = await this.#port(profileId);
    const host = file.settings.endpointName !== '' ? file.settings.endpointName : file.lastKnownIp;
    if (!host) {
      throw new AppError('fallback.not-ready', 'Devices do not know where home is yet: there is no endpoint name and no public address was seen.', {
        field: 'endpointName',
        hint: 'Enter an endpoint name (such as home.example.com) in the fallback settings, or switch the fallback on once so the app sees the public address.',
      });
    }
    const endpoint = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const config = new Secret(
      renderPeerConfig({
        privateKey: key,
        address: `${device.address}/32`,
        serverPublicKey: publicKeyOf(serverKey),
        ...(psk ? { presharedKey: psk } : {}),
        endpoint,
        allowedIps: this.#deviceAllowedIps(device, file.settings),
        persistentKeepalive: 25,
      }),
    );
    return { config, device };
  }

  // ------------------------------------------------------------------------------------------------------------
  // This computer

  /** Bring this computer's tunnel up (and move the SSH connection onto it) or down (and move it back). */
  async laptopTunnel(profileId: string, up: boolean): Promise<FallbackView> {
    const name = laptopTunnelName(profileId);
    const file = await this.#deps.store.read(profileId);
    let state: LaptopTunnel;
    if (up) {
      if (file.switch.kind !== 'on') throw new AppError('fallback.not-ready', 'Turn the fallback on first: this computer’s tunnel goes to the endpoint it opens.');
      const laptop = file.devices.find((d) => d.kind === 'laptop');
      if (!laptop) throw new AppError('fallback.not-ready', 'This computer has no key for the fallback yet.', { hint: 'Switch the fallback off and on again.' });
      state = await this.#deps.laptop.up(name, (await this.#peerConfig(profileId, laptop.id)).config);
      if (state.state === 'up' && this.#deps.routeSsh) {
        const moved = await this.#deps.routeSsh(profileId, { host: file.settings.sshAddress || serverAddress(file.settings.subnet), port: 0 }).catch((err: unknown) => {
          this.#deps.log.warn('fallback: SSH did not move onto the tunnel', { profile: profileId, error: err instanceof AppError ? err.userMessage : String(err) });
          return false;
        });
        state = { ...state, sshOverWireguard: moved, detail: moved ? `${state.detail} The SSH connection now goes through the tunnel.` : `${state.detail} The SSH connection could not move onto the tunnel yet.` };
      }
    } else {
      if (this.#deps.routeSsh && this.#laptop.get(profileId)?.sshOverWireguard) await this.#deps.routeSsh(profileId, null).catch(() => false);
      state = await this.#deps.laptop.down(name);
    }
    this.#laptop.set(profileId, state);
    return this.#changed(profileId);
  }

  /**
   * After a stack apply, or when the app (re)connects to the server: a recreated WireGuard container or a rebooted
   * server starts with the endpoint down (fail-closed). If the switch is on, the endpoint comes back with the current
   * devices and the router mapping is kept renewed; if that fails, the switch says so.
   */
  async afterApply(profileId: string): Promise<void> {
    const file = await this.#deps.store.read(profileId).catch(() => undefined);
    if (!file || file.switch.kind !== 'on' || this.#switching.has(profileId)) return;
    if (!this.#renewals.has(profileId)) {
      const port = await this.#deps.stackFacts(profileId).then((f) => f.port).catch(() => null);
      if (port !== null) this.#keepMapping(profileId, port, file.switch.mapping);
    }
    try {
      const wg = await this.#deps.serverWireGuard(profileId, this.#deps.connection(profileId));
      if (await wg.isUp()) return;
      await this.#pushConfig(profileId, false);
      await wg.up();
      this.#deps.log.info('fallback: endpoint reopened after the stack was applied', { profile: profileId });
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('fallback.switch-failed', 'The endpoint did not come back after the stack was applied.', { cause: err });
      this.#failed.set(profileId, { kind: 'failed', to: 'on', reason: e.userMessage, hint: e.hint ?? 'Switch the fallback on again.', since: this.#now().toISOString() });
    }
    await this.#changed(profileId).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------------------------
  // The outage

  /** Called by the outage monitor on every settled change: switch on by itself only if the admin opted in. */
  async onOutage(profileId: string, state: OutageState): Promise<void> {
    const file = await this.#deps.store.read(profileId).catch(() => undefined);
    if (!file) return;
    if (file.settings.autoSwitch && (state.kind === 'cloudflare-outage' || state.kind === 'tunnel-broken') && file.switch.kind === 'off' && !this.#switching.has(profileId)) {
      this.#deps.log.info('fallback: switching on by itself (the admin opted in)', { profile: profileId, outage: state.kind });
      await this.switch(profileId, true).catch(() => undefined);
      return;
    }
    await this.#changed(profileId, { live: false }).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------------------------

  async #changed(profileId: string, opts: { live?: boolean } = {}): Promise<FallbackView> {
    const view = await this.view(profileId, opts);
    this.#deps.onChanged(view);
    return view;
  }

  #serial<T>(profileId: string, fn: () => Promise<T>): Promise<T> {
    if (this.#switching.has(profileId)) {
      return Promise.reject(new AppError('fallback.busy', 'The fallback is being switched right now.', { hint: 'Wait for the switch to finish, then try again.' }));
    }
    const prev = this.#queues.get(profileId) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.#queues.set(profileId, next);
    return next;
  }
}
