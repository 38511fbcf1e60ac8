/**
 * The official `cloudflare` SDK, built per use with the token from the keychain.
 *
 * Two ways to retry, never both at once. A client for a run the admin watches (publish, removal, rotation) turns
 * the SDK's own retries off (`maxRetries: 0`) and retries inside the SDK's `fetch` instead, by the app's policy
 * (retry-policy.ts): up to 10 attempts and 2 minutes per request, Retry-After honoured, each wait reported as
 * progress, and every wait or request cut short at once when the run is cancelled. Any other client (token check,
 * zone list, the fallback's record) keeps the SDK's short retries (2 by default; 0 for live status).
 *
 * A POST that may have reached Cloudflare (no answer, a dropped connection, a 5xx) is not repeated here: a
 * create could happen twice. The run repeats the whole step instead, which looks before it writes.
 */
import Cloudflare from 'cloudflare';
import type { Secret } from '../secrets/secret';
import { classifyNetworkError, classifyStatus, decide, failureInWords, type Clock, type Failure, type RetryPolicy } from './retry-policy';

export interface RetryNotice {
  method: string;
  /** The API path (no query, no host); never carries the token, which travels only in a header. */
  path: string;
  failure: Failure;
  /** The failure in words: "Cloudflare is rate-limiting", … */
  reason: string;
  /** The attempt about to be made: 2 for the first retry. */
  attempt: number;
  maxAttempts: number;
  waitMs: number;
}

/** A request given up under the policy: thrown from `fetch`, so the SDK hands it on as the cause of its error. */
export class RetriesExhausted extends Error {
  override readonly name = 'RetriesExhausted';
  constructor(
    readonly failure: Failure,
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly why: 'attempts' | 'budget' | 'asked-too-long',
  ) {
    // No `cause`, and no words the SDK reads as a timeout: it would replace this error with its own.
    super(`${failureInWords(failure)}; gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}`);
  }
}

/** The run was cancelled by the admin while a request or a wait was under way. */
export class RunCancelled extends Error {
  override readonly name = 'RunCancelled';
  constructor() {
    super('stopped as asked');
  }
}

export interface RunRetry {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  /** Aborted when the admin cancels the run. */
  readonly signal?: AbortSignal | undefined;
  readonly onRetry: (n: RetryNotice) => void;
  /** A failure left to the step to retry (a POST that may have reached Cloudflare). */
  readonly onUnsafeToRepeat?: ((f: Failure) => void) | undefined;
}

export interface ClientOptions {
  /** Default: the SDK's (CLOUDFLARE_BASE_URL, else https://api.cloudflare.com/client/v4). */
  baseURL?: string | undefined;
  /** The SDK's own retries, for clients without `retry`. */
  maxRetries?: number | undefined;
  timeoutMs?: number | undefined;
  /** The app's retries for a run the admin watches; the SDK's are then off. */
  retry?: RunRetry | undefined;
  fetch?: typeof fetch | undefined;
}

export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_TIMEOUT_MS = 20_000;

function pathOf(input: string | URL | Request): string {
  const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(raw).pathname.replace(/^.*\/client\/v4/, '');
  } catch {
    return '';
  }
}

/** The body of an answer that is not handed on; not awaited (a teed body settles its cancel only with its twin). */
const drain = (res: Response): void => {
  res.body?.cancel().catch(() => undefined);
};

/**
 * A fetch that retries by the policy: 429 always (Cloudflare refused it, so nothing happened); 408, 5xx and
 * network failures for every method but POST, and for a POST only when nothing was sent. Any other answer, and
 * the last failed one when the policy says stop, is handed back (or thrown as RetriesExhausted) for the SDK.
 */
export function retryingFetch(r: RunRetry, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = pathOf(input);
    const repeatable = method !== 'POST';
    const started = r.clock.now();
    for (let attempts = 1; ; attempts++) {
      if (r.signal?.aborted) throw new RunCancelled();
      const timeout = AbortSignal.timeout(r.policy.attemptTimeoutMs);
      const signals = [timeout, ...(init?.signal ? [init.signal] : []), ...(r.signal ? [r.signal] : [])];
      let res: Response | undefined;
      let thrown: Failure | undefined;
      try {
        res = await base(input, { ...init, signal: AbortSignal.any(signals) });
      } catch (err) {
        if (r.signal?.aborted) throw new RunCancelled();
        // The SDK's own deadline: its error to report.
        if (init?.signal?.aborted) throw err;
        thrown = classifyNetworkError(err, timeout.aborted);
        if (!repeatable && thrown.kind === 'network' && thrown.sent) {
          r.onUnsafeToRepeat?.(thrown);
          throw err;
        }
      }
      const failure = thrown ?? (res ? classifyStatus(res.status, res.headers, r.clock.now()) : null);
      if (!failure) return res as Response;
      if (res && !repeatable && failure.kind === 'server-error') {
        r.onUnsafeToRepeat?.(failure);
        return res;
      }
      const d = decide(failure, attempts, r.clock.now() - started, r.policy, r.random);
      if (res) drain(res);
      if (d.kind === 'give-up') throw new RetriesExhausted(failure, attempts, r.clock.now() - started, d.why);
      r.onRetry({ method, path, failure, reason: failureInWords(failure), attempt: d.attempt, maxAttempts: d.maxAttempts, waitMs: d.waitMs });
      try {
        await r.clock.sleep(d.waitMs, r.signal);
      } catch {
        throw new RunCancelled();
      }
    }
  };
}

export function createCloudflareClient(token: Secret, opts: ClientOptions = {}): Cloudflare {
  const base = opts.fetch ?? fetch;
  const retry = opts.retry;
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Cloudflare({
    apiToken: token.reveal(),
    // Never pick up a global key/email from the environment next to the token.
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    maxRetries: retry ? 0 : (opts.maxRetries ?? DEFAULT_MAX_RETRIES),
    // With the app's retries the SDK's deadline covers every attempt and wait of one request: the budget, then one
    // last attempt; each attempt has its own deadline inside.
    timeout: retry ? retry.policy.budgetMs + retry.policy.attemptTimeoutMs + 5_000 : timeout,
    // The SDK's debug logging prints request details; the app logs its own facts instead.
    logLevel: 'off',
    fetch: retry ? retryingFetch({ ...retry, policy: { ...retry.policy, attemptTimeoutMs: Math.min(retry.policy.attemptTimeoutMs, timeout) } }, base) : base,
  });
}

/** The items of an SDK list (its auto-paginating iterator), at most `max`. */
export async function collect<T>(iter: AsyncIterable<T>, max = 1000): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}
