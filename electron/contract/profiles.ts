import { z } from 'zod';
import { isHostAddress, isUnixUser } from './validation';

/** How the app authenticates to the server; secrets (passphrases, passwords) never live here. */
export const AuthMethod = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('agent') }),
  z.object({
    kind: z.literal('key'),
    keyPath: z
      .string()
      .min(1, 'Key file: choose the private key file, for example ~/.ssh/id_ed25519.')
      .max(4096, 'Key file: the path is too long.')
      .refine((p) => !/[\0\n\r]/.test(p), 'Key file: the path must not contain line breaks or NUL characters.'),
  }),
  z.object({ kind: z.literal('password') }),
]);
export type AuthMethod = z.infer<typeof AuthMethod>;

export const ProfileId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'Profile id: use lower-case letters, digits and dashes (at most 63).');

/** What the admin fills in; validated field by field with messages that name the field. */
export const ProfileInput = z.object({
  id: ProfileId.optional(),
  name: z
    .string()
    .trim()
    .min(1, 'Name: give the server a name, for example "Home server".')
    .max(80, 'Name: keep it under 80 characters.')
    .refine((s) => !/[\p{Cc}]/u.test(s), 'Name: remove control characters such as line breaks.')
    // A right-to-left override or a zero-width space makes the name read as another server's in every list and dialog.
    .refine((s) => !/(?!\u200d)\p{Cf}/u.test(s), 'Name: remove the invisible or right-to-left characters (often pasted by accident), so the name reads as it is.'),
  host: z
    .string()
    .trim()
    .toLowerCase()
    .refine(isHostAddress, 'Host: enter a host name such as homeserver.local or an IP address such as 192.168.1.20.'),
  port: z
    .number()
    .int('Port: use a whole number.')
    .min(1, 'Port: use a number from 1 to 65535 (SSH usually listens on 22).')
    .max(65535, 'Port: use a number from 1 to 65535 (SSH usually listens on 22).')
    .default(22),
  username: z
    .string()
    .trim()
    .refine(isUnixUser, 'User: enter the login name on the server, for example admin (letters, digits, _ and -).'),
  auth: AuthMethod.default({ kind: 'agent' }),
});
export type ProfileInput = z.input<typeof ProfileInput>;

export const ServerProfile = z.object({
  id: ProfileId,
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  auth: AuthMethod,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ServerProfile = z.infer<typeof ServerProfile>;

export const ProfileRef = z.object({ id: ProfileId });
