import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretMask } from '../../contract/stack';
import { MemorySecretStore, type SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { PASSWORD_ALPHABET, StackSecrets, generateSecretValue, type RandomBytes } from './secrets';
import type { SecretRequest } from './types';

const requests: SecretRequest[] = [
  { name: 'authentik.bootstrap-token', kind: 'token', generated: true },
  { name: 'nextcloud.db-password', kind: 'password', generated: true },
  { name: 'authentik.secret-key', kind: 'hex32', generated: true },
  { name: 'cloudflared.tunnel-token', kind: 'token', generated: false },
];

/** A random source that plays back `bytes` (then zeros), to drive the generators exactly. */
const scripted = (bytes: number[]): RandomBytes => {
  let i = 0;
  return (n) => Buffer.from(Array.from({ length: n }, () => bytes[i++] ?? 0));
};

describe('generateSecretValue', () => {
  it('makes tokens of 32 bytes as 43 base64url characters without padding', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const v = generateSecretValue('token', () => Buffer.from(bytes)).reveal();
        expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Buffer.from(v, 'base64url')).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('makes hex32 values of 64 lower-case hex digits that decode to the 32 bytes drawn', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const v = generateSecretValue('hex32', () => Buffer.from(bytes)).reveal();
        expect(v).toMatch(/^[0-9a-f]{64}$/);
        expect(Buffer.from(v, 'hex')).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('makes passwords of exactly 24 characters from [A-Za-z0-9], whatever bytes the source gives', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 400 }), (stream) => {
        // Bytes ≥ 248 are rejected: a source that gives only those for a while must still end in 24 characters.
        let i = 0;
        const random: RandomBytes = (n) => Buffer.from(Array.from({ length: n }, () => (i < stream.length ? (stream[i++] ?? 0) : i++ % 248)));
        const v = generateSecretValue('password', random).reveal();
        expect(v).toHaveLength(24);
        expect(v).toMatch(/^[A-Za-z0-9]{24}$/);
      }),
    );
  });

  it('maps accepted bytes onto the alphabet and draws again for 248–255 (no modulo bias)', () => {
    const v = generateSecretValue('password', scripted([248, 255, 0, 61, 62, 247, ...Array.from({ length: 20 }, () => 1)])).reveal();
    expect(v.slice(0, 4)).toBe(`${PASSWORD_ALPHABET[0]}${PASSWORD_ALPHABET[61]}${PASSWORD_ALPHABET[0]}${PASSWORD_ALPHABET[247 % 62]}`);
    expect(v).toBe(`A9A9${'B'.repeat(20)}`);
  });

  it('keeps a source of only rejected bytes asking for more, and stops as soon as 24 are accepted', () => {
    let calls = 0;
    const random: RandomBytes = (n) => {
      calls++;
      return Buffer.alloc(n, calls < 3 ? 250 : 7);
    };
    expect(generateSecretValue('password', random).reveal()).toBe(PASSWORD_ALPHABET[7]?.repeat(24));
    expect(calls).toBe(3);
  });

  it('spreads password characters evenly over the alphabet (chi-square on 200 000 characters)', () => {
    const counts = new Map<string, number>();
    const n = 200_000 / 24;
    for (let i = 0; i < n; i++) for (const c of generateSecretValue('password', randomBytes).reveal()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...PASSWORD_ALPHABET].sort().join(''));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const expected = total / 62;
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    // 61 degrees of freedom: p = 1e-6 at about 130. A modulo-biased generator (256 % 62) scores in the thousands.
    expect(chi2).toBeLessThan(130);
  });

  it('never repeats across many draws from the real CSPRNG', () => {
    for (const kind of ['token', 'password', 'hex32'] as const) {
      const seen = new Set(Array.from({ length: 2000 }, () => generateSecretValue(kind).reveal()));
      expect(seen.size).toBe(2000);
    }
  });
});

describe('StackSecrets', () => {
  it('generates the missing generated secrets once, stores them, and leaves absent the ones it cannot generate', async () => {
    const store = new MemorySecretStore();
    const secrets = new StackSecrets(store);
    const first = await secrets.ensure('home', requests);
    expect([...first.keys()]).toEqual(['authentik.bootstrap-token', 'nextcloud.db-password', 'authentik.secret-key']);
    expect(store.accounts()).toEqual(['home/authentik.bootstrap-token', 'home/authentik.secret-key', 'home/nextcloud.db-password']);
    expect(first.get('authentik.bootstrap-token')?.reveal()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.get('nextcloud.db-password')?.reveal()).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(first.get('authentik.secret-key')?.reveal()).toMatch(/^[0-9a-f]{64}$/);

    const second = await secrets.ensure('home', requests);
    for (const [name, v] of first) expect(second.get(name)?.reveal()).toBe(v.reveal());
  });

  it('never replaces an existing value, even one that does not look like its kind', async () => {
    const store = new MemorySecretStore();
    await store.set('home', 'nextcloud.db-password', new Secret('chosen-by-admin'));
    const got = await new StackSecrets(store).ensure('home', requests);
    expect(got.get('nextcloud.db-password')?.reveal()).toBe('chosen-by-admin');
  });

  it('returns a secret set later for a non-generated request', async () => {
    const secrets = new StackSecrets(new MemorySecretStore());
    await secrets.set('home', 'cloudflared.tunnel-token', new Secret('eyJhIjoi'));
    expect((await secrets.ensure('home', requests)).get('cloudflared.tunnel-token')?.reveal()).toBe('eyJhIjoi');
  });

  it('summarises masked, without generating anything', async () => {
    const store = new MemorySecretStore();
    const secrets = new StackSecrets(store);
    expect(await secrets.summaries('home', requests)).toEqual(requests.map((r) => ({ name: r.name, masked: '', set: false })));
    expect(store.accounts()).toEqual([]);
    await secrets.ensure('home', requests);
    const s = await secrets.summaries('home', requests);
    expect(s.map((x) => [x.name, x.set, x.masked])).toEqual([
      ['authentik.bootstrap-token', true, secretMask],
      ['nextcloud.db-password', true, secretMask],
      ['authentik.secret-key', true, secretMask],
      ['cloudflared.tunnel-token', false, ''],
    ]);
  });

  it('keeps profiles apart', async () => {
    const secrets = new StackSecrets(new MemorySecretStore());
    const a = await secrets.ensure('home', requests);
    const b = await secrets.ensure('cabin', requests);
    expect(a.get('nextcloud.db-password')?.reveal()).not.toBe(b.get('nextcloud.db-password')?.reveal());
  });

  it('gives two concurrent ensure() calls for one profile the same values (no double generation)', async () => {
    // A slow keychain: without serialising, both calls read "missing" before either writes.
    const inner = new MemorySecretStore();
    let writes = 0;
    const slow: SecretStore = {
      get: async (p, n) => {
        await new Promise((r) => setTimeout(r, 5));
        return inner.get(p, n);
      },
      set: async (p, n, v) => {
        writes++;
        await new Promise((r) => setTimeout(r, 5));
        return inner.set(p, n, v);
      },
      delete: (p, n) => inner.delete(p, n),
      names: (p) => inner.names(p),
    };
    const secrets = new StackSecrets(slow);
    const results = await Promise.all([secrets.ensure('home', requests), secrets.ensure('home', requests), secrets.forProfile('home').ensureOne(requests[1] as SecretRequest)]);
    expect(writes).toBe(3);
    for (const name of ['authentik.bootstrap-token', 'nextcloud.db-password', 'authentik.secret-key']) {
      expect(results[1].get(name)?.reveal()).toBe(results[0].get(name)?.reveal());
    }
    expect(results[2]?.reveal()).toBe(results[0].get('nextcloud.db-password')?.reveal());
  });

  it('goes on serving a profile after a keychain failure', async () => {
    const inner = new MemorySecretStore();
    let fail = true;
    const flaky: SecretStore = {
      get: (p, n) => (fail ? Promise.reject(new Error('locked')) : inner.get(p, n)),
      set: (p, n, v) => inner.set(p, n, v),
      delete: (p, n) => inner.delete(p, n),
      names: (p) => inner.names(p),
    };
    const secrets = new StackSecrets(flaky);
    await expect(secrets.ensure('home', requests)).rejects.toThrow('locked');
    fail = false;
    expect((await secrets.ensure('home', requests)).size).toBe(3);
  });

  it('hands out values that never print: JSON, String() and inspect show no value', async () => {
    const got = await new StackSecrets(new MemorySecretStore()).ensure('home', requests);
    const text = [JSON.stringify(Object.fromEntries(got)), String(got.get('nextcloud.db-password')), inspect(got, { depth: 5 }), `${String([...got.values()])}`].join('\n');
    for (const v of got.values()) expect(text).not.toContain(v.reveal());
  });

  it('refuses invalid names before touching the keychain', async () => {
    const store = new MemorySecretStore();
    await expect(new StackSecrets(store).ensure('home', [{ name: 'Bad/Name', kind: 'token', generated: true }])).rejects.toMatchObject({ code: 'internal' });
    expect(store.accounts()).toEqual([]);
  });
});
