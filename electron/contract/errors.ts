import { z } from 'zod';

/**
 * Stable error codes, `domain.reason`. The renderer branches on the code; people read `userMessage`
 * (what happened) and `hint` (what to do next). `field` names the input field at fault, when one is.
 */
export const errorCodes = [
  'ipc.invalid',
  'ipc.unknown-channel',
  'ipc.forbidden-sender',
  'ipc.disconnected',
  'internal',
  'profile.not-found',
  'storage.failed',
  'ssh.unreachable',
  'ssh.unknown-host',
  'ssh.timeout',
  'ssh.auth-failed',
  'ssh.agent-unavailable',
  'ssh.agent-empty',
  'ssh.key-unreadable',
  'ssh.key-passphrase-needed',
  'ssh.key-passphrase-wrong',
  'ssh.host-key-revoked',
  'ssh.disconnected',
  'ssh.command-timeout',
  'ssh.cancelled',
  'ssh.channel-failed',
  'ssh.sftp-failed',
  'ssh.checksum-mismatch',
  'ssh.protocol',
  'secrets.unavailable',
  'server.not-connected',
  'stack.invalid-settings',
  'stack.data-path',
  'stack.port-taken',
  'stack.image-missing',
  'stack.compose-invalid',
  'stack.docker-unavailable',
  'stack.apply-failed',
  'stack.busy',
  'stack.secret-missing',
  'stack.not-installed',
  'stack.configure-failed',
  'stack.remote-failed',
  'accounts.not-found',
  'accounts.not-generated',
  'accounts.clipboard-unavailable',
  'accounts.not-rotatable',
  'accounts.rotation-busy',
  'accounts.rotation-failed',
  'accounts.rotation-unfinished',
  'cloudflare.token-missing',
  'cloudflare.token-invalid',
  'cloudflare.permission-missing',
  'cloudflare.network',
  'cloudflare.rate-limited',
  'cloudflare.conflict',
  'cloudflare.api',
  'cloudflare.not-configured',
  'cloudflare.hostname-outside-zone',
  'cloudflare.cancelled',
  'fallback.not-ready',
  'fallback.invalid',
  'fallback.busy',
  'fallback.duplicate',
  'fallback.not-found',
  'fallback.switch-failed',
  'fallback.port-mapping',
  'fallback.laptop-tunnel',
  'updates.invalid',
  'updates.busy',
  'updates.not-found',
  'updates.refused',
  'updates.registry-unreachable',
  'updates.registry-failed',
  'updates.backup-failed',
  'recovery.pdf-unavailable',
  'recovery.pdf-failed',
  'logs.unknown-service',
  'logs.action-failed',
  'diagnostics.write-failed',
  'backups.disabled',
  'backups.busy',
  'backups.failed',
  'backups.not-found',
  'backups.target-exists',
  'backups.restored-nothing',
  'backups.restore-failed',
  'backups.restore-unfinished',
  'backups.no-room',
] as const;

export const ErrorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorShape = z.object({
  code: ErrorCode,
  userMessage: z.string(),
  hint: z.string().optional(),
  field: z.string().optional(),
});
export type ErrorShape = z.infer<typeof ErrorShape>;

/** Every call answers with this envelope: Electron only carries `error.message` across invoke. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorShape };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (error: ErrorShape): Result<never> => ({ ok: false, error });
