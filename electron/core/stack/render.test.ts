import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DataPath } from '../../contract/preflight';
import { StackSettings, secretMask, type StackSettingsInput } from '../../contract/stack';
import { AppError } from '../errors';
import { Secret } from '../secrets/secret';
import { activeModules, defaultSubnets, moduleFilePath, renderStack, requiredSecrets } from './render';

const m2Dir = '/home/admin/m2';
const settingsOf = (input: StackSettingsInput = {}): StackSettings => StackSettings.parse(input);
const secretsFor = (s: StackSettings, salt = ''): Map<string, Secret> => new Map(requiredSecrets(s).map((r) => [r.name, new Secret(`${salt}v4lue-of-${r.name}-0123456789`)]));
const all: StackSettingsInput = { modules: { wireguard: { enabled: true }, mediaAutomation: { enabled: true }, cloudflared: { replicas: 2 } } };
const file = (r: ReturnType<typeof renderStack>, p: string) => r.releaseFiles.find((f) => f.path === p);
const composeOf = (r: ReturnType<typeof renderStack>): { name: string; services: Record<string, Record<string, unknown>>; networks?: Record<string, Record<string, unknown>> } =>
  YAML.parse(file(r, 'compose.yaml')?.content ?? '') as never;

/** What `docker compose` does to a string: `$$` → `$`, `${NAME}` → a variable; any other `$` would interpolate. */
function interpolate(s: string, vars: ReadonlySet<string>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '$') {
      out += s[i];
      continue;
    }
    if (s[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    const m = /^\$\{([A-Z][A-Z0-9_]*)\}/.exec(s.slice(i));
    if (!m?.[1] || !vars.has(m[1])) throw new Error(`unescaped $ at ${i} in ${JSON.stringify(s)}`);
    out += `<${m[1]}>`;
    i += m[0].length - 1;
  }
  return out;
}

describe('renderStack', () => {
  it('is deterministic: the same settings and secrets give byte-identical files and digest', () => {
    const s = settingsOf(all);
    const a = renderStack(s, secretsFor(s), { m2Dir });
    const b = renderStack(settingsOf(all), secretsFor(s), { m2Dir });
    expect(b.releaseFiles).toEqual(a.releaseFiles);
    expect(b.moduleFiles).toEqual(a.moduleFiles);
    expect(b.digest).toBe(a.digest);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(renderStack(s, secretsFor(s, 'other-'), { m2Dir }).digest).not.toBe(a.digest);
    expect(renderStack(settingsOf({ ...all, timezone: 'Europe/Berlin' }), secretsFor(s), { m2Dir }).digest).not.toBe(a.digest);
  });

  it('renders every enabled module: services, project name, env files in module order, module files under m2Dir/files', () => {
    const s = settingsOf(all);
    const r = renderStack(s, secretsFor(s), { m2Dir });
    const doc = composeOf(r);
    expect(doc.name).toBe('m2');
    expect(Object.keys(doc.services).sort()).toEqual(
      ['authentik-db', 'authentik-db-dump', 'authentik-ldap', 'authentik-server', 'authentik-worker', 'backup', 'cloudflared', 'cloudflared-2', 'jellyfin', 'nextcloud', 'nextcloud-cron', 'nextcloud-db', 'nextcloud-db-dump', 'nextcloud-redis', 'qbittorrent', 'radarr', 'sonarr', 'wireguard'].sort(),
    );
    expect(r.serviceModules).toMatchObject({ jellyfin: 'jellyfin', 'nextcloud-db-dump': 'backup', sonarr: 'mediaAutomation', 'cloudflared-2': 'cloudflared' });
    expect(r.serviceImages.nextcloud).toBe('nextcloud:34.0.2-apache');
    expect(r.envFiles).toEqual(['env/nextcloud.env', 'env/authentik.env', 'env/cloudflared.env', 'env/backup.env']);
    expect(r.releaseFiles.map((f) => [f.path, f.mode.toString(8), f.secret])).toEqual([
      ['compose.yaml', '644', false],
      ['env/nextcloud.env', '600', true],
      ['env/authentik.env', '600', true],
      ['env/cloudflared.env', '600', true],
      ['env/backup.env', '600', true],
    ]);
    expect(r.moduleFiles.map((f) => f.path.replace(/[0-9a-f]{16}/, 'H')).sort()).toEqual(['/home/admin/m2/files/H/backup.sh', '/home/admin/m2/files/H/drill.sh', '/home/admin/m2/files/H/m2-apps.yaml', '/home/admin/m2/files/H/pg-dump.sh']);
    expect(r.moduleFiles.map((f) => f.path)).toEqual(r.moduleFiles.map((f) => f.path).sort());
    for (const svc of Object.values(doc.services)) {
      expect(svc.restart).toBe('unless-stopped');
      expect(svc.healthcheck).toMatchObject({ interval: '5s', timeout: '5s', retries: 5 });
      expect(svc.healthcheck).not.toHaveProperty('start_interval');
      expect(svc).not.toHaveProperty('container_name');
      expect(svc).not.toHaveProperty('env_file');
      expect(svc).not.toHaveProperty('gpus');
    }
    expect(r.ports).toEqual([
      { port: 8096, protocol: 'tcp', service: 'jellyfin', field: 'modules.jellyfin.lanPort' },
      // With the WireGuard fallback, Nextcloud answers on the home network (and so at the tunnel address) too.
      { port: 8080, protocol: 'tcp', service: 'nextcloud', field: 'modules.nextcloud.lanPort' },
      { port: 51820, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' },
    ]);
    expect(r.hostDirs).toEqual([...r.hostDirs].sort());
    expect(r.hostDirs).toContain('/srv/m2/jellyfin/config');
  });

  it('declares exactly the networks in use, with fixed subnets and internal without egress', () => {
    const s = settingsOf(all);
    const doc = composeOf(renderStack(s, secretsFor(s), { m2Dir }));
    expect(doc.networks).toEqual({
      edge: { driver: 'bridge', ipam: { config: [{ subnet: '172.30.80.0/24' }] } },
      internal: { driver: 'bridge', internal: true, ipam: { config: [{ subnet: '172.30.81.0/24' }] } },
      media: { driver: 'bridge', ipam: { config: [{ subnet: '172.30.82.0/24' }] } },
    });
    const minimal = settingsOf({ modules: { nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false } } });
    const small = composeOf(renderStack(minimal, secretsFor(minimal), { m2Dir }));
    expect(Object.keys(small.services)).toEqual(['cloudflared', 'jellyfin']);
    expect(Object.keys(small.networks ?? {})).toEqual(['edge']);
  });

  it('uses other subnets and project name when asked, and the trusted proxies follow the edge subnet', () => {
    const s = settingsOf(all);
    const r = renderStack(s, secretsFor(s), { m2Dir, project: 'm2lab-x', subnets: { edge: '10.9.1.0/24' } });
    const doc = composeOf(r);
    expect(doc.name).toBe('m2lab-x');
    expect(doc.networks?.edge).toMatchObject({ ipam: { config: [{ subnet: '10.9.1.0/24' }] } });
    expect(doc.networks?.internal).toMatchObject({ ipam: { config: [{ subnet: defaultSubnets.internal }] } });
    expect(doc.services.nextcloud?.environment).toMatchObject({ TRUSTED_PROXIES: '10.9.1.0/24' });
    expect(doc.services['authentik-server']?.environment).toMatchObject({ AUTHENTIK_LISTEN__TRUSTED_PROXY_CIDRS: '10.9.1.0/24' });
    expect(() => renderStack(s, secretsFor(s), { m2Dir, project: 'M2 prod' })).toThrow(/project/);
    expect(() => renderStack(s, secretsFor(s), { m2Dir, subnets: { edge: '10.9.1.0' } })).toThrow(/subnet/);
  });

  it('keeps secret values out of compose.yaml and module files, referencing them as ${NAME}; env previews are masked', () => {
    const s = settingsOf(all);
    const secrets = secretsFor(s);
    const r = renderStack(s, secrets, { m2Dir });
    const compose = file(r, 'compose.yaml')?.content ?? '';
    for (const v of secrets.values()) {
      expect(compose).not.toContain(v.reveal());
      for (const f of r.moduleFiles) expect(f.content).not.toContain(v.reveal());
      for (const f of r.releaseFiles) expect(f.masked).not.toContain(v.reveal());
    }
    expect(compose).toContain('POSTGRES_PASSWORD: ${NEXTCLOUD_DB_PASSWORD}');
    expect(compose).toContain('TUNNEL_TOKEN: ${CLOUDFLARED_TUNNEL_TOKEN}');
    const env = file(r, 'env/nextcloud.env');
    expect(env?.content).toContain(`NEXTCLOUD_DB_PASSWORD=${secrets.get('nextcloud.db-password')?.reveal() ?? 'x'}\n`);
    expect(env?.masked).toContain(`NEXTCLOUD_DB_PASSWORD=${secretMask}\n`);
    expect(r.secretValues.map((v) => v.reveal()).sort()).toEqual([...secrets.values()].map((v) => v.reveal()).sort());
  });

  it('escapes hostile and unicode media paths so Compose reads them back literally', () => {
    const hostile = '/srv/$(touch /tmp/pwn)/"x" y';
    const unicode = '/srv/Fïlme 🎬/${HOME}';
    const s = settingsOf({ ...all, modules: { ...all.modules, jellyfin: { mediaPaths: [hostile, unicode] } } });
    const r = renderStack(s, secretsFor(s), { m2Dir });
    const compose = file(r, 'compose.yaml')?.content ?? '';
    expect(compose).toContain('source: /srv/$$(touch /tmp/pwn)/"x" y\n');
    expect(compose).toContain('/srv/Fïlme 🎬/$${HOME}');
    const vols = composeOf(r).services.jellyfin?.volumes as Array<{ source: string; target: string; read_only?: boolean }>;
    const vars = new Set<string>();
    expect(vols.slice(2, 4).map((v) => [interpolate(v.source, vars), v.target, v.read_only])).toEqual([
      [hostile, '/media/1', true],
      [unicode, '/media/2', true],
    ]);
  });

  it('never leaves a $ that Compose would interpolate, for any settings-valid media path (property)', { timeout: 60_000 }, () => {
    const s0 = settingsOf();
    const secrets = secretsFor(settingsOf(all));
    const vars = new Set(['NEXTCLOUD_DB_PASSWORD', 'NEXTCLOUD_ADMIN_PASSWORD', 'NEXTCLOUD_REDIS_PASSWORD', 'NEXTCLOUD_OIDC_SECRET', 'AUTHENTIK_SECRET_KEY', 'AUTHENTIK_DB_PASSWORD', 'AUTHENTIK_BOOTSTRAP_PASSWORD', 'AUTHENTIK_BOOTSTRAP_TOKEN', 'AUTHENTIK_LDAP_BIND_PASSWORD', 'AUTHENTIK_LDAP_OUTPOST_TOKEN', 'CLOUDFLARED_TUNNEL_TOKEN', 'BACKUP_RESTIC_PASSWORD']);
    const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((x) => !x.includes('/') && !/\p{Cc}/u.test(x) && x !== '..');
    const mediaPath = fc.array(fc.oneof(segment, fc.constantFrom('$', '$$', '${HOME}', '$(id)', '`id`', "'", '"', ' ', '#', ':', 'ü🎬')), { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`).filter((p) => DataPath.safeParse(p).success);
    fc.assert(
      fc.property(fc.array(mediaPath, { minLength: 1, maxLength: 8 }), (paths) => {
        const s = StackSettings.parse({ ...s0, modules: { ...s0.modules, jellyfin: { ...s0.modules.jellyfin, mediaPaths: paths } } });
        const r = renderStack(s, secrets, { m2Dir });
        const doc = YAML.parse(file(r, 'compose.yaml')?.content ?? '') as unknown;
        const walk = (v: unknown): void => {
          if (typeof v === 'string') interpolate(v, vars);
          else if (Array.isArray(v)) v.forEach(walk);
          else if (v && typeof v === 'object') Object.values(v).forEach(walk);
        };
        walk(doc);
        const vols = (doc as { services: { jellyfin: { volumes: Array<{ source: string; target: string }> } } }).services.jellyfin.volumes;
        expect(vols.filter((v) => v.target.startsWith('/media/')).map((v) => interpolate(v.source, vars))).toEqual(paths);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to render without a secret, naming it; the tunnel token can be waited for by skipping cloudflared', () => {
    const s = settingsOf();
    const secrets = secretsFor(s);
    secrets.delete('nextcloud.admin-password');
    expect(() => renderStack(s, secrets, { m2Dir })).toThrow(AppError);
    expect(() => renderStack(s, secrets, { m2Dir })).toThrow(/nextcloud\.admin-password/);

    const noToken = secretsFor(s);
    noToken.delete('cloudflared.tunnel-token');
    let err: unknown;
    try {
      renderStack(s, noToken, { m2Dir });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'stack.secret-missing', userMessage: expect.stringContaining('cloudflared.tunnel-token') });
    // An optional secret (Authentik's LDAP outpost token, made by Authentik later) is not waited for.
    const noOutpost = secretsFor(s);
    noOutpost.delete('authentik.ldap-outpost-token');
    expect(Object.keys(composeOf(renderStack(s, noOutpost, { m2Dir })).services)).not.toContain('authentik-ldap');
    const skipped = renderStack(s, noToken, { m2Dir, skip: ['cloudflared'] });
    expect(Object.keys(skipped.serviceModules)).not.toContain('cloudflared');
    expect(skipped.envFiles).not.toContain('env/cloudflared.env');
    expect(requiredSecrets(s).find((r) => r.name === 'cloudflared.tunnel-token')).toEqual({ name: 'cloudflared.tunnel-token', kind: 'token', generated: false });
    expect(requiredSecrets(s, { skip: ['cloudflared'] }).map((r) => r.name)).not.toContain('cloudflared.tunnel-token');
  });

  it('asks for each secret once, only for enabled modules', () => {
    const names = requiredSecrets(settingsOf(all)).map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([
      'nextcloud.db-password',
      'nextcloud.admin-password',
      'nextcloud.redis-password',
      'nextcloud.oidc-secret',
      'authentik.secret-key',
      'authentik.db-password',
      'authentik.bootstrap-password',
      'authentik.bootstrap-token',
      'authentik.ldap-bind-password',
      'authentik.ldap-outpost-token',
      'cloudflared.tunnel-token',
      'backup.restic-password',
    ]);
    const few = settingsOf({ modules: { nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false }, cloudflared: { enabled: false } } });
    expect(requiredSecrets(few)).toEqual([]);
    expect(activeModules(few).map((m) => m.id)).toEqual(['jellyfin']);
  });

  it('refuses two services on one port number, naming the field', () => {
    const s = settingsOf({ modules: { jellyfin: { lanPort: 51820 }, wireguard: { enabled: true, port: 51820 } } });
    let err: unknown;
    try {
      renderStack(s, secretsFor(s), { m2Dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'stack.invalid-settings', field: 'modules.wireguard.port' });
  });

  it('binds a held module’s published ports to loopback only, and leaves every other service on the settings’ address', () => {
    const s = settingsOf({ publishAddress: '0.0.0.0', modules: { jellyfin: { lanPort: 8097 }, nextcloud: { lanPort: 8081 }, wireguard: { enabled: true } } });
    const held = composeOf(renderStack(s, secretsFor(s), { m2Dir, loopbackOnly: ['jellyfin'] }));
    expect(held.services.jellyfin?.ports).toEqual([{ target: 8096, published: '8097', host_ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(held.services.nextcloud?.ports).toEqual([{ target: 80, published: '8081', host_ip: '0.0.0.0', protocol: 'tcp' }]);
    const open = composeOf(renderStack(s, secretsFor(s), { m2Dir }));
    expect(open.services.jellyfin?.ports).toEqual([{ target: 8096, published: '8097', host_ip: '0.0.0.0', protocol: 'tcp' }]);
    // Only the ports differ: the rest of Jellyfin's service is the same, so publishing it later recreates it alone.
    expect({ ...held.services.jellyfin, ports: null }).toEqual({ ...open.services.jellyfin, ports: null });
  });

  it('honours image overrides from the settings', () => {
    const s = settingsOf({ imageOverrides: { jellyfin: '10.11.10' } });
    const r = renderStack(s, secretsFor(s), { m2Dir });
    expect(r.serviceImages.jellyfin).toBe('jellyfin/jellyfin:10.11.10');
    expect(r.serviceImages.nextcloud).toBe('nextcloud:34.0.2-apache');
  });

  it('addresses module files by content', () => {
    const a = moduleFilePath(m2Dir, { name: 'x.sh', content: 'echo 1\n', mode: 0o644 });
    expect(a).toBe(`/home/admin/m2/files/${createHash('sha256').update('echo 1\n').digest('hex').slice(0, 16)}/x.sh`);
    expect(moduleFilePath(m2Dir, { name: 'x.sh', content: 'echo 1\n', mode: 0o644 })).toBe(a);
    expect(moduleFilePath(m2Dir, { name: 'x.sh', content: 'echo 2\n', mode: 0o644 })).not.toBe(a);
    expect(() => moduleFilePath(m2Dir, { name: '../x', content: '', mode: 0o644 })).toThrow();
  });
});
