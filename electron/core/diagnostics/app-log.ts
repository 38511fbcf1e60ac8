/**
 * The app's log as the composition roots build it: JSON lines, redacted before any sink sees them, written to the
 * rotating file in the platform's log folder and echoed to stderr. The keychain feeds the redactor (see
 * RedactingSecretStore), so a value the app has read or written is never written out afterwards.
 */
import { createLogger, type Logger } from '../log';
import type { Secret } from '../secrets/secret';
import type { SecretStore } from '../secrets/keychain';
import { Redactor } from './redact';
import { RotatingFile } from './rotating-file';

export interface AppLog {
  readonly log: Logger;
  readonly redactor: Redactor;
  readonly file: RotatingFile;
}

export function createAppLog(opts: { dir: string; maxBytes?: number; echo?: ((line: string) => void) | false }): AppLog {
  const redactor = new Redactor();
  const file = new RotatingFile({ dir: opts.dir, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) });
  const echo = opts.echo === false ? undefined : (opts.echo ?? ((l: string) => void process.stderr.write(`${l}\n`)));
  const log = createLogger((line) => {
    const safe = redactor.redact(line);
    file.write(safe);
    echo?.(safe);
  });
  return { log, redactor, file };
}

/** A SecretStore that tells the redactor every value that passes through it (read or written). */
export class RedactingSecretStore implements SecretStore {
  readonly #inner: SecretStore;
  readonly #redactor: Redactor;
  readonly #onStored: ((profileId: string, value: Secret) => void)[] = [];

  constructor(inner: SecretStore, redactor: Redactor) {
    this.#inner = inner;
    this.#redactor = redactor;
  }

  async get(profileId: string, name: string): Promise<Secret | undefined> {
    const value = await this.#inner.get(profileId, name);
    this.#redactor.known(value);
    return value;
  }

  async set(profileId: string, name: string, value: Secret): Promise<void> {
    this.#redactor.known(value);
    // Before it is stored, so before any command can send it to the server (open log views mask it from now on).
    for (const l of this.#onStored) l(profileId, value);
    return this.#inner.set(profileId, name, value);
  }

  /** Called with every value set for a profile, before it is stored. */
  onStored(listener: (profileId: string, value: Secret) => void): void {
    this.#onStored.push(listener);
  }

  delete(profileId: string, name: string): Promise<boolean> {
    return this.#inner.delete(profileId, name);
  }

  names(profileId: string): Promise<string[]> {
    return this.#inner.names(profileId);
  }

  /** Read every value kept for these profiles, so the redactor knows them all (before an export). */
  async learnAll(profileIds: readonly string[]): Promise<void> {
    for (const id of profileIds) for (const name of await this.#inner.names(id)) this.#redactor.known(await this.#inner.get(id, name));
  }
}
