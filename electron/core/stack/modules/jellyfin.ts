/**
 * Jellyfin: one service on the edge network, published on the home network at `lanPort`, media read-only at
 * /media/1…n (and the media automation's ingest folder at /media/ingest), with the hardware acceleration variant
 * the admin chose (stack-facts §1.2–§1.4).
 */
import type { StackSettings } from '../../../contract/stack';
import { AppError } from '../../errors';
import type { ComposeService, ModuleContext, ModuleOutput, StackModule } from '../types';
import { adminUser, baseService, bind, dataDir, healthcheck } from './common';

/** Where the media automation's ingest folder appears inside Jellyfin. */
export const jellyfinIngestTarget = '/media/ingest';

/** The compose fields for a hardware acceleration variant. */
export function hwAccelFields(settings: StackSettings): ComposeService {
  const j = settings.modules.jellyfin;
  switch (j.hwAccel) {
    case 'none':
      return {};
    case 'nvidia':
      // Engine 20.10 and Compose 2.26 have no service-level `gpus:`; a device reservation is the portable form.
      return {
        runtime: 'nvidia',
        deploy: { resources: { reservations: { devices: [{ driver: 'nvidia', count: 'all', capabilities: ['gpu'] }] } } },
      };
    case 'intel-qsv':
    case 'vaapi':
    case 'amd-vaapi': {
      if (j.renderGid === null) {
        throw new AppError('stack.invalid-settings', 'GPU render group id: enter the group id that owns the render device (getent group render).', {
          field: 'modules.jellyfin.renderGid',
          hint: 'Run the checks again to detect it, or choose no hardware acceleration.',
        });
      }
      return { devices: [`${j.renderDevice}:${j.renderDevice}`], group_add: [String(j.renderGid)] };
    }
    default: {
      const never: never = j.hwAccel;
      throw new Error(`unknown hardware acceleration ${String(never)}`);
    }
  }
}

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const j = s.modules.jellyfin;
  const config = dataDir(s, 'jellyfin', 'config');
  const cache = dataDir(s, 'jellyfin', 'cache');
  const media = j.mediaPaths.map((p, i) => bind(p, `/media/${i + 1}`, 'ro'));
  const ingest = s.modules.mediaAutomation.enabled ? [bind(s.modules.mediaAutomation.ingestPath, jellyfinIngestTarget, 'ro')] : [];
  const service: ComposeService = {
    ...baseService('jellyfin', ctx.image('jellyfin')),
    user: adminUser(s),
    environment: {
      TZ: s.timezone,
      JELLYFIN_PublishedServerUrl: `https://${s.hostnames.jellyfin}`,
    },
    volumes: [bind(config, '/config'), bind(cache, '/cache'), ...media, ...ingest],
    ports: [{ target: 8096, published: String(j.lanPort), host_ip: s.publishAddress, protocol: 'tcp' }],
    networks: ['edge'],
    healthcheck: healthcheck(['CMD', 'curl', '-fsS', 'http://localhost:8096/health'], '60s'),
    ...hwAccelFields(s),
  };
  return {
    module: 'jellyfin',
    services: { jellyfin: service },
    envFiles: [],
    files: [],
    hostDirs: [config, cache],
    ports: [{ port: j.lanPort, protocol: 'tcp', service: 'jellyfin', field: 'modules.jellyfin.lanPort' }],
  };
}

export const jellyfinModule: StackModule = {
  id: 'jellyfin',
  enabled: (s) => s.modules.jellyfin.enabled,
  secrets: () => [],
  render,
};
