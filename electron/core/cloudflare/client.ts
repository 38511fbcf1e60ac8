/**
 * The official `cloudflare` SDK, built per run with the token from the keychain. The SDK does the retrying
 * (connection errors, 408/409/429/5xx; Retry-After honoured; exponential backoff otherwise); the app only
 * watches it, through the SDK's `fetch` option: every attempt carries `X-Stainless-Retry-Count`, so a failed
 * attempt with retries left is exactly one the SDK is about to repeat, and becomes a visible "retrying" event.
 */
import Cloudflare from 'cloudflare';
import type { Secret } from '../secrets/secret';

export interface RetryNotice {
  method: string;
  /** The API path (no query, no host); never carries the token, which travels only in a header. */
  path: string;
  /** 1 for the first retry. */
  attempt: number;
  maxRetries: number;
  reason: string;
  waitMs: number | null;
}

export interface ClientOptions {
  /** Default: the SDK's (CLOUDFLARE_BASE_URL, else https://api.cloudflare.com/client/v4). */
  baseURL?: string | undefined;
  maxRetries?: number | undefined;
  timeoutMs?: number | undefined;
  onRetry?: ((n: RetryNotice) => void) | undefined;
  fetch?: typeof fetch | undefined;
}

export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_TIMEOUT_MS = 20_000;

/** The SDK's own rule (client.ts shouldRetry): `x-should-retry` wins, else 408, 409, 429 and ≥ 500. */
export function sdkWillRetry(res: Response): boolean {
  const forced = res.headers.get('x-should-retry');
  if (forced === 'true') return true;
  if (forced === 'false') return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

/** The wait Cloudflare asked for, as the SDK reads it (retry-after-ms, then retry-after in seconds or as a date). */
export function retryAfterMs(headers: Headers): number | null {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const raw = headers.get('retry-after');
  if (raw === null) return null;
  const s = Number.parseFloat(raw);
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

const reasonFor = (status: number): string =>
  status === 429 ? 'rate limited by Cloudflare (429)' : status >= 500 ? `Cloudflare error ${status}` : status === 409 ? 'conflict (409)' : `HTTP ${status}`;

function pathOf(input: string | URL | Request): string {
  const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(raw).pathname.replace(/^.*\/client\/v4/, '');
  } catch {
    return '';
  }
}

/** A fetch that reports each attempt the SDK will retry, then hands the outcome back unchanged. */
export function retryObservingFetch(maxRetries: number, onRetry: (n: RetryNotice) => void, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const retryCount = Number(new Headers(init?.headers).get('x-stainless-retry-count') ?? '0') || 0;
    const left = maxRetries - retryCount;
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = pathOf(input);
    let res: Response;
    try {
      res = await base(input, init);
    } catch (err) {
      if (left > 0) {
        const timeout = err instanceof Error && (err.name === 'AbortError' || /timed? ?out/i.test(String(err)));
        onRetry({ method, path, attempt: retryCount + 1, maxRetries, reason: timeout ? 'no answer in time' : 'could not connect', waitMs: null });
      }
      throw err;
    }
    if (!res.ok && left > 0 && sdkWillRetry(res)) {
      onRetry({ method, path, attempt: retryCount + 1, maxRetries, reason: reasonFor(res.status), waitMs: retryAfterMs(res.headers) });
    }
    return res;
  };
}

export function createCloudflareClient(token: Secret, opts: ClientOptions = {}): Cloudflare {
  const maxRetries = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  const base = opts.fetch ?? fetch;
  return new Cloudflare({
    apiToken: token.reveal(),
    // Never pick up a global key/email from the environment next to the token.
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    maxRetries,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // The SDK's debug logging prints request details; the app logs its own facts instead.
    logLevel: 'off',
    fetch: opts.onRetry ? retryObservingFetch(maxRetries, opts.onRetry, base) : base,
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
