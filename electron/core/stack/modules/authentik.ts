/**
 * Authentik (stack-facts §5): server, worker and Postgres; no Redis (gone since 2025.10). The worker bootstraps
 * `akadmin` from generated secrets on its first start and applies our blueprint, which declares the Nextcloud
 * OIDC provider and application when Nextcloud is enabled too. Forwarded headers are trusted from the edge
 * network only (where cloudflared is).
 */
import type { StackSettings } from '../../../contract/stack';
import { varRef, type ModuleContext, type ModuleFile, type ModuleOutput, type SecretRequest, type StackModule } from '../types';
import { adminUser, baseService, bind, dataDir, healthcheck, secretOf } from './common';
import { nextcloudSecrets, nextcloudVars } from './nextcloud';

export const authentikSecrets = {
  secretKey: 'authentik.secret-key',
  dbPassword: 'authentik.db-password',
  bootstrapPassword: 'authentik.bootstrap-password',
  bootstrapToken: 'authentik.bootstrap-token',
  /** The password of the LDAP service account Jellyfin binds with (one sign-in; configure/jellyfin-ldap.ts). */
  ldapBindPassword: 'authentik.ldap-bind-password',
  /** The API token of the LDAP outpost: Authentik makes it for the outpost the blueprint declares (configure/authentik.ts reads it). */
  ldapOutpostToken: 'authentik.ldap-outpost-token',
} as const;

export const authentikVars = {
  secretKey: 'AUTHENTIK_SECRET_KEY',
  dbPassword: 'AUTHENTIK_DB_PASSWORD',
  bootstrapPassword: 'AUTHENTIK_BOOTSTRAP_PASSWORD',
  bootstrapToken: 'AUTHENTIK_BOOTSTRAP_TOKEN',
  ldapBindPassword: 'AUTHENTIK_LDAP_BIND_PASSWORD',
  ldapOutpostToken: 'AUTHENTIK_LDAP_OUTPOST_TOKEN',
} as const;

export const authentikDb = { host: 'authentik-db', user: 'authentik', name: 'authentik' } as const;

/** Where the blueprint appears in the worker (any .yaml under /blueprints is discovered and applied). */
export const blueprintTarget = '/blueprints/custom/m2-apps.yaml';

const withNextcloud = (s: StackSettings): boolean => s.modules.nextcloud.enabled;
const withJellyfin = (s: StackSettings): boolean => s.modules.jellyfin.enabled;

function secrets(s: StackSettings): SecretRequest[] {
  return [
    { name: authentikSecrets.secretKey, kind: 'token', generated: true },
    { name: authentikSecrets.dbPassword, kind: 'password', generated: true },
    { name: authentikSecrets.bootstrapPassword, kind: 'password', generated: true },
    { name: authentikSecrets.bootstrapToken, kind: 'hex32', generated: true },
    // The blueprint reads it; the nextcloud module owns its env variable.
    ...(withNextcloud(s) ? [{ name: nextcloudSecrets.oidcSecret, kind: 'token' as const, generated: true }] : []),
    ...(withJellyfin(s)
      ? [
          { name: authentikSecrets.ldapBindPassword, kind: 'password' as const, generated: true },
          // Made by Authentik after its first start: the outpost runs from the install after the one that fetched it.
          { name: authentikSecrets.ldapOutpostToken, kind: 'token' as const, generated: false, optional: true },
        ]
      : []),
  ];
}

/** The LDAP directory Authentik's outpost serves Jellyfin (configure/jellyfin-ldap.ts binds and searches it). */
export const ldapDirectory = { baseDn: 'dc=ldap,dc=goauthentik,dc=io', bindUser: 'm2-ldap-bind', outpost: 'm2-ldap' } as const;

/**
 * The blueprint (stack-facts §5.5): with Nextcloud, its OAuth2 provider and application (user_oidc signs in through
 * it); with Jellyfin, an LDAP provider and application served by the stack's LDAP outpost, and the service account
 * Jellyfin's LDAP plugin binds with (allowed to search the whole directory). Host names are validated DNS names.
 * Undefined when neither is on.
 */
export function appsBlueprint(s: StackSettings): ModuleFile | undefined {
  // Jellyfin is always on today; the check stays for the day it is not.
  if (!withNextcloud(s) && !withJellyfin(s)) return undefined;
  const cloud = `https://${s.hostnames.nextcloud}`;
  const nextcloud = `  - model: authentik_providers_oauth2.oauth2provider
    id: nc-provider
    identifiers: { name: nextcloud }
    attrs:
      name: nextcloud
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
      client_type: confidential
      client_id: nextcloud
      client_secret: !Env ${nextcloudVars.oidcSecret}
      # user_oidc's callback (route login#code); /index.php/… when Nextcloud's pretty URLs are off (stack-facts §6.1).
      redirect_uris:
        - { matching_mode: strict, url: "${cloud}/apps/user_oidc/code" }
        - { matching_mode: strict, url: "${cloud}/index.php/apps/user_oidc/code" }
      property_mappings:
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-openid]]
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-email]]
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-profile]]
  - model: authentik_core.application
    identifiers: { slug: nextcloud }
    attrs: { name: Nextcloud, provider: !KeyOf nc-provider, meta_launch_url: "${cloud}" }
`;
  const media = `https://${s.hostnames.jellyfin}`;
  const jellyfin = `  - model: authentik_core.user
    id: ldap-bind
    identifiers: { username: ${ldapDirectory.bindUser} }
    attrs:
      name: M2 Companion LDAP bind (Jellyfin)
      type: service_account
      password: !Env ${authentikVars.ldapBindPassword}
  - model: authentik_providers_ldap.ldapprovider
    id: jf-ldap-provider
    identifiers: { name: jellyfin-ldap }
    attrs:
      name: jellyfin-ldap
      authorization_flow: !Find [authentik_flows.flow, [slug, default-authentication-flow]]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-invalidation-flow]]
      base_dn: ${ldapDirectory.baseDn}
      search_mode: direct
      bind_mode: direct
    permissions:
      - permission: authentik_providers_ldap.search_full_directory
        user: !KeyOf ldap-bind
  - model: authentik_core.application
    identifiers: { slug: jellyfin }
    attrs: { name: Jellyfin, provider: !KeyOf jf-ldap-provider, meta_launch_url: "${media}" }
  - model: authentik_outposts.outpost
    identifiers: { name: ${ldapDirectory.outpost} }
    attrs:
      name: ${ldapDirectory.outpost}
      type: ldap
      providers: [!KeyOf jf-ldap-provider]
      config: { authentik_host: "http://authentik-server:9000" }
`;
  const content = `# yaml-language-server: $schema=https://goauthentik.io/blueprints/schema.json
# Rendered by M2 Companion.
version: 1
metadata:
  name: m2-apps
entries:
${withNextcloud(s) ? nextcloud : ''}${withJellyfin(s) ? jellyfin : ''}`;
  return { name: 'm2-apps.yaml', content, mode: 0o644 };
}

/** Host folders of the module (the backup reads `data` and dumps the database). */
export const authentikDirs = (s: StackSettings): { data: string; db: string } => ({ data: dataDir(s, 'authentik', 'data'), db: dataDir(s, 'authentik', 'db') });

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const dirs = authentikDirs(s);
  const image = ctx.image('authentik');
  const data = bind(dirs.data, '/data');
  const blueprint = appsBlueprint(s);
  const common = {
    AUTHENTIK_SECRET_KEY: varRef(authentikVars.secretKey),
    AUTHENTIK_POSTGRESQL__HOST: authentikDb.host,
    AUTHENTIK_POSTGRESQL__USER: authentikDb.user,
    AUTHENTIK_POSTGRESQL__NAME: authentikDb.name,
    AUTHENTIK_POSTGRESQL__PASSWORD: varRef(authentikVars.dbPassword),
    AUTHENTIK_LISTEN__TRUSTED_PROXY_CIDRS: ctx.subnets.edge,
    AUTHENTIK_WEB__BASE_URL: `https://${s.hostnames.authentik}`,
  };
  const dependsOnDb = { 'authentik-db': { condition: 'service_healthy' } };
  const check = healthcheck(['CMD', 'ak', 'healthcheck'], '180s');

  const server = {
    ...baseService('authentik', image),
    command: ['server'],
    // The admin owns the bind-mounted /data; no docker socket anywhere.
    user: adminUser(s),
    shm_size: '512m',
    environment: common,
    volumes: [data],
    networks: ['edge', 'internal'],
    depends_on: dependsOnDb,
    healthcheck: check,
  };
  const worker = {
    ...baseService('authentik', image),
    command: ['worker'],
    user: adminUser(s),
    environment: {
      ...common,
      // Read by the worker on its first start only (automated install).
      AUTHENTIK_BOOTSTRAP_PASSWORD: varRef(authentikVars.bootstrapPassword),
      AUTHENTIK_BOOTSTRAP_TOKEN: varRef(authentikVars.bootstrapToken),
      AUTHENTIK_BOOTSTRAP_EMAIL: s.adminEmail,
      ...(withNextcloud(s) ? { NEXTCLOUD_OIDC_SECRET: varRef(nextcloudVars.oidcSecret) } : {}),
      ...(withJellyfin(s) ? { [authentikVars.ldapBindPassword]: varRef(authentikVars.ldapBindPassword) } : {}),
    },
    volumes: [data, ...(blueprint ? [bind(ctx.fileRef(blueprint), blueprintTarget, 'ro')] : [])],
    // Edge for egress (email); internal for its database.
    networks: ['edge', 'internal'],
    depends_on: dependsOnDb,
    healthcheck: check,
  };
  const db = {
    ...baseService('authentik', ctx.image('postgres')),
    environment: { POSTGRES_DB: authentikDb.name, POSTGRES_USER: authentikDb.user, POSTGRES_PASSWORD: varRef(authentikVars.dbPassword) },
    volumes: [bind(dirs.db, '/var/lib/postgresql/data')],
    networks: ['internal'],
    healthcheck: healthcheck(['CMD', 'pg_isready', '-q', '-U', authentikDb.user, '-d', authentikDb.name], '60s'),
  };

  // Authentik's LDAP outpost for Jellyfin (stack-facts §5.6 b), once its token is known. It reaches the server's API
  // on the edge network, where Jellyfin reaches it (authentik-ldap:3389); nothing is published on the host.
  const outpostToken = withJellyfin(s) ? ctx.secrets.get(authentikSecrets.ldapOutpostToken) : undefined;
  const ldap = outpostToken
    ? {
        ...baseService('authentik', ctx.image('authentikLdap')),
        environment: {
          AUTHENTIK_HOST: 'http://authentik-server:9000',
          AUTHENTIK_INSECURE: 'true',
          AUTHENTIK_TOKEN: varRef(authentikVars.ldapOutpostToken),
        },
        networks: ['edge'],
        depends_on: { 'authentik-server': { condition: 'service_healthy' } },
        // Connected only once the server answers: as long a start as the server's own.
        healthcheck: healthcheck(['CMD', '/ldap', 'healthcheck'], '180s'),
      }
    : undefined;

  return {
    module: 'authentik',
    services: { 'authentik-server': server, 'authentik-worker': worker, 'authentik-db': db, ...(ldap ? { 'authentik-ldap': ldap } : {}) },
    envFiles: [
      {
        name: 'authentik',
        entries: [
          [authentikVars.secretKey, secretOf(ctx, authentikSecrets.secretKey)],
          [authentikVars.dbPassword, secretOf(ctx, authentikSecrets.dbPassword)],
          [authentikVars.bootstrapPassword, secretOf(ctx, authentikSecrets.bootstrapPassword)],
          [authentikVars.bootstrapToken, secretOf(ctx, authentikSecrets.bootstrapToken)],
          ...(withJellyfin(s) ? [[authentikVars.ldapBindPassword, secretOf(ctx, authentikSecrets.ldapBindPassword)] as const] : []),
          ...(outpostToken ? [[authentikVars.ldapOutpostToken, outpostToken] as const] : []),
        ],
      },
    ],
    files: blueprint ? [blueprint] : [],
    hostDirs: [dirs.data, dirs.db],
    ports: [],
  };
}

export const authentikModule: StackModule = {
  id: 'authentik',
  enabled: (s) => s.modules.authentik.enabled,
  secrets,
  render,
};
