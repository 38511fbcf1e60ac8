/**
 * The accounts the stack creates on a server and their passwords (DESIGN.md §1 "Accounts", §5). The list is made
 * from the saved stack settings: which modules run, the usernames the modules use, and where each service answers.
 * Passwords stay in the keychain; `reveal` is the only way one leaves main, for one account, and each reveal or copy
 * is written to the log by account id, never with the value.
 */
import type { Account, AccountService, CopiedPassword, RevealedPassword, RotationPlan, RotationResult, SignIn } from '../../contract/accounts';
import { AccountId, SecretName } from '../../contract/accounts';
import { serviceAddresses } from '../../contract/links';
import type { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import { KEYCHAIN_SERVICE, keychainAccount } from '../secrets/keychain';
import type { Secret } from '../secrets/secret';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_ADMIN_USER } from '../stack/configure/jellyfin';
import { authentikSecrets } from '../stack/modules/authentik';
import { nextcloudSecrets } from '../stack/modules/nextcloud';
import type { ClipboardGuard } from './clipboard-guard';
import type { SecretRotation } from './rotation';

/** Authentik's built-in administrator, created from the bootstrap password on its first start (stack-facts §5.2). */
export const AUTHENTIK_ADMIN_USER = 'akadmin';

/** One account of the stack as the settings declare it: who signs in where, and which keychain secret is its password. */
export interface StackAccount {
  readonly id: string;
  readonly service: AccountService;
  readonly title: string;
  readonly role: string;
  readonly username: string;
  /** The keychain secret holding its password. */
  readonly secret: string;
  /** The public host name the service is published at (when the tunnel publishes it). */
  readonly hostname: string;
}

/** The accounts the modules of these settings create, in the order setup shows them. */
export function stackAccounts(settings: StackSettings): StackAccount[] {
  const out: StackAccount[] = [];
  const m = settings.modules;
  if (m.jellyfin.enabled) {
    out.push({
      id: 'jellyfin-admin',
      service: 'jellyfin',
      title: 'Jellyfin',
      role: 'Administrator',
      username: JELLYFIN_ADMIN_USER,
      secret: JELLYFIN_ADMIN_PASSWORD.name,
      hostname: settings.hostnames.jellyfin,
    });
  }
  if (m.nextcloud.enabled) {
    out.push({
      id: 'nextcloud-admin',
      service: 'nextcloud',
      title: 'Nextcloud',
      role: 'Administrator',
      username: m.nextcloud.adminUser,
      secret: nextcloudSecrets.adminPassword,
      hostname: settings.hostnames.nextcloud,
    });
  }
  if (m.authentik.enabled) {
    out.push({
      id: 'authentik-admin',
      service: 'authentik',
      title: 'Authentik',
      role: 'Administrator (single sign-on)',
      username: AUTHENTIK_ADMIN_USER,
      secret: authentikSecrets.bootstrapPassword,
      hostname: settings.hostnames.authentik,
    });
  }
  return out;
}

export interface AccountsDeps {
  /** The server's saved stack settings (defaults until saved). */
  readonly settings: (profileId: string) => Promise<StackSettings>;
  /** The server's address as saved in its profile; undefined when there is no such server. */
  readonly serverHost: (profileId: string) => Promise<string | undefined>;
  /** Host names the Cloudflare tunnel publishes for the server (the DNS records the app made). */
  readonly published: (profileId: string) => Promise<readonly string[]>;
  /** The stack's secrets (the keychain); throws when there is no keychain. */
  readonly secrets: { get(profileId: string, name: string): Promise<Secret | undefined> };
  /** The system clipboard, where the shell has one the app may write (Electron's main process). */
  readonly clipboard?: ClipboardGuard;
  /** Rotating the generated secrets on the server (absent where the host cannot reach servers). */
  readonly rotation?: SecretRotation;
  readonly log: Logger;
}

export class AccountsService {
  readonly #deps: AccountsDeps;

  constructor(deps: AccountsDeps) {
    this.#deps = deps;
  }

  /** Every account with where it signs in and whether its password exists; never a value. */
  async list(profileId: string): Promise<Account[]> {
    const { accounts, host, settings } = await this.#accounts(profileId);
    // Where each service answers, worked out once for the app (Done, Services, the links allowed, the recovery kit).
    const addresses = new Map(serviceAddresses(settings, host, await this.#deps.published(profileId)).map((a) => [a.service, a] as const));
    const out: Account[] = [];
    for (const a of accounts) {
      const set = (await this.#deps.secrets.get(profileId, a.secret)) !== undefined;
      const at = addresses.get(a.service);
      const signIn: SignIn = at?.url ? { kind: 'published', url: at.url } : at?.home ? { kind: 'home', url: at.home } : { kind: 'not-published', hostname: a.hostname };
      out.push({
        id: a.id,
        service: a.service,
        title: a.title,
        role: a.role,
        username: a.username,
        signIn,
        passwordSet: set,
        keychain: { service: KEYCHAIN_SERVICE, account: keychainAccount(profileId, a.secret) },
      });
    }
    return out;
  }

  /** The one call that hands a password out: one account's, audited by id. */
  async reveal(profileId: string, accountId: string): Promise<RevealedPassword> {
    const { account, value } = await this.#password(profileId, accountId);
    this.#deps.log.info(`revealed ${account.id}`, { profile: profileId, account: account.id });
    return { accountId: account.id, password: value.reveal() };
  }

  /** Copy a password from main, so the window never holds it; cleared from the clipboard after a while. */
  async copy(profileId: string, accountId: string): Promise<CopiedPassword> {
    const clipboard = this.#deps.clipboard;
    if (!clipboard) {
      throw new AppError('accounts.clipboard-unavailable', 'This window cannot use the app’s clipboard.', {
        hint: 'Reveal the password and copy it from the page instead.',
      });
    }
    const { account, value } = await this.#password(profileId, accountId);
    await clipboard.copy(value);
    this.#deps.log.info(`copied ${account.id} to the clipboard`, { profile: profileId, account: account.id, clearsAfterSeconds: clipboard.clearAfterSeconds });
    return { accountId: account.id, clearsAfterSeconds: clipboard.clearAfterSeconds };
  }

  /** What rotating each generated secret of this server does, or why it is not offered; never a value. */
  async rotations(profileId: string): Promise<RotationPlan[]> {
    await this.#accounts(profileId);
    return this.#rotation().plans(profileId);
  }

  /** Rotate one generated secret on the server; the new value stays in the keychain (reveal it like any other). */
  async rotate(profileId: string, secret: string): Promise<RotationResult> {
    // Checked here too, not only by the contract: core is also called from places that do not validate.
    if (!SecretName.safeParse(secret).success) {
      throw new AppError('accounts.not-rotatable', 'Secret: choose a secret from the list.', { field: 'secret' });
    }
    await this.#accounts(profileId);
    return this.#rotation().rotate(profileId, secret);
  }

  #rotation(): SecretRotation {
    if (!this.#deps.rotation) {
      throw new AppError('accounts.not-rotatable', 'Secrets cannot be rotated from this window.', { hint: 'Use the desktop app or the web host connected to the server.' });
    }
    return this.#deps.rotation;
  }

  async #accounts(profileId: string): Promise<{ accounts: StackAccount[]; host: string; settings: StackSettings }> {
    const host = await this.#deps.serverHost(profileId);
    if (host === undefined) {
      throw new AppError('profile.not-found', 'Server: it is not in the list of saved servers (removed?).', { field: 'profileId', hint: 'Choose a server from the list.' });
    }
    const settings = await this.#deps.settings(profileId);
    return { accounts: stackAccounts(settings), host, settings };
  }

  async #password(profileId: string, accountId: string): Promise<{ account: StackAccount; value: Secret }> {
    // Checked here too, not only by the contract: core is also called from places that do not validate.
    if (!AccountId.safeParse(accountId).success) {
      throw new AppError('accounts.not-found', 'Account: choose an account from the list.', { field: 'accountId' });
    }
    const { accounts } = await this.#accounts(profileId);
    const account = accounts.find((a) => a.id === accountId);
    if (!account) {
      throw new AppError('accounts.not-found', `Account: there is no account “${accountId}” on this server.`, {
        field: 'accountId',
        hint: `This server’s stack has ${accounts.map((a) => a.id).join(', ') || 'no accounts'}. Choose one from the list.`,
      });
    }
    const value = await this.#deps.secrets.get(profileId, account.secret);
    if (!value) {
      throw new AppError('accounts.not-generated', `The ${account.title} ${account.username} password has not been generated yet.`, {
        field: 'accountId',
        hint:
          account.service === 'jellyfin'
            ? 'It is made when the install sets Jellyfin up: install the stack, then come back.'
            : 'It is made when you first review the install: open Review, then come back.',
      });
    }
    return { account, value };
  }
}
