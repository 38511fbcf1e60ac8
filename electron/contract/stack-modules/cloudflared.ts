import { z } from 'zod';
import { defineModule } from './declare';

export const CloudflaredSettings = z.object({
  enabled: z.boolean().default(true),
  /** Two connectors for HA: each keeps four edge connections. */
  replicas: z.union([z.literal(1), z.literal(2)], { error: 'Tunnel connectors: choose 1 or 2.' }).default(1),
});
export type CloudflaredSettings = z.infer<typeof CloudflaredSettings>;

export const cloudflared = defineModule({
  id: 'cloudflared',
  title: 'Cloudflare Tunnel',
  description: 'Publishes the services through Cloudflare without opening a port on your router.',
  settings: CloudflaredSettings,
  fields: [
    {
      kind: 'select',
      key: 'replicas',
      label: 'Tunnel connectors',
      hint: 'Two connectors keep the tunnel up while one restarts.',
      value: 'number',
      options: [
        { value: '1', label: '1 connector' },
        { value: '2', label: '2 connectors (high availability)' },
      ],
    },
  ],
  images: {
    cloudflared: { repository: 'cloudflare/cloudflared', tag: '2026.8.2', releaseNotes: 'https://github.com/cloudflare/cloudflared/blob/master/RELEASE_NOTES', updates: 'major' },
  },
  services: {
    cloudflared: { role: 'the tunnel connector', health: 'cloudflared says the tunnel is ready' },
    'cloudflared-2': { role: 'the second tunnel connector (two connectors)', health: 'cloudflared says the tunnel is ready' },
  },
});
