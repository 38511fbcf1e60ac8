import { z } from 'zod';
import { ProfileId } from './profiles';

/**
 * The accounts the stack creates on a server (the Nextcloud admin, Authentik's akadmin, the Jellyfin admin) and
 * the one way their passwords reach this window: `accounts:reveal`, on demand, for one account. The list carries
 * names, usernames, addresses and where the password is kept, never a value. Pure zod; no Node.
 */

/** An account of the stack, e.g. `nextcloud-admin`; anything else is refused before it reaches the keychain. */
export const AccountId = z
  .string()
  .max(64, 'Account: choose an account from the list.')
  .regex(/^[a-z][a-z0-9-]{0,63}$/, 'Account: choose an account from the list.');
export type AccountId = z.infer<typeof AccountId>;

export const AccountService = z.enum(['jellyfin', 'nextcloud', 'authentik']);
export type AccountService = z.infer<typeof AccountService>;

/** Where the account signs in: the published https address, the address at home, or not reachable yet. */
export const SignIn = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('published'), url: z.string() }),
  z.object({ kind: z.literal('home'), url: z.string() }),
  z.object({ kind: z.literal('not-published'), hostname: z.string() }),
]);
export type SignIn = z.infer<typeof SignIn>;

export const Account = z.object({
  id: AccountId,
  service: AccountService,
  /** The service's name as people say it ("Nextcloud"). */
  title: z.string(),
  /** What the account is ("Administrator"). */
  role: z.string(),
  username: z.string(),
  signIn: SignIn,
  /** Whether the keychain holds its password yet (generated on the first review or install). */
  passwordSet: z.boolean(),
  /** Where the password is kept: the keychain's service and account names, never the value. */
  keychain: z.object({ service: z.string(), account: z.string() }),
});
export type Account = z.infer<typeof Account>;

export const AccountsRequest = z.object({ profileId: ProfileId });
export const AccountRequest = z.object({ profileId: ProfileId, accountId: AccountId });

/** The one answer that carries a password to this window. */
export const RevealedPassword = z.object({ accountId: AccountId, password: z.string() });
export type RevealedPassword = z.infer<typeof RevealedPassword>;

/** The password was put on this computer's clipboard by the app, and is taken off again after `clearsAfterSeconds`. */
export const CopiedPassword = z.object({ accountId: AccountId, clearsAfterSeconds: z.number().int().positive() });
export type CopiedPassword = z.infer<typeof CopiedPassword>;
