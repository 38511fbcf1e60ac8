/**
 * Text a terminal program wrote, as a person reads it on a page: what Compose (progress redraws such as
 * `ESC[2K`, colours) and a container's own logs print. Clean before masking secrets, so a secret split by a
 * colour code is still found whole.
 */
/* eslint-disable no-control-regex -- matching terminal control characters is what this file is for */

// CSI: ESC [ or the 8-bit C1 CSI, parameter bytes, intermediate bytes, one final byte.
const CSI = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]/g;
// OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \ or the 8-bit ST); an unterminated one ends with its line.
const STRING_SEQ = /(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[^\n]*?(?:\u0007|\u001b\\|\u009c|(?=\n)|$)/g;
// Any other escape: ESC, optional intermediate bytes, one final byte (charset selection `ESC ( B`, `ESC 7`, …).
const OTHER_ESC = /\u001b[ -/]*[0-~]?/g;
// Control characters left after that, but for tab and line feed (CR is handled per line first).
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/**
 * Escape sequences removed; within each line, a carriage return means the text after it was drawn over what
 * came before (progress output), so the last non-empty part is what the line showed; a trailing CR (CRLF) is
 * just a line end. Other control characters go; tabs and line feeds stay.
 */
export function cleanTerminalText(text: string): string {
  return stripEscapes(text)
    .split('\n')
    .map((line) => {
      const parts = line.split('\r').filter((p) => p !== '');
      return (parts[parts.length - 1] ?? '').replace(CONTROLS, '');
    })
    .join('\n');
}

/** Escape sequences taken out; carriage returns and other control characters left. */
export const stripEscapes = (text: string): string => text.replace(STRING_SEQ, '').replace(CSI, '').replace(OTHER_ESC, '');

/** Control characters taken out, but for tab, line feed and carriage return. */
export const stripControls = (text: string): string => text.replace(CONTROLS, '');

const STRING_INTRO = new Set([']', 'P', 'X', '^', '_']);
const C1_STRING = new Set(['\u0090', '\u0098', '\u009d', '\u009e', '\u009f']);
const between = (ch: string | undefined, lo: string, hi: string): boolean => ch !== undefined && ch >= lo && ch <= hi;

/**
 * Where the escape sequence that `text` ends inside starts (its end has not arrived yet, so what it swallows is
 * not known), or `text.length` when every sequence in it is finished. `text` holds no line feed. Read as
 * `stripEscapes` reads: a string sequence runs to BEL or ST; a CSI whose next byte fits no CSI is just `ESC [`.
 */
export function unfinishedEscapeStart(text: string): number {
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (c !== '\u001b' && c !== '\u009b' && !C1_STRING.has(c)) {
      i++;
      continue;
    }
    const end = escapeEnd(text, i);
    if (end < 0) return i;
    i = end;
  }
  return text.length;
}

/** The index after the escape sequence starting at `i`, or -1 when `text` ends before it does. */
function escapeEnd(text: string, i: number): number {
  const c = text[i];
  let j: number;
  let kind: 'string' | 'csi';
  if (c === '\u001b') {
    const n = text[i + 1];
    if (n === undefined) return -1;
    if (STRING_INTRO.has(n)) kind = 'string';
    else if (n === '[') kind = 'csi';
    else {
      j = i + 1;
      while (between(text[j], ' ', '/')) j++;
      if (j >= text.length) return -1;
      return between(text[j], '0', '~') ? j + 1 : j;
    }
    j = i + 2;
  } else {
    kind = c === '\u009b' ? 'csi' : 'string';
    j = i + 1;
  }
  if (kind === 'string') {
    for (; j < text.length; j++) {
      const ch = text[j];
      if (ch === '\u0007' || ch === '\u009c') return j + 1;
      if (ch === '\u001b' && text[j + 1] === '\\') return j + 2;
    }
    return -1;
  }
  while (between(text[j], '0', '?')) j++;
  while (between(text[j], ' ', '/')) j++;
  if (j >= text.length) return -1;
  if (between(text[j], '@', '~')) return j + 1;
  // Not a CSI after all: `ESC [` goes as a two-byte escape, an 8-bit CSI as a control character.
  return c === '\u001b' ? i + 2 : i + 1;
}

/** Lines of terminal text, cleaned, trailing blanks trimmed, empty lines dropped. */
export const cleanTerminalLines = (text: string): string[] =>
  cleanTerminalText(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
