/**
 * WireGuard keys made the way `wg genkey` / `wg genpsk` make them, in wg's 44-character base64.
 *
 * The private scalar is clamped by hand (s[0] &= 248; s[31] = (s[31] & 127) | 64) because Electron's Node runs
 * on BoringSSL, whose X25519 key generation deliberately anti-clamps: such a key still works but differs from
 * what `wg showconf` prints back. The public key is derived by importing the clamped scalar as PKCS#8, which
 * OpenSSL and BoringSSL both accept (Node 20 has no raw private-key import for X25519).
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { Secret } from '../secrets/secret';

const KEY_BYTES = 32;
/** PKCS#8 PrivateKeyInfo for X25519 (OID 1.3.101.110) up to the 32-byte key itself. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** wg's key form: exactly 44 characters, standard base64 of 32 bytes, one '=' last (`key_from_base64`). */
export const isWgKey = (s: string): boolean => /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s);

/** Clamp a 32-byte X25519 scalar in place the way `wg genkey` does (RFC 7748 §5). */
export const clampScalar = (s: Buffer): Buffer => {
  if (s.length !== KEY_BYTES) throw new RangeError(`an X25519 scalar has ${KEY_BYTES} bytes, not ${s.length}`);
  s[0] = (s[0] ?? 0) & 248;
  s[31] = ((s[31] ?? 0) & 127) | 64;
  return s;
};

const keyBytes = (key: string, what: string): Buffer => {
  if (!isWgKey(key)) throw new RangeError(`${what} is not a WireGuard key (44 characters of base64 ending in '=')`);
  return Buffer.from(key, 'base64');
};

/** The public key of a raw 32-byte private scalar (the scalar is clamped by X25519 itself). */
const publicOfBytes = (priv: Buffer): string => {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, priv]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('X25519 public key export gave no x');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
};

/** `wg pubkey`: the public key of a private key in wg form. */
export const publicKeyOf = (privateKey: Secret): string => publicOfBytes(keyBytes(privateKey.reveal(), 'The private key'));

/** `wg genkey` + `wg pubkey`: a fresh clamped private key (kept in a Secret) and its public key. */
export const generateKeyPair = (): { privateKey: Secret; publicKey: string } => {
  const scalar = clampScalar(randomBytes(KEY_BYTES));
  const privateKey = new Secret(scalar.toString('base64'));
  const publicKey = publicOfBytes(scalar);
  scalar.fill(0);
  return { privateKey, publicKey };
};

/** `wg genpsk`: 32 random bytes, unclamped. */
export const generatePresharedKey = (): Secret => new Secret(randomBytes(KEY_BYTES).toString('base64'));
