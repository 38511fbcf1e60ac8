import { z } from 'zod';
import { defineModule, portField } from './declare';

export const NextcloudSettings = z.object({
  enabled: z.boolean().default(true),
  adminUser: z
    .string()
    .trim()
    .regex(/^[a-zA-Z0-9_.@-]{1,64}$/, 'Nextcloud admin user: use letters, digits and _ . @ - (at most 64).')
    .default('admin'),
  /**
   * Port on the server for Nextcloud over plain HTTP, published only while the WireGuard fallback is installed: the
   * household reaches Nextcloud at the tunnel address when Cloudflare is down (links there stay on that address).
   */
  lanPort: portField('Nextcloud port').default(8080),
});
export type NextcloudSettings = z.infer<typeof NextcloudSettings>;

export const nextcloud = defineModule({
  id: 'nextcloud',
  title: 'Nextcloud',
  description: 'Files, calendars and contacts, with Postgres, Redis and cron; sign-in through Authentik.',
  settings: NextcloudSettings,
  hostname: { label: 'Nextcloud host name', default: 'cloud.example.com' },
  fields: [
    { kind: 'text', key: 'adminUser', label: 'Nextcloud admin user' },
    {
      kind: 'text',
      key: 'lanPort',
      label: 'Nextcloud port (fallback)',
      inputMode: 'numeric',
      value: 'number',
      hint: 'With the WireGuard fallback, the household reaches Nextcloud on this port at the tunnel address while Cloudflare is down.',
      when: (v) => v('modules.wireguard.enabled') === true,
    },
  ],
  images: {
    nextcloud: { repository: 'nextcloud', tag: '34.0.2-apache', releaseNotes: 'https://nextcloud.com/changelog/', updates: 'minor' },
    postgres: { repository: 'postgres', tag: '16-alpine', releaseNotes: 'https://www.postgresql.org/docs/release/', updates: 'patch' },
    redis: { repository: 'redis', tag: '7.4-alpine', releaseNotes: 'https://github.com/redis/redis/releases', updates: 'patch' },
  },
  services: {
    nextcloud: { role: 'Nextcloud itself (Apache)', health: 'status.php says it is installed' },
    'nextcloud-cron': { role: 'Nextcloud’s background jobs', health: 'the installed config is there' },
    'nextcloud-db': { role: 'Nextcloud’s Postgres database', health: 'Postgres accepts connections' },
    'nextcloud-redis': { role: 'locking and cache', health: 'Redis answers PING with the password' },
  },
});
