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
} as const;

export const authentikVars = {
  secretKey: 'AUTHENTIK_SECRET_KEY',
  dbPassword: 'AUTHENTIK_DB_PASSWORD',
  bootstrapPassword: 'AUTHENTIK_BOOTSTRAP_PASSWORD',
  bootstrapToken: 'AUTHENTIK_BOOTSTRAP_TOKEN',
} as const;

export const authentikDb = { host: 'authentik-db', user: 'authentik', name: 'authentik' } as const;

/** Where the blueprint appears in the worker (any .yaml under /blueprints is discovered and applied). */
export const blueprintTarget = '/blueprints/custom/m2-apps.yaml';

const withNextcloud = (s: StackSettings): boolean => s.modules.nextcloud.enabled;

function secrets(s: StackSettings): SecretRequest[] {
  return [
    { name: authentikSecrets.secretKey, kind: 'token', generated: true },
    { name: authentikSecrets.dbPassword, kind: 'password', generated: true },
    { name: authentikSecrets.bootstrapPassword, kind: 'password', generated: true },
    { name: authentikSecrets.bootstrapToken, kind: 'hex32', generated: true },
    // The blueprint reads it; the nextcloud module owns its env variable.
    ...(withNextcloud(s) ? [{ name: nextcloudSecrets.oidcSecret, kind: 'token' as const, generated: true }] : []),
  ];
}

/** The blueprint (stack-facts §5.5): the Nextcloud OAuth2 provider and application. Host names are validated DNS names. */
export function nextcloudBlueprint(s: StackSettings): ModuleFile {
  const cloud = `https://${s.hostnames.nextcloud}`;
  const content = `# yaml-language-server: $schema=https://goauthentik.io/blueprints/schema.json
# Rendered by M2 Companion.
version: 1
metadata:
  name: m2-apps
entries:
  - model: authentik_providers_oauth2.oauth2provider
    id: nc-provider
    identifiers: { name: nextcloud }
    attrs:
      name: nextcloud
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
      client_type: confidential
      client_id: nextcloud
      client_secret: !Env ${nextcloudVars.oidcSecret}
      redirect_uris: [{ matching_mode: strict, url: "${cloud}/apps/user_oidc/code" }]
      property_mappings:
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-openid]]
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-email]]
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-profile]]
  - model: authentik_core.application
    identifiers: { slug: nextcloud }
    attrs: { name: Nextcloud, provider: !KeyOf nc-provider, meta_launch_url: "${cloud}" }
`;
  return { name: 'm2-apps.yaml', content, mode: 0o644 };
}

/** Host folders of the module (the backup reads `data` and dumps the database). */
export const authentikDirs = (s: StackSettings): { data: string; db: string } => ({ data: dataDir(s, 'authentik', 'data'), db: dataDir(s, 'authentik', 'db') });

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const dirs = authentikDirs(s);
  const image = ctx.image('authentik');
  const data = bind(dirs.data, '/data');
  const blueprint = withNextcloud(s) ? nextcloudBlueprint(s) : undefined;
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
      ...(blueprint ? { NEXTCLOUD_OIDC_SECRET: varRef(nextcloudVars.oidcSecret) } : {}),
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

  return {
    module: 'authentik',
    services: { 'authentik-server': server, 'authentik-worker': worker, 'authentik-db': db },
    envFiles: [
      {
        name: 'authentik',
        entries: [
          [authentikVars.secretKey, secretOf(ctx, authentikSecrets.secretKey)],
          [authentikVars.dbPassword, secretOf(ctx, authentikSecrets.dbPassword)],
          [authentikVars.bootstrapPassword, secretOf(ctx, authentikSecrets.bootstrapPassword)],
          [authentikVars.bootstrapToken, secretOf(ctx, authentikSecrets.bootstrapToken)],
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
