import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCoreServices, createHandlers } from '../../electron/core/services';
import { createDispatcher } from '../../electron/core/ipc/dispatch';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import { createFallbackStore } from '../../electron/core/fallback/fallback-store';
import { laptopTunnelName } from '../../electron/core/fallback/fallback-service';
import { configFileName } from '../../electron/core/fallback/wg-config';
import { HostKeyStore } from '../../electron/core/ssh/host-keys';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { run } from '../../scripts/lab/process';
import { CloudflareSettings } from '../../electron/contract/cloudflare';
import type { StackSettingsView } from '../../electron/contract/stack';

const lab = inject('lab');

/**
 * Remove a server, add one of the same name: it starts clean. Real parts throughout: the lab's gnome-keyring (the
 * Secret Service, searched and deleted through @napi-rs/keyring), the lab sshd's password user (first contact, host
 * key confirmed, a generated key installed), and the app's own files in a fresh data folder.
 */
describe('removing a server removes what the app kept for it (lab keychain and sshd)', () => {
  let dataDir: string;
  let services: ReturnType<typeof createCoreServices>;
  let call: (channel: string, payload?: unknown) => Promise<unknown>;
  let vault: KeyringSecretStore;
  let authorizedKeys: string;
  let authorizedBefore: string | null;
  const password = readFileSync(lab.ssh.passwordUser.passwordFile, 'utf8').trim();
  // A name no other test uses, so this test's keychain entries are its own.
  const name = `Cleanup ${randomBytes(3).toString('hex')}`;
  const server = { host: lab.ssh.host, port: lab.ssh.port, username: lab.ssh.passwordUser.name, auth: { kind: 'password' } };
  const file = (...p: string[]): string => path.join(dataDir, ...p);

  /** Everything the app could hold for `id`, as this test can see it from outside the services. */
  const traces = async (id: string): Promise<Record<string, unknown>> => ({
    keychain: await vault.names(id),
    stackSettings: existsSync(file('stacks', `${id}.json`)),
    cloudflare: existsSync(file('cloudflare', `${id}.json`)),
    fallback: existsSync(file('fallback', `${id}.json`)),
    generatedKey: existsSync(file('keys', `${id}_ed25519`)),
    generatedPublicKey: existsSync(file('keys', `${id}_ed25519.pub`)),
    tunnelConfig: existsSync(file('fallback', 'tunnels', configFileName(laptopTunnelName(id)))),
    hostKey: (await new HostKeyStore(file('known-hosts.json')).judge(lab.ssh.host, lab.ssh.port, Buffer.from(lab.ssh.hostPublicKey.split(' ')[1] ?? '', 'base64'))).kind,
  });
  const clean = { keychain: [], stackSettings: false, cloudflare: false, fallback: false, generatedKey: false, generatedPublicKey: false, tunnelConfig: false, hostKey: 'unknown' };

  /** Add the server and sign in with its password, confirming the host key as the admin would. */
  const addAndConnect = async (): Promise<string> => {
    const { id } = (await call('profiles:save', { name, ...server })) as { id: string };
    const first = (await call('server:connect', { profileId: id, password })) as { kind: string; fingerprint: string };
    expect(first).toMatchObject({ kind: 'confirm-host-key', fingerprint: lab.ssh.hostKeyFingerprint });
    expect(await call('server:connect', { profileId: id, password, acceptFingerprint: first.fingerprint })).toMatchObject({ kind: 'connected' });
    return id;
  };

  beforeAll(async () => {
    Object.assign(process.env, (await ensureKeychain()).env);
    vault = new KeyringSecretStore();
    const home = (await run('getent', ['passwd', lab.ssh.passwordUser.name])).trim().split(':')[5] ?? '';
    authorizedKeys = path.join(home, '.ssh', 'authorized_keys');
    authorizedBefore = existsSync(authorizedKeys) ? readFileSync(authorizedKeys, 'utf8') : null;
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-profile-removal-'));
    services = createCoreServices(
      { dataDir, appInfo: { name: 'M2 Companion', version: '0', platform: 'linux', arch: 'x64', host: 'web' }, log: createLogger(() => {}), userKnownHosts: [], vault },
      () => {},
    );
    const dispatch = createDispatcher(createHandlers(services), { isTrustedSender: () => true, log: createLogger(() => {}) });
    call = async (channel, payload) => {
      const r = await dispatch({ url: 'test' }, channel, payload);
      if (!r.ok) throw Object.assign(new Error(r.error.userMessage), r.error);
      return r.value;
    };
  });

  afterAll(async () => {
    await services?.servers.closeAll();
    // The generated keys this test installed leave the lab server with it.
    if (authorizedKeys) {
      if (authorizedBefore === null) rmSync(authorizedKeys, { force: true });
      else writeFileSync(authorizedKeys, authorizedBefore);
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a server with secrets, settings, a confirmed host key and a generated key leaves nothing behind, and its namesake starts clean', async () => {
    const id = await addAndConnect();
    // What setup keeps as it goes: a generated key (password on first contact), stack settings and the stack's
    // generated secrets, a remembered passphrase, Cloudflare and fallback files, a fallback device's keys.
    const installed = (await call('server:install-key', { profileId: id })) as { keyPath: string; installed: string };
    expect(installed).toMatchObject({ keyPath: file('keys', `${id}_ed25519`), installed: 'added' });
    const view = (await call('stack:settings', { profileId: id })) as StackSettingsView;
    await call('stack:save-settings', { profileId: id, settings: view.settings });
    await services.stack.secrets.ensure(id, [{ name: 'nextcloud.admin-password', kind: 'password', generated: true }]);
    await vault.set(id, 'ssh-key-passphrase', new Secret('pässphrase with "quotes" and $(touch /tmp/x)'));
    await vault.set(id, 'fallback.device-0a1b.private-key', new Secret(randomBytes(32).toString('base64')));
    await new CloudflareStore(file('cloudflare')).update(id, (f) => void (f.settings = CloudflareSettings.parse({ accountId: 'a'.repeat(32), zoneId: 'b'.repeat(32), zoneName: 'example.com' })));
    await createFallbackStore(file('fallback')).update(id, (f) => void (f.lastKnownIp = '203.0.113.7'));
    // This computer's tunnel config as the fallback leaves it while the tunnel is down by hand (it holds a private key).
    mkdirSync(file('fallback', 'tunnels'), { recursive: true, mode: 0o700 });
    writeFileSync(file('fallback', 'tunnels', configFileName(laptopTunnelName(id))), '[Interface]\nPrivateKey = x\n[Peer]\n', { mode: 0o600 });

    const before = await traces(id);
    expect(before).toEqual({
      keychain: ['fallback.device-0a1b.private-key', 'nextcloud.admin-password', 'ssh-key-passphrase'],
      stackSettings: true,
      cloudflare: true,
      fallback: true,
      generatedKey: true,
      generatedPublicKey: true,
      tunnelConfig: true,
      hostKey: 'trusted',
    });

    expect(await call('profiles:remove', { id })).toEqual({ removed: true });
    expect(await call('profiles:list')).toEqual([]);
    expect(await call('server:state', { profileId: id })).toEqual({ kind: 'idle' });
    expect(await traces(id)).toEqual(clean);

    // A new server of the same name gets the same id and none of the old one's things.
    const again = (await call('profiles:save', { name, ...server })) as { id: string; auth: unknown };
    expect(again.id).toBe(id);
    expect(again.auth).toEqual({ kind: 'password' });
    expect(await traces(id)).toEqual(clean);
    expect(((await call('stack:settings', { profileId: id })) as StackSettingsView).saved).toBe(false);
    // First contact again: the host key is asked for, and a key is generated anew (the old file is not in the way).
    expect(await call('server:connect', { profileId: id, password })).toMatchObject({ kind: 'confirm-host-key', fingerprint: lab.ssh.hostKeyFingerprint });
    expect(await call('server:connect', { profileId: id, password, acceptFingerprint: lab.ssh.hostKeyFingerprint })).toMatchObject({ kind: 'connected' });
    expect(await call('server:install-key', { profileId: id })).toMatchObject({ installed: 'added' });

    await call('profiles:remove', { id });
    expect(await traces(id)).toEqual(clean);
  });

  it('a host key that another saved server still uses stays confirmed for it', async () => {
    const id = await addAndConnect();
    const { id: twin } = (await call('profiles:save', { name: `${name} twin`, ...server })) as { id: string };
    await call('profiles:remove', { id });
    // The twin signs in without being asked about the key the admin confirmed for the same address.
    expect(await call('server:connect', { profileId: twin, password })).toMatchObject({ kind: 'connected' });
    await call('profiles:remove', { id: twin });
    expect(await traces(twin)).toEqual(clean);
  });

  it('removing a server that is not there says so and changes nothing', async () => {
    await expect(call('profiles:remove', { id: 'no-such-server' })).rejects.toMatchObject({ code: 'profile.not-found', field: 'id' });
  });
});
