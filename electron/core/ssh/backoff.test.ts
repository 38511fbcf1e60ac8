import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, hostKeyStopReason } from './ssh-connection';

describe('reconnect backoff', () => {
  it('grows by doubling from the base and never waits longer than the cap, whatever the attempt', { timeout: 60_000 }, () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 500, 30_000, () => 0.999999))).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999]);
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 5_000 }), fc.double({ min: -1, max: 2, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, 500, 30_000, () => r);
        return Number.isInteger(d) && d >= 0 && d <= 30_000;
      }),
    );
  });

  it('a host key to decide on ends the reconnect with a reason that sends the admin to Setup', () => {
    expect(hostKeyStopReason({ kind: 'host-key-changed', fingerprint: 'SHA256:x', expected: ['SHA256:y'], keyType: 'ssh-ed25519' })).toMatch(/different host key.*Connect from Setup/);
    expect(hostKeyStopReason({ kind: 'confirm-host-key', fingerprint: 'SHA256:x', keyType: 'ssh-ed25519' })).toMatch(/not on record.*Connect from Setup/);
  });
});
