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
import { cleanTerminalText } from '../stack/terminal-text';

export const DEFAULT_MAX_LINE_CHARS = 16_384;

export interface RedactedLine {
  readonly text: string;
  /** A piece of a line longer than the app keeps whole. */
  readonly cut: boolean;
}

export class LineRedactor {
  readonly #secrets: readonly Secret[];
  readonly #longest: number;
  readonly #maxLine: number;
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  /** The pending text continues a line already given out in part. */
  #continued = false;

  constructor(secrets: readonly Secret[], opts: { maxLineChars?: number } = {}) {
    this.#secrets = secrets;
    this.#longest = Math.max(0, ...secrets.map((s) => s.reveal().length));
    this.#maxLine = Math.max(opts.maxLineChars ?? DEFAULT_MAX_LINE_CHARS, this.#longest * 2);
  }

  /** Every line the chunk completes, masked. */
  push(chunk: Buffer | string): RedactedLine[] {
    this.#pending += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    const out: RedactedLine[] = [];
    let nl: number;
    while ((nl = this.#pending.indexOf('\n')) >= 0) {
      out.push({ text: this.#mask(this.#pending.slice(0, nl)), cut: this.#continued });
      this.#pending = this.#pending.slice(nl + 1);
      this.#continued = false;
    }
    while (this.#pending.length > this.#maxLine) {
      // Mask the whole pending text, give out all but its last (longest secret − 1) characters: any secret that
      // starts in the part given out lies whole inside the pending text, so it was masked.
      const masked = this.#mask(this.#pending);
      const keep = Math.max(0, this.#longest - 1);
      const give = masked.length - keep;
      if (give <= 0) break;
      out.push({ text: masked.slice(0, give), cut: true });
      this.#pending = masked.slice(give);
      this.#continued = true;
    }
    return out;
  }

  /** The last line when the output ended without a line feed. */
  end(): RedactedLine[] {
    this.#pending += this.#decoder.end();
    const rest = this.#pending;
    this.#pending = '';
    if (rest === '') return [];
    return [{ text: this.#mask(rest), cut: this.#continued }];
  }

  #mask(text: string): string {
    if (this.#secrets.length === 0) return cleanTerminalText(text.replace(/\r$/, ''));
    // Masked before and after cleaning: a secret split by a colour code is found once the code is gone.
    return maskSecrets(cleanTerminalText(maskSecrets(text.replace(/\r$/, ''), this.#secrets)), this.#secrets);
  }
}

/** `2026-12-05T02:03:22.408725581Z text` (what `--timestamps` puts first) split into time and text. */
export function splitTimestamp(line: string): { ts: string | null; text: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?(.*)$/s.exec(line);
  return m ? { ts: m[1] ?? null, text: m[2] ?? '' } : { ts: null, text: line };
}

/** Case-insensitive search over masked text: a search for a secret's value finds nothing, as the value is not there. */
export const matchesSearch = (text: string, search: string): boolean => search === '' || text.toLowerCase().includes(search.toLowerCase());

export { secretMask };
