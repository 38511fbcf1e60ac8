/**
 * The stack, per server profile: settings (saved in the app's data folder), generated secrets (keychain),
 * render, plan and apply over the profile's one SSH connection. Progress is pushed as contract events.
 */
import type { ApplyResult, StackPlan, StackProgress, StackSettings, StackSettingsView, StackStatus } from '../../contract/stack';
import { StackSettings as StackSettingsSchema } from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { ServerService } from '../server/server-service';
import type { StackSettingsStore } from './settings-store';
import { pinnedImages } from './versions';

export interface StackServiceDeps {
  readonly settings: StackSettingsStore;
  readonly servers: ServerService;
  readonly log: Logger;
  readonly onProgress: (p: StackProgress) => void;
}

export class StackService {
  readonly #deps: StackServiceDeps;

  constructor(deps: StackServiceDeps) {
    this.#deps = deps;
  }

  async view(profileId: string): Promise<StackSettingsView> {
    const saved = await this.#deps.settings.get(profileId);
    const settings = saved ?? StackSettingsSchema.parse({});
    return { settings, saved: saved !== undefined, suggestions: null, images: imagesFor(settings) };
  }

  async save(profileId: string, settings: StackSettings): Promise<StackSettingsView> {
    await this.#deps.settings.save(profileId, settings);
    return this.view(profileId);
  }

  plan(_profileId: string): Promise<StackPlan> {
    return Promise.reject(new AppError('internal', 'Planning is not wired yet.'));
  }

  apply(_profileId: string): Promise<ApplyResult> {
    return Promise.reject(new AppError('internal', 'Applying is not wired yet.'));
  }

  status(_profileId: string): Promise<StackStatus> {
    return Promise.reject(new AppError('internal', 'Status is not wired yet.'));
  }
}

function imagesFor(settings: StackSettings): StackSettingsView['images'] {
  const moduleOf: Record<string, StackSettingsView['images'][number]['module']> = {
    jellyfin: 'jellyfin',
    cloudflared: 'cloudflared',
    authentik: 'authentik',
    postgres: 'nextcloud',
    nextcloud: 'nextcloud',
    redis: 'nextcloud',
    restic: 'backup',
    wireguard: 'wireguard',
    sonarr: 'mediaAutomation',
    radarr: 'mediaAutomation',
    qbittorrent: 'mediaAutomation',
  };
  return Object.entries(pinnedImages).map(([key, img]) => ({
    key,
    ref: `${img.repository}:${settings.imageOverrides[key] ?? img.tag}`,
    releaseNotes: img.releaseNotes,
    module: moduleOf[key] ?? 'jellyfin',
  }));
}
