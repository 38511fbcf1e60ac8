import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { repoRoot } from '../../scripts/lab/paths';
import { run } from '../../scripts/lab/process';

let env: NodeJS.ProcessEnv;
const store = new KeyringSecretStore();
const profile = `lab-${randomBytes(4).toString('hex')}`;
const used: string[] = [];

/** What the Secret Service itself holds for an account, read with libsecret's CLI, not through the app. */
async function secretToolLookup(account: string): Promise<string | null> {
  try {
    return await run('secret-tool', ['lookup', 'service', 'm2-companion', 'username', account], { env, timeoutMs: 10_000 });
  } catch {
    return null; // secret-tool exits 1 when nothing matches
  }
}

beforeAll(async () => {
  const lab = await ensureKeychain();
  Object.assign(process.env, lab.env);
  env = { ...process.env };
});

afterAll(async () => {
  for (const name of used) await store.delete(profile, name).catch(() => undefined);
});

describe('KeyringSecretStore against the lab keychain (gnome-keyring Secret Service)', () => {
  it('round-trips a secret, and secret-tool sees it under m2-companion / <profile>/<name>', async () => {
    used.push('cloudflare-token');
    expect(await store.get(profile, 'cloudflare-token')).toBeUndefined();
    await store.set(profile, 'cloudflare-token', new Secret('cf-token-1'));
    const got = await store.get(profile, 'cloudflare-token');
    expect(got).toBeInstanceOf(Secret);
    expect(got?.reveal()).toBe('cf-token-1');
    expect(await secretToolLookup(`${profile}/cloudflare-token`)).toBe('cf-token-1');
    await store.set(profile, 'cloudflare-token', new Secret('cf-token-2'));
    expect((await store.get(profile, 'cloudflare-token'))?.reveal()).toBe('cf-token-2');
    expect(await secretToolLookup(`${profile}/cloudflare-token`)).toBe('cf-token-2');
  });

  it('keeps unicode, quotes and line breaks in values intact', async () => {
    used.push('nextcloud.admin-password');
    const value = 'pässwörd 🔐 — 秘密 "quoted" \'single\' $(id)\nsecond line';
    await store.set(profile, 'nextcloud.admin-password', new Secret(value));
    expect((await store.get(profile, 'nextcloud.admin-password'))?.reveal()).toBe(value);
    expect(await secretToolLookup(`${profile}/nextcloud.admin-password`)).toBe(value);
  });

  it('deletes: true when something was there, false after, and secret-tool no longer finds it', async () => {
    used.push('ssh-key-passphrase');
    await store.set(profile, 'ssh-key-passphrase', new Secret('pp'));
    expect(await store.delete(profile, 'ssh-key-passphrase')).toBe(true);
    expect(await store.delete(profile, 'ssh-key-passphrase')).toBe(false);
    expect(await store.get(profile, 'ssh-key-passphrase')).toBeUndefined();
    expect(await secretToolLookup(`${profile}/ssh-key-passphrase`)).toBeNull();
  });

  it('keeps profiles apart', async () => {
    used.push('shared-name');
    const other = `${profile}-other`;
    await store.set(profile, 'shared-name', new Secret('mine'));
    expect(await store.get(other, 'shared-name')).toBeUndefined();
    expect(await store.delete(other, 'shared-name')).toBe(false);
    expect((await store.get(profile, 'shared-name'))?.reveal()).toBe('mine');
  });

  it('refuses a profile id with a slash or a newline, and writes nothing', async () => {
    for (const bad of [`${profile}/x`, `${profile}\nx`]) {
      await expect(store.set(bad, 'token', new Secret('v'))).rejects.toMatchObject({ code: 'internal' });
    }
    await expect(store.set(profile, 'x/token', new Secret('v'))).rejects.toMatchObject({ code: 'internal' });
    expect(await secretToolLookup(`${profile}/x/token`)).toBeNull();
    expect(await secretToolLookup(`${profile}\nx/token`)).toBeNull();
  });

  it('says no keychain is available when the Secret Service cannot be reached, instead of falling back', async () => {
    // A separate process: libdbus reads the bus address once per process.
    const script = `
      import { KeyringSecretStore } from './electron/core/secrets/keychain.ts';
      import { Secret } from './electron/core/secrets/secret.ts';
      const store = new KeyringSecretStore();
      const out = {};
      for (const [op, fn] of [['set', () => store.set('probe', 'token', new Secret('v'))], ['get', () => store.get('probe', 'token')]]) {
        try { await fn(); out[op] = 'ok'; } catch (err) { out[op] = { code: err.code, userMessage: err.userMessage, hint: err.hint }; }
      }
      process.stdout.write(JSON.stringify(out));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/m2-no-bus' },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as Record<string, { code: string; userMessage: string; hint: string }>;
    for (const op of ['set', 'get']) {
      expect(out[op]).toMatchObject({ code: 'secrets.unavailable', userMessage: expect.stringMatching(/^No keychain is available/), hint: expect.stringMatching(/GNOME Keyring or KWallet/) });
    }
  });
});
