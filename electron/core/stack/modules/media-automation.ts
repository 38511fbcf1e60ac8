/**
 * Media automation (optional): Sonarr, Radarr and qBittorrent on the `media` network only, which has egress
 * (downloaders need it) but no other service of the stack. They write to the ingest folder, which Jellyfin
 * sees read-only at /media/ingest.
 */
import type { StackSettings } from '../../../contract/stack';
import type { ComposeService, ModuleContext, ModuleOutput, StackModule } from '../types';
import { baseService, bind, dataDir, healthcheck } from './common';

/** Where the ingest folder appears in the three apps. */
export const ingestTarget = '/ingest';

const apps = {
  sonarr: { health: 'http://localhost:8989/ping', env: {} },
  radarr: { health: 'http://localhost:7878/ping', env: {} },
  // The WebUI's root answers without a login (the API needs one on the real image).
  qbittorrent: { health: 'http://localhost:8080/', env: { WEBUI_PORT: '8080', TORRENTING_PORT: '6881' } },
} as const;

export const mediaAutomationDir = (s: StackSettings, app: keyof typeof apps): string => dataDir(s, 'media-automation', app);

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const ingest = s.modules.mediaAutomation.ingestPath;
  const services: Record<string, ComposeService> = {};
  const hostDirs: string[] = [ingest];
  for (const [name, app] of Object.entries(apps) as Array<[keyof typeof apps, (typeof apps)[keyof typeof apps]]>) {
    const config = mediaAutomationDir(s, name);
    hostDirs.push(config);
    services[name] = {
      ...baseService('mediaAutomation', ctx.image(name)),
      environment: { PUID: String(s.uid), PGID: String(s.gid), TZ: s.timezone, ...app.env },
      volumes: [bind(config, '/config'), bind(ingest, ingestTarget)],
      networks: ['media'],
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', app.health], '90s'),
    };
  }
  return { module: 'mediaAutomation', services, envFiles: [], files: [], hostDirs, ports: [] };
}

export const mediaAutomationModule: StackModule = {
  id: 'mediaAutomation',
  enabled: (s) => s.modules.mediaAutomation.enabled,
  secrets: () => [],
  render,
};
