/**
 * Log output arrives in chunks cut wherever SSH and Docker cut them, so a secret can be split across two chunks
 * (and a UTF-8 character across two buffers). Lines are buffered until they are whole, then cleaned of terminal
 * codes and masked; only masked text leaves this file. A line longer than `maxLineChars` is given out in pieces,
 * each masked first, keeping back enough of the end that a secret starting there is still seen whole.
 */
import { StringDecoder } from 'node:string_decoder';
import { secretMask } from '../../contract/stack';
import type { Secret } from '../secrets/secret';
import { maskSecrets } from '../stack/mask';
import { cleanTerminalText, stripControls, stripEscapes, unfinishedEscapeStart } from '../stack/terminal-text';

export const DEFAULT_MAX_LINE_CHARS = 16_384;

export interface RedactedLine {
  readonly text: string;
  /** A piece of a line longer than the app keeps whole. */
  readonly cut: boolean;
}

export class LineRedactor {
  #secrets: readonly Secret[];
  #longest: number;
  #maxLine: number;
  readonly #maxLineOpt: number;
  readonly #decoder = new StringDecoder('utf8');
  /** Raw text of the line not looked at yet (for a line cut for length: from the first unfinished escape or CR). */
  #pending = '';
  /**
   * A line too long to keep whole: its cleaned text not given out yet (the held-back end, so a secret split by
   * the last cut is still found whole), and whether a carriage return means the next text is drawn over it.
   */
  #visible = '';
  #overdraw = false;
  /** The pending text continues a line already given out in part. */
  #continued = false;

  constructor(secrets: readonly Secret[], opts: { maxLineChars?: number } = {}) {
    this.#secrets = secrets;
    this.#maxLineOpt = opts.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
    this.#longest = Math.max(0, ...secrets.map((s) => s.reveal().length));
    this.#maxLine = Math.max(this.#maxLineOpt, this.#longest * 2, 8);
  }

  /**
   * A value the app has just put in the keychain (a rotation's new password, a new tunnel token): masked from now
   * on, in the text not given out yet too. Values already known stay masked.
   */
  learn(secret: Secret): void {
    if (secret.reveal() === '' || this.#secrets.some((s) => s.reveal() === secret.reveal())) return;
    this.#secrets = [...this.#secrets, secret];
    this.#longest = Math.max(this.#longest, secret.reveal().length);
    this.#maxLine = Math.max(this.#maxLineOpt, this.#longest * 2, 8);
  }

  /** Every line the chunk completes, masked. */
  push(chunk: Buffer | string): RedactedLine[] {
    this.#pending += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    const out: RedactedLine[] = [];
    let nl: number;
    while ((nl = this.#pending.indexOf('\n')) >= 0) {
      out.push(this.#line(this.#pending.slice(0, nl)));
      this.#pending = this.#pending.slice(nl + 1);
    }
    if (this.#pending.length + this.#visible.length > this.#maxLine) this.#cutLong(out);
    return out;
  }

  /** The last line when the output ended without a line feed. */
  end(): RedactedLine[] {
    this.#pending += this.#decoder.end();
    if (this.#pending === '' && this.#visible === '' && !this.#continued) return [];
    const rest = this.#pending;
    this.#pending = '';
    return [this.#line(rest)];
  }

  /** A whole line (or the last part of one given out in pieces), masked. */
  #line(raw: string): RedactedLine {
    const cut = this.#continued;
    let text: string;
    if (this.#visible === '' && !this.#continued) text = this.#mask(raw);
    else {
      // The line's end has come: an unfinished escape is cleaned as cleanTerminalText cleans one at a line's end.
      this.#absorb(raw.replace(/\r$/, ''));
      text = maskSecrets(this.#visible, this.#secrets);
    }
    this.#visible = '';
    this.#overdraw = false;
    this.#continued = false;
    return { text, cut };
  }

  /**
   * Give out most of a line too long to keep whole. Only raw text whose escape sequences have all ended is
   * cleaned (a cut inside `ESC [ 3 1 m` would leave `31m` in the text, splitting a secret); the cleaned text is
   * masked whole and all but its last (longest secret − 1) characters given out: a secret that starts in the
   * part given out lies whole inside it, and one that starts later is seen whole next time.
   */
  #cutLong(out: RedactedLine[]): void {
    let hold = unfinishedEscapeStart(this.#pending);
    // Carriage returns at the end: whether the text after them draws over this line is not known yet.
    while (hold > 0 && this.#pending[hold - 1] === '\r') hold--;
    this.#absorb(this.#pending.slice(0, hold));
    let tail = this.#pending.slice(hold);
    if (tail.length > this.#maxLine / 2) tail = shortenUnfinished(tail);
    this.#pending = tail;
    const masked = maskSecrets(this.#visible, this.#secrets);
    const give = masked.length - Math.max(0, this.#longest - 1);
    if (give <= 0) {
      this.#visible = masked;
      return;
    }
    out.push({ text: masked.slice(0, give), cut: true });
    this.#visible = masked.slice(give);
    this.#continued = true;
  }

  /** Cleaned text added to the long line's visible text; after a carriage return, text draws over it. */
  #absorb(raw: string): void {
    const parts = stripEscapes(raw).split('\r');
    parts.forEach((part, i) => {
      if (i > 0) this.#overdraw = true;
      const text = stripControls(part);
      if (text === '') return;
      if (this.#overdraw) {
        // A redraw of a line partly given out already: what was held back goes (the pieces shown stay rows).
        this.#visible = text;
        this.#overdraw = false;
      } else this.#visible += text;
    });
  }

  #mask(text: string): string {
    if (this.#secrets.length === 0) return cleanTerminalText(text.replace(/\r$/, ''));
    // Masked before and after cleaning: a secret split by a colour code is found once the code is gone.
    return maskSecrets(cleanTerminalText(maskSecrets(text.replace(/\r$/, ''), this.#secrets)), this.#secrets);
  }
}

/**
 * An unfinished escape sequence grown long (an OSC title that never ends): everything after its introducer would
 * be swallowed with it, so only the introducer is kept (and a last ESC, which may begin its ST).
 */
function shortenUnfinished(tail: string): string {
  const crs = /^\r*/.exec(tail)?.[0] ?? '';
  const seq = tail.slice(crs.length);
  if (seq === '') return '\r';
  const intro = seq[0] === '\u001b' && seq[1] !== undefined && ']PX^_['.includes(seq[1]) ? seq.slice(0, 2) : seq.slice(0, 1);
  return (crs === '' ? '' : '\r') + (seq.endsWith('\u001b') && seq.length > intro.length ? `${intro}\u001b` : intro);
}

/** `2026-12-05T02:03:22.408725581Z text` (what `--timestamps` puts first) split into time and text. */
export function splitTimestamp(line: string): { ts: string | null; text: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?(.*)$/s.exec(line);
  return m ? { ts: m[1] ?? null, text: m[2] ?? '' } : { ts: null, text: line };
}

/** Case-insensitive search over masked text: a search for a secret's value finds nothing, as the value is not there. */
export const matchesSearch = (text: string, search: string): boolean => search === '' || text.toLowerCase().includes(search.toLowerCase());

export { secretMask };
