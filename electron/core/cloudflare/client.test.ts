import { APIConnectionError, BadRequestError } from 'cloudflare';
import { describe, expect, it } from 'vitest';
import { Secret } from '../secrets/secret';
import { RetriesExhausted, RunCancelled, createCloudflareClient, retryingFetch, type RetryNotice, type RunRetry } from './client';
import { DEFAULT_RETRY_POLICY, type Clock, type Failure } from './retry-policy';

/** Fake time: a sleep moves the clock at once and is recorded. */
function fakeClock(): Clock & { sleeps: number[]; t: number } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal): Promise<void> => {
      if (signal?.aborted) throw signal.reason;
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

const envelope = (status: number, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify({ success: status < 400, errors: status < 400 ? [] : [{ code: 971, message: 'Please wait' }], messages: [], result: { id: 'z1', name: 'example.com' } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

function setup(answers: Array<Response | Error | ((clock: ReturnType<typeof fakeClock>) => Response)>, extra: Partial<RunRetry> = {}) {
  const clock = fakeClock();
  const notices: RetryNotice[] = [];
  const unsafe: Failure[] = [];
  const calls: Array<{ method: string; at: number }> = [];
  const base: typeof fetch = async (_input, init) => {
    calls.push({ method: init?.method ?? 'GET', at: clock.t });
    const a = answers.length > 1 ? answers.shift() : answers[0];
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a(clock) : (a as Response).clone();
  };
  const retry: RunRetry = { policy: DEFAULT_RETRY_POLICY, clock, random: () => 1, onRetry: (n) => notices.push(n), onUnsafeToRepeat: (f) => unsafe.push(f), ...extra };
  return { clock, notices, unsafe, calls, f: retryingFetch(retry, base), retry, base };
}

const URL_ZONES = 'http://127.0.0.1:8787/client/v4/zones/z1';
const reset = (): Error => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
const refused = (): Error => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });

describe('retrying fetch (fake time)', () => {
  it('rides out a rate limit, waiting what Cloudflare asked, and reports each wait with the attempt to come', async () => {
    const s = setup([envelope(429, { 'retry-after': '8' }), envelope(429, { 'retry-after': '8' }), envelope(200)]);
    const res = await s.f(URL_ZONES, { method: 'GET' });
    expect(res.status).toBe(200);
    expect(s.clock.sleeps).toEqual([8000, 8000]);
    expect(s.notices.map((n) => [n.reason, n.attempt, n.maxAttempts, n.waitMs, n.path])).toEqual([
      ['Cloudflare is rate-limiting', 2, 10, 8000, '/zones/z1'],
      ['Cloudflare is rate-limiting', 3, 10, 8000, '/zones/z1'],
    ]);
    expect(s.calls.map((c) => c.at)).toEqual([0, 8000, 16000]);
  });

  it('gives up after the attempt limit, never sooner than each Retry-After, and within the time budget', async () => {
    const s = setup([envelope(429, { 'retry-after': '1' })]);
    const err = await s.f(URL_ZONES, { method: 'GET' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhausted);
    expect(err).toMatchObject({ attempts: expect.any(Number), failure: { kind: 'rate-limited' } });
    expect(s.calls.length).toBeLessThanOrEqual(10);
    expect(s.calls.at(-1)?.at ?? Infinity).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.budgetMs);
    for (const w of s.clock.sleeps) expect(w).toBeGreaterThanOrEqual(1000);
    // 1+2+4+8+16+30+30 s = 91 s; another 30 s would pass the 2-minute budget.
    expect(s.clock.sleeps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect((err as RetriesExhausted).why).toBe('budget');
  });

  it('does not wait at all when Cloudflare asks for longer than the budget (its five-minute block)', async () => {
    const s = setup([envelope(429, { 'retry-after': '300' })]);
    await expect(s.f(URL_ZONES, { method: 'GET' })).rejects.toMatchObject({ why: 'asked-too-long', attempts: 1 });
    expect(s.clock.sleeps).toEqual([]);
  });

  it('never retries a 4xx other than 429 (and 408)', async () => {
    for (const status of [400, 401, 403, 404, 409, 422]) {
      const s = setup([envelope(status), envelope(200)]);
      expect((await s.f(URL_ZONES, { method: 'GET' })).status).toBe(status);
      expect(s.calls).toHaveLength(1);
    }
  });

  it('retries 5xx and dropped connections for reads and PUTs, but leaves a POST that may have arrived to its step', async () => {
    const get = setup([envelope(503), reset(), envelope(200)]);
    expect((await get.f(URL_ZONES, { method: 'GET' })).status).toBe(200);
    expect(get.notices.map((n) => n.reason)).toEqual(['Cloudflare answered with a server error (503)', 'the connection to Cloudflare dropped']);

    const post = setup([envelope(502), envelope(200)]);
    expect((await post.f(URL_ZONES, { method: 'POST', body: '{}' })).status).toBe(502);
    expect(post.calls).toHaveLength(1);
    expect(post.unsafe).toEqual([{ kind: 'server-error', status: 502, retryAfterMs: null }]);

    const dropped = setup([reset(), envelope(200)]);
    await expect(dropped.f(URL_ZONES, { method: 'POST', body: '{}' })).rejects.toThrow('fetch failed');
    expect(dropped.unsafe).toMatchObject([{ kind: 'network', sent: true }]);

    // Refused before anything was sent, or rate-limited: the create cannot have happened, so the POST is repeated.
    const safe = setup([refused(), envelope(429, { 'retry-after': '2' }), envelope(200)]);
    expect((await safe.f(URL_ZONES, { method: 'POST', body: '{}' })).status).toBe(200);
    expect(safe.calls).toHaveLength(3);
    expect(safe.unsafe).toEqual([]);
  });

  it('stops at once when the run is cancelled during a wait, and sends nothing more', async () => {
    const ac = new AbortController();
    const s = setup([envelope(429, { 'retry-after': '8' })], {
      onRetry: () => ac.abort(),
      signal: ac.signal,
    });
    await expect(s.f(URL_ZONES, { method: 'GET' })).rejects.toBeInstanceOf(RunCancelled);
    expect(s.calls).toHaveLength(1);
  });
});

describe('the SDK and the app do not both retry', () => {
  it('a run client turns the SDK retries off: ten attempts reach Cloudflare, not thirty', async () => {
    const s = setup([envelope(429, { 'retry-after': '1' })], { policy: { ...DEFAULT_RETRY_POLICY, budgetMs: 10 * 60_000 } });
    const cf = createCloudflareClient(new Secret('t'.repeat(40)), { baseURL: 'http://127.0.0.1:8787/client/v4', retry: s.retry, fetch: s.base });
    const err = await cf.zones.get({ zone_id: 'z1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect((err as APIConnectionError).cause).toBeInstanceOf(RetriesExhausted);
    expect(s.calls).toHaveLength(10);
    expect(s.calls.every((c, i) => i === 0 || c.at > (s.calls[i - 1]?.at ?? 0))).toBe(true);
  });

  it('a client without a run keeps the SDK its own short retries', async () => {
    let calls = 0;
    const cf = createCloudflareClient(new Secret('t'.repeat(40)), {
      baseURL: 'http://127.0.0.1:8787/client/v4',
      maxRetries: 0,
      fetch: async () => {
        calls++;
        return envelope(400);
      },
    });
    await expect(cf.zones.get({ zone_id: 'z1' })).rejects.toBeInstanceOf(BadRequestError);
    expect(calls).toBe(1);
  });
});
