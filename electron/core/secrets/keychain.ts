/**
 * Secrets on the laptop live in the OS keychain (DESIGN.md §5): service `m2-companion`, account
 * `<profile>/<secret>`, through `@napi-rs/keyring` (macOS Keychain, Windows Credential Manager, the
 * Secret Service on Linux: GNOME Keyring, KWallet, KeePassXC).
 */
import { AppError } from '../errors';
import { Secret } from './secret';

/** Where the app keeps its secrets; the OS keychain in the app, a Map in unit tests of other modules. */
export interface SecretStore {
  get(profileId: string, name: string): Promise<Secret | undefined>;
  set(profileId: string, name: string, value: Secret): Promise<void>;
  /** True when something was deleted, false when there was nothing to delete. */
  delete(profileId: string, name: string): Promise<boolean>;
  /** The names of every secret held for a profile (never their values), e.g. to forget a removed server's. */
  names(profileId: string): Promise<string[]>;
}

export const KEYCHAIN_SERVICE = 'm2-companion';

/** The contract's profile id (electron/contract/profiles.ts): no '/', so `<profile>/<name>` splits one way only. */
const PROFILE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Secret names: lower-case words with dots and dashes, e.g. `cloudflare-token`, `nextcloud.admin-password`. */
const SECRET_NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;

/** `<profile>/`, the start of every keychain account of a profile; an id that could make it ambiguous is refused. */
export function keychainPrefix(profileId: string): string {
  if (!PROFILE_ID.test(profileId)) {
    throw new AppError('internal', 'M2 Companion refused to use a keychain entry with an invalid profile id.', {
      hint: 'This is a bug: profile ids are lower-case letters, digits and dashes.',
    });
  }
  return `${profileId}/`;
}

/** The keychain account for a profile's secret; anything that could make it ambiguous is refused. */
export function keychainAccount(profileId: string, name: string): string {
  const prefix = keychainPrefix(profileId);
  if (!SECRET_NAME.test(name)) {
    throw new AppError('internal', 'M2 Companion refused to use a keychain entry with an invalid secret name.', {
      hint: 'This is a bug: secret names are lower-case letters, digits, dots and dashes.',
    });
  }
  return `${prefix}${name}`;
}


/** What the store uses of `@napi-rs/keyring`'s AsyncEntry (the async one: keychain calls can wait on an unlock prompt). */
export interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deleteCredential(): Promise<boolean>;
}

export type KeyringEntryFactory = (service: string, account: string) => KeyringEntry | Promise<KeyringEntry>;

/** The accounts the keychain holds under a service (names only: the values the search returns are dropped at once). */
export type KeyringAccountFinder = (service: string) => Promise<string[]>;

/**
 * The real keychain. On Linux the entry is pinned to the Secret Service: without the pin,
 * keyring-rs silently falls back to the kernel keyring, which forgets everything at logout.
 */
export const osKeychainEntry: KeyringEntryFactory = async (service, account) => {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  return new AsyncEntry(service, account, { linux: { store: 'secret-service' } });
};

const unavailableHint = (platform: NodeJS.Platform): string =>
  platform === 'darwin'
    ? 'Unlock your login keychain (Keychain Access), then try again.'
    : platform === 'win32'
      ? 'Check that Windows Credential Manager is working for your account, then try again.'
      : 'Install and unlock GNOME Keyring or KWallet (any Secret Service provider), log in to a desktop session, then try again.';

/** The real keychain's search, as the entries are pinned: the Secret Service on Linux. */
export const osKeychainAccounts: KeyringAccountFinder = async (service) => {
  const { findCredentialsAsync } = await import('@napi-rs/keyring');
  return (await findCredentialsAsync(service)).map((c) => c.account);
};

/** Map what keyring-rs reports into errors a person can act on; secret values never appear in them. */
export function classifyKeyringError(err: unknown, account: string, platform: NodeJS.Platform = process.platform): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // keyring-rs: PlatformFailure ("Platform failure: …", e.g. no D-Bus, no Secret Service) and
  // NoStorageAccess ("Couldn't access platform storage: …", e.g. locked, access denied).
  if (/platform failure|access platform storage|dbus|secret service|no such interface|locked/i.test(message)) {
    return new AppError('secrets.unavailable', 'No keychain is available: M2 Companion could not reach this computer’s keychain.', {
      cause: err,
      hint: unavailableHint(platform),
    });
  }
  if (/matched by \d+ credentials|ambiguous/i.test(message)) {
    return new AppError('storage.failed', `The keychain holds more than one entry for ${KEYCHAIN_SERVICE} ${account}.`, {
      cause: err,
      hint: 'Open your keychain app, delete the duplicate entries for m2-companion, then try again.',
    });
  }
  if (/too long|longer than/i.test(message)) {
    return new AppError('storage.failed', 'The keychain refused a secret that is too long for it.', { cause: err });
  }
  return new AppError('storage.failed', `The keychain failed: ${message}.`, { cause: err, hint: 'Try again; if it persists, check your keychain app.' });
}

/** Secrets in the OS keychain, one entry per profile and name. */
export class KeyringSecretStore implements SecretStore {
  readonly #createEntry: KeyringEntryFactory;
  readonly #findAccounts: KeyringAccountFinder;
  readonly #timeoutMs: number;
  readonly #platform: NodeJS.Platform;

  constructor(opts: { createEntry?: KeyringEntryFactory; findAccounts?: KeyringAccountFinder; timeoutMs?: number; platform?: NodeJS.Platform } = {}) {
    this.#createEntry = opts.createEntry ?? osKeychainEntry;
    this.#findAccounts = opts.findAccounts ?? osKeychainAccounts;
    // Long enough for a person to answer an unlock prompt; a keychain that never answers is not waited on forever.
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#platform = opts.platform ?? process.platform;
  }

  async #run<T>(profileId: string, name: string, op: (entry: KeyringEntry) => Promise<T>): Promise<T> {
    const account = keychainAccount(profileId, name);
    return this.#bounded(account, async () => op(await this.#createEntry(KEYCHAIN_SERVICE, account)));
  }

  /** One keychain call, bounded in time, its failures in the admin's words. */
  async #bounded<T>(account: string, op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError('secrets.unavailable', `The keychain did not answer within ${Math.round(this.#timeoutMs / 1000)} s.`, {
              hint: `It may be waiting to be unlocked. ${unavailableHint(this.#platform)}`,
            }),
          ),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([op(), timeout]);
    } catch (err) {
      throw classifyKeyringError(err, account, this.#platform);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(profileId: string, name: string): Promise<Secret | undefined> {
    const value = await this.#run(profileId, name, (e) => e.getPassword());
    return value === null ? undefined : new Secret(value);
  }

  async set(profileId: string, name: string, value: Secret): Promise<void> {
    await this.#run(profileId, name, (e) => e.setPassword(value.reveal()));
  }

  async delete(profileId: string, name: string): Promise<boolean> {
    return this.#run(profileId, name, (e) => e.deleteCredential());
  }

  async names(profileId: string): Promise<string[]> {
    const prefix = keychainPrefix(profileId);
    const accounts = await this.#bounded(`${prefix}*`, () => this.#findAccounts(KEYCHAIN_SERVICE));
    return namesUnder(accounts, prefix);
  }
}

/** The secret names under `<profile>/` among keychain accounts; accounts that are not a valid name are left alone. */
const namesUnder = (accounts: readonly string[], prefix: string): string[] =>
  [...new Set(accounts.filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length)))].filter((n) => SECRET_NAME.test(n)).sort();

/** An in-memory SecretStore for unit tests of other modules; refuses the same names the keychain does. */
export class MemorySecretStore implements SecretStore {
  readonly #values = new Map<string, string>();

  async get(profileId: string, name: string): Promise<Secret | undefined> {
    const v = this.#values.get(keychainAccount(profileId, name));
    return v === undefined ? undefined : new Secret(v);
  }

  async set(profileId: string, name: string, value: Secret): Promise<void> {
    this.#values.set(keychainAccount(profileId, name), value.reveal());
  }

  async delete(profileId: string, name: string): Promise<boolean> {
    return this.#values.delete(keychainAccount(profileId, name));
  }

  async names(profileId: string): Promise<string[]> {
    return namesUnder([...this.#values.keys()], keychainPrefix(profileId));
  }

  /** The accounts held, for assertions (never the values). */
  accounts(): string[] {
    return [...this.#values.keys()].sort();
  }
}
