import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { classifyKeyringError, keychainAccount, KeyringSecretStore, MemorySecretStore, type KeyringEntry } from './keychain';
import { Secret } from './secret';

const profileId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/);
const secretName = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,63}$/);

/** A keychain in a Map, behind the same entry interface @napi-rs/keyring's AsyncEntry offers. */
function fakeKeychain(fail?: () => never): { entries: Map<string, string>; created: string[]; store: KeyringSecretStore } {
  const entries = new Map<string, string>();
  const created: string[] = [];
  const store = new KeyringSecretStore({
    createEntry: (service, account): KeyringEntry => {
      created.push(`${service} ${account}`);
      const key = `${service} ${account}`;
      return {
        getPassword: () => (fail ? Promise.reject(fail()) : Promise.resolve(entries.get(key) ?? null)),
        setPassword: (p) => (fail ? Promise.reject(fail()) : (entries.set(key, p), Promise.resolve())),
        deleteCredential: () => (fail ? Promise.reject(fail()) : Promise.resolve(entries.delete(key))),
      };
    },
  });
  return { entries, created, store };
}

describe('keychain accounts', () => {
  it('is <profile>/<name> under the m2-companion service', async () => {
    expect(keychainAccount('home-server', 'cloudflare-token')).toBe('home-server/cloudflare-token');
    const { created, store } = fakeKeychain();
    await store.set('home', 'nextcloud.admin-password', new Secret('x'));
    expect(created).toEqual(['m2-companion home/nextcloud.admin-password']);
  });

  it('maps every valid (profile, name) pair to its own account, and the account splits back into the same pair', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(profileId, secretName, (p, n) => {
        const account = keychainAccount(p, n);
        const slash = account.indexOf('/');
        expect([account.slice(0, slash), account.slice(slash + 1)]).toEqual([p, n]);
        expect(account.split('/')).toHaveLength(2);
      }),
    );
  });

  it.each([
    ['a profile id with a slash', 'home/evil', 'token'],
    ['a profile id with a newline', 'home\nevil', 'token'],
    ['an empty profile id', '', 'token'],
    ['an upper-case profile id', 'Home', 'token'],
    ['a name with a slash', 'home', 'a/b'],
    ['a name starting with a dot', 'home', '.token'],
    ['a name with a newline', 'home', 'token\n'],
    ['a name with a space', 'home', 'api token'],
    ['an overlong name', 'home', 'a'.repeat(65)],
  ])('refuses %s before touching the keychain', async (_, p, n) => {
    const { created, store } = fakeKeychain();
    expect(() => keychainAccount(p, n)).toThrow(AppError);
    await expect(store.set(p, n, new Secret('v'))).rejects.toMatchObject({ code: 'internal' });
    await expect(store.get(p, n)).rejects.toMatchObject({ code: 'internal' });
    await expect(store.delete(p, n)).rejects.toMatchObject({ code: 'internal' });
    expect(created).toEqual([]);
  });
});

describe('KeyringSecretStore', () => {
  it('stores, reads and deletes through the keychain entry, returning Secrets', async () => {
    const { entries, store } = fakeKeychain();
    expect(await store.get('home', 'token')).toBeUndefined();
    await store.set('home', 'token', new Secret('s3cr3t'));
    expect(entries.get('m2-companion home/token')).toBe('s3cr3t');
    const got = await store.get('home', 'token');
    expect(got).toBeInstanceOf(Secret);
    expect(got?.reveal()).toBe('s3cr3t');
    expect(await store.delete('home', 'token')).toBe(true);
    expect(await store.delete('home', 'token')).toBe(false);
  });

  it('reports an unreachable Secret Service as secrets.unavailable with what to install (never a silent fallback)', async () => {
    // keyring-rs's own message when no session bus is reachable (seen with DBUS_SESSION_BUS_ADDRESS unset).
    const { store } = fakeKeychain(() => {
      throw new Error('Platform failure: DBus error: Failed to connect to socket /nonexistent: No such file or directory');
    });
    const err = await store.get('home', 'token').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'secrets.unavailable', userMessage: expect.stringMatching(/^No keychain is available/) });
    expect(classifyKeyringError(new Error("Couldn't access platform storage: AccessDenied"), 'a/b', 'linux')).toMatchObject({
      code: 'secrets.unavailable',
      hint: expect.stringMatching(/GNOME Keyring or KWallet/),
    });
  });

  it('reports a failure while creating the entry the same way', async () => {
    const store = new KeyringSecretStore({
      createEntry: () => {
        throw new Error('Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead');
      },
    });
    await expect(store.set('home', 'token', new Secret('v'))).rejects.toMatchObject({ code: 'secrets.unavailable' });
  });

  it('gives up on a keychain that never answers', async () => {
    const store = new KeyringSecretStore({
      timeoutMs: 50,
      createEntry: () => ({ getPassword: () => new Promise(() => undefined), setPassword: () => Promise.resolve(), deleteCredential: () => Promise.resolve(false) }),
    });
    await expect(store.get('home', 'token')).rejects.toMatchObject({ code: 'secrets.unavailable', userMessage: expect.stringMatching(/did not answer/) });
  });

  it('names ambiguous entries and other failures without ever including the secret', async () => {
    expect(classifyKeyringError(new Error('Entry is matched by 2 credentials'), 'home/token')).toMatchObject({
      code: 'storage.failed',
      userMessage: 'The keychain holds more than one entry for m2-companion home/token.',
    });
    const { store } = fakeKeychain(() => {
      throw new Error('Attribute password is longer than platform limit of 2560 chars');
    });
    const err = (await store.set('home', 'token', new Secret('the-secret-value')).catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe('storage.failed');
    expect(JSON.stringify(err.toShape())).not.toContain('the-secret-value');
  });

  it('keeps hints platform-specific', () => {
    const e = new Error('Platform failure: no keychain');
    expect(classifyKeyringError(e, 'a/b', 'darwin').hint).toMatch(/login keychain/);
    expect(classifyKeyringError(e, 'a/b', 'win32').hint).toMatch(/Credential Manager/);
  });
});

describe('the names of a profile’s secrets', () => {
  it('lists exactly the profile’s own accounts from the keychain’s search, never another profile’s that shares a prefix', async () => {
    const searched: string[] = [];
    const store = new KeyringSecretStore({
      createEntry: () => ({ getPassword: async () => null, setPassword: async () => {}, deleteCredential: async () => false }),
      findAccounts: async (service) => {
        searched.push(service);
        return ['home/cloudflare-token', 'home/fallback.device-1.key', 'home-2/cloudflare-token', 'homer/x', 'home/', 'home/Bad Name', 'other/home/x'];
      },
    });
    expect(await store.names('home')).toEqual(['cloudflare-token', 'fallback.device-1.key']);
    expect(searched).toEqual(['m2-companion']);
    await expect(store.names('home/x')).rejects.toMatchObject({ code: 'internal' });
  });

  it('says the keychain is unavailable when its search fails', async () => {
    const store = new KeyringSecretStore({
      createEntry: () => ({ getPassword: async () => null, setPassword: async () => {}, deleteCredential: async () => false }),
      findAccounts: async () => {
        throw new Error('Platform failure: no Secret Service');
      },
      platform: 'linux',
    });
    await expect(store.names('home')).rejects.toMatchObject({ code: 'secrets.unavailable' });
  });

  it('MemorySecretStore lists the same way', async () => {
    const store = new MemorySecretStore();
    await store.set('home', 'b', new Secret('1'));
    await store.set('home', 'a.c', new Secret('2'));
    await store.set('home-2', 'a', new Secret('3'));
    expect(await store.names('home')).toEqual(['a.c', 'b']);
  });
});

describe('MemorySecretStore', () => {
  it('behaves like the keychain: round-trip, delete reports whether something was there, same name rules', async () => {
    const store = new MemorySecretStore();
    await store.set('home', 'token', new Secret('v1'));
    await store.set('home', 'token', new Secret('v2'));
    expect((await store.get('home', 'token'))?.reveal()).toBe('v2');
    expect(await store.get('other', 'token')).toBeUndefined();
    expect(store.accounts()).toEqual(['home/token']);
    expect(await store.delete('home', 'token')).toBe(true);
    expect(await store.delete('home', 'token')).toBe(false);
    await expect(store.set('home/x', 'token', new Secret('v'))).rejects.toMatchObject({ code: 'internal' });
  });
});
