import { z } from 'zod';
import { dataPathField } from '../preflight';
import { defineModule } from './declare';

export const MediaAutomationSettings = z.object({
  enabled: z.boolean().default(false),
  /** Where downloaders write; mounted read-only into Jellyfin at /media/ingest. */
  ingestPath: dataPathField('Ingest folder').default('/srv/m2-ingest'),
});
export type MediaAutomationSettings = z.infer<typeof MediaAutomationSettings>;

export const mediaAutomation = defineModule({
  id: 'mediaAutomation',
  title: 'Media automation',
  description: 'Sonarr, Radarr and qBittorrent on an isolated network, writing to an ingest folder Jellyfin reads.',
  settings: MediaAutomationSettings,
  fields: [{ kind: 'text', key: 'ingestPath', label: 'Ingest folder', placeholder: '/srv/m2-ingest' }],
  images: {
    sonarr: { repository: 'lscr.io/linuxserver/sonarr', tag: '4.0.15', releaseNotes: 'https://github.com/linuxserver/docker-sonarr/releases', updates: 'minor' },
    radarr: { repository: 'lscr.io/linuxserver/radarr', tag: '5.26.2', releaseNotes: 'https://github.com/linuxserver/docker-radarr/releases', updates: 'minor' },
    qbittorrent: { repository: 'lscr.io/linuxserver/qbittorrent', tag: '5.1.2', releaseNotes: 'https://github.com/linuxserver/docker-qbittorrent/releases', updates: 'minor' },
  },
  services: {
    sonarr: { role: 'series', health: 'answers /ping' },
    radarr: { role: 'films', health: 'answers /ping' },
    qbittorrent: { role: 'downloads', health: 'its web page answers' },
  },
});
