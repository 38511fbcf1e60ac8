import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { run } from '../../scripts/lab/process';
import type * as Keyring from '@napi-rs/keyring';

// The keyring library is loaded only after the lab bus address is in process.env (libsecret/dbus read it at first use).
type KeyringModule = typeof Keyring;
let keyring: KeyringModule;
let env: NodeJS.ProcessEnv;

const SERVICE = 'm2-companion';
const profile = `lab-${randomBytes(4).toString('hex')}`;

/** What the Secret Service itself holds for an account, read with libsecret's CLI (not through @napi-rs/keyring). */
async function secretToolLookup(account: string): Promise<string | null> {
  try {
    // keyring-rs stores attributes service + username (+ target, application).
    return await run('secret-tool', ['lookup', 'service', SERVICE, 'username', account], { env, timeoutMs: 10_000 });
  } catch {
    return null; // secret-tool exits 1 when nothing matches
  }
}

beforeAll(async () => {
  let labEnv: Record<string, string>;
  try {
    ({ env: labEnv } = await ensureKeychain());
  } catch (err) {
    throw new Error(`keychain lab could not start (needs dbus-daemon, gnome-keyring-daemon, secret-tool): ${(err as Error).message}`, { cause: err });
  }
  Object.assign(process.env, labEnv);
  env = { ...process.env };
  keyring = await import('@napi-rs/keyring');
});

describe('lab keychain (gnome-keyring Secret Service via @napi-rs/keyring)', () => {
  it('stores, reads and deletes a secret under m2-companion / <profile>/<name>', () => {
    const account = `${profile}/cloudflare-token`;
    const entry = new keyring.Entry(SERVICE, account);
    expect(entry.getPassword()).toBeNull();
    entry.setPassword('s3cr3t-value');
    expect(new keyring.Entry(SERVICE, account).getPassword()).toBe('s3cr3t-value');
    entry.setPassword('rotated');
    expect(entry.getPassword()).toBe('rotated');
    expect(entry.deletePassword()).toBe(true);
    expect(new keyring.Entry(SERVICE, account).getPassword()).toBeNull();
    expect(entry.deletePassword()).toBe(false);
  });

  it('keeps unicode values intact', () => {
    const account = `${profile}/ünïcødé-名前`;
    const value = 'pässwörd 🔐 — 秘密 \u{1F600} ok';
    const entry = new keyring.Entry(SERVICE, account);
    entry.setPassword(value);
    expect(new keyring.Entry(SERVICE, account).getPassword()).toBe(value);
    entry.deletePassword();
  });

  it('really writes to the Secret Service (seen by secret-tool), not an in-memory or kernel-keyring fallback', async () => {
    const account = `${profile}/ssh-passphrase`;
    const value = `v-${randomBytes(8).toString('hex')}-ß`;
    const entry = new keyring.Entry(SERVICE, account);
    entry.setPassword(value);
    expect(await secretToolLookup(account)).toBe(value);
    // Pinned to the Secret Service store, the same credential is visible.
    expect(new keyring.Entry(SERVICE, account, { linux: { store: 'secret-service' } }).getPassword()).toBe(value);
    // Written by libsecret, read by @napi-rs/keyring.
    await run('secret-tool', ['store', '--label=m2 lab', 'service', SERVICE, 'username', `${account}-2`, 'target', 'default'], { env, input: 'from-secret-tool' });
    const other = new keyring.Entry(SERVICE, `${account}-2`);
    expect(other.getPassword()).toBe('from-secret-tool');
    expect(entry.deletePassword()).toBe(true);
    expect(other.deletePassword()).toBe(true);
    expect(await secretToolLookup(account)).toBeNull();
  });

  it('ensureKeychain is idempotent', async () => {
    const again = await ensureKeychain();
    expect(again.env.DBUS_SESSION_BUS_ADDRESS).toBe(process.env.DBUS_SESSION_BUS_ADDRESS);
  });
});
