/**
 * Nextcloud (stack-facts §6): the apache image installing itself from the env (Postgres + admin), Redis for
 * locking and cache, a cron container, and the proxy settings for the Cloudflare tunnel: only the edge network
 * is a trusted proxy, and the public URL is https on the Nextcloud host name.
 */
import type { StackSettings } from '../../../contract/stack';
import { varRef, type ModuleContext, type ModuleOutput, type SecretRequest, type StackModule } from '../types';
import { baseService, bind, cloudflaredAddresses, dataDir, exactAddressesRegex, healthcheck, nextcloudOnLan, secretOf } from './common';

export const nextcloudSecrets = {
  dbPassword: 'nextcloud.db-password',
  adminPassword: 'nextcloud.admin-password',
  redisPassword: 'nextcloud.redis-password',
  /** The OAuth2 client secret shared with Authentik (its blueprint reads it with `!Env`). */
  oidcSecret: 'nextcloud.oidc-secret',
} as const;

/** Env file variables other modules may reference (the backup's dump sidecar, Authentik's blueprint). */
export const nextcloudVars = {
  dbPassword: 'NEXTCLOUD_DB_PASSWORD',
  adminPassword: 'NEXTCLOUD_ADMIN_PASSWORD',
  redisPassword: 'NEXTCLOUD_REDIS_PASSWORD',
  oidcSecret: 'NEXTCLOUD_OIDC_SECRET',
} as const;

export const nextcloudDb = { host: 'nextcloud-db', user: 'nextcloud', name: 'nextcloud' } as const;

/** The env var inside the nextcloud container that holds the OIDC client secret (for `occ user_oidc:provider --clientsecret-env`). */
export const nextcloudOidcEnv = 'NC_OIDC_SECRET';

const withOidc = (s: StackSettings): boolean => s.modules.authentik.enabled;

function secrets(s: StackSettings): SecretRequest[] {
  return [
    { name: nextcloudSecrets.dbPassword, kind: 'password', generated: true },
    { name: nextcloudSecrets.adminPassword, kind: 'password', generated: true },
    { name: nextcloudSecrets.redisPassword, kind: 'token', generated: true },
    ...(withOidc(s) ? [{ name: nextcloudSecrets.oidcSecret, kind: 'token' as const, generated: true }] : []),
  ];
}

/** Host folders of the module (the backup reads `html` and dumps the database instead of copying `db`). */
export const nextcloudDirs = (s: StackSettings): { html: string; db: string } => ({ html: dataDir(s, 'nextcloud', 'html'), db: dataDir(s, 'nextcloud', 'db') });

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const host = s.hostnames.nextcloud;
  const dirs = nextcloudDirs(s);
  const image = ctx.image('nextcloud');
  const html = bind(dirs.html, '/var/www/html');
  const oidc = withOidc(s);
  const onLan = nextcloudOnLan(s);
  // With the home-network port, the public https name is Nextcloud's only for requests through the tunnel
  // (cloudflared's fixed addresses); asked at the tunnel address or the LAN port, its links keep that address.
  const throughTunnelOnly = onLan && s.modules.cloudflared.enabled ? { OVERWRITECONDADDR: exactAddressesRegex(cloudflaredAddresses(ctx.subnets.edge, s.modules.cloudflared.replicas)) } : {};

  const app = {
    ...baseService('nextcloud', image),
    environment: {
      POSTGRES_HOST: nextcloudDb.host,
      POSTGRES_DB: nextcloudDb.name,
      POSTGRES_USER: nextcloudDb.user,
      POSTGRES_PASSWORD: varRef(nextcloudVars.dbPassword),
      NEXTCLOUD_ADMIN_USER: s.modules.nextcloud.adminUser,
      NEXTCLOUD_ADMIN_PASSWORD: varRef(nextcloudVars.adminPassword),
      // The service name too, so calls from cloudflared and other containers (Host: nextcloud) pass.
      NEXTCLOUD_TRUSTED_DOMAINS: `${host} nextcloud`,
      REDIS_HOST: 'nextcloud-redis',
      REDIS_HOST_PASSWORD: varRef(nextcloudVars.redisPassword),
      TRUSTED_PROXIES: ctx.subnets.edge,
      APACHE_DISABLE_REWRITE_IP: '1',
      OVERWRITEPROTOCOL: 'https',
      OVERWRITEHOST: host,
      OVERWRITECLIURL: `https://${host}`,
      ...throughTunnelOnly,
      ...(oidc ? { [nextcloudOidcEnv]: varRef(nextcloudVars.oidcSecret) } : {}),
    },
    volumes: [html],
    ...(onLan ? { ports: [{ target: 80, published: String(s.modules.nextcloud.lanPort), host_ip: s.publishAddress, protocol: 'tcp' }] } : {}),
    networks: ['edge', 'internal'],
    depends_on: {
      'nextcloud-db': { condition: 'service_healthy' },
      'nextcloud-redis': { condition: 'service_healthy' },
    },
    // First start installs Nextcloud (minutes on a slow disk): a long start period, then quick checks.
    healthcheck: healthcheck(['CMD-SHELL', 'curl -fsS http://localhost/status.php | grep -q \'"installed":true\''], '600s'),
  };

  const cron = {
    ...baseService('nextcloud', image),
    entrypoint: ['/cron.sh'],
    volumes: [html],
    networks: ['edge', 'internal'],
    depends_on: { nextcloud: { condition: 'service_healthy' } },
    // crond has no endpoint; what it needs is an installed Nextcloud in the shared folder.
    healthcheck: healthcheck(['CMD-SHELL', 'test -s /var/www/html/config/config.php'], '60s'),
  };

  const db = {
    ...baseService('nextcloud', ctx.image('postgres')),
    environment: { POSTGRES_DB: nextcloudDb.name, POSTGRES_USER: nextcloudDb.user, POSTGRES_PASSWORD: varRef(nextcloudVars.dbPassword) },
    volumes: [bind(dirs.db, '/var/lib/postgresql/data')],
    networks: ['internal'],
    healthcheck: healthcheck(['CMD', 'pg_isready', '-q', '-U', nextcloudDb.user, '-d', nextcloudDb.name], '60s'),
  };

  // The password stays out of every argv (visible in the host's `ps`): a config file written at start by the
  // shell's printf builtin, then the image's own entrypoint (which drops to the redis user).
  const redis = {
    ...baseService('nextcloud', ctx.image('redis')),
    entrypoint: [
      '/bin/sh',
      '-c',
      'umask 077 && printf \'requirepass %s\\n\' "$REDIS_PASSWORD" > /tmp/redis.conf && chown redis /tmp/redis.conf && exec docker-entrypoint.sh redis-server /tmp/redis.conf',
    ],
    environment: { REDIS_PASSWORD: varRef(nextcloudVars.redisPassword) },
    networks: ['internal'],
    healthcheck: healthcheck(['CMD-SHELL', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG'], '30s'),
  };

  return {
    module: 'nextcloud',
    services: { nextcloud: app, 'nextcloud-cron': cron, 'nextcloud-db': db, 'nextcloud-redis': redis },
    envFiles: [
      {
        name: 'nextcloud',
        entries: [
          [nextcloudVars.dbPassword, secretOf(ctx, nextcloudSecrets.dbPassword)],
          [nextcloudVars.adminPassword, secretOf(ctx, nextcloudSecrets.adminPassword)],
          [nextcloudVars.redisPassword, secretOf(ctx, nextcloudSecrets.redisPassword)],
          ...(oidc ? [[nextcloudVars.oidcSecret, secretOf(ctx, nextcloudSecrets.oidcSecret)] as const] : []),
        ],
      },
    ],
    files: [],
    hostDirs: [dirs.html, dirs.db],
    ports: onLan ? [{ port: s.modules.nextcloud.lanPort, protocol: 'tcp', service: 'nextcloud', field: 'modules.nextcloud.lanPort' }] : [],
  };
}

export const nextcloudModule: StackModule = {
  id: 'nextcloud',
  enabled: (s) => s.modules.nextcloud.enabled,
  secrets,
  render,
};
