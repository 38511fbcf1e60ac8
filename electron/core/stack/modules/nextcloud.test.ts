import { describe, expect, it } from 'vitest';
import { Secret } from '../../secrets/secret';
import { VarRef } from '../types';
import { nextcloudModule } from './nextcloud';
import { testContext } from './test-context';

const render = (input: Parameters<typeof testContext>[0] = {}) => nextcloudModule.render(testContext(input));
type Svc = Record<string, unknown> & { environment: Record<string, unknown>; networks: string[] };

describe('nextcloud module', () => {
  it('installs from the env, trusts only the edge network as proxy and the host name plus the service name as domains', () => {
    const out = render({ dataRoot: '/data', hostnames: { nextcloud: 'Cloud.Example.org' }, modules: { nextcloud: { adminUser: 'root.admin' } } });
    const app = out.services.nextcloud as Svc;
    expect(app.environment).toEqual({
      POSTGRES_HOST: 'nextcloud-db',
      POSTGRES_DB: 'nextcloud',
      POSTGRES_USER: 'nextcloud',
      POSTGRES_PASSWORD: new VarRef('NEXTCLOUD_DB_PASSWORD'),
      NEXTCLOUD_ADMIN_USER: 'root.admin',
      NEXTCLOUD_ADMIN_PASSWORD: new VarRef('NEXTCLOUD_ADMIN_PASSWORD'),
      NEXTCLOUD_TRUSTED_DOMAINS: 'cloud.example.org nextcloud',
      REDIS_HOST: 'nextcloud-redis',
      REDIS_HOST_PASSWORD: new VarRef('NEXTCLOUD_REDIS_PASSWORD'),
      TRUSTED_PROXIES: '172.30.80.0/24',
      APACHE_DISABLE_REWRITE_IP: '1',
      OVERWRITEPROTOCOL: 'https',
      OVERWRITEHOST: 'cloud.example.org',
      OVERWRITECLIURL: 'https://cloud.example.org',
      NC_OIDC_SECRET: new VarRef('NEXTCLOUD_OIDC_SECRET'),
    });
    expect(app.volumes).toEqual([{ type: 'bind', source: '/data/nextcloud/html', target: '/var/www/html' }]);
    expect(app.networks).toEqual(['edge', 'internal']);
    expect((app.healthcheck as { test: string[] }).test).toEqual(['CMD-SHELL', 'curl -fsS http://localhost/status.php | grep -q \'"installed":true\'']);
    expect(out.hostDirs).toEqual(['/data/nextcloud/html', '/data/nextcloud/db']);
  });

  it('keeps Postgres and Redis on the internal network only, and cron on the app\'s folder behind a healthy app', () => {
    const out = render();
    expect((out.services['nextcloud-db'] as Svc).networks).toEqual(['internal']);
    expect((out.services['nextcloud-redis'] as Svc).networks).toEqual(['internal']);
    const cron = out.services['nextcloud-cron'] as Svc;
    expect(cron.entrypoint).toEqual(['/cron.sh']);
    expect(cron.volumes).toEqual((out.services.nextcloud as Svc).volumes);
    expect(cron.depends_on).toEqual({ nextcloud: { condition: 'service_healthy' } });
    expect((out.services['nextcloud-db'] as Svc).healthcheck).toMatchObject({ test: ['CMD', 'pg_isready', '-q', '-U', 'nextcloud', '-d', 'nextcloud'] });
  });

  it('starts Redis from a config file written by printf, so the password is in no argv', () => {
    const redis = render().services['nextcloud-redis'] as Svc & { entrypoint: string[] };
    expect(redis.environment).toEqual({ REDIS_PASSWORD: new VarRef('NEXTCLOUD_REDIS_PASSWORD') });
    expect(redis.entrypoint.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(redis.entrypoint[2]).toContain('printf \'requirepass %s\\n\' "$REDIS_PASSWORD" > /tmp/redis.conf');
    expect(redis.entrypoint[2]).toMatch(/exec docker-entrypoint\.sh redis-server \/tmp\/redis\.conf$/);
    expect(redis.entrypoint.join(' ')).not.toContain('--requirepass');
    expect((redis.healthcheck as { test: string[] }).test).toEqual(['CMD-SHELL', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG']);
  });

  it('puts its secrets in one env file, with the OIDC secret only when Authentik is on', () => {
    const withAuth = render();
    expect(withAuth.envFiles.map((f) => [f.name, f.entries.map(([k]) => k)])).toEqual([
      ['nextcloud', ['NEXTCLOUD_DB_PASSWORD', 'NEXTCLOUD_ADMIN_PASSWORD', 'NEXTCLOUD_REDIS_PASSWORD', 'NEXTCLOUD_OIDC_SECRET']],
    ]);
    expect(withAuth.envFiles[0]?.entries.every(([, v]) => v instanceof Secret)).toBe(true);
    const alone = render({ modules: { authentik: { enabled: false } } });
    expect(alone.envFiles[0]?.entries.map(([k]) => k)).not.toContain('NEXTCLOUD_OIDC_SECRET');
    expect((alone.services.nextcloud as Svc).environment).not.toHaveProperty('NC_OIDC_SECRET');
    expect(nextcloudModule.secrets(testContext({ modules: { authentik: { enabled: false } } }).settings).map((s) => s.name)).toEqual([
      'nextcloud.db-password',
      'nextcloud.admin-password',
      'nextcloud.redis-password',
    ]);
  });

  it('with the WireGuard fallback: a home-network port, and the public https name only for requests through cloudflared', () => {
    const out = render({ publishAddress: '0.0.0.0', modules: { wireguard: { enabled: true }, nextcloud: { lanPort: 8443 } } });
    const app = out.services.nextcloud as Svc;
    expect(app.ports).toEqual([{ target: 80, published: '8443', host_ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(out.ports).toEqual([{ port: 8443, protocol: 'tcp', service: 'nextcloud', field: 'modules.nextcloud.lanPort' }]);
    // cloudflared's fixed address on the edge network (the subnet's last usable one), as a PCRE without delimiters.
    expect(app.environment.OVERWRITECONDADDR).toBe('^(172\\.30\\.80\\.254)$');
    expect(app.environment.OVERWRITEHOST).toBe('cloud.example.com');
    const two = render({ modules: { wireguard: { enabled: true }, cloudflared: { replicas: 2 } } });
    expect((two.services.nextcloud as Svc).environment.OVERWRITECONDADDR).toBe('^(172\\.30\\.80\\.254|172\\.30\\.80\\.253)$');
  });

  it('without the fallback nothing more is open: no port, links always on the public name', () => {
    const out = render({ publishAddress: '0.0.0.0', modules: { wireguard: { enabled: false } } });
    expect((out.services.nextcloud as Svc).ports).toBeUndefined();
    expect(out.ports).toEqual([]);
    expect((out.services.nextcloud as Svc).environment).not.toHaveProperty('OVERWRITECONDADDR');
  });
});
