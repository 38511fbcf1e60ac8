import { z } from 'zod';
import { ErrorShape } from './errors';
import { ProfileId } from './profiles';
import { StepStatus } from './cloudflare';

/**
 * The household: people the admin adds, each with one role. A role decides which published services Cloudflare
 * Access lets them reach (one Access group per role, referenced from each service's policy) and which Authentik
 * group they are in. Authentik holds the person (sign-in, password); the app keeps the role bookkeeping.
 */
export const householdRoles = ['media', 'power', 'admin'] as const;
export const HouseholdRole = z.enum(householdRoles, { message: 'Role: choose media only, power user or admin.' });
export type HouseholdRole = z.infer<typeof HouseholdRole>;

/** The services a role can be given, as the stack publishes them. */
export type HouseholdService = 'jellyfin' | 'nextcloud' | 'authentik';

export interface RoleInfo {
  readonly title: string;
  /** What the role may do, in words for the admin and for the person. */
  readonly summary: string;
}

export const ROLE_INFO: Record<HouseholdRole, RoleInfo> = {
  media: {
    title: 'Media only',
    summary: 'Watches films, series and music in Jellyfin. Cannot open Nextcloud or any admin page.',
  },
  power: {
    title: 'Power user',
    summary: 'Jellyfin and Nextcloud (files, photos, calendars). No admin pages.',
  },
  admin: {
    title: 'Admin',
    summary: 'Everything: Jellyfin, Nextcloud, the media automation’s web pages and Authentik’s admin interface.',
  },
};

/**
 * Whether a role reaches a published service through Cloudflare Access. Authentik's host name serves everyone's
 * sign-in pages (one sign-in for Jellyfin and Nextcloud goes through it), so every role reaches it; its admin
 * interface is Authentik's own to guard, and only the admin role's Authentik group is a superuser group. Any other
 * service (the media automation's web pages) is for admins only.
 */
export function roleReaches(role: HouseholdRole, service: string): boolean {
  if (role === 'admin') return true;
  if (service === 'jellyfin' || service === 'authentik') return true;
  if (service === 'nextcloud') return role === 'power';
  return false;
}

/**
 * A person's name as Authentik shows it: letters (any script), digits, spaces, dots, hyphens and apostrophes,
 * starting with a letter, at most 64 characters. Nothing here reaches a shell, but a name is also shown in
 * Authentik's and Cloudflare's dashboards, so anything that reads as markup or a command is refused.
 */
export const MemberName = z
  .string()
  .trim()
  .min(1, 'Name: enter the person’s name.')
  .max(64, 'Name: keep it to 64 characters or fewer.')
  .refine((s) => /^[\p{L}\p{M}][\p{L}\p{M}\p{N} .'’-]*$/u.test(s) && !/\s{2,}/u.test(s), 'Name: use letters, spaces, dots, hyphens and apostrophes only (for example Alex O’Brien).');

/**
 * The person's email address: it is their Authentik username and what Cloudflare Access matches, so it keeps to
 * what Authentik allows in a username (letters, digits and @ . + - _) — an internationalised address is refused.
 */
export const MemberEmail = z
  .string()
  .trim()
  .toLowerCase()
  .min(1, 'Email: enter the person’s email address.')
  .max(150, 'Email: keep it to 150 characters or fewer (Authentik’s limit for a username).')
  .refine(
    (s) => /^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(s),
    'Email: enter an address such as alex@example.com (plain letters, digits and . + - _ only).',
  );

export const NewMember = z.object({ name: MemberName, email: MemberEmail, role: HouseholdRole });
export type NewMember = z.infer<typeof NewMember>;

/**
 * One person as the app keeps them. `adding`/`removing`: a change that did not finish (Authentik or Cloudflare
 * failed); running it again finishes it. `authentik`: whether the app created the Authentik user (and so deletes
 * it on removal) or found one that was there (removal only takes it out of the household's groups).
 */
export const HouseholdMember = z.object({
  email: MemberEmail,
  name: MemberName,
  role: HouseholdRole,
  state: z.enum(['active', 'adding', 'removing']),
  addedAt: z.string(),
  authentik: z.enum(['created', 'existing']).nullable(),
});
export type HouseholdMember = z.infer<typeof HouseholdMember>;

export const HouseholdRequest = z.object({ profileId: ProfileId });
export const AddMemberRequest = z.object({ profileId: ProfileId, member: NewMember });
export const RemoveMemberRequest = z.object({ profileId: ProfileId, email: MemberEmail });

export const HouseholdView = z.object({
  profileId: ProfileId,
  members: z.array(HouseholdMember),
  /** Members sign in through Authentik; without the module nobody can be added. */
  authentikEnabled: z.boolean(),
  /** Whether Cloudflare is set up for this server (token and settings); without it roles take effect at publish. */
  cloudflareReady: z.boolean(),
  /** Who Cloudflare settings already let in everywhere (the household policy): they reach every service whatever their role. */
  everywhere: z.object({ emails: z.array(z.string()), domain: z.string().nullable() }),
});
export type HouseholdView = z.infer<typeof HouseholdView>;

export const HouseholdStep = z.object({
  id: z.string(),
  title: z.string(),
  status: StepStatus,
  detail: z.string(),
  error: ErrorShape.optional(),
});
export type HouseholdStep = z.infer<typeof HouseholdStep>;

/**
 * How a new person sets their password: a one-time Authentik recovery link, shown to the admin once (it is not
 * kept anywhere) to hand over; or why there is none.
 */
export const MemberInvite = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('link'), link: z.string(), expires: z.string().nullable() }),
  z.object({ kind: z.literal('none'), reason: z.string() }),
]);
export type MemberInvite = z.infer<typeof MemberInvite>;

export const HouseholdResult = z.object({
  profileId: ProfileId,
  ok: z.boolean(),
  steps: z.array(HouseholdStep),
  member: HouseholdMember.nullable(),
  invite: MemberInvite.nullable(),
});
export type HouseholdResult = z.infer<typeof HouseholdResult>;
