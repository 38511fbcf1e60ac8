/**
 * Redaction at the source: every log line passes through a Redactor before any sink sees it. It removes the values
 * the app knows to be secret (fed by the keychain as values are read or written) and anything shaped like a
 * credential: PEM blocks, Authorization headers, JWT-looking and Cloudflare tunnel tokens, Cloudflare API tokens,
 * WireGuard keys, and `password=`/`token:`-style assignments. `Secret` objects already print as [REDACTED].
 */
import type { Secret } from '../secrets/secret';

export const REDACTED = '[REDACTED]';

/** Values shorter than this are not redacted by value (they would blank ordinary words); patterns still apply. */
export const MIN_KNOWN_LENGTH = 4;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Shapes of credentials, applied in order (PEM first: its body would otherwise be cut into pieces). */
const PATTERNS: ReadonlyArray<readonly [RegExp, string | ((m: string, ...g: string[]) => string)]> = [
  // A PEM block (private keys, certificates), terminated or cut off; in a JSON line its newlines are "\n".
  [/-----BEGIN [A-Z0-9 ]{1,40}-----(?:[^"]*?-----END [A-Z0-9 ]{1,40}-----|(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*)/g, '[REDACTED PEM]'],
  // Authorization headers (any scheme), as a header line or a JSON field.
  [/(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token|digest)\s+)?[^\s"',}\\]+/gi, `$1${REDACTED}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  // JWT-looking strings and Cloudflare tunnel tokens (base64 of a JSON object: they start "eyJ").
  [/eyJ[A-Za-z0-9_+/=-]{12,}(?:\.[A-Za-z0-9_+/=-]*){0,2}/g, REDACTED],
  // WireGuard keys: 32 bytes in base64, 44 characters ending "=".
  [/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])/g, REDACTED],
  // key=value and "key": "value" where the key names a secret.
  [/((?:password|passwd|secret|token|api[_-]?key|private[_-]?key|psk)[A-Za-z_]*\\?["']?\s*[:=]\s*\\?["']?)([^\s"',}&\\]{4,})/gi, `$1${REDACTED}`],
  // Cloudflare API tokens: 40 of [A-Za-z0-9_-], with letters and digits (a 40-hex SHA-1 or a plain word is left alone).
  [
    /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40}(?![A-Za-z0-9_-])/g,
    (m) => (/[0-9]/.test(m) && /[A-Za-z]/.test(m) && /[^0-9a-f]/.test(m) ? REDACTED : m),
  ],
];

export class Redactor {
  readonly #known = new Set<string>();
  #knownRe: RegExp | undefined;

  /** Remember a value the app knows to be secret (as given, and as it appears inside a JSON string). */
  known(value: string | Secret | undefined): void {
    if (value === undefined) return;
    const v = typeof value === 'string' ? value : value.reveal();
    if (v.length < MIN_KNOWN_LENGTH) return;
    const forms = [v, JSON.stringify(v).slice(1, -1)];
    let added = false;
    for (const f of forms)
      if (!this.#known.has(f)) {
        this.#known.add(f);
        added = true;
      }
    if (added) this.#knownRe = undefined;
  }

  get knownCount(): number {
    return this.#known.size;
  }

  /** The text with every known value and credential-shaped string replaced. */
  redact(text: string): string {
    let out = text;
    if (this.#known.size > 0) {
      // Longest first, so a value that contains another is removed whole.
      this.#knownRe ??= new RegExp([...this.#known].sort((a, b) => b.length - a.length).map(escapeRe).join('|'), 'g');
      out = out.replace(this.#knownRe, REDACTED);
    }
    for (const [re, by] of PATTERNS) out = out.replace(re, by as string);
    return out;
  }
}
