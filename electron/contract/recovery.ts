import { z } from 'zod';
import { Account } from './accounts';
import { ProfileId } from './profiles';

/**
 * The household recovery kit: one page the admin prints and keeps on paper. It says where the server is and how to
 * recognise it (its host-key fingerprint), where each service answers, which secrets exist and where they are kept
 * (the keychain's service and account names — never a value), how to restore from the backup, and how household
 * devices reach home while Cloudflare is down. Pure zod; no Node.
 */

export const RecoveryKitRequest = z.object({ profileId: ProfileId });

/** A host key the app or ~/.ssh/known_hosts has on record for the server's address. */
export const RecordedHostKey = z.object({
  keyType: z.string(),
  /** OpenSSH's form, `SHA256:…` (what `ssh` prints on first contact). */
  fingerprint: z.string(),
});
export type RecordedHostKey = z.infer<typeof RecordedHostKey>;

export const KitServer = z.object({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  /** The command that signs in from any computer, quoted for a POSIX shell. */
  sshCommand: z.string(),
  hostKeys: z.array(RecordedHostKey),
});

export const KitService = z.object({
  service: z.string(),
  title: z.string(),
  hostname: z.string(),
  /** `https://<hostname>/` once published through the Cloudflare tunnel; null before. */
  url: z.string().nullable(),
  /** Where it answers on the home network; null when its port is not published there. */
  home: z.string().nullable(),
});
export type KitService = z.infer<typeof KitService>;

/** A secret by name and keychain location. There is deliberately no field that could carry its value. */
export const KitSecret = z.object({
  name: z.string(),
  /** What it is, in words ("Nextcloud database password"). */
  what: z.string(),
  keychain: z.object({ service: z.string(), account: z.string() }),
});
export type KitSecret = z.infer<typeof KitSecret>;

export const KitSecrets = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('listed'), keychainService: z.string(), entries: z.array(KitSecret) }),
  /** No keychain could be read on this computer: the kit says so rather than list nothing. */
  z.object({ kind: z.literal('unavailable'), keychainService: z.string(), reason: z.string() }),
]);
export type KitSecrets = z.infer<typeof KitSecrets>;

/** One step of a written procedure; `command` is typed on the server as printed. */
export const KitStep = z.object({ title: z.string(), detail: z.string().nullable(), command: z.string().nullable() });
export type KitStep = z.infer<typeof KitStep>;

export const KitBackup = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('off') }),
  z.object({
    kind: z.literal('on'),
    repository: z.string(),
    /** Daily, server local time, HH:MM, with the stack's time zone. */
    time: z.string(),
    timezone: z.string(),
    keep: z.object({ daily: z.number().int(), weekly: z.number().int(), monthly: z.number().int() }),
    /** restic's snapshot host name (fixed by the app). */
    snapshotHost: z.string(),
    /** Where the repository password is kept (never the value). */
    password: z.object({ service: z.string(), account: z.string() }),
    /** Folder in a snapshot → the folder on the server it came from. */
    folders: z.array(z.object({ inSnapshot: z.string(), onServer: z.string() })),
    steps: z.array(KitStep),
  }),
]);
export type KitBackup = z.infer<typeof KitBackup>;

export const KitFallback = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('off'), reason: z.string() }),
  z.object({
    kind: z.literal('on'),
    /** The name (or last public address) devices dial, and the UDP port. */
    endpoint: z.string().nullable(),
    port: z.number().int(),
    serverAddress: z.string(),
    services: z.array(z.object({ service: z.string(), url: z.string() })),
    devices: z.array(z.object({ name: z.string(), address: z.string(), kind: z.enum(['laptop', 'household']) })),
    steps: z.array(z.string()),
  }),
]);
export type KitFallback = z.infer<typeof KitFallback>;

export const RecoveryKit = z.object({
  profileId: ProfileId,
  /** When the kit was made (ISO 8601). */
  madeAt: z.string(),
  app: z.object({ name: z.string(), version: z.string() }),
  server: KitServer,
  /** False while the stack settings are the defaults (never saved): the service part is then only a plan. */
  stackSaved: z.boolean(),
  services: z.array(KitService),
  /** How each service signs in (one sign-in through Authentik where it applies), from contract/sign-in.ts. */
  signIn: z.array(z.object({ service: z.enum(['authentik', 'nextcloud', 'jellyfin']), title: z.string(), how: z.string() })).default([]),
  accounts: z.array(Account),
  secrets: KitSecrets,
  backup: KitBackup,
  fallback: KitFallback,
});
export type RecoveryKit = z.infer<typeof RecoveryKit>;

/** Save the kit's page as a PDF through the desktop app's print engine and a save dialog. */
export const SaveKitPdfRequest = z.object({ profileId: ProfileId });
export const SavedKitPdf = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('saved'), path: z.string(), bytes: z.number().int().nonnegative() }),
  z.object({ kind: z.literal('cancelled') }),
]);
export type SavedKitPdf = z.infer<typeof SavedKitPdf>;

/** A file name for the kit's PDF: the server's name in letters, digits and dashes only. */
export const kitPdfName = (serverName: string): string => {
  const slug = serverName
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .toLowerCase();
  return `recovery-kit-${slug || 'server'}.pdf`;
};
