import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RecoveryKit } from '../../../electron/contract/recovery';
import { RecoveryKitSheet, groupSteps, secretRows } from './RecoveryKitSheet';

const HOSTILE = `<img src=x onerror="alert(1)"><script>alert(2)</script>$(reboot) '; rm -rf / #`;
const HOSTILE_DEVICE = `<b onclick=alert(3)>Anna</b>`;

const kit = (over: Partial<RecoveryKit> = {}): RecoveryKit =>
  RecoveryKit.parse({
    profileId: 'home-server',
    madeAt: '2026-12-04T20:30:00.000Z',
    app: { name: 'M2 Companion', version: '0.9.1' },
    server: { name: HOSTILE, host: '192.168.1.20', port: 22, username: 'admin', sshCommand: 'ssh -p 22 admin@192.168.1.20', hostKeys: [{ keyType: 'ssh-ed25519', fingerprint: 'SHA256:abc/def+ghi' }] },
    stackSaved: true,
    services: [{ service: 'jellyfin', title: 'Jellyfin', hostname: 'media.example.test', url: 'https://media.example.test/', home: 'http://192.168.1.20:8096/' }],
    signIn: [{ service: 'nextcloud', title: 'Nextcloud', how: `On https://cloud.example.test/ choose “Log in with authentik” ${HOSTILE}` }],
    accounts: [
      {
        id: 'jellyfin-admin',
        service: 'jellyfin',
        title: 'Jellyfin',
        role: 'Administrator',
        username: 'admin',
        signIn: { kind: 'published', url: 'https://media.example.test/' },
        passwordSet: true,
        keychain: { service: 'm2-companion', account: 'home-server/jellyfin.admin-password' },
      },
    ],
    secrets: { kind: 'listed', keychainService: 'm2-companion', entries: [{ name: 'backup.restic-password', what: 'Backup repository (restic) password', keychain: { service: 'm2-companion', account: 'home-server/backup.restic-password' } }] },
    backup: {
      kind: 'on',
      repository: '/srv/m2-backup/restic',
      time: '03:30',
      timezone: 'UTC',
      keep: { daily: 7, weekly: 4, monthly: 6 },
      snapshotHost: 'm2-server',
      password: { service: 'm2-companion', account: 'home-server/backup.restic-password' },
      folders: [],
      steps: [{ title: 'List the snapshots', detail: null, command: `sudo docker run --rm -it -v '/srv/<x>:/repo' restic/restic:0.19.1 snapshots` }],
    },
    fallback: {
      kind: 'on',
      endpoint: 'home.example.test',
      port: 51820,
      serverAddress: '10.13.13.1',
      services: [{ service: 'Jellyfin', url: 'http://10.13.13.1:8096' }],
      devices: [{ name: HOSTILE_DEVICE, address: '10.13.13.3', kind: 'household' }],
      steps: ['On each device: open the WireGuard app and activate the tunnel.'],
    },
    ...over,
  });

describe('the recovery kit sheet', () => {
  it('prints hostile server and device names as text: no element, handler or script comes from them', () => {
    const html = renderToStaticMarkup(<RecoveryKitSheet kit={kit()} />);
    expect(html).not.toMatch(/<(img|script|b)\b/i);
    // No tag carries an event handler attribute.
    expect(html).not.toMatch(/<[^>]*\son\w+=/i);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html).toContain('&lt;b onclick=alert(3)&gt;Anna&lt;/b&gt;');
    expect(html).toContain('&lt;x&gt;:/repo');
  });

  it('shows the fingerprint, the service links, the keychain locations, the restore and the outage steps', () => {
    const html = renderToStaticMarkup(<RecoveryKitSheet kit={kit()} />);
    expect(html).toContain('SHA256:abc/def+ghi');
    expect(html).toContain('href="https://media.example.test/"');
    expect(html).toContain('href="http://192.168.1.20:8096/"');
    expect(html).toContain('<code>home-server/</code> followed by the name below');
    expect(html).toContain('<code>backup.restic-password</code>');
    expect(html).toContain('/srv/m2-backup/restic');
    expect(html).toContain('open the WireGuard app and activate the tunnel');
    expect(html).toContain('http://10.13.13.1:8096');
    expect(html).toContain('M2 Companion 0.9.1');
    expect(html).toContain('<h3 id="kit-sign-in">Signing in</h3>');
    // One paragraph per service across the column (not a label column's width).
    expect(html).toContain('<li><strong>Nextcloud</strong>: On https://cloud.example.test/ choose “Log in with authentik” &lt;img');
  });

  it('says when no host key is on record and the keychain could not be read, instead of printing an empty list', () => {
    const html = renderToStaticMarkup(
      <RecoveryKitSheet
        kit={kit({
          server: { name: 'Home', host: 'h', port: 22, username: 'u', sshCommand: 'ssh -p 22 u@h', hostKeys: [] },
          secrets: { kind: 'unavailable', keychainService: 'm2-companion', reason: 'No keychain is available.' },
        })}
      />,
    );
    expect(html).toContain('No host key is on record yet');
    expect(html).toContain('The keychain could not be read');
  });

  it('puts consecutive folder steps that share their explanation under one step, every command kept in order', () => {
    const detail = 'Replaces the folder with the snapshot’s copy (owners and modes kept).';
    const steps = [
      { title: 'Stop the services', detail: null, command: 'sudo docker compose stop' },
      { title: 'Put back /srv/m2/data/jellyfin/config', detail, command: 'cp a' },
      { title: 'Put back /srv/m2/data/nextcloud/html', detail, command: 'cp b' },
      { title: 'Put back /srv/m2/data/authentik/data', detail, command: 'cp c' },
      { title: 'Start Nextcloud’s database alone', detail: null, command: 'start db' },
      { title: 'Put back /srv/other', detail: 'Another explanation.', command: 'cp d' },
    ];
    expect(groupSteps(steps)).toEqual([
      { title: 'Stop the services', detail: null, commands: ['sudo docker compose stop'] },
      { title: 'Put back each folder', detail, commands: ['cp a', 'cp b', 'cp c'] },
      { title: 'Start Nextcloud’s database alone', detail: null, commands: ['start db'] },
      { title: 'Put back /srv/other', detail: 'Another explanation.', commands: ['cp d'] },
    ]);
    // One folder step stays as it was, with its own title.
    expect(groupSteps(steps.slice(0, 2))[1]).toEqual({ title: 'Put back /srv/m2/data/jellyfin/config', detail, commands: ['cp a'] });
  });

  it('names the server’s keychain prefix once and each account by the rest of its name', () => {
    const html = renderToStaticMarkup(<RecoveryKitSheet kit={kit()} />);
    expect(html).toContain('each account is <code>home-server/</code> followed by the name below');
    expect(html).toMatch(/<td><code>backup\.restic-password<\/code><\/td>/);
    expect(html).toMatch(/<td class="kit-screen-only"><code>jellyfin\.admin-password<\/code><\/td>/);
  });

  it('puts a device’s private and preshared key on one row naming both accounts, and every other secret on its own', () => {
    const entry = (name: string, what: string) => ({ name, what, keychain: { account: `home-server/${name}` } });
    const rows = secretRows(
      [
        entry('backup.restic-password', 'Backup repository (restic) password'),
        entry('fallback.device.ab12.key', 'WireGuard private key of “Anna’s phone”'),
        entry('fallback.device.ab12.psk', 'WireGuard preshared key of “Anna’s phone”'),
        entry('fallback.device.cd34.psk', 'WireGuard preshared key of “a removed device”'),
        entry('fallback.server-key', 'WireGuard private key of the server'),
      ],
      'home-server/',
    );
    expect(rows).toEqual([
      { key: 'backup.restic-password', name: 'Backup repository (restic) password', code: 'backup.restic-password' },
      { key: 'fallback.device.ab12.key', name: 'WireGuard private and preshared keys of “Anna’s phone”', code: 'fallback.device.ab12.key · .psk' },
      // Alone, a key keeps its own row.
      { key: 'fallback.device.cd34.psk', name: 'WireGuard preshared key of “a removed device”', code: 'fallback.device.cd34.psk' },
      { key: 'fallback.server-key', name: 'WireGuard private key of the server', code: 'fallback.server-key' },
    ]);
  });
});
