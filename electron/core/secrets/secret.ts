import { inspect } from 'node:util';

/** A secret value that refuses to print: logs, JSON and string interpolation all see [REDACTED]. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  /** A form safe to show: the last characters only when the value is long enough to keep most hidden. */
  masked(): string {
    return this.#value.length >= 16 ? `••••••••${this.#value.slice(-4)}` : '••••••••';
  }

  toString(): string {
    return '[REDACTED]';
  }

  toJSON(): string {
    return '[REDACTED]';
  }

  [inspect.custom](): string {
    return 'Secret([REDACTED])';
  }
}
