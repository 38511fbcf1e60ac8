/**
 * What the Cloudflare SDK throws, turned into errors a person can act on: 401 = the token is invalid or expired,
 * 403 = a permission is missing (named), no connection = say so, 429/5xx after the retries = try later (with what
 * Cloudflare asked for and how long the app tried), a cancelled run = stopped as asked, continued by the next run.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'cloudflare';
import { AppError, SEE_LOG } from '../errors';
import { RetriesExhausted, RunCancelled } from './client';

/** The messages Cloudflare put in its v4 envelope, joined; never contains the bearer token (it is only in headers). */
export function apiMessages(err: unknown): string {
  if (err instanceof APIError) {
    const list = (err.errors ?? []) as Array<{ code?: number; message?: string }>;
    const text = list
      .map((e) => `${e.message ?? ''}${e.code !== undefined ? ` (code ${e.code})` : ''}`)
      .filter((s) => s.trim() !== '')
      .join('; ');
    if (text) return text;
  }
  return err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300);
}

/** A permission named in a 403's message, when Cloudflare (or the lab) names one: `…lacks the "DNS Write" permission`. */
export function permissionNamedIn(err: unknown): string | undefined {
  const m = /"([^"]{3,80})" permission/.exec(apiMessages(err));
  return m?.[1];
}

export const isNotFound = (err: unknown): boolean => err instanceof NotFoundError;
export const isConflict = (err: unknown): boolean => err instanceof ConflictError;
export const isForbidden = (err: unknown): boolean => err instanceof PermissionDeniedError;
export const isNetwork = (err: unknown): boolean => err instanceof APIConnectionError;

/**
 * `what` says what the app was doing ("create the tunnel"); `needs` names the permission that call needs, used
 * when the 403 itself names none (the real API usually answers a bare "Authentication error").
 */
const seconds = (ms: number): string => (ms < 90_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`);

/** `during`: the step or the action under way, in words. */
export const cancelledError = (during: string): AppError =>
  new AppError('cloudflare.cancelled', `Publishing was stopped as you asked (during: ${during}).`, {
    hint: 'Publish again to continue where it stopped: finished steps are not repeated and nothing is created twice.',
  });

function exhausted(e: RetriesExhausted, what: string, cause: unknown): AppError {
  const f = e.failure;
  const tried = `${e.attempts} attempt${e.attempts === 1 ? '' : 's'} over ${seconds(e.elapsedMs)}`;
  if (f.kind === 'rate-limited') {
    const asked = f.retryAfterMs;
    if (e.why === 'asked-too-long' && asked !== null) {
      return new AppError('cloudflare.rate-limited', `Cloudflare is rate-limiting the app while trying to ${what} and asked it to wait ${seconds(asked)}, longer than the app waits by itself.`, {
        cause,
        hint: `Publish again after ${new Date(Date.now() + asked).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: finished steps are not repeated.`,
      });
    }
    return new AppError('cloudflare.rate-limited', `Cloudflare kept rate-limiting the app while trying to ${what} (${tried}${asked !== null ? `; it last asked for ${seconds(asked)}` : ''}).`, {
      cause,
      hint: 'Wait a few minutes and publish again: finished steps are not repeated.',
    });
  }
  if (f.kind === 'server-error') {
    return new AppError('cloudflare.api', `Cloudflare kept answering with a server error (${f.status}) while trying to ${what} (${tried}).`, {
      cause,
      hint: 'Cloudflare may be having trouble; check cloudflarestatus.com and publish again later. Finished steps are not repeated.',
    });
  }
  return new AppError('cloudflare.network', `${f.reason === 'could not connect' ? 'Cloudflare could not be reached' : f.reason === 'no answer in time' ? 'Cloudflare did not answer in time' : 'The connection to Cloudflare kept dropping'} while trying to ${what} (${tried}).`, {
    cause,
    hint: 'Check this computer’s internet connection, then publish again. Finished steps are not repeated.',
  });
}

export function toCloudflareError(err: unknown, what: string, needs?: string): AppError {
  if (err instanceof AppError) return err;
  const inner = err instanceof APIConnectionError ? err.cause : err;
  if (inner instanceof RunCancelled) return cancelledError(what);
  if (inner instanceof RetriesExhausted) return exhausted(inner, what, err);
  if (err instanceof AuthenticationError) {
    return new AppError('cloudflare.token-invalid', `Cloudflare refused the API token while trying to ${what}: it is invalid, expired or was revoked.`, {
      cause: err,
      hint: 'Create a new API token in the Cloudflare dashboard (My Profile → API Tokens) and enter it again.',
    });
  }
  if (err instanceof PermissionDeniedError) {
    const named = permissionNamedIn(err) ?? needs;
    const scope = apiMessages(err).includes('9109') ? ' for this account or zone' : '';
    return new AppError(
      'cloudflare.permission-missing',
      named
        ? `The API token lacks the "${named}" permission${scope}, needed to ${what}.`
        : `The API token may not ${what}${scope}: Cloudflare said "${apiMessages(err)}".`,
      {
        cause: err,
        hint: named
          ? `Edit the token in the Cloudflare dashboard (My Profile → API Tokens), add "${named}", then check the token again.`
          : 'Edit the token in the Cloudflare dashboard and give it the permissions listed in the token check.',
      },
    );
  }
  if (err instanceof APIConnectionTimeoutError) {
    return new AppError('cloudflare.network', `Cloudflare did not answer in time while trying to ${what}, even after retrying.`, {
      cause: err,
      hint: 'Check this computer’s internet connection, then try again. Nothing else was changed by this step.',
    });
  }
  if (err instanceof APIConnectionError) {
    return new AppError('cloudflare.network', `Cloudflare could not be reached while trying to ${what}: this computer seems to be offline.`, {
      cause: err,
      hint: 'Check this computer’s internet connection, then try again. Nothing else was changed by this step.',
    });
  }
  if (err instanceof RateLimitError) {
    return new AppError('cloudflare.rate-limited', `Cloudflare kept rate-limiting the app while trying to ${what}, even after waiting and retrying.`, {
      cause: err,
      hint: 'Wait a few minutes and run it again: finished steps are not repeated.',
    });
  }
  if (err instanceof ConflictError) {
    return new AppError('cloudflare.conflict', `Cloudflare reported a conflict while trying to ${what}: ${apiMessages(err)}.`, {
      cause: err,
      hint: 'Run it again: the app looks for what already exists before creating anything.',
    });
  }
  if (err instanceof APIError) {
    const status = typeof err.status === 'number' ? err.status : 0;
    return new AppError(
      'cloudflare.api',
      status >= 500
        ? `Cloudflare had an internal error (${status}) while trying to ${what}, even after retrying.`
        : `Cloudflare refused to ${what}: ${apiMessages(err)}.`,
      {
        cause: err,
        hint: status >= 500 ? 'Cloudflare may be having trouble; check cloudflarestatus.com and try again later.' : 'Check the settings shown, then try again.',
      },
    );
  }
  return new AppError('internal', `Something went wrong while trying to ${what}.`, { cause: err, hint: `Try again. If it keeps happening, ${SEE_LOG}.` });
}
