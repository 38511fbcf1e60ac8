import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../secrets/secret';
import { VarRef } from '../types';
import { authentikModule } from './authentik';
import { testContext, testM2Dir } from './test-context';

const render = (input: Parameters<typeof testContext>[0] = {}) => authentikModule.render(testContext(input));
type Svc = Record<string, unknown> & { environment: Record<string, unknown>; volumes: Array<Record<string, unknown>>; networks: string[] };

/** Parse a blueprint, turning authentik's tags into inspectable arrays. */
const parseBlueprint = (text: string): Record<string, unknown> =>
  YAML.parse(text, {
    customTags: ['!Find', '!KeyOf', '!Env'].flatMap((tag) => [
      { tag, resolve: (v: string) => [tag, v] },
      { tag, collection: 'seq' as const, resolve: (seq: unknown) => [tag, (seq as { toJSON: () => unknown }).toJSON()] },
    ]),
  }) as Record<string, unknown>;

describe('authentik module', () => {
  it('runs server and worker against their own Postgres, trusting forwarded headers from the edge network only', () => {
    const out = render({ dataRoot: '/data', hostnames: { authentik: 'auth.example.org' } });
    const server = out.services['authentik-server'] as Svc;
    const worker = out.services['authentik-worker'] as Svc;
    const common = {
      AUTHENTIK_SECRET_KEY: new VarRef('AUTHENTIK_SECRET_KEY'),
      AUTHENTIK_POSTGRESQL__HOST: 'authentik-db',
      AUTHENTIK_POSTGRESQL__USER: 'authentik',
      AUTHENTIK_POSTGRESQL__NAME: 'authentik',
      AUTHENTIK_POSTGRESQL__PASSWORD: new VarRef('AUTHENTIK_DB_PASSWORD'),
      AUTHENTIK_LISTEN__TRUSTED_PROXY_CIDRS: '172.30.80.0/24',
      AUTHENTIK_WEB__BASE_URL: 'https://auth.example.org',
    };
    expect(server.environment).toEqual(common);
    expect(server.command).toEqual(['server']);
    expect(worker.command).toEqual(['worker']);
    expect(worker.environment).toEqual({
      ...common,
      AUTHENTIK_BOOTSTRAP_PASSWORD: new VarRef('AUTHENTIK_BOOTSTRAP_PASSWORD'),
      AUTHENTIK_BOOTSTRAP_TOKEN: new VarRef('AUTHENTIK_BOOTSTRAP_TOKEN'),
      AUTHENTIK_BOOTSTRAP_EMAIL: 'admin@example.com',
      NEXTCLOUD_OIDC_SECRET: new VarRef('NEXTCLOUD_OIDC_SECRET'),
      AUTHENTIK_LDAP_BIND_PASSWORD: new VarRef('AUTHENTIK_LDAP_BIND_PASSWORD'),
    });
    // With the outpost's token known (every secret is, in this context), the LDAP outpost runs too.
    expect(Object.keys(out.services).sort()).toEqual(['authentik-db', 'authentik-ldap', 'authentik-server', 'authentik-worker']);
    expect((out.services['authentik-db'] as Svc).networks).toEqual(['internal']);
    for (const svc of [server, worker]) {
      expect(svc.volumes[0]).toEqual({ type: 'bind', source: '/data/authentik/data', target: '/data' });
      expect(JSON.stringify(svc.volumes)).not.toContain('docker.sock');
      expect(svc.healthcheck).toMatchObject({ test: ['CMD', 'ak', 'healthcheck'] });
    }
  });

  it('mounts the Nextcloud blueprint read-only from its content-addressed path into the worker', () => {
    const out = render({ hostnames: { nextcloud: 'cloud.example.org' } });
    expect(out.files.map((f) => f.name)).toEqual(['m2-apps.yaml']);
    const file = out.files[0];
    if (!file) throw new Error('no blueprint');
    const mount = (out.services['authentik-worker'] as Svc).volumes[1];
    expect(mount).toMatchObject({ type: 'bind', target: '/blueprints/custom/m2-apps.yaml', read_only: true });
    expect(String(mount?.source)).toMatch(new RegExp(`^${testM2Dir}/files/[0-9a-f]{16}/m2-apps\\.yaml$`));
    const bp = parseBlueprint(file.content) as { version: number; entries: Array<{ model: string; identifiers: Record<string, string>; attrs: Record<string, unknown> }> };
    expect(bp.version).toBe(1);
    // Nextcloud's provider and application, then Jellyfin's LDAP part (Jellyfin is always on).
    expect(bp.entries.map((e) => e.model)).toEqual([
      'authentik_providers_oauth2.oauth2provider',
      'authentik_core.application',
      'authentik_core.user',
      'authentik_providers_ldap.ldapprovider',
      'authentik_core.application',
      'authentik_outposts.outpost',
    ]);
    expect(bp.entries[0]?.attrs).toMatchObject({
      client_type: 'confidential',
      client_id: 'nextcloud',
      client_secret: ['!Env', 'NEXTCLOUD_OIDC_SECRET'],
      redirect_uris: [
        { matching_mode: 'strict', url: 'https://cloud.example.org/apps/user_oidc/code' },
        { matching_mode: 'strict', url: 'https://cloud.example.org/index.php/apps/user_oidc/code' },
      ],
      authorization_flow: ['!Find', ['authentik_flows.flow', ['slug', 'default-provider-authorization-implicit-consent']]],
    });
    expect(bp.entries[1]).toMatchObject({ identifiers: { slug: 'nextcloud' }, attrs: { name: 'Nextcloud', provider: ['!KeyOf', 'nc-provider'], meta_launch_url: 'https://cloud.example.org' } });
  });

  it('declares Jellyfin’s LDAP provider, application, outpost and bind account, the password from the worker’s environment', () => {
    const out = render({ hostnames: { jellyfin: 'media.example.org' }, modules: { nextcloud: { enabled: false } } });
    const file = out.files[0];
    if (!file) throw new Error('no blueprint');
    const bp = parseBlueprint(file.content) as { entries: Array<{ model: string; id?: string; identifiers: Record<string, string>; attrs: Record<string, unknown>; permissions?: unknown }> };
    expect(bp.entries.map((e) => e.model)).toEqual(['authentik_core.user', 'authentik_providers_ldap.ldapprovider', 'authentik_core.application', 'authentik_outposts.outpost']);
    expect(bp.entries[0]).toMatchObject({ identifiers: { username: 'm2-ldap-bind' }, attrs: { type: 'service_account', password: ['!Env', 'AUTHENTIK_LDAP_BIND_PASSWORD'] } });
    expect(bp.entries[1]).toMatchObject({
      identifiers: { name: 'jellyfin-ldap' },
      attrs: { base_dn: 'dc=ldap,dc=goauthentik,dc=io', authorization_flow: ['!Find', ['authentik_flows.flow', ['slug', 'default-authentication-flow']]] },
      permissions: [{ permission: 'authentik_providers_ldap.search_full_directory', user: ['!KeyOf', 'ldap-bind'] }],
    });
    expect(bp.entries[2]).toMatchObject({ identifiers: { slug: 'jellyfin' }, attrs: { name: 'Jellyfin', provider: ['!KeyOf', 'jf-ldap-provider'], meta_launch_url: 'https://media.example.org' } });
    expect(bp.entries[3]).toMatchObject({ identifiers: { name: 'm2-ldap' }, attrs: { type: 'ldap', providers: [['!KeyOf', 'jf-ldap-provider']], config: { authentik_host: 'http://authentik-server:9000' } } });
    const worker = out.services['authentik-worker'] as Svc;
    expect(worker.environment).toMatchObject({ AUTHENTIK_LDAP_BIND_PASSWORD: new VarRef('AUTHENTIK_LDAP_BIND_PASSWORD') });
    expect(worker.environment).not.toHaveProperty('NEXTCLOUD_OIDC_SECRET');
    expect(out.envFiles[0]?.entries.map(([k]) => k)).toContain('AUTHENTIK_LDAP_BIND_PASSWORD');
    expect(file.content).not.toContain('nextcloud');
  });

  it('runs the LDAP outpost only once its token is in the keychain, on the edge network, the token by reference', () => {
    const ctx = testContext();
    const without = authentikModule.render({ ...ctx, secrets: new Map([...['authentik.secret-key', 'authentik.db-password', 'authentik.bootstrap-password', 'authentik.bootstrap-token', 'nextcloud.oidc-secret', 'authentik.ldap-bind-password'].map((n) => [n, new Secret(`v-${n}`)] as const)]) });
    expect(Object.keys(without.services)).not.toContain('authentik-ldap');
    expect(without.envFiles[0]?.entries.map(([k]) => k)).not.toContain('AUTHENTIK_LDAP_OUTPOST_TOKEN');
    const withToken = render();
    const ldap = withToken.services['authentik-ldap'] as Svc;
    expect(ldap).toMatchObject({
      image: 'ghcr.io/goauthentik/ldap:2026.2.2',
      environment: { AUTHENTIK_HOST: 'http://authentik-server:9000', AUTHENTIK_INSECURE: 'true', AUTHENTIK_TOKEN: new VarRef('AUTHENTIK_LDAP_OUTPOST_TOKEN') },
      networks: ['edge'],
      depends_on: { 'authentik-server': { condition: 'service_healthy' } },
      healthcheck: { test: ['CMD', '/ldap', 'healthcheck'] },
    });
    expect(ldap).not.toHaveProperty('ports');
    expect(withToken.envFiles[0]?.entries.map(([k]) => k)).toContain('AUTHENTIK_LDAP_OUTPOST_TOKEN');
    const req = authentikModule.secrets(ctx.settings).find((r) => r.name === 'authentik.ldap-outpost-token');
    expect(req).toEqual({ name: 'authentik.ldap-outpost-token', kind: 'token', generated: false, optional: true });
  });

  it('has no OIDC secret without Nextcloud, and the LDAP bind password while Jellyfin is on', () => {
    const out = render({ modules: { nextcloud: { enabled: false } } });
    expect((out.services['authentik-worker'] as Svc).environment).not.toHaveProperty('NEXTCLOUD_OIDC_SECRET');
    expect(authentikModule.secrets(testContext({ modules: { nextcloud: { enabled: false } } }).settings).map((s) => s.name)).toEqual([
      'authentik.secret-key',
      'authentik.db-password',
      'authentik.bootstrap-password',
      'authentik.bootstrap-token',
      'authentik.ldap-bind-password',
      'authentik.ldap-outpost-token',
    ]);
  });
});
