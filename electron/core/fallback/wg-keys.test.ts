import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Secret } from '../secrets/secret';
import { clampScalar, generateKeyPair, generatePresharedKey, isWgKey, publicKeyOf } from './wg-keys';

const hexToWg = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

describe('WireGuard keys', () => {
  it('derives the public keys of RFC 7748 §6.1 (Alice and Bob)', () => {
    expect(publicKeyOf(new Secret(hexToWg('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')))).toBe(
      hexToWg('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
    );
    expect(publicKeyOf(new Secret(hexToWg('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')))).toBe(
      hexToWg('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
    );
  });

  it('generates private keys clamped exactly like wg genkey, in wg form, with a matching public key', () => {
    for (let i = 0; i < 200; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      const raw = Buffer.from(privateKey.reveal(), 'base64');
      expect(raw).toHaveLength(32);
      expect(raw[0]! & 7).toBe(0);
      expect(raw[31]! & 0xc0).toBe(0x40);
      expect(isWgKey(privateKey.reveal())).toBe(true);
      expect(isWgKey(publicKey)).toBe(true);
      expect(publicKeyOf(privateKey)).toBe(publicKey);
    }
  });

  it('keeps the private key out of strings and JSON', () => {
    const pair = generateKeyPair();
    expect(JSON.stringify(pair)).not.toContain(pair.privateKey.reveal());
    expect(`${pair.privateKey}`).toBe('[REDACTED]');
  });

  it('clamping sets exactly the bits wg genkey sets and leaves the others alone', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const c = clampScalar(Buffer.from(bytes));
        expect(c[0]).toBe(bytes[0]! & 248);
        expect(c[31]).toBe((bytes[31]! & 127) | 64);
        expect(c.subarray(1, 31).equals(Buffer.from(bytes.subarray(1, 31)))).toBe(true);
        // Clamping is idempotent and does not change the public key (X25519 clamps anyway).
        expect(clampScalar(Buffer.from(c)).equals(c)).toBe(true);
        expect(publicKeyOf(new Secret(c.toString('base64')))).toBe(publicKeyOf(new Secret(Buffer.from(bytes).toString('base64'))));
      }),
      { numRuns: 100 },
    );
  });

  it('makes preshared keys of 32 random bytes in wg form', () => {
    const a = generatePresharedKey().reveal();
    const b = generatePresharedKey().reveal();
    expect(isWgKey(a)).toBe(true);
    expect(Buffer.from(a, 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('accepts only what wg accepts as a key: 44 characters, 32 bytes, "=" last, canonical', { timeout: 60_000 }, () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => isWgKey(Buffer.from(b).toString('base64'))));
    const good = hexToWg('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(isWgKey(good)).toBe(true);
    for (const bad of [
      '',
      good.slice(0, 43),
      `${good.slice(0, 43)}A`,
      `${good}=`,
      `${good.slice(0, 42)}B=`, // last data character carries bits beyond 32 bytes
      `${good.slice(0, 10)}-${good.slice(11)}`, // base64url
      ` ${good.slice(1)}`,
      `${good.slice(0, 43)}\n`,
      Buffer.alloc(31).toString('base64'),
      Buffer.alloc(33).toString('base64'),
    ]) {
      expect(isWgKey(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('refuses to derive a public key from something that is not a key', () => {
    expect(() => publicKeyOf(new Secret('not a key'))).toThrow(/not a WireGuard key/);
    expect(() => clampScalar(Buffer.alloc(31))).toThrow(RangeError);
  });
});
