/**
 * The server every per-server page works on (`<dataDir>/chosen-server.json`): app state kept by main, so a reload, a
 * second window or a restarted app all show — and act on — the same server. A server that was removed is not chosen.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ProfileId } from '../../contract/profiles';
import { AppError } from '../errors';
import { writeFileAtomic } from '../fs/atomic-write';
import { removeStoredFile } from '../fs/json-store';

const ChosenFile = z.object({ version: z.literal(1), profileId: ProfileId.nullable() });

export class ChosenServerStore {
  readonly #file: string;
  readonly #exists: (profileId: string) => Promise<boolean>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: { file: string; exists: (profileId: string) => Promise<boolean> }) {
    this.#file = opts.file;
    this.#exists = opts.exists;
  }

  /** The chosen server, or null when none was chosen, it was removed, or the file is damaged (it is only a preference). */
  async get(): Promise<string | null> {
    await this.#queue.catch(() => undefined);
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch {
      return null;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return null;
    }
    const parsed = ChosenFile.safeParse(json);
    const id = parsed.success ? parsed.data.profileId : null;
    return id !== null && (await this.#exists(id)) ? id : null;
  }

  /** Make a saved server the chosen one. */
  choose(profileId: string): Promise<string> {
    const next = this.#queue
      .catch(() => undefined)
      .then(async () => {
        if (!(await this.#exists(profileId))) {
          throw new AppError('profile.not-found', 'Server: this server is no longer saved.', { hint: 'Choose one of the saved servers.' });
        }
        await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, profileId }, null, 2)}\n`, { mode: 0o600 });
        return profileId;
      });
    this.#queue = next;
    return next;
  }

  /** Forget the choice when it names a server being removed; true when it did. */
  forget(profileId: string): Promise<boolean> {
    const next = this.#queue
      .catch(() => undefined)
      .then(async () => {
        let chosen: string | null;
        try {
          const parsed = ChosenFile.safeParse(JSON.parse(await readFile(this.#file, 'utf8')));
          chosen = parsed.success ? parsed.data.profileId : null;
        } catch {
          return false;
        }
        return chosen === profileId ? removeStoredFile(this.#file, 'chosen server') : false;
      });
    this.#queue = next;
    return next;
  }
}
