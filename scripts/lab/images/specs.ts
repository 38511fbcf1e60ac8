/**
 * What each stand-in image is: which stand-in bundle answers, which commands exist on PATH, and the image config
 * (user, env, ports, volumes, entrypoint, healthcheck) copied from the real image where the app depends on it.
 * Tags come from the one pinned table, electron/core/stack/versions.ts.
 */
import { imageRef, type ImageKey } from '../../../electron/core/stack/versions';

/** A stand-in bundle, built from scripts/lab/images/standins/<name>.ts. */
export type BundleName = 'jellyfin' | 'ffmpeg' | 'cloudflared' | 'authentik' | 'authentik-ldap' | 'nextcloud' | 'postgres' | 'redis' | 'linuxserver' | 'tools';
export const bundleNames: readonly BundleName[] = ['jellyfin', 'ffmpeg', 'cloudflared', 'authentik', 'authentik-ldap', 'nextcloud', 'postgres', 'redis', 'linuxserver', 'tools'];

/** A file in the image, written on top of the shared base (busybox + node + its libraries). */
export type OverlayFile =
  | { path: string; mode: number; content: string }
  | { path: string; mode: number; fromHost: () => string }
  | { path: string; mode: number; dir: true };

export interface StandInSpec {
  key: ImageKey;
  ref: string;
  /** Bundles copied to /opt/standin/<name>.js. */
  bundles: BundleName[];
  /** Commands on PATH: path → bundle and fixed leading arguments. */
  commands: Record<string, [BundleName, ...string[]]>;
  /** Install busybox's applet links (/bin/sh, wget, nc, …): everything but distroless cloudflared has a shell. */
  applets: boolean;
  files: OverlayFile[];
  /** Dockerfile instructions after FROM/COPY (ENV, USER, EXPOSE, VOLUME, WORKDIR, ENTRYPOINT, CMD, HEALTHCHECK). */
  config: string[];
  /** Ports the stand-in serves, and where its lab control endpoint (`/__lab/state`) is. */
  ports: { service: number[]; control: number };
}

const dir = (path: string, mode = 0o755): OverlayFile => ({ path, mode, dir: true });
const text = (path: string, content: string, mode = 0o644): OverlayFile => ({ path, mode, content });

const authentikDefaultBlueprints: OverlayFile[] = [
  text(
    '/blueprints/default/flow-default-provider-authorization-implicit-consent.yaml',
    'version: 1\nmetadata:\n  name: Default - Provider authorization flow (implicit consent)\nentries:\n  - model: authentik_flows.flow\n    identifiers: { slug: default-provider-authorization-implicit-consent }\n    attrs: { name: Authorize Application, designation: authorization }\n',
  ),
  text(
    '/blueprints/default/flow-default-provider-invalidation.yaml',
    'version: 1\nmetadata:\n  name: Default - Provider invalidation flow\nentries:\n  - model: authentik_flows.flow\n    identifiers: { slug: default-provider-invalidation-flow }\n    attrs: { name: Logged out of application, designation: invalidation }\n',
  ),
  text(
    '/blueprints/system/providers-oauth2.yaml',
    'version: 1\nmetadata:\n  name: System - OAuth2 Provider - Scopes\n  labels:\n    blueprints.goauthentik.io/system: "true"\nentries:\n' +
      ['openid', 'email', 'profile', 'offline_access', 'entitlements']
        .map(
          (s) =>
            `  - model: authentik_providers_oauth2.scopemapping\n    identifiers: { managed: goauthentik.io/providers/oauth2/scope-${s} }\n    attrs: { name: "authentik default OAuth Mapping: OpenID '${s}'", scope_name: ${s} }\n`,
        )
        .join(''),
  ),
];

const linuxserver = (key: 'sonarr' | 'radarr' | 'qbittorrent' | 'wireguard', ports: number[], expose: string[], control: number): StandInSpec => ({
  key,
  ref: imageRef(key),
  bundles: ['linuxserver', 'tools'],
  commands: { '/init': ['linuxserver', key], '/usr/bin/curl': ['tools'] },
  applets: true,
  files: [dir('/config', 0o755)],
  config: ['ENV PUID=911 PGID=911 TZ=Etc/UTC HOME=/root', `EXPOSE ${expose.join(' ')}`, 'VOLUME ["/config"]', 'ENTRYPOINT ["/init"]'],
  ports: { service: ports, control },
});

/** Real WireGuard tools from the host, at the paths the image's PATH finds before busybox's applets. */
export interface WireGuardTools {
  /** Image path → host path: wg, wg-quick (bash script), bash, ip (iproute2), wireguard-go. */
  binaries: Record<string, string>;
  /** Shared libraries `ldd` lists for them, at their host paths. */
  libraries: string[];
}

/**
 * The WireGuard toolbox: the app drives it with `docker exec … wg-quick up|down` (the compose entrypoint override
 * keeps /init from running). This kernel has no wireguard module, so `wg-quick up` falls back to wireguard-go on
 * /dev/net/tun. /init stays the old stand-in (PEERS configs, UDP bind, /health) for images run without the override.
 */
const wireguard = (tools: WireGuardTools): StandInSpec => {
  const base = linuxserver('wireguard', [51820], ['51820/udp'], 51821);
  return {
    ...base,
    files: [
      ...base.files,
      ...Object.entries(tools.binaries).map(([dest, src]): OverlayFile => ({ path: dest, mode: 0o755, fromHost: () => src })),
      ...tools.libraries.map((lib): OverlayFile => ({ path: lib, mode: 0o755, fromHost: () => lib })),
      dir('/etc/wireguard', 0o700),
      dir('/var/run/wireguard', 0o755),
    ],
    config: [
      ...base.config,
      // No LOG_LEVEL: with it, wireguard-go's daemon keeps the exec's stdout/stderr open and every `docker exec … wg-quick up` waits 2 s for them.
      'ENV WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go',
    ],
  };
};

/**
 * resticBinary: the host path of the restic binary to ship (Debian trixie's, else the host's); wireguardTools: the
 * host's WireGuard tools and their libraries (an empty set gives a wireguard stand-in without them, for listings).
 */
export function standInSpecs(resticBinary: string, wireguardTools: WireGuardTools = { binaries: {}, libraries: [] }): StandInSpec[] {
  return [
    {
      key: 'jellyfin',
      ref: imageRef('jellyfin'),
      bundles: ['jellyfin', 'ffmpeg', 'tools'],
      // ffmpeg: fails on hardware encoders as the real one does without the hardware (standins/ffmpeg.ts).
      commands: { '/jellyfin/jellyfin': ['jellyfin'], '/usr/lib/jellyfin-ffmpeg/ffmpeg': ['ffmpeg'], '/usr/bin/curl': ['tools'] },
      applets: true,
      files: [dir('/config', 0o777), dir('/cache', 0o777), dir('/media')],
      config: [
        'ENV HEALTHCHECK_URL=http://localhost:8096/health JELLYFIN_DATA_DIR=/config JELLYFIN_CACHE_DIR=/cache JELLYFIN_CONFIG_DIR=/config/config JELLYFIN_LOG_DIR=/config/log JELLYFIN_WEB_DIR=/jellyfin/jellyfin-web JELLYFIN_FFMPEG=/usr/lib/jellyfin-ffmpeg/ffmpeg NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,video,utility',
        'EXPOSE 8096',
        'VOLUME ["/config", "/cache"]',
        'ENTRYPOINT ["/jellyfin/jellyfin"]',
        'HEALTHCHECK --interval=30s --timeout=30s --start-period=10s --retries=3 CMD curl -Lk -fsS "${HEALTHCHECK_URL}" || exit 1',
      ],
      ports: { service: [8096], control: 8096 },
    },
    {
      key: 'cloudflared',
      ref: imageRef('cloudflared'),
      bundles: ['cloudflared'],
      commands: { '/usr/local/bin/cloudflared': ['cloudflared'] },
      applets: false,
      files: [dir('/home/nonroot', 0o755)],
      config: ['USER 65532:65532', 'ENTRYPOINT ["cloudflared", "--no-autoupdate"]', 'CMD ["version"]'],
      ports: { service: [20241], control: 20241 },
    },
    {
      key: 'authentik',
      ref: imageRef('authentik'),
      bundles: ['authentik', 'tools'],
      commands: { '/usr/local/bin/ak': ['authentik'], '/usr/bin/curl': ['tools'] },
      applets: true,
      files: [
        dir('/data', 0o777),
        dir('/media', 0o777),
        dir('/templates'),
        dir('/certs'),
        dir('/blueprints'),
        ...authentikDefaultBlueprints,
        text('/usr/bin/dumb-init', '#!/bin/busybox sh\n[ "$1" = "--" ] && shift\nexec "$@"\n', 0o755),
      ],
      config: [
        'ENV TMPDIR=/tmp',
        'USER 1000',
        'EXPOSE 9000 9300 9443',
        'ENTRYPOINT ["dumb-init", "--", "ak"]',
        'CMD ["server"]',
        'HEALTHCHECK --interval=30s --timeout=30s --start-period=60s --retries=3 CMD ["ak", "healthcheck"]',
      ],
      ports: { service: [9000, 9300], control: 9000 },
    },
    {
      // Authentik's LDAP outpost (ldap.Dockerfile: USER 1000, EXPOSE 3389 6636 9300, ENTRYPOINT /ldap, its healthcheck).
      key: 'authentikLdap',
      ref: imageRef('authentikLdap'),
      bundles: ['authentik-ldap'],
      commands: { '/ldap': ['authentik-ldap'] },
      applets: false,
      files: [],
      config: ['ENV TMPDIR=/dev/shm/', 'USER 1000', 'EXPOSE 3389 6636 9300', 'ENTRYPOINT ["/ldap"]', 'HEALTHCHECK --interval=5s --retries=20 --start-period=3s CMD ["/ldap", "healthcheck"]'],
      ports: { service: [3389, 9300], control: 9300 },
    },
    {
      key: 'nextcloud',
      ref: imageRef('nextcloud'),
      bundles: ['nextcloud', 'tools'],
      commands: {
        '/entrypoint.sh': ['nextcloud', 'entrypoint'],
        '/cron.sh': ['nextcloud', 'cron'],
        '/usr/local/bin/php': ['nextcloud', 'php'],
        '/usr/bin/curl': ['tools'],
      },
      applets: true,
      files: [dir('/var/www'), dir('/var/www/html')],
      config: [
        'ENV PHP_MEMORY_LIMIT=512M PHP_UPLOAD_LIMIT=512M APACHE_BODY_LIMIT=1073741824',
        `ENV NEXTCLOUD_VERSION=${imageRef('nextcloud').split(':')[1]?.replace(/-.*$/, '') ?? ''}`,
        'WORKDIR /var/www/html',
        'VOLUME ["/var/www/html"]',
        'EXPOSE 80',
        'ENTRYPOINT ["/entrypoint.sh"]',
        'CMD ["apache2-foreground"]',
      ],
      ports: { service: [80], control: 80 },
    },
    {
      key: 'postgres',
      ref: imageRef('postgres'),
      bundles: ['postgres'],
      commands: {
        '/usr/local/bin/docker-entrypoint.sh': ['postgres', 'server'],
        '/usr/local/bin/pg_isready': ['postgres', 'pg_isready'],
        '/usr/local/bin/pg_dump': ['postgres', 'pg_dump'],
        '/usr/local/bin/pg_dumpall': ['postgres', 'pg_dumpall'],
        '/usr/local/bin/psql': ['postgres', 'psql'],
      },
      applets: true,
      files: [dir('/var/lib/postgresql'), dir('/var/lib/postgresql/data', 0o777), dir('/var/run/postgresql', 0o3777)],
      config: [
        'ENV PG_MAJOR=16 PG_VERSION=16.10 PGDATA=/var/lib/postgresql/data',
        'VOLUME ["/var/lib/postgresql/data"]',
        'STOPSIGNAL SIGINT',
        'EXPOSE 5432',
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["postgres"]',
      ],
      ports: { service: [5432], control: 5480 },
    },
    {
      key: 'redis',
      ref: imageRef('redis'),
      bundles: ['redis'],
      commands: {
        '/usr/local/bin/docker-entrypoint.sh': ['redis', 'server'],
        '/usr/local/bin/redis-server': ['redis', 'server', 'redis-server'],
        '/usr/local/bin/redis-cli': ['redis', 'redis-cli'],
      },
      applets: true,
      files: [dir('/data')],
      config: ['ENV REDIS_VERSION=7.4.5', 'VOLUME ["/data"]', 'WORKDIR /data', 'EXPOSE 6379', 'ENTRYPOINT ["docker-entrypoint.sh"]', 'CMD ["redis-server"]'],
      ports: { service: [6379], control: 6380 },
    },
    {
      key: 'restic',
      ref: imageRef('restic'),
      bundles: [],
      commands: {},
      applets: true,
      files: [{ path: '/usr/bin/restic', mode: 0o755, fromHost: () => resticBinary }],
      config: ['ENTRYPOINT ["/usr/bin/restic"]'],
      ports: { service: [], control: 0 },
    },
    wireguard(wireguardTools),
    linuxserver('sonarr', [8989], ['8989'], 8989),
    linuxserver('radarr', [7878], ['7878'], 7878),
    linuxserver('qbittorrent', [8080, 6881], ['8080', '6881', '6881/udp'], 8080),
  ];
}
