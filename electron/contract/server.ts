import { z } from 'zod';
import { ProfileId } from './profiles';
import { PreflightRequest } from './preflight';

export const ConnectRequest = z.object({
  profileId: ProfileId,
  /** The SHA256 fingerprint the admin confirmed on first contact; stored only if the server presents it. */
  acceptFingerprint: z
    .string()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'Fingerprint: expected the SHA256:… form OpenSSH shows.')
    .optional(),
  /** Typed by the admin for this connection only; travels renderer → main, never back. */
  password: z.string().min(1, 'Password: enter the server password.').max(1024, 'Password: at most 1024 characters.').optional(),
  passphrase: z.string().min(1, 'Key passphrase: enter the key’s passphrase.').max(1024, 'Key passphrase: at most 1024 characters.').optional(),
  /** Keep the key's passphrase in the OS keychain for next time. */
  rememberPassphrase: z.boolean().optional(),
});
export type ConnectRequest = z.input<typeof ConnectRequest>;

/** Outcomes the admin decides on are values, not errors; failures arrive as error codes. */
export const ConnectResult = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('connected'), fingerprint: z.string(), host: z.string(), port: z.number() }),
  z.object({ kind: z.literal('confirm-host-key'), fingerprint: z.string(), keyType: z.string(), host: z.string(), port: z.number() }),
  z.object({
    kind: z.literal('host-key-changed'),
    fingerprint: z.string(),
    expected: z.array(z.string()),
    keyType: z.string(),
    host: z.string(),
    port: z.number(),
  }),
]);
export type ConnectResult = z.infer<typeof ConnectResult>;

export const ConnectionState = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('idle') }),
  z.object({ kind: z.literal('connecting'), attempt: z.number() }),
  z.object({ kind: z.literal('connected'), since: z.string() }),
  z.object({ kind: z.literal('reconnecting'), attempt: z.number(), retryInMs: z.number(), reason: z.string() }),
  /** Closed for good; `reason` says why when the app closed it rather than the admin (a host key to decide on, a password sign-in after a restart). */
  z.object({ kind: z.literal('closed'), reason: z.string().optional() }),
]);
export type ConnectionState = z.infer<typeof ConnectionState>;

export const ServerStateEvent = z.object({ profileId: ProfileId, state: ConnectionState });
export type ServerStateEvent = z.infer<typeof ServerStateEvent>;

export const ProfileOnly = z.object({ profileId: ProfileId });

export const PreflightRunRequest = PreflightRequest.extend({ profileId: ProfileId });
export type PreflightRunRequest = z.input<typeof PreflightRunRequest>;

/** A server found in ~/.ssh/config, ready to be saved as a profile (or explained when it cannot be). */
export const SshConfigCandidate = z.object({
  alias: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  username: z.string(),
  auth: z.discriminatedUnion('kind', [z.object({ kind: z.literal('agent') }), z.object({ kind: z.literal('key'), keyPath: z.string() })]),
  proxyJump: z.string().optional(),
  warnings: z.array(z.string()),
});
export type SshConfigCandidate = z.infer<typeof SshConfigCandidate>;

export const SshConfigImport = z.object({ candidates: z.array(SshConfigCandidate), warnings: z.array(z.string()) });
export type SshConfigImport = z.infer<typeof SshConfigImport>;

export const InstallKeyResult = z.object({ keyPath: z.string(), fingerprint: z.string(), installed: z.enum(['added', 'present']) });
export type InstallKeyResult = z.infer<typeof InstallKeyResult>;
