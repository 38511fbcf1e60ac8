import os from 'node:os';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import type { AppInfo } from '../contract/app';
import type { Handlers, Emit } from './ipc/dispatch';
import type { Logger } from './log';
import type { ServerProfile } from '../contract/profiles';
import { ProfileStore } from './profiles/profile-store';
import { removeProfile, type ProfileKeeper } from './profiles/profile-removal';
import { serviceAddresses, serviceOrigins } from '../contract/links';
import { LinkPolicy } from './links';
import { generatedKeyName, removeKeyPair } from './ssh/key-install';
import { ServerService } from './server/server-service';
import { createRememberedStore } from './server/remembered-connections';
import { createOutcomeStore } from './stack/apply-outcomes';
import type { SecretStore } from './secrets/keychain';
import { CloudflareStore } from './cloudflare/cloudflare-store';
import { CloudflareService } from './cloudflare/cloudflare-service';
import { HostKeyStore, recordedKeys } from './ssh/host-keys';
import { runPreflight } from './preflight/preflight';
import { createPreflightStore } from './preflight/preflight-store';
import { SetupProgressService } from './setup/setup-progress';
import { ChosenServerStore } from './profiles/chosen-server';
import { readUserSshConfig } from './ssh/ssh-config';
import { StackSettingsStore } from './stack/settings-store';
import { ServerOperations } from './server-operations';
import { StackService } from './stack/stack-service';
import { serverHttp } from './updates/ssh-http';
import { createUpdatesStore, UpdateService } from './updates/update-service';
import { StatusService } from './status/status-service';
import { statusTargetFrom } from './status/target';
import { JELLYFIN_API_KEY } from './stack/configure/jellyfin';
import type { TunnelApiStatus } from '../contract/status';
import { FallbackService } from './fallback/fallback-service';
import { trustNextcloudHosts } from './stack/configure/nextcloud';
import { nextcloudOnLan } from './stack/modules/common';
import { createFallbackStore } from './fallback/fallback-store';
import { ServerWireGuard } from './fallback/server-wireguard';
import { PortMapper, type PortMapperDeps } from './fallback/port-mapping';
import { EndpointDns, publicIpFromServer } from './fallback/ddns';
import { LaptopTunnelManager, localRunner, localWhich, type LaptopTunnelDeps } from './fallback/laptop-tunnel';
import type { SshConnection } from './ssh/ssh-connection';
import { AccessProbeTokens } from './cloudflare/access-service-token';
import { OutageMonitor } from './fallback/outage/outage-monitor';
import type { ProbeOptions } from './fallback/outage/probe';
import { AccountsService } from './accounts/accounts-service';
import { SecretRotation } from './accounts/rotation';
import { ClipboardGuard, type SystemClipboard } from './accounts/clipboard-guard';
import { RecoveryKitService } from './recovery/recovery-kit';
import type { SavedKitPdf } from '../contract/recovery';
import { kitPdfName } from '../contract/recovery';
import { AppError } from './errors';
import { BackupsService, createDrillStore } from './backups/backups-service';
import { RestoresService } from './backups/restores-service';
import { LogsService } from './logs/logs-service';
import { stackLogsTarget } from './logs/stack-logs-target';
import { DiagnosticsService } from './diagnostics/diagnostics-service';
import { Redactor } from './diagnostics/redact';
import { RedactingSecretStore } from './diagnostics/app-log';
import { LOG_FILE, OLD_LOG_FILE } from './diagnostics/rotating-file';
import { HouseholdStore } from './household/household-store';
import { HouseholdService, accessMembers } from './household/household-service';
import { openAuthentik } from './household/authentik-transport';
import { AUTHENTIK_BOOTSTRAP_TOKEN } from './stack/configure/authentik';
import { API_TOKEN_SECRET } from './cloudflare/api-token';

export interface CoreConfig {
  /** The app's private data folder (Electron's userData, or the web host's --data-dir). */
  readonly dataDir: string;
  readonly appInfo: AppInfo;
  readonly log: Logger;
  /** OpenSSH known_hosts files that are read (never written); default ~/.ssh/known_hosts. */
  readonly userKnownHosts?: readonly string[];
  /** The OS keychain, where the shell has one. */
  readonly vault?: SecretStore;
  readonly agentSocket?: () => string | undefined;
  /** The app's resources folder (the status agent, the apply guard); resources/ of the working directory by default. */
  readonly resourcesDir?: string;
  /** The Cloudflare API's view of a tunnel for live status; the Cloudflare service's by default (tests replace it). */
  readonly tunnelApiStatus?: (profileId: string) => Promise<TunnelApiStatus | null>;
  /**
   * Test seams for the outage fallback: how the home router is found from the server, how this computer's tunnel
   * commands run (the lab runs them inside the laptop's network namespace), and how SSH streams are opened.
   */
  readonly fallback?: {
    readonly router?: Pick<PortMapperDeps, 'router' | 'upnp'>;
    readonly laptop?: Partial<LaptopTunnelDeps>;
    /** Where the server asks its public address (Cloudflare's trace); null = only the router's view (the lab). */
    readonly traceUrl?: string | null;
  };
  readonly dialSocket?: (host: string, port: number) => Promise<Duplex>;
  /**
   * Test seam of the outage probe: where Cloudflare's edge is (the lab's edge stand-in on loopback) and how names
   * resolve. The product resolves each published hostname and speaks HTTPS on 443.
   */
  readonly outageProbe?: Pick<ProbeOptions, 'connect' | 'resolve'>;
  /** The system clipboard main may write (Electron); the web host has none, so its page copies by itself. */
  readonly clipboard?: SystemClipboard;
  /** The desktop app's print engine: the asking window's page as a PDF, saved where the admin picks (Electron main only). */
  readonly savePdf?: (suggestedName: string) => Promise<SavedKitPdf>;
  /** The app's log (createAppLog): its redactor and files; by default `<dataDir>/logs/main.log` with a fresh redactor. */
  readonly appLog?: { readonly redactor: Redactor; readonly path: string; readonly files: readonly string[] };
  /** Electron's shell.showItemInFolder; the web host has none and only says where the log is. */
  readonly showItemInFolder?: (file: string) => void;
  /** Electron's save dialog for the diagnostics archive (undefined = cancelled); by default `<dataDir>/diagnostics/<name>`. */
  readonly chooseDiagnosticsTarget?: (suggestedName: string) => Promise<string | undefined>;
}

/** The product's services, built once by a composition root (Electron main or the web host). */
export interface CoreServices {
  readonly config: CoreConfig;
  readonly profiles: ProfileStore;
  readonly hostKeys: HostKeyStore;
  readonly servers: ServerService;
  readonly stack: StackService;
  /** Image updates: the check against the server's registry, updates as careful installs, the versions table. */
  readonly updates: UpdateService;
  readonly cloudflare: CloudflareService;
  readonly status: StatusService;
  readonly fallback: FallbackService<SshConnection>;
  /** Outage detection per watched server: probes, cloudflared's view, the API and the server, as one state. */
  readonly outage: OutageMonitor;
  /** The accounts the stack creates, and the one reveal of a password. */
  readonly accounts: AccountsService;
  /** Takes a copied password off the clipboard after a while; `dispose()` when the app quits. */
  readonly clipboard?: ClipboardGuard;
  /** Pushes contract events to every open window (IPC in Electron, the socket in the web host). */
  readonly emit: Emit;
  /** Remove a server and everything the app kept for it (keychain, settings, host keys, generated key). */
  readonly removeProfile: (profileId: string) => Promise<void>;
  /** Which outside links the app opens: its own tables' and the admin's service addresses. */
  readonly links: LinkPolicy;
  /** The household recovery kit: the printable page's content, never a secret value. */
  readonly recovery: RecoveryKitService;
  /** Each server's setup steps as the kept stores say them (and its last preflight, kept). */
  readonly setup: SetupProgressService;
  /** The server every per-server page works on. */
  readonly chosen: ChosenServerStore;
  /** Per-service logs (masked in core) and restart, stop and start. */
  readonly logs: LogsService;
  /** Snapshots, back up now, restore into a new folder, restore drills. */
  readonly backups: BackupsService;
  readonly restores: RestoresService;
  /** Where the log is, and the diagnostics archive. */
  readonly diagnostics: DiagnosticsService;
  /** The household's people and roles: Authentik users and groups, Cloudflare Access groups. */
  readonly household: HouseholdService;
}

export function createCoreServices(config: CoreConfig, emit: Emit): CoreServices {
  const profiles = new ProfileStore(path.join(config.dataDir, 'profiles.json'));
  const hostKeys = new HostKeyStore(
    path.join(config.dataDir, 'known-hosts.json'),
    config.userKnownHosts ?? [path.join(os.homedir(), '.ssh', 'known_hosts')],
  );
  const keysDir = path.join(config.dataDir, 'keys');
  // What the app keeps per server about its connection and its last install (profile data, no secrets).
  const rememberedConnections = createRememberedStore(path.join(config.dataDir, 'connections'));
  const installOutcomes = createOutcomeStore(path.join(config.dataDir, 'operations'));
  const stackSettings = new StackSettingsStore(path.join(config.dataDir, 'stacks'));
  const cloudflareStore = new CloudflareStore(path.join(config.dataDir, 'cloudflare'));
  const fallbackStore = createFallbackStore(path.join(config.dataDir, 'fallback'));
  const householdStore = new HouseholdStore(path.join(config.dataDir, 'household'));
  const statusRef: { current?: StatusService } = {};
  const outageRef: { current?: OutageMonitor } = {};
  const fallbackRef: { current?: FallbackService<SshConnection> } = {};
  const rotationRef: { current?: SecretRotation } = {};
  // The outage probe's Access service token, made by publish and read by the monitor (keychain only).
  const probeTokens = config.vault ? new AccessProbeTokens(config.vault) : undefined;
  const servers = new ServerService({
    profiles,
    hostKeys,
    vault: config.vault,
    log: config.log,
    agentSocket: config.agentSocket,
    keysDir,
    ...(config.dialSocket ? { dialSocket: config.dialSocket } : {}),
    remembered: rememberedConnections,
    onState: (profileId, state) => {
      emit('server:state', { profileId, state });
      // Connected again with a new connection: a watched server's status agent moves onto it.
      if (state.kind === 'connected') void statusRef.current?.follow(profileId);
      // A server that rebooted while the fallback was on comes back with the endpoint shut: reopen it.
      if (state.kind === 'connected') void fallbackRef.current?.afterApply(profileId);
      // Connected (a host key confirmed) or gone: the setup steps may read differently.
      if (state.kind === 'connected' || state.kind === 'closed') emit('setup:changed', { profileId });
    },
  });
  // One install, update, restore or put-back at a time per server, whichever asks first.
  const operations = new ServerOperations();
  const stack = new StackService({
    operations,
    settings: stackSettings,
    servers,
    secretStore: config.vault,
    log: config.log,
    onProgress: (p) => emit('stack:progress', p),
    // An apply changes what live status watches (services, paths, the Jellyfin key): watch it anew.
    onApplied: (profileId) => {
      void statusRef.current?.refresh(profileId);
      // A recreated WireGuard container starts with the endpoint down: reopen it when the fallback is on.
      void fallbackRef.current?.afterApply(profileId);
    },
    resourcesDir: config.resourcesDir ?? path.resolve('resources'),
    appVersion: config.appInfo.version,
    // How each install ended is kept, so a page that comes back (reload, new window, restarted app) still says it.
    outcomes: installOutcomes,
    onOutcome: (profileId, outcome) => {
      emit('stack:outcome', { profileId, outcome });
      emit('setup:changed', { profileId });
    },
    // A secret rotation that could not set the server back: an install would write the old value over it.
    beforeInstall: async (profileId, finishing) => rotationRef.current?.assertInstallAllowed(profileId, finishing),
  });
  const cloudflare = new CloudflareService({
    store: cloudflareStore,
    secrets: config.vault,
    stackSettings: async (profileId) => (await stack.view(profileId)).settings,
    // The tunnel token reaches the server only through the stack's 0600 env file: a stack apply, in which only
    // cloudflared's env changed, so only cloudflared is recreated.
    redeploy: (profileId) => stack.apply(profileId),
    isInstalled: async (profileId) => (await stack.status(profileId)).currentRelease !== null,
    log: config.log,
    onProgress: (p) => {
      emit('cloudflare:progress', p);
      // A hostname pointed at the tunnel (or taken away) or the probe's token changed: the probe reads them again.
      if (p.kind === 'step' && (p.step.id.startsWith('dns:') || p.step.id === 'access-probe')) outageRef.current?.nudge(p.profileId, { reread: true });
    },
    ...(probeTokens ? { probeAccess: probeTokens } : {}),
    // Access groups by role are made from the household's bookkeeping (no connection to the server needed).
    household: async (profileId) => accessMembers((await householdStore.read(profileId)).members),
  });
  const status = new StatusService({
    connection: (profileId) => servers.connection(profileId),
    // Docker through `sudo -n` when preflight found the user outside the docker group (as the stack apply does).
    target: async (profileId) => statusTargetFrom((await stack.view(profileId)).settings, { project: stack.project, sudo: stack.dockerAccess(profileId) === 'sudo' }),
    jellyfinApiKey: async (profileId) => {
      try {
        return await stack.secrets.get(profileId, JELLYFIN_API_KEY.name);
      } catch {
        // No keychain: status runs without Jellyfin's sessions and says why.
        return undefined;
      }
    },
    // The Cloudflare API's view of the tunnel joins the agent's own when a token and a tunnel exist (null otherwise).
    tunnelApiStatus: config.tunnelApiStatus ?? ((profileId) => cloudflare.tunnelStatus(profileId)),
    resourcesDir: config.resourcesDir ?? path.resolve('resources'),
    log: config.log,
    outage: (profileId) => outageRef.current?.state(profileId) ?? null,
    onUpdate: (u) => {
      emit('status:update', u);
      // A server live status watches is watched from the internet too; cloudflared's view changing checks at once.
      outageRef.current?.watch(u.profileId);
      outageRef.current?.observe(u.snapshot);
    },
    onNotification: (n) => emit('status:notification', n),
  });
  statusRef.current = status;
  const outage = new OutageMonitor({
    // Only hostnames that point at the tunnel: the DNS records publish made.
    hostnames: async (profileId) => (await cloudflare.view(profileId)).managed.filter((m) => m.kind === 'dns-record').map((m) => m.name),
    serviceToken: async (profileId) => (probeTokens ? probeTokens.credentials(profileId) : null),
    snapshot: (profileId) => status.snapshot(profileId),
    serverReachable: (profileId) => {
      const kind = servers.state(profileId).kind;
      return kind === 'connected' ? true : kind === 'reconnecting' ? false : null;
    },
    tunnelApiStatus: config.tunnelApiStatus ?? ((profileId) => cloudflare.tunnelStatus(profileId)),
    onChange: (profileId) => {
      status.outageChanged(profileId);
      const state = outageRef.current?.state(profileId);
      // The fallback's page redraws with the new state, and switches on by itself only where the admin opted in.
      if (state) void fallbackRef.current?.onOutage(profileId, state);
    },
    log: config.log,
    ...(config.outageProbe ? { probe: config.outageProbe } : {}),
  });
  outageRef.current = outage;
  const serverWireGuards = new WeakMap<SshConnection, { key: string; wg: ServerWireGuard }>();
  const fallback = new FallbackService<SshConnection>({
    store: fallbackStore,
    secrets: config.vault,
    connection: (profileId) => servers.connection(profileId),
    stackFacts: async (profileId) => {
      const { settings } = await stack.view(profileId);
      const installed = (await stack.status(profileId)).currentRelease !== null;
      return {
        installed,
        wireguardEnabled: settings.modules.wireguard.enabled,
        port: settings.modules.wireguard.port,
        jellyfinPort: settings.publishAddress === '0.0.0.0' ? settings.modules.jellyfin.lanPort : null,
        nextcloudPort: settings.publishAddress === '0.0.0.0' && nextcloudOnLan(settings) ? settings.modules.nextcloud.lanPort : null,
        authentikHost: settings.modules.authentik.enabled ? settings.hostnames.authentik : null,
      };
    },
    trustTunnelAddress: async (profileId, conn, address) => {
      const added = await trustNextcloudHosts({ conn, dockerAccess: stack.dockerAccess(profileId) === 'sudo' ? 'sudo' : 'group', project: stack.project }, [address]);
      return added.length ? `Nextcloud now trusts ${address}.` : `Nextcloud already trusts ${address}.`;
    },
    wireguardPort: async (profileId) => (await stack.view(profileId)).settings.modules.wireguard.port,
    // One per connection, so its queue keeps up, down, sync and config writes of one server in order.
    serverWireGuard: async (profileId, conn) => {
      const { settings } = await stack.view(profileId);
      const key = `${settings.dataRoot}\n${stack.dockerAccess(profileId) === 'sudo'}`;
      const known = serverWireGuards.get(conn);
      if (known?.key === key) return known.wg;
      const wg = new ServerWireGuard({ conn, dataRoot: settings.dataRoot, sudo: stack.dockerAccess(profileId) === 'sudo', project: stack.project });
      serverWireGuards.set(conn, { key, wg });
      return wg;
    },
    portMapper: (_profileId, conn) => new PortMapper({ conn, log: config.log, ...(config.fallback?.router ?? {}) }),
    publicIp: async (_profileId, conn) => {
      const mapper = new PortMapper({ conn, log: config.log, ...(config.fallback?.router ?? {}) });
      if (config.fallback?.traceUrl === null) return (await mapper.discover()).externalIp;
      return publicIpFromServer(conn, { mapper, log: config.log, ...(config.fallback?.traceUrl ? { traceUrl: config.fallback.traceUrl } : {}) });
    },
    endpointDns: async (profileId) => {
      const access = await cloudflare.zoneAccess(profileId);
      return access ? new EndpointDns({ client: async () => access.client, zoneId: async () => access.zoneId, log: config.log, profileId }) : undefined;
    },
    laptop: new LaptopTunnelManager({
      run: localRunner,
      which: localWhich,
      platform: process.platform,
      isRoot: process.getuid?.() === 0,
      configDir: path.join(config.dataDir, 'fallback', 'tunnels'),
      ...(config.fallback?.laptop ?? {}),
    }),
    routeSsh: (profileId, via) => servers.reroute(profileId, via),
    outage: (profileId) => outage.state(profileId),
    watchOutage: (profileId) => outage.watch(profileId),
    zoneName: async (profileId) => (await cloudflare.zoneAccess(profileId))?.zoneName ?? null,
    log: config.log,
    onProgress: (p) => emit('fallback:progress', p),
    onChanged: (v) => emit('fallback:changed', v),
  });
  fallbackRef.current = fallback;
  const clipboard = config.clipboard ? new ClipboardGuard(config.clipboard) : undefined;
  // Asked by the stack before every install (beforeInstall above), so kept in rotationRef.
  const rotation = config.vault
    ? new SecretRotation({
        settings: async (profileId) => (await stack.view(profileId)).settings,
        secrets: stack.secrets,
        target: async (profileId) => {
          const conn = servers.connection(profileId);
          return { conn, dockerAccess: stack.dockerAccess(profileId) === 'sudo' ? 'sudo' : 'group', project: stack.project };
        },
        // The rotation's own installs: let through while it runs (assertInstallAllowed).
        redeploy: (profileId, secret) => stack.apply(profileId, { finishing: secret }),
        installed: async (profileId) => (await stack.status(profileId)).currentRelease !== null,
        log: config.log,
        operations,
      })
    : undefined;
  if (rotation) rotationRef.current = rotation;
  const accounts = new AccountsService({
    settings: async (profileId) => (await stack.view(profileId)).settings,
    serverHost: async (profileId) => (await profiles.list()).find((p) => p.id === profileId)?.host,
    published: async (profileId) => (await cloudflare.view(profileId)).managed.filter((m) => m.kind === 'dns-record').map((m) => m.name),
    secrets: { get: (profileId, name) => stack.secrets.get(profileId, name) },
    ...(clipboard ? { clipboard } : {}),
    ...(rotation ? { rotation } : {}),
    log: config.log,
  });
  // Everything kept per server, so removing one leaves nothing for a new server of the same name (same id).
  const vault = config.vault;
  const keepers: ProfileKeeper[] = [
    // What runs first: the status agent, then this computer's tunnel, whose config file holds this computer's private key.
    {
      what: 'live status',
      forget: async (p) => {
        outage.unwatch(p.id);
        stack.forgetProfile(p.id);
        // The agent on the server is stopped over the connection while it is still there; a dead one stops anyway.
        await status.stop(p.id).catch(() => undefined);
      },
    },
    { what: 'tunnel from this computer', forget: (p) => fallback.forgetProfile(p.id) },
    ...(vault
      ? [
          {
            what: 'saved passwords and tokens in the keychain',
            forget: async (p: ServerProfile) => {
              for (const name of await vault.names(p.id)) await vault.delete(p.id, name);
            },
          },
        ]
      : []),
    { what: 'stack settings', forget: async (p) => void (await stackSettings.remove(p.id)) },
    { what: 'Cloudflare settings', forget: async (p) => void (await cloudflareStore.remove(p.id)) },
    { what: 'outage fallback settings', forget: async (p) => void (await fallbackStore.remove(p.id)) },
    {
      what: 'confirmed host keys',
      // Another server saved with the same address keeps the key its admin confirmed.
      forget: async (p, others) => void (others.some((o) => o.host === p.host && o.port === p.port) ? 0 : await hostKeys.forget(p.host, p.port)),
    },
    { what: 'generated key files', forget: async (p) => void (await removeKeyPair(keysDir, generatedKeyName(p.id))) },
    { what: 'connection memory', forget: async (p) => void (await rememberedConnections.remove(p.id)) },
    { what: 'install outcomes', forget: async (p) => void (await installOutcomes.remove(p.id)) },
  ];
  const preflightStore = createPreflightStore(path.join(config.dataDir, 'preflight'));
  const chosen = new ChosenServerStore({ file: path.join(config.dataDir, 'chosen-server.json'), exists: async (id) => (await profiles.list()).some((p) => p.id === id) });
  keepers.push(
    { what: 'preflight results', forget: async (p) => void (await preflightStore.remove(p.id)) },
    { what: 'chosen server', forget: async (p) => void ((await chosen.forget(p.id)) && emit('profiles:chosen', { profileId: null })) },
  );
  const removeProfileAndData = (profileId: string): Promise<void> =>
    removeProfile({ profiles, keepers, disconnect: (id) => servers.disconnect(id), log: config.log }, profileId);
  const links = new LinkPolicy({
    // From the stored files only (no keychain, no network): a click waits on this.
    ownOrigins: async () => {
      const origins = await Promise.all(
        (await profiles.list()).map(async (p) => {
          try {
            const settings = await stackSettings.get(p.id);
            if (!settings) return [];
            const published = (await cloudflareStore.read(p.id)).managed.dns.map((r) => r.hostname);
            return serviceOrigins(serviceAddresses(settings, p.host, published));
          } catch {
            // One server's damaged file does not close the others' links.
            return [];
          }
        }),
      );
      return [...new Set(origins.flat())].sort();
    },
  });
  const setup = new SetupProgressService({
    profile: async (profileId) => (await profiles.list()).find((p) => p.id === profileId),
    hostKeys: async (host, port) => recordedKeys(await hostKeys.entries(), host, port).map((k) => ({ fingerprint: k.fingerprint, addedAt: null })),
    preflight: preflightStore,
    published: async (profileId) => (await cloudflareStore.read(profileId)).managed.dns.map((r) => r.hostname),
    settingsSavedAt: async (profileId) => {
      if (!(await stackSettings.get(profileId))) return undefined;
      return (await stat(path.join(config.dataDir, 'stacks', `${profileId}.json`)).catch(() => undefined))?.mtime.toISOString() ?? null;
    },
    accounts: (profileId) => accounts.list(profileId),
    lastApply: (profileId) => stack.lastApply(profileId),
    now: () => new Date(),
  });
  // A restarted app knows how the last preflight found Docker and the GPU, where the server's address is the same.
  void (async () => {
    for (const p of await profiles.list()) {
      const kept = (await preflightStore.read(p.id).catch(() => undefined))?.last;
      if (kept && kept.host === p.host && kept.port === p.port) stack.recordPreflight(p.id, kept.report);
    }
  })().catch(() => undefined);
  const recovery = new RecoveryKitService({
    app: config.appInfo,
    now: () => new Date(),
    profile: async (profileId) => (await profiles.list()).find((p) => p.id === profileId),
    hostKeys: (host, port) => hostKeys.recorded(host, port),
    stack: async (profileId) => {
      const view = await stack.view(profileId);
      return { settings: view.settings, saved: view.saved, resticImage: view.images.find((i) => i.key === 'restic')?.ref ?? 'restic/restic' };
    },
    project: stack.project,
    published: async (profileId) => (await cloudflare.view(profileId)).managed.filter((m) => m.kind === 'dns-record').map((m) => m.name),
    accounts: (profileId) => accounts.list(profileId),
    // Names only: the kit never asks the keychain for a value.
    secretNames: async (profileId) => {
      if (!vault) throw new AppError('secrets.unavailable', 'No keychain is available on this computer, so the kit cannot list where the secrets are kept.');
      return vault.names(profileId);
    },
    fallback: (profileId) => fallback.view(profileId, { live: false }),
  });
  const logs = new LogsService({
    target: stackLogsTarget({
      connection: (profileId) => servers.connection(profileId),
      dockerAccess: (profileId) => stack.dockerAccess(profileId),
      project: stack.project,
      vault,
    }),
    emit: (e) => emit('logs:stream', e),
    log: config.log,
    // A service restarted, stopped or started: live status shows it at once.
    onAction: (profileId) => void status.refresh(profileId).catch(() => undefined),
    operations,
  });
  // A value stored while a log view is open (a rotation's new password, a new tunnel token) is masked in it at once.
  if (vault instanceof RedactingSecretStore) vault.onStored((profileId, value) => logs.secretStored(profileId, value));
  keepers.unshift({ what: 'log views', forget: async (p) => logs.closeAll(p.id) });
  const drillStore = createDrillStore(path.join(config.dataDir, 'drills'));
  const backups = new BackupsService({
    target: stackLogsTarget({
      connection: (profileId) => servers.connection(profileId),
      dockerAccess: (profileId) => stack.dockerAccess(profileId),
      project: stack.project,
      vault,
    }),
    settings: async (profileId) => (await stack.view(profileId)).settings,
    drills: drillStore,
    emit: (e) => emit('backups:progress', e),
    log: config.log,
  });
  keepers.push({ what: 'restore drill results', forget: async (p) => void (await drillStore.remove(p.id)) });
  const household = new HouseholdService({
    store: householdStore,
    stackSettings: async (profileId) => (await stack.view(profileId)).settings,
    authentik: async (profileId) =>
      openAuthentik(
        { conn: servers.connection(profileId), dockerAccess: stack.dockerAccess(profileId) === 'sudo' ? 'sudo' : 'group', project: stack.project },
        await stack.secrets.get(profileId, AUTHENTIK_BOOTSTRAP_TOKEN.name),
      ),
    cloudflare: {
      syncHousehold: (profileId) => cloudflare.syncHousehold(profileId),
      access: async (profileId) => {
        const f = await cloudflareStore.read(profileId);
        const token = vault ? (await vault.get(profileId, API_TOKEN_SECRET)) !== undefined : false;
        return {
          ready: token && Boolean(f.settings?.accountId && f.settings.zoneId),
          emails: f.settings?.access.emails ?? [],
          domain: f.settings?.access.emailDomain ?? null,
        };
      },
    },
    log: config.log,
  });
  keepers.push({ what: 'household members', forget: async (p) => void (await householdStore.remove(p.id)) });
  const restores = new RestoresService({
    target: stackLogsTarget({
      connection: (profileId) => servers.connection(profileId),
      dockerAccess: (profileId) => stack.dockerAccess(profileId),
      project: stack.project,
      vault,
    }),
    settings: async (profileId) => (await stack.view(profileId)).settings,
    exclusive: (profileId, what, f) => backups.exclusive(profileId, what, f),
    operations,
    emit: (e) => emit('backups:progress', e),
    log: config.log,
  });
  const logDir = path.join(config.dataDir, 'logs');
  const appLog = config.appLog ?? { redactor: new Redactor(), path: path.join(logDir, LOG_FILE), files: [path.join(logDir, OLD_LOG_FILE), path.join(logDir, LOG_FILE)] };
  const diagnostics = new DiagnosticsService({
    app: config.appInfo,
    log: config.log,
    redactor: appLog.redactor,
    logPath: appLog.path,
    logFiles: appLog.files,
    profiles: () => profiles.list(),
    // Every value the keychain holds for the known servers is redacted from the archive, not only those read this run.
    ...(vault instanceof RedactingSecretStore ? { learnSecrets: (ids: readonly string[]) => vault.learnAll(ids) } : {}),
    lastPreflight: async (profileId) => (await preflightStore.read(profileId)).last,
    // Only a connected server answers; one that does not within the timeout is said as unavailable in the archive.
    composeState: (profileId) => stack.status(profileId),
    ...(config.showItemInFolder ? { showItemInFolder: config.showItemInFolder } : {}),
    chooseTarget: config.chooseDiagnosticsTarget ?? (async (name) => path.join(config.dataDir, 'diagnostics', name)),
  });
  const updatesStore = createUpdatesStore(path.join(config.dataDir, 'updates'));
  const updates = new UpdateService({
    operations,
    settings: async (profileId) => {
      const v = await stack.view(profileId);
      if (!v.saved) throw new AppError('stack.invalid-settings', 'Install the stack on this server first.', { hint: 'Open Services, save the settings and install.' });
      return v.settings;
    },
    saveSettings: async (profileId, settings) => void (await stack.save(profileId, settings)),
    http: (profileId) => serverHttp(servers.connection(profileId)),
    running: async (profileId) => (await stack.status(profileId)).services,
    // The Backups page's "Back up now", before anything changes; a backup module that is off is said, not skipped silently.
    backup: async (profileId) => {
      const { settings } = await stack.view(profileId);
      if (!settings.modules.backup.enabled) return { snapshotId: null, skipped: 'The backup module is off on this server: no backup was taken before the update.' };
      const r = await backups.run(profileId);
      if (r.result === 'failed') throw new AppError('backups.failed', r.message || 'The backup failed.');
      return { snapshotId: r.snapshotId };
    },
    apply: (profileId, settings) => stack.apply(profileId, { settings }),
    store: updatesStore,
    emit: (p) => emit('updates:progress', p),
    log: config.log,
  });
  keepers.push({ what: 'image versions and update records', forget: async (p) => void (await updatesStore.remove(p.id)) });
  // Once a day per connected server: a check, and a notification once per new set of available updates.
  updates.startDailyChecks(
    async () =>
      (await profiles.list()).map((p) => p.id).filter((id) => {
        try {
          return servers.connection(id).state.kind === 'connected';
        } catch {
          return false;
        }
      }),
    (profileId, n) => emit('status:notification', { profileId, id: `updates-${Date.now().toString(36)}`, card: 'services', severity: 'ok', previous: 'ok', title: n.title, body: n.body, at: new Date().toISOString() }),
  );
  // Servers that were connected when the app last stopped reconnect by themselves (host keys judged as ever).
  servers.resume().catch((err: unknown) => config.log.warn('could not reconnect the servers of the last run', { error: err instanceof Error ? err.message : String(err) }));
  return { config, profiles, hostKeys, servers, stack, cloudflare, status, fallback, outage, accounts, ...(clipboard ? { clipboard } : {}), emit, removeProfile: removeProfileAndData, links, setup, chosen, recovery, logs, backups, restores, diagnostics, household, updates };
}

/** The contract's handlers over the services. */
export function createHandlers(services: CoreServices): Handlers {
  const profilesChanged = async (): Promise<void> => services.emit('profiles:changed', await services.profiles.list());
  const setupChanged = (profileId: string): void => services.emit('setup:changed', { profileId });
  const setupChangedAfter = <T,>(profileId: string, value: T): T => {
    setupChanged(profileId);
    return value;
  };
  return {
    'app:info': () => services.config.appInfo,
    'app:links': () => services.links.rules(),
    'app:log-location': () => services.diagnostics.logLocation(),
    'app:show-log': () => services.diagnostics.showLog(),
    'app:export-diagnostics': () => services.diagnostics.export(),
    'profiles:list': () => services.profiles.list(),
    'profiles:save': async (input) => {
      const saved = await services.profiles.save(input);
      await profilesChanged();
      return saved;
    },
    'profiles:remove': async ({ id }) => {
      await services.removeProfile(id);
      await profilesChanged();
      return { removed: true } as const;
    },
    'profiles:chosen': async () => ({ profileId: await services.chosen.get() }),
    'profiles:choose': async ({ profileId }) => {
      const chosen = { profileId: await services.chosen.choose(profileId) };
      services.emit('profiles:chosen', chosen);
      return chosen;
    },
    'setup:progress': ({ profileId }) => services.setup.progress(profileId),
    'profiles:import-ssh-config': async () => {
      const found = await readUserSshConfig();
      return {
        candidates: found.candidates.map((c) => ({ ...c, warnings: [...c.warnings], ...(c.proxyJump ? { proxyJump: c.proxyJump } : {}) })),
        warnings: [...found.warnings],
      };
    },
    'server:connect': (input) => services.servers.connect(input),
    'server:install-key': async ({ profileId }) => {
      const result = await services.servers.installKey(profileId);
      await profilesChanged();
      return result;
    },
    'server:disconnect': async ({ profileId }) => {
      await services.servers.disconnect(profileId);
      return { disconnected: true } as const;
    },
    'server:state': ({ profileId }) => services.servers.state(profileId),
    'preflight:run': async ({ profileId, dataPaths }) => {
      const conn = services.servers.connection(profileId);
      const report = await runPreflight(conn, { dataPaths }, { now: () => new Date(), user: conn.target.username });
      services.stack.recordPreflight(profileId, report);
      // Kept with when and against which address and host key, so a restarted app still knows it (and when it is stale).
      await services.setup.keepPreflight(profileId, report, dataPaths);
      setupChanged(profileId);
      return report;
    },
    'stack:settings': ({ profileId }) => services.stack.view(profileId),
    'stack:save-settings': async ({ profileId, settings }) => setupChangedAfter(profileId, await services.stack.save(profileId, settings)),
    // A review makes the accounts' passwords.
    'stack:plan': async ({ profileId }) => setupChangedAfter(profileId, await services.stack.plan(profileId)),
    'stack:apply': ({ profileId, pullPolicy }) => services.stack.apply(profileId, { pullPolicy }),
    'stack:status': ({ profileId }) => services.stack.status(profileId),
    'stack:last-apply': ({ profileId }) => services.stack.lastApply(profileId),
    'stack:secrets': ({ profileId }) => services.stack.secretSummaries(profileId),
    'updates:view': ({ profileId }) => services.updates.view(profileId),
    'updates:check': ({ profileId }) => services.updates.check(profileId),
    'updates:apply': ({ profileId, updates }) => services.updates.apply(profileId, updates),
    'accounts:list': ({ profileId }) => services.accounts.list(profileId),
    'accounts:reveal': ({ profileId, accountId }) => services.accounts.reveal(profileId, accountId),
    'accounts:copy': ({ profileId, accountId }) => services.accounts.copy(profileId, accountId),
    'accounts:rotations': ({ profileId }) => services.accounts.rotations(profileId),
    'accounts:rotate': async ({ profileId, secret }) => setupChangedAfter(profileId, await services.accounts.rotate(profileId, secret)),
    'cloudflare:view': ({ profileId }) => services.cloudflare.view(profileId),
    'cloudflare:set-token': ({ profileId, token, accountId }) => services.cloudflare.setToken(profileId, token, accountId),
    'cloudflare:check-token': ({ profileId }) => services.cloudflare.checkToken(profileId),
    'cloudflare:forget-token': async ({ profileId }) => {
      await services.cloudflare.forgetToken(profileId);
      return { forgotten: true } as const;
    },
    'cloudflare:zones': ({ profileId, accountId }) => services.cloudflare.zones(profileId, accountId),
    'cloudflare:save-settings': ({ profileId, settings }) => services.cloudflare.saveSettings(profileId, settings),
    'cloudflare:publish': async ({ profileId, confirm }) => setupChangedAfter(profileId, await services.cloudflare.publish(profileId, confirm)),
    'cloudflare:cancel-publish': async ({ profileId }) => services.cloudflare.cancelPublish(profileId),
    'cloudflare:removal-plan': ({ profileId }) => services.cloudflare.removalPlan(profileId),
    'cloudflare:remove': async ({ profileId }) => setupChangedAfter(profileId, await services.cloudflare.remove(profileId)),
    'cloudflare:rotate-tunnel-token': ({ profileId }) => services.cloudflare.rotateTunnelToken(profileId),
    'status:subscribe': ({ profileId }) => services.status.subscribe(profileId),
    'status:unsubscribe': ({ profileId }) => {
      services.status.unsubscribe(profileId);
      return { unsubscribed: true } as const;
    },
    'status:history': ({ profileId }) => services.status.history(profileId),
    'fallback:view': ({ profileId }) => services.fallback.view(profileId),
    'fallback:save-settings': ({ profileId, settings }) => services.fallback.saveSettings(profileId, settings),
    'fallback:switch': ({ profileId, on }) => services.fallback.switch(profileId, on),
    'fallback:add-device': ({ profileId, name }) => services.fallback.addDevice(profileId, name),
    'fallback:device-config': ({ profileId, deviceId }) => services.fallback.deviceConfig(profileId, deviceId),
    'fallback:revoke-device': ({ profileId, deviceId }) => services.fallback.revokeDevice(profileId, deviceId),
    'fallback:laptop-tunnel': ({ profileId, up }) => services.fallback.laptopTunnel(profileId, up),
    'recovery:kit': ({ profileId }) => services.recovery.kit(profileId),
    'logs:services': ({ profileId }) => services.logs.services(profileId),
    'logs:open': (input) => services.logs.open(input),
    'logs:close': ({ profileId, streamId }) => ({ closed: services.logs.close(profileId, streamId) }),
    'logs:service-action': ({ profileId, service, action }) => services.logs.action(profileId, service, action),
    'backups:view': ({ profileId }) => services.backups.view(profileId),
    'backups:run': ({ profileId }) => services.backups.run(profileId),
    'backups:browse': ({ profileId, snapshotId, path: rel }) => services.backups.browse(profileId, snapshotId, rel),
    'backups:restore': (input) => services.backups.restore(input),
    'backups:drill': ({ profileId }) => services.backups.drill(profileId),
    'household:view': ({ profileId }) => services.household.view(profileId),
    'household:add': ({ profileId, member }) => services.household.add(profileId, member),
    'household:remove': ({ profileId, email }) => services.household.remove(profileId, email),
    'backups:restore-in-place': (input) => services.restores.inPlace(input),
    'backups:service-plan': (input) => services.restores.plan(input),
    'backups:restore-service': ({ profileId, snapshotId, service }) => services.restores.restoreService({ profileId, snapshotId, service }),
    'backups:unfinished': async ({ profileId }) => ({ unfinished: await services.restores.unfinished(profileId) }),
    'backups:put-back': (input) => services.restores.putBack(input),
    'recovery:save-pdf': async ({ profileId }) => {
      const savePdf = services.config.savePdf;
      if (!savePdf) {
        throw new AppError('recovery.pdf-unavailable', 'Saving a PDF works in the desktop app only.', { hint: 'Use Print, and choose “Save as PDF” as the printer.' });
      }
      const profile = (await services.profiles.list()).find((p) => p.id === profileId);
      if (!profile) throw new AppError('profile.not-found', 'Server: it is not in the list of saved servers (removed?).', { field: 'profileId', hint: 'Choose a server from the list.' });
      return savePdf(kitPdfName(profile.name));
    },
  };
}
