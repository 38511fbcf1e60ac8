import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, backoffMs, classifyNetworkError, classifyStatus, decide, parseRetryAfter, type Failure, type RetryPolicy } from './retry-policy';

const h = (o: Record<string, string>): Headers => new Headers(o);
const NOW = Date.parse('2026-12-04T23:00:00Z');

describe('Retry-After', () => {
  it('reads seconds (rounded up), retry-after-ms first, and an HTTP date against the clock', () => {
    expect(parseRetryAfter(h({ 'retry-after': '8' }), NOW)).toBe(8000);
    expect(parseRetryAfter(h({ 'retry-after': ' 1.5 ' }), NOW)).toBe(1500);
    expect(parseRetryAfter(h({ 'retry-after': '0' }), NOW)).toBe(0);
    expect(parseRetryAfter(h({ 'retry-after-ms': '150', 'retry-after': '2' }), NOW)).toBe(150);
    expect(parseRetryAfter(h({ 'retry-after-ms': '10.2' }), NOW)).toBe(11);
    expect(parseRetryAfter(h({ 'retry-after': 'Fri, 04 Dec 2026 23:00:30 GMT' }), NOW)).toBe(30_000);
    // A date already past means "now", not a negative wait.
    expect(parseRetryAfter(h({ 'retry-after': 'Fri, 04 Dec 2026 22:59:00 GMT' }), NOW)).toBe(0);
  });

  it('ignores what it cannot read, so backoff alone decides', () => {
    for (const v of ['', 'soon', '-5', '5s', '1e3', 'NaN', 'Infinity', '12, 13']) expect(parseRetryAfter(h({ 'retry-after': v }), NOW), v).toBeNull();
    expect(parseRetryAfter(h({ 'retry-after-ms': 'x', 'retry-after': '3' }), NOW)).toBe(3000);
    expect(parseRetryAfter(h({}), NOW)).toBeNull();
  });

  it('never answers a negative, fractional or non-finite wait, whatever the header says', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const v = parseRetryAfter(h({ 'retry-after': a.replace(/[\r\n\0]/g, ''), 'retry-after-ms': b.replace(/[\r\n\0]/g, '') }), NOW);
        return v === null || (Number.isInteger(v) && v >= 0);
      }),
    );
  });
});

describe('what is retried', () => {
  it('429, 408 and 5xx are; every other 4xx never is', () => {
    expect(classifyStatus(429, h({ 'retry-after': '8' }), NOW)).toEqual({ kind: 'rate-limited', status: 429, retryAfterMs: 8000 });
    expect(classifyStatus(503, h({}), NOW)).toEqual({ kind: 'server-error', status: 503, retryAfterMs: null });
    expect(classifyStatus(408, h({}), NOW)?.kind).toBe('server-error');
    for (let s = 400; s < 500; s++) if (s !== 408 && s !== 429) expect(classifyStatus(s, h({ 'retry-after': '1' }), NOW), String(s)).toBeNull();
    expect(classifyStatus(200, h({}), NOW)).toBeNull();
  });

  it('tells a connection never made from one that dropped or went unanswered (which a create may have reached)', () => {
    const undici = (code: string): Error => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
    expect(classifyNetworkError(undici('ECONNREFUSED'), false)).toMatchObject({ reason: 'could not connect', sent: false });
    expect(classifyNetworkError(undici('ENOTFOUND'), false)).toMatchObject({ reason: 'could not connect', sent: false });
    expect(classifyNetworkError(undici('ECONNRESET'), false)).toMatchObject({ reason: 'connection dropped', sent: true });
    expect(classifyNetworkError(undici('UND_ERR_SOCKET'), false)).toMatchObject({ reason: 'connection dropped', sent: true });
    expect(classifyNetworkError(new TypeError('fetch failed'), false)).toMatchObject({ reason: 'connection dropped', sent: true });
    expect(classifyNetworkError(new DOMException('x', 'TimeoutError'), true)).toMatchObject({ reason: 'no answer in time', sent: true });
  });
});

describe('the policy', () => {
  const P = DEFAULT_RETRY_POLICY;
  const rl = (retryAfterMs: number | null): Failure => ({ kind: 'rate-limited', status: 429, retryAfterMs });

  it('backs off exponentially with jitter, capped', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffMs(n, P, () => 1))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect([1, 2, 3].map((n) => backoffMs(n, P, () => 0))).toEqual([500, 1000, 2000]);
  });

  it('waits what Cloudflare asked when that is longer than the backoff, and says which attempt comes next', () => {
    expect(decide(rl(8000), 2, 3000, P, () => 1)).toEqual({ kind: 'retry', waitMs: 8000, attempt: 3, maxAttempts: 10 });
    expect(decide(rl(null), 1, 0, P, () => 1)).toEqual({ kind: 'retry', waitMs: 1000, attempt: 2, maxAttempts: 10 });
  });

  it('gives up at the attempt limit, at the time budget, and at once when Cloudflare asks for longer than is left', () => {
    expect(decide(rl(1000), 10, 10_000, P, () => 1)).toEqual({ kind: 'give-up', why: 'attempts', attempts: 10 });
    expect(decide(rl(null), 8, 100_000, P, () => 1)).toEqual({ kind: 'give-up', why: 'budget', attempts: 8 });
    // Cloudflare's global limit blocks for five minutes: waiting would only hide that.
    expect(decide(rl(300_000), 1, 0, P, () => 0.5)).toEqual({ kind: 'give-up', why: 'asked-too-long', attempts: 1 });
  });

  const policies = fc.record({
    maxAttempts: fc.integer({ min: 1, max: 15 }),
    budgetMs: fc.integer({ min: 0, max: 300_000 }),
    baseDelayMs: fc.integer({ min: 1, max: 5_000 }),
    maxDelayMs: fc.integer({ min: 1, max: 60_000 }),
    attemptTimeoutMs: fc.constant(20_000),
  });
  const failures = fc.oneof(
    fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: null }).map(rl),
    fc.record({ kind: fc.constant('server-error' as const), status: fc.integer({ min: 500, max: 599 }), retryAfterMs: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: null }) }),
    fc.constant<Failure>({ kind: 'network', reason: 'connection dropped', sent: true, retryAfterMs: null }),
  );

  it('played out against any run of failures: never more attempts than the limit, never sooner than Retry-After, nothing starts after the budget', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(policies, fc.array(failures, { minLength: 1, maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1 }), fc.array(fc.integer({ min: 0, max: 25_000 }), { minLength: 1 }), (policy: RetryPolicy, fails, dice, took) => {
        let t = 0;
        let attempts = 0;
        let i = 0;
        for (;;) {
          attempts++;
          const start = t;
          expect(start).toBeLessThanOrEqual(policy.budgetMs);
          t += took[i % took.length] ?? 0;
          const f = fails[Math.min(i, fails.length - 1)] as Failure;
          const d = decide(f, attempts, t, policy, () => dice[i % dice.length] ?? 0);
          i++;
          if (d.kind === 'give-up') break;
          expect(d.waitMs).toBeGreaterThanOrEqual(f.retryAfterMs ?? 0);
          expect(d.attempt).toBe(attempts + 1);
          t += d.waitMs;
        }
        expect(attempts).toBeLessThanOrEqual(policy.maxAttempts);
        expect(attempts).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('rides out a 30-second storm with Retry-After of 1 s within the default limits, whatever the dice', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 10, maxLength: 10 }), (dice) => {
        let t = 0;
        for (let attempts = 1; ; attempts++) {
          if (t >= 30_000) return attempts <= 10;
          const d = decide(rl(1000), attempts, t, P, () => dice[attempts - 1] ?? 0);
          if (d.kind === 'give-up') return false;
          t += d.waitMs;
        }
      }),
    );
  });
});
