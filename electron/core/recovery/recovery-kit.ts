/**
 * The household recovery kit (DESIGN.md §1 "First-time setup", the paper the admin keeps): everything a person needs
 * to find the server, recognise it, reach the services, restore from backup and get through a Cloudflare outage,
 * made from what the app already keeps — the profile, confirmed host keys, stack and Cloudflare settings, the
 * keychain's entry names, the fallback's devices. Secret values are never read for it: the keychain is asked for
 * names only (`SecretStore.names`), so no value can reach the page, the PDF or a printer queue.
 */
import type { Account } from '../../contract/accounts';
import type { FallbackView } from '../../contract/fallback';
import { serviceAddresses } from '../../contract/links';
import type { ServerProfile } from '../../contract/profiles';
import type { KitBackup, KitFallback, KitSecret, KitSecrets, RecordedHostKey, RecoveryKit } from '../../contract/recovery';
import { signInGuide } from '../../contract/sign-in';
import type { StackSettings } from '../../contract/stack';
import { AppError, toErrorShape } from '../errors';
import { KEYCHAIN_SERVICE, keychainAccount } from '../secrets/keychain';
import { toShell } from '../ssh/argv';
import { backupHostname, resticPasswordSecret } from '../stack/modules/backup';
import { nextcloudOnLan } from '../stack/modules/common';
import { restoreSteps, snapshotFolders } from './restore-steps';

export interface RecoveryKitDeps {
  readonly app: { readonly name: string; readonly version: string };
  readonly now: () => Date;
  /** The saved server; undefined when there is none with that id. */
  readonly profile: (profileId: string) => Promise<ServerProfile | undefined>;
  /** Host keys on record for the address (the app's confirmed ones and ~/.ssh/known_hosts). */
  readonly hostKeys: (host: string, port: number) => Promise<RecordedHostKey[]>;
  /** The stack settings (defaults until saved) and the restic image the stack runs. */
  readonly stack: (profileId: string) => Promise<{ settings: StackSettings; saved: boolean; resticImage: string }>;
  /** The Compose project the stack runs as. */
  readonly project: string;
  /** Host names the app pointed at the tunnel (Cloudflare DNS records it manages). */
  readonly published: (profileId: string) => Promise<readonly string[]>;
  /** The stack's accounts (names, usernames, keychain locations; no values). */
  readonly accounts: (profileId: string) => Promise<Account[]>;
  /** The names of the secrets the keychain holds for the server — names only; throws when there is no keychain. */
  readonly secretNames: (profileId: string) => Promise<string[]>;
  /** The outage fallback's view from local files (no trip to the server). */
  readonly fallback: (profileId: string) => Promise<FallbackView>;
}

/** What each secret the app keeps is, in the admin's words. Device keys are named by their device. */
const SECRET_WORDS: Record<string, string> = {
  'jellyfin.admin-password': 'Jellyfin administrator password',
  'jellyfin.api-key': 'Jellyfin API key (live status)',
  'nextcloud.admin-password': 'Nextcloud administrator password',
  'nextcloud.db-password': 'Nextcloud database password',
  'nextcloud.redis-password': 'Nextcloud cache (Redis) password',
  'nextcloud.oidc-secret': 'Nextcloud single sign-on client secret',
  'authentik.bootstrap-password': 'Authentik administrator (akadmin) password',
  'authentik.bootstrap-token': 'Authentik API token',
  'authentik.secret-key': 'Authentik secret key',
  'authentik.db-password': 'Authentik database password',
  'authentik.ldap-bind-password': 'Password of Jellyfin’s LDAP account in Authentik (m2-ldap-bind)',
  'authentik.ldap-outpost-token': 'Authentik LDAP outpost token (made by Authentik)',
  [resticPasswordSecret]: 'Backup repository (restic) password',
  'cloudflare.api-token': 'Cloudflare API token',
  'cloudflared.tunnel-token': 'Cloudflare tunnel token',
  'cloudflare.access-probe-token': 'Cloudflare Access token of the outage probe',
  'fallback.server-key': 'WireGuard private key of the server',
};

const DEVICE_SECRET = /^fallback\.device\.([a-z0-9]+)\.(key|psk)$/;

function describeSecret(name: string, deviceNames: ReadonlyMap<string, string>): string {
  const known = SECRET_WORDS[name];
  if (known) return known;
  const device = DEVICE_SECRET.exec(name);
  if (device) {
    const who = deviceNames.get(device[1] ?? '') ?? 'a removed device';
    return device[2] === 'key' ? `WireGuard private key of “${who}”` : `WireGuard preshared key of “${who}”`;
  }
  return name;
}

export class RecoveryKitService {
  readonly #deps: RecoveryKitDeps;

  constructor(deps: RecoveryKitDeps) {
    this.#deps = deps;
  }

  async kit(profileId: string): Promise<RecoveryKit> {
    const d = this.#deps;
    const profile = await d.profile(profileId);
    if (!profile) {
      throw new AppError('profile.not-found', 'Server: it is not in the list of saved servers (removed?).', { field: 'profileId', hint: 'Choose a server from the list.' });
    }
    const madeAt = d.now().toISOString();
    const [hostKeys, stack, published] = await Promise.all([d.hostKeys(profile.host, profile.port), d.stack(profileId), d.published(profileId)]);
    const { settings } = stack;
    const fallbackView = settings.modules.wireguard.enabled ? await d.fallback(profileId).catch((err: unknown) => toErrorShape(err)) : null;
    const deviceNames = new Map(fallbackView && 'devices' in fallbackView ? fallbackView.devices.map((x) => [x.id, x.name] as const) : []);
    const [secrets, accounts] = await Promise.all([this.#secrets(profileId, deviceNames), d.accounts(profileId).catch(() => [] as Account[])]);
    return {
      profileId,
      madeAt,
      app: { name: d.app.name, version: d.app.version },
      server: {
        name: profile.name,
        host: profile.host,
        port: profile.port,
        username: profile.username,
        sshCommand: toShell(['ssh', '-p', String(profile.port), `${profile.username}@${profile.host}`]),
        hostKeys,
      },
      stackSaved: stack.saved,
      services: serviceAddresses(settings, profile.host, published).map((a) => ({ service: a.service, title: a.title, hostname: a.hostname, url: a.url, home: a.home })),
      signIn: signInGuide(settings),
      accounts,
      secrets,
      backup: this.#backup(profileId, settings, stack.resticImage),
      fallback: fallbackPart(settings, fallbackView),
    };
  }

  async #secrets(profileId: string, deviceNames: ReadonlyMap<string, string>): Promise<KitSecrets> {
    let names: string[];
    try {
      names = await this.#deps.secretNames(profileId);
    } catch (err) {
      return { kind: 'unavailable', keychainService: KEYCHAIN_SERVICE, reason: toErrorShape(err).userMessage };
    }
    const entries: KitSecret[] = [...names].sort().map((name) => ({
      name,
      what: describeSecret(name, deviceNames),
      keychain: { service: KEYCHAIN_SERVICE, account: keychainAccount(profileId, name) },
    }));
    return { kind: 'listed', keychainService: KEYCHAIN_SERVICE, entries };
  }

  #backup(profileId: string, settings: StackSettings, resticImage: string): KitBackup {
    const b = settings.modules.backup;
    if (!b.enabled) return { kind: 'off' };
    const password = { service: KEYCHAIN_SERVICE, account: keychainAccount(profileId, resticPasswordSecret) };
    return {
      kind: 'on',
      repository: b.repository,
      time: b.time,
      timezone: settings.timezone,
      keep: { daily: b.keepDaily, weekly: b.keepWeekly, monthly: b.keepMonthly },
      snapshotHost: backupHostname,
      password,
      folders: snapshotFolders(settings),
      steps: restoreSteps({
        settings,
        resticImage,
        project: this.#deps.project,
        passwordAt: `the keychain (service ${password.service}, account ${password.account}) — on the server it is also in ~/m2/current/env/backup.env, readable only by you`,
      }),
    };
  }
}

function fallbackPart(settings: StackSettings, view: FallbackView | { userMessage: string } | null): KitFallback {
  if (!settings.modules.wireguard.enabled || view === null) {
    return { kind: 'off', reason: 'The WireGuard outage fallback is not part of this stack: during a Cloudflare outage the services are reachable at home only.' };
  }
  if (!('devices' in view)) return { kind: 'off', reason: `The fallback’s settings could not be read: ${view.userMessage}` };
  const endpoint = view.endpoint.name ?? view.endpoint.lastKnownIp;
  const household = view.devices.filter((x) => x.kind === 'household');
  // From the saved settings, as the stack publishes them, not from the view: its ports come from the server's state,
  // which a kit made while the server is out of reach (the moment it is most needed) cannot read.
  const port = settings.modules.wireguard.port;
  const onLan = settings.publishAddress === '0.0.0.0';
  const web = [
    ...(onLan ? [{ service: 'Jellyfin', url: `http://${view.serverAddress}:${settings.modules.jellyfin.lanPort}` }] : []),
    ...(onLan && nextcloudOnLan(settings) ? [{ service: 'Nextcloud', url: `http://${view.serverAddress}:${settings.modules.nextcloud.lanPort}` }] : []),
  ];
  return {
    kind: 'on',
    endpoint,
    port,
    serverAddress: view.serverAddress,
    services: [...web, ...view.services.filter((s) => s.url.startsWith('ssh:'))],
    devices: view.devices.map((x) => ({ name: x.name, address: x.address, kind: x.kind })),
    steps: [
      household.length > 0
        ? 'Before an outage: each device below has the WireGuard app with its home tunnel imported (Remote access → the device → Show config or QR code).'
        : 'Before an outage: add each household device in M2 Companion (Remote access → Add device) and import its tunnel into the WireGuard app.',
      view.settings.autoSwitch
        ? 'When the services stop opening, M2 Companion turns the fallback on by itself once it has confirmed the outage.'
        : 'When the services stop opening, the admin turns the fallback on in M2 Companion (Remote access → Turn the fallback on).',
      `On each device: open the WireGuard app and activate the tunnel. It connects to ${endpoint ?? 'home'} on UDP port ${port}.`,
      web.length > 0
        ? `Then open the services at their tunnel addresses: ${web.map((s) => `${s.service} ${s.url}`).join(', ')}.`
        : `Then the server answers at ${view.serverAddress}.`,
      'When Cloudflare works again: deactivate the tunnel in the WireGuard app, and turn the fallback off in M2 Companion.',
    ],
  };
}
