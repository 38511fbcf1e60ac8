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

/**
 * Rotation (DESIGN.md §1 "Accounts", §5): a new value for a secret the app generated, applied on the server where the
 * service can take it safely. The plan says what happens and what restarts before anything does; a rotation that
 * stopped half-way is finished by rotating again, with the same new value (nothing is generated twice).
 */

/** A secret of the stack by its keychain name, e.g. `nextcloud.redis-password`; anything else is refused. */
export const SecretName = z
  .string()
  .max(64, 'Secret: choose a secret from the list.')
  .regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'Secret: choose a secret from the list.');
export type SecretName = z.infer<typeof SecretName>;

export const RotationPlan = z.object({
  secret: SecretName,
  /** What it is, as people say it ("Nextcloud's Redis password"). */
  title: z.string(),
  /** The account whose password it is (`nextcloud-admin`), when it is one. */
  accountId: AccountId.optional(),
  /** Whether the keychain holds it yet. */
  passwordSet: z.boolean(),
  rotatable: z.boolean(),
  /** Why it cannot be rotated here (only when `rotatable` is false). */
  reason: z.string().optional(),
  /** The steps in order, in the admin's words. */
  steps: z.array(z.string()),
  /** Compose services that are recreated with the new value. */
  restarts: z.array(z.string()),
  /** An earlier rotation did not finish: rotating again finishes it with the value it had already made. */
  unfinished: z.boolean(),
});
export type RotationPlan = z.infer<typeof RotationPlan>;

export const RotationRequest = z.object({ profileId: ProfileId, secret: SecretName });

export const RotationResult = z.object({
  secret: SecretName,
  /** The release that now runs with the new value; absent when finishing only removed what a finished rotation had left in the keychain. */
  releaseId: z.string().optional(),
  restarted: z.array(z.string()),
  /** True when this finished a rotation an earlier attempt had started (its value, not a new one). */
  resumed: z.boolean(),
  message: z.string(),
});
export type RotationResult = z.infer<typeof RotationResult>;
