import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretMask } from '../../contract/stack';
import { Secret } from '../secrets/secret';
import { cleanTerminalText } from '../stack/terminal-text';
import { LineRedactor, matchesSearch, splitTimestamp } from './line-redactor';

const SECRET = 'Zq8vN3kL0pRt7YwB2mXc9HfJ';
const TOKEN = 'eyJhIjoiZjNiMWMwZmZlZSJ9.dG9rZW4tdmFsdWUtZm9yLXRoZS10dW5uZWw';

/** Feed `text` cut at `cuts` (positions in its UTF-8 bytes); the lines given out, a line's pieces joined again. */
function feed(r: LineRedactor, text: string, cuts: number[]): string {
  const bytes = Buffer.from(text, 'utf8');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    out.push(...r.push(bytes.subarray(at, p)).map((l) => (l.cut ? l.text : `\n${l.text}`)));
    at = p;
  }
  out.push(...r.end().map((l) => (l.cut ? l.text : `\n${l.text}`)));
  return out.join('');
}

describe('log lines are masked whole, however the output is cut', () => {
  it('masks a secret split across two chunks at every possible point', () => {
    const line = `db: login failed for m2 with password ${SECRET} (retrying)\n`;
    for (let cut = 0; cut <= line.length; cut++) {
      const r = new LineRedactor([new Secret(SECRET)]);
      const got = [...r.push(line.slice(0, cut)), ...r.push(line.slice(cut)), ...r.end()].map((l) => l.text);
      expect(got).toEqual([`db: login failed for m2 with password ${secretMask} (retrying)`]);
    }
  });

  it('never lets a secret through for any chunking, any text around it and any number of lines', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom(SECRET, TOKEN, '')), { maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 16, max: 200 }),
        (parts, step, maxLineChars) => {
          const text = parts.map(([a, s]) => `${a}${s}`).join('');
          // Chunks of `step` bytes: many cuts land inside a secret, on short lines and on lines cut for length.
          const cuts = Array.from({ length: Math.ceil(Buffer.byteLength(text) / step) }, (_, i) => i * step);
          const r = new LineRedactor([new Secret(SECRET), new Secret(TOKEN)], { maxLineChars });
          const joined = feed(r, text, cuts);
          expect(joined).not.toContain(SECRET);
          expect(joined).not.toContain(TOKEN);
        },
      ),
    );
  });

  it('never lets a secret through when colour codes or OSC strings sit inside it and a long line is cut anywhere', { timeout: 60_000 }, () => {
    // Terminal codes a secret can be split by: colours, an OSC title ended by BEL or by ST, an erase.
    const code = fc.constantFrom('\u001b[31m', '\u001b[0m', '\u001b[1;38;5;208m', '\u001b]0;title\u0007', '\u001b]8;;http://x\u001b\\', '\u001b[2K', '\u001b(B');
    const withCodes = (secret: string) =>
      fc.array(fc.tuple(fc.integer({ min: 0, max: secret.length }), code), { minLength: 1, maxLength: 4 }).map((ins) => {
        let s = secret;
        for (const [at, c] of [...ins].sort((a, b) => b[0] - a[0])) s = s.slice(0, at) + c + s.slice(at);
        return s;
      });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.oneof(withCodes(SECRET), withCodes(TOKEN), fc.constant('\n'))), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 120 }),
        (parts, cuts, maxLineChars) => {
          const text = parts.map(([a, s]) => `${a}${s}`).join('');
          const r = new LineRedactor([new Secret(SECRET), new Secret(TOKEN)], { maxLineChars });
          // What a person reads: the pieces joined, any code that came through taken out again.
          const seen = cleanTerminalText(feed(r, text, cuts));
          expect(seen).not.toContain(SECRET);
          expect(seen).not.toContain(TOKEN);
          // Nor the value with a code's leftovers (`31m`, `0;title`) inside it.
          const letters = seen.replace(/[^A-Za-z0-9.]/g, '');
          for (const s of [SECRET, TOKEN]) expect(letters.replace(/31m|0m|1385208m|0title|8httpx|2K|B/g, '')).not.toContain(s);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never cuts a long line inside a colour code that splits a secret, at any length, split point and chunk size', () => {
    const s = 'SECRETVALUE12345';
    for (let fill = 0; fill < 80; fill += 3)
      for (let split = 1; split < s.length; split++)
        for (const chunk of [1, 2, 5, 13, 37]) {
          const line = `${'x'.repeat(fill)}${s.slice(0, split)}\u001b[31m${s.slice(split)}${'y'.repeat(50)}\n`;
          const r = new LineRedactor([new Secret(s)], { maxLineChars: 32 });
          const out: string[] = [];
          for (let i = 0; i < line.length; i += chunk) out.push(...r.push(line.slice(i, i + chunk)).map((l) => l.text));
          out.push(...r.end().map((l) => l.text));
          expect(out.join('')).toBe(`${'x'.repeat(fill)}${secretMask}${'y'.repeat(50)}`);
        }
  });

  it('swallows an OSC string that runs far past the line limit, and shows what follows its end', () => {
    const r = new LineRedactor([new Secret(SECRET)], { maxLineChars: 64 });
    const pieces = [...r.push(`a${SECRET.slice(0, 4)}\u001b]0;`), ...r.push('t'.repeat(100_000)), ...r.push(`\u001b`), ...r.push(`\\${SECRET.slice(4)}b\n`)];
    expect(pieces.map((p) => p.text).join('')).toBe(`a${secretMask}b`);
  });

  it('gives out a line that never ends in masked pieces, holding back a secret that starts at a piece’s end', () => {
    const r = new LineRedactor([new Secret(SECRET)], { maxLineChars: 64 });
    const head = 'x'.repeat(70);
    const pieces = [...r.push(head + SECRET.slice(0, 10)), ...r.push(SECRET.slice(10) + 'y'.repeat(100)), ...r.end()];
    expect(pieces.every((p) => p.cut || p === pieces[0])).toBe(true);
    const all = pieces.map((p) => p.text).join('');
    expect(all).not.toContain(SECRET.slice(0, 10) + SECRET.slice(10, 12));
    expect(all).toBe(`${head}${secretMask}${'y'.repeat(100)}`);
    expect(pieces.length).toBeGreaterThan(1);
  });

  it('keeps a character whose UTF-8 bytes arrive in two chunks', () => {
    const r = new LineRedactor([]);
    const bytes = Buffer.from('Jellyfin: “Films & Séries” ready ✓\n', 'utf8');
    const at = bytes.indexOf(0xe2) + 1;
    expect([...r.push(bytes.subarray(0, at)), ...r.push(bytes.subarray(at))].map((l) => l.text)).toEqual(['Jellyfin: “Films & Séries” ready ✓']);
  });

  it('finds a secret that a colour code split, and drops progress redraws and CRs', () => {
    const r = new LineRedactor([new Secret(SECRET)]);
    const split = `\u001b[2Kpass=${SECRET.slice(0, 5)}\u001b[31m${SECRET.slice(5)}\u001b[0m\r\n`;
    expect(r.push(split).map((l) => l.text)).toEqual([`pass=${secretMask}`]);
  });

  it('gives out the last line when the output ends without a line feed', () => {
    const r = new LineRedactor([new Secret(SECRET)]);
    expect(r.push('first\nsecond ' + SECRET).map((l) => l.text)).toEqual(['first']);
    expect(r.end().map((l) => l.text)).toEqual([`second ${secretMask}`]);
  });
});

describe('timestamps and search', () => {
  it('splits Docker’s timestamp from the text, and leaves a line without one whole', () => {
    expect(splitTimestamp('2026-12-05T02:03:22.408725581Z Startup complete')).toEqual({ ts: '2026-12-05T02:03:22.408725581Z', text: 'Startup complete' });
    expect(splitTimestamp('2026-12-05T02:03:22+01:00 x')).toEqual({ ts: '2026-12-05T02:03:22+01:00', text: 'x' });
    expect(splitTimestamp('no time here')).toEqual({ ts: null, text: 'no time here' });
  });

  it('matches any case, and a search for a secret finds nothing once masked', () => {
    expect(matchesSearch('Kestrel LISTENING on 8096', 'listening')).toBe(true);
    expect(matchesSearch('anything', '')).toBe(true);
    const r = new LineRedactor([new Secret(SECRET)]);
    const [line] = r.push(`password=${SECRET}\n`);
    expect(matchesSearch(line?.text ?? '', SECRET)).toBe(false);
    expect(matchesSearch(line?.text ?? '', SECRET.slice(0, 8))).toBe(false);
  });
});
