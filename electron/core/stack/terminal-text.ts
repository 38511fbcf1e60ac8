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
  const stripped = text.replace(STRING_SEQ, '').replace(CSI, '').replace(OTHER_ESC, '');
  return stripped
    .split('\n')
    .map((line) => {
      const parts = line.split('\r').filter((p) => p !== '');
      return (parts[parts.length - 1] ?? '').replace(CONTROLS, '');
    })
    .join('\n');
}

/** Lines of terminal text, cleaned, trailing blanks trimmed, empty lines dropped. */
export const cleanTerminalLines = (text: string): string[] =>
  cleanTerminalText(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
