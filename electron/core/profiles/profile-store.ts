import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ServerProfile, type ProfileInput } from '../../contract/profiles';
import { AppError } from '../errors';
import { writeFileAtomic } from '../fs/atomic-write';

const ProfilesFile = z.object({ version: z.literal(1), profiles: z.array(ServerProfile) });

export const slugify = (name: string): string =>
  name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'server';

/**
 * Non-secret server profiles, kept as one JSON file in the app's data folder and written atomically.
 * Calls are serialised so two saves at once cannot lose each other's changes.
 */
export class ProfileStore {
  readonly #file: string;
  readonly #now: () => Date;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string, now: () => Date = () => new Date()) {
    this.#file = file;
    this.#now = now;
  }

  list(): Promise<ServerProfile[]> {
    return this.#serial(() => this.#read());
  }

  save(input: z.output<typeof ProfileInput>): Promise<ServerProfile> {
    return this.#serial(async () => {
      const profiles = await this.#read();
      const now = this.#now().toISOString();
      const id = input.id ?? uniqueId(slugify(input.name), profiles);
      const existing = profiles.find((p) => p.id === id);
      const profile: ServerProfile = {
        id,
        name: input.name,
        host: input.host,
        port: input.port,
        username: input.username,
        auth: input.auth,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      const next = existing ? profiles.map((p) => (p.id === id ? profile : p)) : [...profiles, profile];
      await this.#write(next);
      return profile;
    });
  }

  remove(id: string): Promise<void> {
    return this.#serial(async () => {
      const profiles = await this.#read();
      if (!profiles.some((p) => p.id === id)) {
        throw new AppError('profile.not-found', `There is no server profile "${id}".`, {
          hint: 'It may have been removed already; refresh the list.',
          field: 'id',
        });
      }
      await this.#write(profiles.filter((p) => p.id !== id));
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #read(): Promise<ServerProfile[]> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new AppError('storage.failed', 'M2 Companion could not read its saved servers.', { cause: err, hint: `Check that ${this.#file} is readable.` });
    }
    const parsed = ProfilesFile.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new AppError('storage.failed', 'The saved servers file is damaged.', {
        hint: `Move ${this.#file} aside and add the server again.`,
      });
    }
    return parsed.data.profiles;
  }

  async #write(profiles: ServerProfile[]): Promise<void> {
    try {
      await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      throw new AppError('storage.failed', 'M2 Companion could not save the server profile.', {
        cause: err,
        hint: 'Check that the disk is not full and the app data folder is writable. Nothing was changed.',
      });
    }
  }
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const uniqueId = (base: string, profiles: readonly ServerProfile[]): string => {
  const taken = new Set(profiles.map((p) => p.id));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
};
