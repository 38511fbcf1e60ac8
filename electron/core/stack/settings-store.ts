import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ProfileId } from '../../contract/profiles';
import { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { writeFileAtomic } from '../fs/atomic-write';
import { removeStoredFile } from '../fs/json-store';

const SettingsFile = z.object({ version: z.literal(1), settings: StackSettings });

/** What the stack service needs of a settings store. */
export interface SettingsStoreLike {
  get(profileId: string): Promise<StackSettings | undefined>;
  save(profileId: string, settings: StackSettings): Promise<StackSettings>;
}

/**
 * The stack settings of each server profile: `<dataDir>/stacks/<profile>.json`, written atomically.
 * No secrets live here (they are in the keychain); a damaged file is reported, never overwritten silently.
 */
export class StackSettingsStore implements SettingsStoreLike {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #file(profileId: string): string {
    return path.join(this.#dir, `${ProfileId.parse(profileId)}.json`);
  }

  /** The saved settings, or undefined when the admin has not saved any yet. */
  async get(profileId: string): Promise<StackSettings | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(profileId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AppError('storage.failed', 'M2 Companion could not read the saved stack settings.', { cause: err, hint: 'Check that the app can read its data folder.' });
    }
    const parsed = SettingsFile.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new AppError('storage.failed', `The saved stack settings of "${profileId}" are damaged.`, {
        hint: `Fix or remove ${this.#file(profileId)}; M2 Companion will not overwrite it.`,
      });
    }
    return parsed.data.settings;
  }

  async save(profileId: string, settings: StackSettings): Promise<StackSettings> {
    const checked = StackSettings.parse(settings);
    await writeFileAtomic(this.#file(profileId), `${JSON.stringify({ version: 1, settings: checked }, null, 2)}\n`, { mode: 0o600 });
    return checked;
  }

  /** Forget a profile's settings; true when some were saved. */
  remove(profileId: string): Promise<boolean> {
    return removeStoredFile(this.#file(profileId), 'stack settings');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
