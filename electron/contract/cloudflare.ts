import { z } from 'zod';
import { ErrorShape } from './errors';
import { ProfileId } from './profiles';
import { isDnsName } from './validation';

/**
 * Publishing through Cloudflare: the API token (kept in the keychain; the renderer sends it once and only ever
 * sees a masked form), account and zone, the tunnel, DNS and Access, per-step reports and removal. Pure zod.
 */

/** Account, zone and token ids: 32 hex digits; refused with the field's own name ("Account", "Zone"). */
const cloudflareId = (label: string) =>
  z.string({ error: `${label}: choose one from the list.` }).regex(/^[0-9a-f]{32}$/, `${label}: choose one from the list (a Cloudflare id is 32 hexadecimal digits).`);
export const CloudflareId = cloudflareId('Cloudflare id');

export const ApiTokenInput = z
  .string()
  .trim()
  .min(20, 'API token: paste the whole token (Cloudflare tokens are 40 characters).')
  .max(400, 'API token: this is longer than any Cloudflare API token.')
  .regex(/^[A-Za-z0-9_.-]+$/, 'API token: paste only the token (letters, digits, - and _), without "Bearer" or spaces.');

export const SetTokenRequest = z.object({
  profileId: ProfileId,
  token: ApiTokenInput,
  /** For an account-owned token, the account it belongs to (found by listing accounts when not given). */
  accountId: cloudflareId('Account').optional(),
});

export const cloudflareFeatures = ['account', 'zone', 'tunnel', 'dns', 'access'] as const;
export const CloudflareFeature = z.enum(cloudflareFeatures);
export type CloudflareFeature = z.infer<typeof CloudflareFeature>;

/** What the token may do for one feature, with each missing permission named. */
export const FeatureCheck = z.object({
  feature: CloudflareFeature,
  label: z.string(),
  /** ok: every probe passed; missing: at least one permission is missing; unknown: could not tell (e.g. no zone chosen yet). */
  state: z.enum(['ok', 'missing', 'unknown']),
  /** Permission names (as in the Cloudflare dashboard) that the token lacks for this feature. */
  missing: z.array(z.string()),
  /** Every permission the feature needs. */
  needs: z.array(z.string()),
  detail: z.string(),
});
export type FeatureCheck = z.infer<typeof FeatureCheck>;

export const CloudflareAccount = z.object({ id: z.string(), name: z.string() });
export const CloudflareZone = z.object({ id: z.string(), name: z.string(), status: z.string(), accountId: z.string() });
export type CloudflareZone = z.infer<typeof CloudflareZone>;

export const TokenCheck = z.object({
  kind: z.enum(['user', 'account']),
  tokenId: z.string(),
  expiresOn: z.string().nullable(),
  /** Never the token: a fixed mask with at most its last 4 characters. */
  masked: z.string(),
  features: z.array(FeatureCheck),
  accounts: z.array(CloudflareAccount),
  /** True when this replaced a token that was stored before (rotation). */
  replaced: z.boolean(),
});
export type TokenCheck = z.infer<typeof TokenCheck>;

export const sessionDurations = ['30m', '1h', '6h', '12h', '24h', '168h', '720h'] as const;

const emailItem = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, 'Allowed emails: keep each address under 254 characters.')
  // Invisible and direction-changing characters (\p{Cf}) make an address read as another one.
  .refine((s) => /^[^\s@"'`$\\<>(),;]+@[^\s@"'`$\\<>(),;]+\.[^\s@"'`$\\<>(),;]+$/u.test(s) && !/[\p{Cc}\p{Cf}]/u.test(s), 'Allowed emails: enter addresses such as alice@example.com.');

const domainName = (label: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => isDnsName(s) && s.includes('.'), `${label}: enter a domain such as example.com.`);

export const AccessSettings = z.object({
  /** People allowed through Cloudflare Access, by email. */
  emails: z.array(emailItem).max(100, 'Allowed emails: at most 100 addresses.').default([]),
  /** Everyone with an address at this domain is allowed. */
  emailDomain: domainName('Allowed email domain').nullable().default(null),
  sessionDuration: z.enum(sessionDurations).default('24h'),
});
export type AccessSettings = z.infer<typeof AccessSettings>;

/** Per server profile; no secrets. */
export const CloudflareSettings = z.object({
  accountId: cloudflareId('Account').nullable().default(null),
  zoneId: cloudflareId('Zone').nullable().default(null),
  zoneName: domainName('Zone').nullable().default(null),
  access: AccessSettings.prefault({}),
});
export type CloudflareSettings = z.infer<typeof CloudflareSettings>;

export const CloudflareProfileRequest = z.object({ profileId: ProfileId });
export const ZonesRequest = z.object({ profileId: ProfileId, accountId: cloudflareId('Account') });
export const SaveCloudflareSettings = z.object({ profileId: ProfileId, settings: CloudflareSettings });

export const publishedServices = ['jellyfin', 'nextcloud', 'authentik'] as const;
export const PublishedService = z.enum(publishedServices);

export const PublishedHost = z.object({
  service: PublishedService,
  hostname: z.string(),
  /** The service's address on the stack's edge network, as cloudflared reaches it. */
  origin: z.string(),
  /** null until a zone is chosen. */
  inZone: z.boolean().nullable(),
});

export const ManagedItem = z.object({
  kind: z.enum(['tunnel', 'dns-record', 'access-app', 'access-policy']),
  id: z.string(),
  name: z.string(),
  /** created: made by the app; adopted: existed before and was changed after the admin said yes (restored on removal). */
  origin: z.enum(['created', 'adopted']),
});
export type ManagedItem = z.infer<typeof ManagedItem>;

export const CloudflareView = z.object({
  profileId: ProfileId,
  token: z.object({ stored: z.boolean(), kind: z.enum(['user', 'account']).nullable(), masked: z.string().nullable() }),
  settings: CloudflareSettings,
  saved: z.boolean(),
  hostnames: z.array(PublishedHost),
  tunnel: z.object({ id: z.string(), name: z.string() }).nullable(),
  tunnelTokenStored: z.boolean(),
  managed: z.array(ManagedItem),
});
export type CloudflareView = z.infer<typeof CloudflareView>;

export const stepStatuses = ['done', 'unchanged', 'failed', 'needs-confirmation', 'skipped'] as const;
export const StepStatus = z.enum(stepStatuses);
export type StepStatus = z.infer<typeof StepStatus>;

export const CloudflareStep = z.object({
  /** Stable per run: `token`, `zone`, `tunnel`, `tunnel-token`, `ingress`, `access-policy`, `access:<host>`, `deploy`, `dns:<host>`. */
  id: z.string(),
  title: z.string(),
  status: StepStatus,
  detail: z.string(),
  error: ErrorShape.optional(),
});
export type CloudflareStep = z.infer<typeof CloudflareStep>;

/** Something the app will not overwrite without the admin's explicit yes. */
export const Confirmation = z.object({
  /** Send this back in `confirm` to allow the overwrite; it names the exact record, so a different one is asked again. */
  key: z.string(),
  kind: z.enum(['dns-record', 'access-app']),
  hostname: z.string(),
  /** The existing record or application, in words. */
  existing: z.string(),
  /** What the app would do with a yes. */
  action: z.string(),
});
export type Confirmation = z.infer<typeof Confirmation>;

export const PublishRequest = z.object({
  profileId: ProfileId,
  confirm: z.array(z.string().max(300)).max(50).default([]),
});

export const PublishReport = z.object({
  profileId: ProfileId,
  runId: z.string(),
  /** True when no step failed or waits for a confirmation. */
  ok: z.boolean(),
  tunnelId: z.string().nullable(),
  steps: z.array(CloudflareStep),
  confirmations: z.array(Confirmation),
  durationMs: z.number().int().nonnegative(),
  /** Stopped by `cloudflare:cancel-publish`: the steps not reached are skipped; publishing again continues. */
  cancelled: z.boolean(),
});
export type PublishReport = z.infer<typeof PublishReport>;

export const RemovalItem = z.object({
  kind: z.enum(['tunnel', 'dns-record', 'access-app', 'access-policy', 'keychain']),
  name: z.string(),
  action: z.enum(['delete', 'restore']),
});
export const RemovalPlan = z.object({ profileId: ProfileId, items: z.array(RemovalItem) });
export type RemovalPlan = z.infer<typeof RemovalPlan>;
export const RemoveRequest = z.object({
  profileId: ProfileId,
  confirm: z.literal(true, { error: 'Confirm the removal: nothing is deleted without it.' }),
});

/** Steps of removal or tunnel-token rotation. */
export const CloudflareRunReport = z.object({
  profileId: ProfileId,
  runId: z.string(),
  ok: z.boolean(),
  steps: z.array(CloudflareStep),
  durationMs: z.number().int().nonnegative(),
});
export type CloudflareRunReport = z.infer<typeof CloudflareRunReport>;

/** Pushed while a Cloudflare run is in progress: each step as it settles, and each wait before a retry. */
export const CloudflareProgress = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('step'), profileId: ProfileId, runId: z.string(), step: CloudflareStep }),
  z.object({
    kind: z.literal('retrying'),
    profileId: ProfileId,
    runId: z.string(),
    /** The step being retried, in words. */
    operation: z.string(),
    /** What went wrong: Cloudflare rate-limiting (429), a Cloudflare server error (408, 5xx), or the network. */
    cause: z.enum(['rate-limited', 'server-error', 'network']),
    /** The same in words: "Cloudflare is rate-limiting", "Cloudflare answered with a server error (503)", … */
    reason: z.string(),
    /** The attempt the wait leads to: 2 for the first retry. */
    attempt: z.number().int().min(2),
    maxAttempts: z.number().int().positive(),
    /** How long the app waits before it (never less than Cloudflare's Retry-After). */
    waitMs: z.number().int().nonnegative(),
    /** When the next attempt starts. */
    retryAt: z.string(),
    /** What Cloudflare asked for (Retry-After), null when it said nothing. */
    retryAfterMs: z.number().int().nonnegative().nullable(),
  }),
]);
export type CloudflareProgress = z.infer<typeof CloudflareProgress>;
export type CloudflareRetrying = Extract<CloudflareProgress, { kind: 'retrying' }>;

/** "Cloudflare is rate-limiting; retrying in 8 s — attempt 3 of 10", counting down from `secondsLeft`. */
export function retryingInWords(p: Pick<CloudflareRetrying, 'reason' | 'attempt' | 'maxAttempts' | 'waitMs'>, secondsLeft?: number): string {
  const s = Math.max(0, Math.ceil(secondsLeft ?? p.waitMs / 1000));
  const when = s === 0 ? 'retrying now' : s < 120 ? `retrying in ${s} s` : `retrying in ${Math.ceil(s / 60)} min`;
  return `${p.reason}; ${when} — attempt ${p.attempt} of ${p.maxAttempts}`;
}
