import { z } from 'zod';
import { defineModule } from './declare';

export const AuthentikSettings = z.object({
  enabled: z.boolean().default(true),
});
export type AuthentikSettings = z.infer<typeof AuthentikSettings>;

export const authentik = defineModule({
  id: 'authentik',
  title: 'Authentik',
  description: 'Single sign-on for the household: one account for every service.',
  settings: AuthentikSettings,
  hostname: { label: 'Authentik host name', default: 'auth.example.com' },
  fields: [],
  images: {
    authentik: { repository: 'ghcr.io/goauthentik/server', tag: '2026.2.2', releaseNotes: 'https://docs.goauthentik.io/releases/', updates: 'minor' },
    postgres: { repository: 'postgres', tag: '16-alpine', releaseNotes: 'https://www.postgresql.org/docs/release/', updates: 'patch' },
    // Authentik's LDAP outpost, released with the server under the same version.
    authentikLdap: { repository: 'ghcr.io/goauthentik/ldap', tag: '2026.2.2', releaseNotes: 'https://docs.goauthentik.io/releases/', updates: 'minor' },
  },
  services: {
    'authentik-server': { role: 'sign-in pages and API', health: '`ak healthcheck` passes' },
    'authentik-worker': { role: 'background tasks and blueprints', health: '`ak healthcheck` passes' },
    'authentik-db': { role: 'Authentik’s Postgres database', health: 'Postgres accepts connections' },
    'authentik-ldap': { role: 'LDAP for Jellyfin’s sign-in (Authentik’s LDAP outpost)', health: '`/ldap healthcheck` passes' },
  },
});
