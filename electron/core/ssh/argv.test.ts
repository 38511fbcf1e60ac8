import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { shellQuote, toShell, withSudo } from './argv';

describe('quoting', () => {
  it('leaves plain words alone and single-quotes everything else', () => {
    expect(toShell(['docker', 'compose', '--project-name', 'm2', 'ps', '--format', 'json'])).toBe('docker compose --project-name m2 ps --format json');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(id)')).toBe("'$(id)'");
    expect(withSudo(['docker', 'ps'])).toEqual(['sudo', '-n', '--', 'docker', 'ps']);
  });

  it('refuses NUL and empty commands instead of truncating', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(() => toShell([])).toThrow(/empty/);
  });

  it('round-trips any string through a real local sh as exactly one argument', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 4 }), (args) => {
        const line = `printf '%s\\0' ${toShell(args)}`;
        const out = execFileSync('/bin/sh', ['-c', line]);
        expect(out.toString('utf8').split('\0').slice(0, -1)).toEqual(args.map((a) => Buffer.from(a, 'utf8').toString('utf8')));
      }),
      { numRuns: 150 },
    );
  });
});
