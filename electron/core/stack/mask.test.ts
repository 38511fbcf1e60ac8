import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secretMask } from '../../contract/stack';
import { Secret } from '../secrets/secret';
import { maskedEnvPair, maskEnvFile, maskSecrets } from './mask';

describe('masking', () => {
  it('replaces every occurrence of every secret, longest first', () => {
    const s = [new Secret('abc'), new Secret('abcdef')];
    expect(maskSecrets('x abcdef y abc z abcdef', s)).toBe(`x ${secretMask} y ${secretMask} z ${secretMask}`);
    expect(maskSecrets('nothing here', [new Secret('')])).toBe('nothing here');
  });

  it('never lets a secret through, whatever surrounds it', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), fc.string(), fc.string(), (secret, a, b) => {
        expect(maskSecrets(`${a}${secret}${b}${secret}`, [new Secret(secret)])).not.toContain(secret);
      }),
    );
  });

  it('masks every value of an env file, and marks the keys whose value changed', () => {
    expect(maskEnvFile("# comment\nA='x'\nB=\n\nC=y")).toBe(`# comment\nA=${secretMask}\nB=\n\nC=${secretMask}`);
    const { before, after } = maskedEnvPair("A='x'\nB='y'\n", "A='x'\nB='z'\nC='n'\n");
    expect(before).toBe(`A=${secretMask}\nB=${secretMask}\n`);
    expect(after).toBe(`A=${secretMask}\nB=${secretMask} (changed)\nC=${secretMask}\n`);
  });
});
