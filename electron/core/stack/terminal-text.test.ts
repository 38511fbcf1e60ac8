import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanTerminalLines, cleanTerminalText } from './terminal-text';

const ESC = '\u001b';

describe('terminal text as a person reads it', () => {
  it('drops Compose’s progress redraws and colours, and keeps what the line finally said', () => {
    const raw = `${ESC}[?25l${ESC}[2K Container m2-jellyfin-1  Starting\r${ESC}[2K Container m2-jellyfin-1  Started\n${ESC}[31mError${ESC}[0m response from daemon\r\n${ESC}]0;title${ESC}\\done\n`;
    expect(cleanTerminalText(raw)).toBe(' Container m2-jellyfin-1  Started\nError response from daemon\ndone\n');
    expect(cleanTerminalLines(raw)).toEqual([' Container m2-jellyfin-1  Started', 'Error response from daemon', 'done']);
  });

  it('handles OSC hyperlinks, charset switches, 8-bit CSI, lone escapes and other control characters', () => {
    expect(cleanTerminalText(`${ESC}]8;;https://x.test${ESC}\\link${ESC}]8;;\u0007 ${ESC}(Bplain${ESC}7 \u009b1mbold\u0008\u0000!`)).toBe('link plain bold!');
    expect(cleanTerminalText(`a${ESC}`)).toBe('a');
    expect(cleanTerminalText(`a${ESC}]unterminated\nb`)).toBe('a\nb');
    expect(cleanTerminalText('tab\tstays\n')).toBe('tab\tstays\n');
  });

  const printable = fc.string({ unit: fc.constantFrom(...'abc XYZ09:-_./"\'$()é✓\t'.split('')), maxLength: 30 });
  const escape = fc.oneof(
    fc.constantFrom(`${ESC}[2K`, `${ESC}[0m`, `${ESC}[1;31m`, `${ESC}[?25h`, `${ESC}[3A`, `${ESC}(B`, `${ESC}7`, `${ESC}]0;t${ESC}\\`, `${ESC}]8;;u\u0007`, '\u009b2K'),
    fc.tuple(fc.array(fc.integer({ min: 0, max: 999 }), { maxLength: 3 }), fc.constantFrom(...'ABCDHJKmhlsu'.split(''))).map(([ps, f]) => `${ESC}[${ps.join(';')}${f}`),
  );

  it('leaves no escape or control character but tab and line feed, is idempotent, and keeps plain text as it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), printable, (anything, plain) => {
        const once = cleanTerminalText(anything);
        // eslint-disable-next-line no-control-regex -- the property is about control characters
        expect(once).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
        expect(cleanTerminalText(once)).toBe(once);
        expect(cleanTerminalText(plain)).toBe(plain);
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 3_000 },
    );
  }, 60_000);

  it('recovers the plain text exactly from any interleaving of text and escape sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(printable, fc.array(escape, { maxLength: 3 })), { maxLength: 12 }), (pieces) => {
        const raw = pieces.map(([text, escapes]) => `${escapes.join('')}${text}`).join('');
        expect(cleanTerminalText(raw)).toBe(pieces.map(([text]) => text).join(''));
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 3_000 },
    );
  }, 60_000);

  it('a line redrawn with carriage returns reads as its last drawing, whatever came before', () => {
    fc.assert(
      fc.property(fc.array(printable, { maxLength: 5 }), printable.filter((s) => s !== ''), (before, last) => {
        expect(cleanTerminalText([...before, last].join('\r'))).toBe(last);
        expect(cleanTerminalText(`${[...before, last].join(`\r${ESC}[2K`)}\r\n`)).toBe(`${last}\n`);
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 3_000 },
    );
  }, 60_000);
});
