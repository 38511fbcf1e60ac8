/**
 * The server every per-server page works on (`<dataDir>/chosen-server.json`): app state kept by main, so a reload, a
 * second window or a restarted app all show — and act on — the same server. A server that was removed is not chosen.
 */
import { z } from 'zod';
import { ProfileId } from '../../contract/profiles';
import { AppError } from '../errors';
import { JsonFile } from '../fs/json-store';

const ChosenFile = z.object({ version: z.literal(1), profileId: ProfileId.nullable() });

export class ChosenServerStore {
  readonly #file: JsonFile<typeof ChosenFile>;
  readonly #exists: (profileId: string) => Promise<boolean>;

  constructor(opts: { file: string; exists: (profileId: string) => Promise<boolean> }) {
    // Only a preference: a damaged file reads as no choice, and the next choice replaces it.
    this.#file = new JsonFile({ file: opts.file, schema: ChosenFile, what: 'chosen server', onDamaged: 'ignore' });
    this.#exists = opts.exists;
  }

  /** The chosen server, or null when none was chosen, it was removed, or the file is damaged or unreadable (it is only a preference). */
  async get(): Promise<string | null> {
    const id = (await this.#file.find().catch(() => undefined))?.profileId ?? null;
    return id !== null && (await this.#exists(id)) ? id : null;
  }

  /** Make a saved server the chosen one. */
  async choose(profileId: string): Promise<string> {
    if (!(await this.#exists(profileId))) {
      throw new AppError('profile.not-found', 'Server: this server is no longer saved.', { hint: 'Choose one of the saved servers.' });
    }
    await this.#file.write({ version: 1, profileId });
    return profileId;
  }

  /** Forget the choice when it names a server being removed; true when it did. */
  forget(profileId: string): Promise<boolean> {
    return this.#file.removeIf((v) => v.profileId === profileId);
  }
}
