import { z } from 'zod';
import { ServerProfile, type ProfileInput } from '../../contract/profiles';
import { AppError } from '../errors';
import { JsonFile } from '../fs/json-store';

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
  readonly #file: JsonFile<typeof ProfilesFile>;
  readonly #now: () => Date;

  constructor(file: string, now: () => Date = () => new Date()) {
    this.#file = new JsonFile({
      file,
      schema: ProfilesFile,
      empty: () => ({ version: 1, profiles: [] }),
      what: 'list of servers',
      damaged: { message: 'The saved servers file is damaged.', hint: `Move ${file} aside and add the server again.` },
    });
    this.#now = now;
  }

  async list(): Promise<ServerProfile[]> {
    return (await this.#file.read()).profiles;
  }

  async save(input: z.output<typeof ProfileInput>): Promise<ServerProfile> {
    let saved: ServerProfile | undefined;
    await this.#file.update((f) => {
      const now = this.#now().toISOString();
      const id = input.id ?? uniqueId(slugify(input.name), f.profiles);
      const existing = f.profiles.find((p) => p.id === id);
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
      f.profiles = existing ? f.profiles.map((p) => (p.id === id ? profile : p)) : [...f.profiles, profile];
      saved = profile;
    });
    return saved as ServerProfile;
  }

  async remove(id: string): Promise<void> {
    await this.#file.update((f) => {
      if (!f.profiles.some((p) => p.id === id)) {
        throw new AppError('profile.not-found', `There is no server profile "${id}".`, {
          hint: 'It may have been removed already; refresh the list.',
          field: 'id',
        });
      }
      f.profiles = f.profiles.filter((p) => p.id !== id);
    });
  }
}

const uniqueId = (base: string, profiles: readonly ServerProfile[]): string => {
  const taken = new Set(profiles.map((p) => p.id));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
};
