import { z } from 'zod';
import { StackSettings } from '../../contract/stack';
import { ProfileJsonStore } from '../fs/json-store';

const SettingsFile = z.object({ version: z.literal(1), settings: StackSettings });

/** What the stack service needs of a settings store. */
export interface SettingsStoreLike {
  get(profileId: string): Promise<StackSettings | undefined>;
  save(profileId: string, settings: StackSettings): Promise<StackSettings>;
}

/**
 * The stack settings of each server profile: `<dataDir>/stacks/<profile>.json`, written atomically.
 * No secrets live here (they are in the keychain); a damaged file is reported, never overwritten.
 */
export class StackSettingsStore implements SettingsStoreLike {
  readonly #files: ProfileJsonStore<typeof SettingsFile>;

  constructor(dir: string) {
    this.#files = new ProfileJsonStore({ dir, schema: SettingsFile, what: 'stack settings' });
  }

  /** The saved settings, or undefined when the admin has not saved any yet. */
  async get(profileId: string): Promise<StackSettings | undefined> {
    return (await this.#files.find(profileId))?.settings;
  }

  async save(profileId: string, settings: StackSettings): Promise<StackSettings> {
    return (await this.#files.write(profileId, { version: 1, settings: StackSettings.parse(settings) })).settings;
  }

  /** Forget a profile's settings; true when some were saved. */
  remove(profileId: string): Promise<boolean> {
    return this.#files.remove(profileId);
  }
}
