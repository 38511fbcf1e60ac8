import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ProfileId } from '../../contract/profiles';
import { AppError } from '../errors';
import { writeFileAtomic } from './atomic-write';

/** What to tell the admin about a file that does not parse, and what to do about it. */
export type DamagedWords = { message: string; hint: string };

export type JsonFileOptions<S extends z.ZodType> = {
  file: string;
  schema: S;
  /** What "nothing saved yet" reads as; without it, read() of a missing file is a programming error (use find()). */
  empty?: () => z.output<S>;
  /** What the file holds, in the admin's words ("outage fallback settings"), for read and write failures. */
  what: string;
  /** The words for a damaged file; by default "The saved <what> are damaged." and "Fix or remove <file>…". */
  damaged?: DamagedWords;
  /**
   * 'refuse' (the default): a damaged file is an error on every read and change, and is never overwritten — the admin
   * decides. 'ignore': it reads as missing and the next change replaces it; only for a preference that can simply be
   * chosen again (the chosen server).
   */
  onDamaged?: 'refuse' | 'ignore';
};

/**
 * One JSON file of the app's data folder: read → default when missing → parse with a schema → refuse a damaged file
 * (never overwritten), and changes one at a time, each written atomically (0600) after the schema accepts it. Reads
 * wait for changes in flight, so a caller always reads its own writes.
 */
export class JsonFile<S extends z.ZodType> {
  readonly file: string;
  readonly #o: JsonFileOptions<S>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: JsonFileOptions<S>) {
    this.file = opts.file;
    this.#o = opts;
  }

  /** The saved value, or undefined when nothing is saved (or, for 'ignore', when the file is damaged). */
  async find(): Promise<z.output<S> | undefined> {
    await this.#queue.catch(() => undefined);
    return this.#find();
  }

  /** The saved value, or the empty one when nothing is saved yet. */
  async read(): Promise<z.output<S>> {
    return (await this.find()) ?? this.#empty();
  }

  /** Read, change and write back, one change at a time; returns what was written. A change that throws writes nothing. */
  update(change: (value: z.output<S>) => void): Promise<z.output<S>> {
    return this.#serial(async () => {
      const value = (await this.#find()) ?? this.#empty();
      change(value);
      return this.#write(value);
    });
  }

  /** Replace the saved value (a damaged file is still refused, unless 'ignore'); returns what was written. */
  write(value: z.output<S>): Promise<z.output<S>> {
    return this.#serial(async () => {
      await this.#find();
      return this.#write(value);
    });
  }

  /** Delete the file once any change in flight is written; true when there was one. */
  remove(): Promise<boolean> {
    return this.#serial(() => removeStoredFile(this.file, this.#o.what));
  }

  /** Delete the file when what it holds passes the test (in the same turn, so no change slips between); true when it did. */
  removeIf(test: (value: z.output<S>) => boolean): Promise<boolean> {
    return this.#serial(async () => {
      const value = await this.#find();
      return value !== undefined && test(value) ? removeStoredFile(this.file, this.#o.what) : false;
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.catch(() => undefined).then(fn);
    this.#queue = next;
    return next;
  }

  #empty(): z.output<S> {
    if (!this.#o.empty) throw new Error(`the ${this.#o.what} store has no empty value; use find()`);
    return this.#o.empty();
  }

  async #find(): Promise<z.output<S> | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AppError('storage.failed', `M2 Companion could not read its ${this.#o.what}.`, { cause: err, hint: `Check that ${this.file} is readable.` });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = this.#o.schema.safeParse(json);
    if (parsed.success) return parsed.data as z.output<S>;
    if (this.#o.onDamaged === 'ignore') return undefined;
    // A damaged file is never overwritten: it may hold the only record of something the admin confirmed or created.
    const words = this.#o.damaged ?? { message: `The saved ${this.#o.what} are damaged.`, hint: `Fix or remove ${this.file}; M2 Companion will not overwrite it.` };
    throw new AppError('storage.failed', words.message, { hint: words.hint });
  }

  async #write(value: z.output<S>): Promise<z.output<S>> {
    const checked = this.#o.schema.parse(value) as z.output<S>;
    try {
      await writeFileAtomic(this.file, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      throw new AppError('storage.failed', `M2 Companion could not save its ${this.#o.what}.`, {
        cause: err,
        hint: 'Check that the disk is not full and the app data folder is writable. Nothing was changed.',
      });
    }
    return checked;
  }
}

/** One JSON file per profile under a folder (`<dir>/<profile>.json`), each a JsonFile with its own queue of changes. */
export class ProfileJsonStore<S extends z.ZodType> {
  readonly #dir: string;
  readonly #o: Omit<JsonFileOptions<S>, 'file' | 'damaged'>;
  readonly #files = new Map<string, JsonFile<S>>();

  constructor(opts: { dir: string } & Omit<JsonFileOptions<S>, 'file' | 'damaged'>) {
    const { dir, ...rest } = opts;
    this.#dir = dir;
    this.#o = rest;
  }

  file(profileId: string): string {
    return path.join(this.#dir, `${ProfileId.parse(profileId)}.json`);
  }

  #of(profileId: string): JsonFile<S> {
    let f = this.#files.get(profileId);
    if (!f) {
      const file = this.file(profileId);
      f = new JsonFile({
        ...this.#o,
        file,
        damaged: { message: `The saved ${this.#o.what} of "${profileId}" are damaged.`, hint: `Fix or remove ${file}; M2 Companion will not overwrite it.` },
      });
      this.#files.set(profileId, f);
    }
    return f;
  }

  /** The profile's saved value, or undefined when none is saved. */
  find(profileId: string): Promise<z.output<S> | undefined> {
    return this.#of(profileId).find();
  }

  read(profileId: string): Promise<z.output<S>> {
    return this.#of(profileId).read();
  }

  /** Read, change and write back, one change at a time per profile; returns what was written. */
  update(profileId: string, change: (value: z.output<S>) => void): Promise<z.output<S>> {
    return this.#of(profileId).update(change);
  }

  write(profileId: string, value: z.output<S>): Promise<z.output<S>> {
    return this.#of(profileId).write(value);
  }

  /** Delete the profile's file once any change in flight is written; true when there was one. */
  remove(profileId: string): Promise<boolean> {
    return this.#of(profileId).remove();
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
