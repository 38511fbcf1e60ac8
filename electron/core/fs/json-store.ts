import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ProfileId } from '../../contract/profiles';
import { AppError } from '../errors';
import { writeFileAtomic } from './atomic-write';

/**
 * One JSON file per profile under a folder: read → default when missing → parse with a schema → refuse a damaged
 * file (never overwritten), and read-change-write one change at a time per profile, written atomically (0600).
 */
export class ProfileJsonStore<S extends z.ZodType> {
  readonly #dir: string;
  readonly #schema: S;
  readonly #empty: () => z.output<S>;
  /** What the file holds, in the admin's words: "outage fallback settings". */
  readonly #what: string;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(opts: { dir: string; schema: S; empty: () => z.output<S>; what: string }) {
    this.#dir = opts.dir;
    this.#schema = opts.schema;
    this.#empty = opts.empty;
    this.#what = opts.what;
  }

  file(profileId: string): string {
    return path.join(this.#dir, `${ProfileId.parse(profileId)}.json`);
  }

  async read(profileId: string): Promise<z.output<S>> {
    let text: string;
    try {
      text = await readFile(this.file(profileId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#empty();
      throw new AppError('storage.failed', `M2 Companion could not read its ${this.#what}.`, { cause: err, hint: 'Check that the app can read its data folder.' });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = this.#schema.safeParse(json);
    if (!parsed.success) {
      throw new AppError('storage.failed', `The saved ${this.#what} of "${profileId}" are damaged.`, {
        hint: `Fix or remove ${this.file(profileId)}; M2 Companion will not overwrite it.`,
      });
    }
    return parsed.data;
  }

  /** Read, change and write back, one change at a time per profile; returns what was written. */
  update(profileId: string, change: (value: z.output<S>) => void): Promise<z.output<S>> {
    const prev = this.#queues.get(profileId) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(async () => {
        const value = await this.read(profileId);
        change(value);
        const checked = this.#schema.parse(value) as z.output<S>;
        await writeFileAtomic(this.file(profileId), `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600 });
        return checked;
      });
    this.#queues.set(profileId, next);
    return next;
  }

  /** Delete the profile's file once any change in flight is written; true when there was one. */
  remove(profileId: string): Promise<boolean> {
    const prev = this.#queues.get(profileId) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => removeStoredFile(this.file(profileId), this.#what));
    this.#queues.set(profileId, next);
    return next;
  }
}

/** Delete one stored file of the app's data folder; true when it was there. A missing file is not an error. */
export async function removeStoredFile(file: string, what: string): Promise<boolean> {
  try {
    await rm(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AppError('storage.failed', `M2 Companion could not delete its ${what}.`, { cause: err, hint: `Check that ${file} can be deleted, then try again.` });
  }
}
