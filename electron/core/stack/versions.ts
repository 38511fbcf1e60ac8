/**
 * The one table of pinned images. An update of the stack is a change of this table.
 * The lab builds its stand-in images under exactly these names and tags, so the real
 * compose file runs unchanged against them.
 * Sources: ../shared/reference/stack-facts.md (versions seen Jul–Aug 2026).
 */
export interface PinnedImage {
  /** Repository as it appears in `image:` (registry prefix kept where upstream documents one). */
  readonly repository: string;
  readonly tag: string;
  /** Where the admin can read what changed in this version. */
  readonly releaseNotes: string;
}

export const pinnedImages = {
  jellyfin: {
    repository: 'jellyfin/jellyfin',
    tag: '10.11.11',
    releaseNotes: 'https://github.com/jellyfin/jellyfin/releases',
  },
  cloudflared: {
    repository: 'cloudflare/cloudflared',
    tag: '2026.8.2',
    releaseNotes: 'https://github.com/cloudflare/cloudflared/blob/master/RELEASE_NOTES',
  },
  authentik: {
    repository: 'ghcr.io/goauthentik/server',
    tag: '2026.2.2',
    releaseNotes: 'https://docs.goauthentik.io/releases/',
  },
  postgres: {
    repository: 'postgres',
    tag: '16-alpine',
    releaseNotes: 'https://www.postgresql.org/docs/release/',
  },
  nextcloud: {
    repository: 'nextcloud',
    tag: '34.0.2-apache',
    releaseNotes: 'https://nextcloud.com/changelog/',
  },
  redis: {
    repository: 'redis',
    tag: '7.4-alpine',
    releaseNotes: 'https://github.com/redis/redis/releases',
  },
  restic: {
    repository: 'restic/restic',
    tag: '0.19.1',
    releaseNotes: 'https://github.com/restic/restic/releases',
  },
  wireguard: {
    // [UNVERIFIED] exact linuxserver build tag; the app treats the tag as opaque.
    repository: 'lscr.io/linuxserver/wireguard',
    tag: '1.0.20250521',
    releaseNotes: 'https://github.com/linuxserver/docker-wireguard/releases',
  },
  sonarr: {
    repository: 'lscr.io/linuxserver/sonarr',
    tag: '4.0.15',
    releaseNotes: 'https://github.com/linuxserver/docker-sonarr/releases',
  },
  radarr: {
    repository: 'lscr.io/linuxserver/radarr',
    tag: '5.26.2',
    releaseNotes: 'https://github.com/linuxserver/docker-radarr/releases',
  },
  qbittorrent: {
    repository: 'lscr.io/linuxserver/qbittorrent',
    tag: '5.1.2',
    releaseNotes: 'https://github.com/linuxserver/docker-qbittorrent/releases',
  },
} as const satisfies Record<string, PinnedImage>;

export type ImageKey = keyof typeof pinnedImages;

export const imageRef = (key: ImageKey): string => {
  const image: PinnedImage = pinnedImages[key];
  return `${image.repository}:${image.tag}`;
};
