import { describe, expect, it } from 'vitest';
import { calls } from '../../contract/contract';
import type { FallbackView } from '../../contract/fallback';
import type { ServerProfile } from '../../contract/profiles';
import { RecoveryKit } from '../../contract/recovery';
import { StackSettings } from '../../contract/stack';
import { AccountsService } from '../accounts/accounts-service';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { KEYCHAIN_SERVICE, MemorySecretStore, keychainAccount } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { StackSecrets } from '../stack/secrets';
import { RecoveryKitService, type RecoveryKitDeps } from './recovery-kit';
import { restoreSteps, restoreTarget } from './restore-steps';

const PROFILE = 'home-server';
const HOSTILE = `<img src=x onerror="alert(1)"> $(reboot) '; rm -rf / #\u202e ünïcødé`;

const profile = (over: Partial<ServerProfile> = {}): ServerProfile => ({
  id: PROFILE,
  name: 'Home server',
  host: '192.168.1.20',
  port: 2222,
  username: 'admin',
  auth: { kind: 'agent' },
  createdAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:00.000Z',
  ...over,
});

const settings = (over: Record<string, unknown> = {}): StackSettings =>
  StackSettings.parse({
    dataRoot: '/srv/m2',
    timezone: 'Europe/Berlin',
    hostnames: { jellyfin: 'media.family.example', nextcloud: 'cloud.family.example', authentik: 'auth.family.example' },
    modules: { backup: { repository: '/mnt/backup disk/restic', time: '02:15' }, wireguard: { enabled: true, port: 51999 } },
    ...over,
  });

const fallbackView = (devices: Array<{ id: string; name: string; kind: 'laptop' | 'household'; address: string }>): FallbackView => ({
  profileId: PROFILE,
  ready: true,
  notReadyReason: null,
  settings: { autoSwitch: false, subnet: '10.13.13.0/24', endpointName: 'home.family.example', sshAddress: '', allowLan: false, lanCidr: '' },
  mode: { kind: 'off', since: null },
  endpoint: { name: 'home.family.example', lastKnownIp: '203.0.113.7', lastKnownAt: null, port: 51999, warning: null, reachedFromOutside: null },
  serverAddress: '10.13.13.1',
  services: [
    { service: 'Jellyfin', url: 'http://10.13.13.1:8096' },
    { service: 'Nextcloud', url: 'http://10.13.13.1:8080' },
    { service: 'SSH (this app)', url: 'ssh://10.13.13.1' },
  ],
  devices: devices.map((d) => ({ ...d, publicKey: 'pk', allowedIps: ['10.13.13.1/32'], createdAt: '2026-12-01T10:00:00.000Z', lastHandshake: null, rxBytes: null, txBytes: null })),
  laptop: { method: 'none', state: 'down', detail: '', sshOverWireguard: false },
  outage: null,
  lanWarning: null,
  unavailable: [],
});

/** Real-looking values in a memory keychain: every one must stay out of the kit. */
const VALUES: Record<string, string> = {
  'jellyfin.admin-password': 'JfAdminPw-VALUE-0001xyz',
  'jellyfin.api-key': '0123456789abcdef0123456789abcdef',
  'nextcloud.admin-password': 'NcAdminPw-VALUE-0002xyz',
  'nextcloud.db-password': 'NcDbPw-VALUE-0003xyz',
  'nextcloud.redis-password': 'NcRedisPw-VALUE-0004xyz',
  'nextcloud.oidc-secret': 'NcOidc-VALUE-0005xyz',
  'authentik.bootstrap-password': 'AkBootPw-VALUE-0006xyz',
  'authentik.bootstrap-token': 'AkBootTok-VALUE-0007xyz',
  'authentik.secret-key': 'AkSecretKey-VALUE-0008xyz',
  'authentik.db-password': 'AkDbPw-VALUE-0009xyz',
  'backup.restic-password': 'ResticPw-VALUE-0010xyz',
  'cloudflare.api-token': 'CfApiToken-VALUE-0011xyz',
  'cloudflared.tunnel-token': 'eyJhIjoiVHVubmVsVG9rZW4tVkFMVUUtMDAxMiJ9',
  'fallback.server-key': 'c2VydmVyLXByaXZhdGUta2V5LVZBTFVFLTAwMTM=',
  'fallback.device.abcd1234.key': 'ZGV2aWNlLXByaXZhdGUta2V5LVZBTFVFLTAwMTQ=',
  'fallback.device.abcd1234.psk': 'ZGV2aWNlLXByZXNoYXJlZC1WQUxVRS0wMDE1',
};

async function setup(opts: { profile?: ServerProfile; settings?: StackSettings; devices?: Parameters<typeof fallbackView>[0]; noKeychain?: boolean; disconnected?: boolean } = {}) {
  const store = new MemorySecretStore();
  for (const [name, v] of Object.entries(VALUES)) await store.set(PROFILE, name, new Secret(v));
  const p = opts.profile ?? profile();
  const s = opts.settings ?? settings();
  const accounts = new AccountsService({
    settings: async () => s,
    serverHost: async (id) => (id === PROFILE ? p.host : undefined),
    published: async () => ['media.family.example'],
    secrets: new StackSecrets(store),
    log: silentLogger,
  });
  const deps: RecoveryKitDeps = {
    app: { name: 'M2 Companion', version: '0.9.1' },
    now: () => new Date('2026-12-04T20:30:00.000Z'),
    profile: async (id) => (id === PROFILE ? p : undefined),
    hostKeys: async (host, port) => (host === p.host && port === p.port ? [{ keyType: 'ssh-ed25519', fingerprint: 'SHA256:8w0kV2ZfYl2mO3JxYv1q0u0o7ZL1cHhQqk3y9m2m1bQ' }] : []),
    stack: async () => ({ settings: s, saved: true, resticImage: 'restic/restic:0.19.1' }),
    project: 'm2',
    published: async () => ['media.family.example'],
    accounts: (id) => accounts.list(id),
    secretNames: async (id) => {
      if (opts.noKeychain) throw new AppError('secrets.unavailable', 'No keychain is available: M2 Companion could not reach this computer’s keychain.');
      return store.names(id);
    },
    fallback: async () => {
      const view = fallbackView(opts.devices ?? [{ id: 'abcd1234', name: 'Anna’s phone', kind: 'household', address: '10.13.13.3' }]);
      // Out of reach, the fallback's view knows no service ports and falls back to the default WireGuard port.
      return opts.disconnected ? { ...view, endpoint: { ...view.endpoint, port: 51820 }, services: view.services.filter((s) => s.url.startsWith('ssh:')) } : view;
    },
  };
  return { service: new RecoveryKitService(deps), store };
}

describe('the household recovery kit', () => {
  it('names every secret the keychain holds for the server by service and account, and carries none of their values', async () => {
    const { service, store } = await setup();
    const kit = await service.kit(PROFILE);
    const text = JSON.stringify(kit);
    // The keychain really holds the values the kit is made next to.
    for (const [name, value] of Object.entries(VALUES)) {
      expect((await store.get(PROFILE, name))?.reveal(), name).toBe(value);
      expect(text.includes(value), `${name}'s value in the kit`).toBe(false);
      expect(text.includes(keychainAccount(PROFILE, name)), `${name}'s keychain account in the kit`).toBe(true);
    }
    expect(kit.secrets.kind).toBe('listed');
    if (kit.secrets.kind !== 'listed') return;
    expect(kit.secrets.entries.map((e) => e.name)).toEqual(Object.keys(VALUES).sort());
    for (const e of kit.secrets.entries) expect(e.keychain).toEqual({ service: KEYCHAIN_SERVICE, account: `${PROFILE}/${e.name}` });
    expect(kit.secrets.entries.find((e) => e.name === 'fallback.device.abcd1234.key')?.what).toBe('WireGuard private key of “Anna’s phone”');
    expect(kit.secrets.entries.find((e) => e.name === 'backup.restic-password')?.what).toBe('Backup repository (restic) password');
    // The contract's own schema accepts it: what main sends is what the page gets.
    expect(calls['recovery:kit'].output.parse(kit)).toEqual(kit);
  });

  it('says where the server is, how to sign in and which host key to expect, with the app version and when it was made', async () => {
    const { service } = await setup();
    const kit = RecoveryKit.parse(await service.kit(PROFILE));
    expect(kit.server).toEqual({
      name: 'Home server',
      host: '192.168.1.20',
      port: 2222,
      username: 'admin',
      sshCommand: 'ssh -p 2222 admin@192.168.1.20',
      hostKeys: [{ keyType: 'ssh-ed25519', fingerprint: 'SHA256:8w0kV2ZfYl2mO3JxYv1q0u0o7ZL1cHhQqk3y9m2m1bQ' }],
    });
    expect(kit.app).toEqual({ name: 'M2 Companion', version: '0.9.1' });
    expect(kit.madeAt).toBe('2026-12-04T20:30:00.000Z');
  });

  it('lists each service with its published https address and its home-network address, and the accounts with their keychain entries', async () => {
    const { service } = await setup();
    const kit = await service.kit(PROFILE);
    expect(kit.services).toEqual([
      { service: 'jellyfin', title: 'Jellyfin', hostname: 'media.family.example', url: 'https://media.family.example/', home: 'http://192.168.1.20:8096/' },
      { service: 'nextcloud', title: 'Nextcloud', hostname: 'cloud.family.example', url: null, home: null },
      { service: 'authentik', title: 'Authentik', hostname: 'auth.family.example', url: null, home: null },
    ]);
    expect(kit.accounts.map((a) => [a.id, a.username, a.keychain.account])).toEqual([
      ['jellyfin-admin', 'admin', `${PROFILE}/jellyfin.admin-password`],
      ['nextcloud-admin', 'admin', `${PROFILE}/nextcloud.admin-password`],
      ['authentik-admin', 'akadmin', `${PROFILE}/authentik.bootstrap-password`],
    ]);
  });

  it('writes the restore with the real repository path, quoted for the shell, the schedule, and where the password is kept', async () => {
    const { service } = await setup();
    const kit = await service.kit(PROFILE);
    expect(kit.backup.kind).toBe('on');
    if (kit.backup.kind !== 'on') return;
    expect(kit.backup).toMatchObject({
      repository: '/mnt/backup disk/restic',
      time: '02:15',
      timezone: 'Europe/Berlin',
      keep: { daily: 7, weekly: 4, monthly: 6 },
      snapshotHost: 'm2-server',
      password: { service: 'm2-companion', account: `${PROFILE}/backup.restic-password` },
    });
    const commands = kit.backup.steps.map((s) => s.command);
    expect(commands[0]).toBe("sudo docker run --rm -it -v '/mnt/backup disk/restic:/repo' -e RESTIC_REPOSITORY=/repo restic/restic:0.19.1 snapshots --host m2-server");
    expect(commands[1]).toBe(
      "sudo docker run --rm -it -v '/mnt/backup disk/restic:/repo' -v /srv/m2-restore:/restore -e RESTIC_REPOSITORY=/repo restic/restic:0.19.1 restore latest --host m2-server --target /restore",
    );
    expect(kit.backup.steps[0]?.detail).toContain(`account ${PROFILE}/backup.restic-password`);
    expect(commands).toContain('sudo docker compose --project-name m2 stop');
    expect(commands).toContain('sudo rm -rf -- /srv/m2/jellyfin/config && sudo cp -a -- /srv/m2-restore/source/jellyfin-config /srv/m2/jellyfin/config');
    expect(commands).toContain('sudo docker compose --project-name m2 exec -T nextcloud-db psql -U nextcloud -d nextcloud < /srv/m2-restore/m2/dumps/nextcloud.sql');
    expect(commands.at(-2)).toBe('sudo docker compose --project-name m2 start');
    expect(kit.backup.folders).toContainEqual({ inSnapshot: '/source/jellyfin-config', onServer: '/srv/m2/jellyfin/config' });
  });

  it('a data folder with quotes and spaces prints as one argument, never as shell syntax', () => {
    const s = settings({ dataRoot: `/srv/it's $(reboot) m2` });
    const steps = restoreSteps({ settings: s, resticImage: 'restic/restic:0.19.1', project: 'm2', passwordAt: 'the keychain' });
    expect(restoreTarget(s)).toBe(`/srv/it's $(reboot) m2-restore`);
    const putBack = steps.find((x) => x.title.startsWith('Put back'))?.command;
    expect(putBack).toBe(
      `sudo rm -rf -- '/srv/it'\\''s $(reboot) m2/jellyfin/config' && sudo cp -a -- '/srv/it'\\''s $(reboot) m2-restore/source/jellyfin-config' '/srv/it'\\''s $(reboot) m2/jellyfin/config'`,
    );
  });

  it('says how household devices connect during an outage: endpoint and port, the devices by name and address, the tunnel addresses', async () => {
    const { service } = await setup({ devices: [{ id: 'lap00001', name: 'This computer', kind: 'laptop', address: '10.13.13.2' }, { id: 'abcd1234', name: 'Anna’s phone', kind: 'household', address: '10.13.13.3' }] });
    const kit = await service.kit(PROFILE);
    expect(kit.fallback.kind).toBe('on');
    if (kit.fallback.kind !== 'on') return;
    expect(kit.fallback).toMatchObject({ endpoint: 'home.family.example', port: 51999, serverAddress: '10.13.13.1' });
    expect(kit.fallback.devices).toEqual([
      { name: 'This computer', address: '10.13.13.2', kind: 'laptop' },
      { name: 'Anna’s phone', address: '10.13.13.3', kind: 'household' },
    ]);
    const steps = kit.fallback.steps.join('\n');
    expect(steps).toContain('open the WireGuard app and activate the tunnel');
    expect(steps).toContain('home.family.example on UDP port 51999');
    expect(steps).toContain('Jellyfin http://10.13.13.1:8096');
    expect(steps).toContain('Nextcloud http://10.13.13.1:8080');
  });

  it('made while the server is out of reach, the outage part still has the tunnel addresses and the configured port', async () => {
    const { service } = await setup({ disconnected: true });
    const kit = await service.kit(PROFILE);
    expect(kit.fallback.kind === 'on' && kit.fallback.port).toBe(51999);
    expect(kit.fallback.kind === 'on' && kit.fallback.services).toEqual([
      { service: 'Jellyfin', url: 'http://10.13.13.1:8096' },
      { service: 'Nextcloud', url: 'http://10.13.13.1:8080' },
      { service: 'SSH (this app)', url: 'ssh://10.13.13.1' },
    ]);
  });

  it('without the fallback module or the backup, the kit says so instead of giving steps that cannot work', async () => {
    const { service } = await setup({ settings: settings({ modules: { backup: { enabled: false }, wireguard: { enabled: false } } }) });
    const kit = await service.kit(PROFILE);
    expect(kit.backup).toEqual({ kind: 'off' });
    expect(kit.fallback.kind).toBe('off');
  });

  it('hostile server and device names are carried as text, exactly as typed', async () => {
    const { service } = await setup({ profile: profile({ name: HOSTILE }), devices: [{ id: 'abcd1234', name: HOSTILE.slice(0, 40), kind: 'household', address: '10.13.13.3' }] });
    const kit = await service.kit(PROFILE);
    expect(kit.server.name).toBe(HOSTILE);
    expect(kit.fallback.kind === 'on' && kit.fallback.devices[0]?.name).toBe(HOSTILE.slice(0, 40));
  });

  it('with no keychain on this computer the kit still comes, and says the secrets could not be listed', async () => {
    const { service } = await setup({ noKeychain: true });
    const kit = await service.kit(PROFILE);
    expect(kit.secrets).toEqual({ kind: 'unavailable', keychainService: 'm2-companion', reason: 'No keychain is available: M2 Companion could not reach this computer’s keychain.' });
  });

  it('a server that is not saved is refused with a message that names the server', async () => {
    const { service } = await setup();
    await expect(service.kit('someone-else')).rejects.toMatchObject({ code: 'profile.not-found', userMessage: expect.stringMatching(/^Server:/) });
  });
});
