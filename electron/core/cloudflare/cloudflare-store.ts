import { z } from 'zod';
import { CloudflareSettings } from '../../contract/cloudflare';
import { HouseholdRole } from '../../contract/household';
import { ProfileJsonStore } from '../fs/json-store';

/** A DNS record as it was before the app overwrote it (with the admin's yes), to put back on removal. */
export const PreviousRecord = z.object({
  type: z.string(),
  name: z.string(),
  content: z.string(),
  proxied: z.boolean(),
  ttl: z.number(),
  comment: z.string().nullable(),
});
export type PreviousRecord = z.infer<typeof PreviousRecord>;

export const ManagedDns = z.object({
  hostname: z.string(),
  zoneId: z.string(),
  id: z.string(),
  origin: z.enum(['created', 'adopted']),
  /** For an adopted record: the record(s) that held the name before (the first was rewritten, the rest deleted). */
  previous: z.array(PreviousRecord).default([]),
});
export type ManagedDns = z.infer<typeof ManagedDns>;

/** An Access application as it was before the app adopted it: what the app changed, to put back on removal. */
export const PreviousApp = z.object({
  name: z.string(),
  sessionDuration: z.string(),
  policies: z.array(z.object({ id: z.string(), precedence: z.number() })),
});
export type PreviousApp = z.infer<typeof PreviousApp>;

export const ManagedApp = z.object({
  hostname: z.string(),
  id: z.string(),
  origin: z.enum(['created', 'adopted']),
  previous: PreviousApp.nullable().default(null),
});
export type ManagedApp = z.infer<typeof ManagedApp>;

/** The household's Access groups (one per role with people) and policies by role (one per service), by id. */
export const ManagedHousehold = z.object({
  groups: z.array(z.object({ role: HouseholdRole, id: z.string(), name: z.string() })).default([]),
  policies: z.array(z.object({ service: z.enum(['jellyfin', 'nextcloud', 'authentik']), id: z.string(), name: z.string() })).default([]),
});
export type ManagedHousehold = z.infer<typeof ManagedHousehold>;

export const ManagedState = z.object({
  tunnel: z.object({ id: z.string(), name: z.string(), accountId: z.string() }).nullable().default(null),
  /** A fingerprint (sha256 prefix) of the tunnel token last stored in the keychain, and whether the server got it. */
  tunnelToken: z.object({ fingerprint: z.string(), deployed: z.boolean() }).nullable().default(null),
  policy: z.object({ id: z.string(), name: z.string(), accountId: z.string() }).nullable().default(null),
  dns: z.array(ManagedDns).default([]),
  apps: z.array(ManagedApp).default([]),
  household: ManagedHousehold.prefault({}),
  /** The path application on Authentik's host for its OIDC endpoints and its bypass policy (Nextcloud's sign-in). */
  oidcBypass: z.object({ accountId: z.string(), domain: z.string(), appId: z.string().nullable(), policyId: z.string().nullable() }).nullable().default(null),
});
export type ManagedState = z.infer<typeof ManagedState>;

export const TokenMeta = z.object({ kind: z.enum(['user', 'account']), id: z.string(), accountId: z.string().nullable(), masked: z.string() });
export type TokenMeta = z.infer<typeof TokenMeta>;

export const CloudflareFile = z.object({
  version: z.literal(1),
  settings: CloudflareSettings.nullable().default(null),
  token: TokenMeta.nullable().default(null),
  managed: ManagedState.prefault({}),
});
export type CloudflareFile = z.infer<typeof CloudflareFile>;

const empty = (): CloudflareFile => CloudflareFile.parse({ version: 1 });

/**
 * `<dataDir>/cloudflare/<profile>.json`: the admin's Cloudflare choices and what the app created there (ids),
 * written after every step so a run that stops half-way is continued by the next. No secret lives here: the
 * API token and the tunnel token are in the keychain; only a masked form and a fingerprint are kept.
 */
export class CloudflareStore extends ProfileJsonStore<typeof CloudflareFile> {
  constructor(dir: string) {
    super({ dir, schema: CloudflareFile, empty, what: 'Cloudflare settings' });
  }
}
