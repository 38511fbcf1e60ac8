import path from 'node:path';
import type { AppInfo } from '../contract/app';
import type { Handlers, Emit } from './ipc/dispatch';
import type { Logger } from './log';
import { ProfileStore } from './profiles/profile-store';

export interface CoreConfig {
  /** The app's private data folder (Electron's userData, or the web host's --data-dir). */
  readonly dataDir: string;
  readonly appInfo: AppInfo;
  readonly log: Logger;
}

/** The product's services, built once by a composition root (Electron main or the web host). */
export interface CoreServices {
  readonly config: CoreConfig;
  readonly profiles: ProfileStore;
}

export function createCoreServices(config: CoreConfig): CoreServices {
  return {
    config,
    profiles: new ProfileStore(path.join(config.dataDir, 'profiles.json')),
  };
}

/** The contract's handlers over the services; `emit` pushes events to every open window. */
export function createHandlers(services: CoreServices, emit: Emit): Handlers {
  const profilesChanged = async (): Promise<void> => emit('profiles:changed', await services.profiles.list());
  return {
    'app:info': () => services.config.appInfo,
    'profiles:list': () => services.profiles.list(),
    'profiles:save': async (input) => {
      const saved = await services.profiles.save(input);
      await profilesChanged();
      return saved;
    },
    'profiles:remove': async ({ id }) => {
      await services.profiles.remove(id);
      await profilesChanged();
      return { removed: true } as const;
    },
  };
}
