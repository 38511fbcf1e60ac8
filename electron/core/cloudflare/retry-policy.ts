/**
 * How long the app keeps trying a Cloudflare request that failed for a reason that passes: a rate limit (429),
 * a Cloudflare server error (408, 5xx) or the network. Pure: the clock, the sleep and the dice come in from outside,
 * so tests run on fake time.
 *
 * Cloudflare's API answers a 429 with `retry-after` in whole seconds, rounded up (developers.cloudflare.com,
 * fundamentals/api/reference/limits; changelog 2025-09-03), and blocks a token that passed the global limit for up
 * to five minutes. The SDK also reads `retry-after-ms` and an HTTP date; all three are accepted here, and anything
 * else is ignored (backoff alone then decides).
 */

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  /** The longest the app keeps trying one request, from its first attempt to the start of its last one. */
  readonly budgetMs: number;
  /** The first backoff; it doubles with each retry up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** One attempt that has no answer after this long is given up (and, when it is safe, retried). */
  readonly attemptTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  budgetMs: 120_000,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  attemptTimeoutMs: 20_000,
};

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export type Failure =
  | { kind: 'rate-limited'; status: 429; retryAfterMs: number | null }
  | { kind: 'server-error'; status: number; retryAfterMs: number | null }
  /** `sent`: the request may have reached Cloudflare (a reset or no answer), so a create may have happened. */
  | { kind: 'network'; reason: 'could not connect' | 'connection dropped' | 'no answer in time'; sent: boolean; retryAfterMs: null };

interface HeaderLike {
  get(name: string): string | null;
}

/** The wait Cloudflare asked for, in ms: `retry-after-ms`, else `retry-after` as seconds or as an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(headers: HeaderLike, nowMs: number): number | null {
  const ms = (headers.get('retry-after-ms') ?? '').trim();
  if (/^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const raw = (headers.get('retry-after') ?? '').trim();
  if (raw === '') return null;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.ceil(Number(raw) * 1000);
  // An HTTP date names a weekday and a month: a bare number or a stray word is not one.
  if (!/[a-z]{3}/i.test(raw)) return null;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

/** What a failed answer means for retrying; null for an answer that is final (every 4xx but 408 and 429). */
export function classifyStatus(status: number, headers: HeaderLike, nowMs: number): Failure | null {
  if (status === 429) return { kind: 'rate-limited', status: 429, retryAfterMs: parseRetryAfter(headers, nowMs) };
  if (status === 408 || (status >= 500 && status <= 599)) return { kind: 'server-error', status, retryAfterMs: parseRetryAfter(headers, nowMs) };
  return null;
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function codesOf(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') out.push(code);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const x of errors) if (x && typeof (x as { code?: unknown }).code === 'string') out.push((x as { code: string }).code);
  }
  return out;
}

/** A fetch that threw: could not connect (nothing was sent), dropped, or no answer in time (either may have been received). */
export function classifyNetworkError(err: unknown, timedOut: boolean): Failure {
  if (timedOut) return { kind: 'network', reason: 'no answer in time', sent: true, retryAfterMs: null };
  const codes = codesOf(err);
  if (codes.some((c) => NOT_SENT.has(c)) && !codes.some((c) => c === 'ECONNRESET' || c === 'UND_ERR_SOCKET')) {
    return { kind: 'network', reason: 'could not connect', sent: false, retryAfterMs: null };
  }
  return { kind: 'network', reason: 'connection dropped', sent: true, retryAfterMs: null };
}

/** Capped exponential backoff with equal jitter: between half and all of min(base·2^(retry-1), max). `retry` is 1 for the first. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, retry - 1)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}

export type Decision =
  | { kind: 'retry'; waitMs: number; /** The attempt about to be made (2 for the first retry). */ attempt: number; maxAttempts: number }
  | {
      kind: 'give-up';
      /** attempts: all were used; budget: the next wait would run past the time budget; asked-too-long: Cloudflare alone asked for more than is left. */
      why: 'attempts' | 'budget' | 'asked-too-long';
      attempts: number;
    };

/**
 * After `attempts` attempts (≥ 1) and `elapsedMs` since the first began, with this failure: wait and try again, or
 * stop. Never more than `maxAttempts`, never sooner than Retry-After, and no attempt starts after `budgetMs`.
 */
export function decide(failure: Failure, attempts: number, elapsedMs: number, policy: RetryPolicy, random: () => number): Decision {
  if (attempts >= policy.maxAttempts) return { kind: 'give-up', why: 'attempts', attempts };
  const left = policy.budgetMs - Math.max(0, elapsedMs);
  const asked = failure.retryAfterMs ?? 0;
  if (asked > left) return { kind: 'give-up', why: 'asked-too-long', attempts };
  const waitMs = Math.max(asked, backoffMs(attempts, policy, random));
  if (waitMs > left) return { kind: 'give-up', why: 'budget', attempts };
  return { kind: 'retry', waitMs, attempt: attempts + 1, maxAttempts: policy.maxAttempts };
}

/** A reason in the admin's words: "Cloudflare is rate-limiting", "Cloudflare answered 503", "the connection dropped". */
export function failureInWords(f: Failure): string {
  switch (f.kind) {
    case 'rate-limited':
      return 'Cloudflare is rate-limiting';
    case 'server-error':
      return f.status === 408 ? 'Cloudflare timed the request out (408)' : `Cloudflare answered with a server error (${f.status})`;
    case 'network':
      return f.reason === 'could not connect' ? 'Cloudflare could not be reached' : f.reason === 'no answer in time' ? 'Cloudflare did not answer in time' : 'the connection to Cloudflare dropped';
  }
}
