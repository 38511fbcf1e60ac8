import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageRef } from '../../electron/core/stack/versions';
import { dockerApi, ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { StandInStack, labState } from '../../scripts/lab/images/stack';
import { freePort, sleep, waitFor } from '../../scripts/lab/process';

/**
 * One stand-in stack shaped like the product's (edge + internal networks, healthchecks, ports on 127.0.0.1 only),
 * checked endpoint by endpoint against the payloads in stack-facts.md.
 */
const project = `m2lab-standins-${process.pid}`;
const ports: Record<string, number> = {};
let stack: StandInStack;

const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: Buffer.from('lab tunnel secret 32 bytes long!').toString('base64') })).toString('base64');
const bootstrapToken = 'lab-bootstrap-token-0123456789';
const customBlueprint = `# yaml-language-server: $schema=https://goauthentik.io/blueprints/schema.json
version: 1
metadata: { name: homeserver-apps }
entries:
  - model: authentik_providers_oauth2.oauth2provider
    id: nc-provider
    identifiers: { name: nextcloud }
    attrs:
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
      client_type: confidential
      client_id: nextcloud
      client_secret: !Env NEXTCLOUD_OIDC_SECRET
      redirect_uris: [{ matching_mode: strict, url: "https://cloud.example.test/apps/user_oidc/code" }]
  - model: authentik_core.application
    identifiers: { slug: nextcloud }
    attrs: { name: Nextcloud, provider: !KeyOf nc-provider, meta_launch_url: "https://cloud.example.test" }
`;

function composeFile(): Record<string, unknown> {
  const hc = (test: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ test, interval: '1s', timeout: '5s', retries: 60, ...extra });
  const pub = (name: string, target: number): string => `127.0.0.1:${ports[name]}:${target}`;
  return {
    name: project,
    services: {
      jellyfin: {
        image: imageRef('jellyfin'),
        volumes: ['jellyfin-config:/config', 'jellyfin-cache:/cache'],
        networks: ['edge'],
        ports: [pub('jellyfin', 8096)],
        healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost:8096/health']),
      },
      cloudflared: {
        image: imageRef('cloudflared'),
        command: ['tunnel', '--metrics', '0.0.0.0:2000', 'run'],
        environment: { TUNNEL_TOKEN: tunnelToken },
        networks: ['edge'],
        ports: [pub('cloudflared', 2000)],
        healthcheck: hc(['CMD', 'cloudflared', 'tunnel', '--metrics', '127.0.0.1:2000', 'ready']),
      },
      'authentik-db': {
        image: imageRef('postgres'),
        environment: { POSTGRES_PASSWORD: 'ak-db-pass', POSTGRES_USER: 'authentik', POSTGRES_DB: 'authentik' },
        volumes: ['authentik-db:/var/lib/postgresql/data'],
        // Internal networks have no way in from the host: the lab network carries the control port only.
        networks: ['internal', 'lab'],
        ports: [pub('authentikDbControl', 5480)],
        healthcheck: hc(['CMD', 'pg_isready', '-U', 'authentik']),
      },
      'authentik-server': {
        image: imageRef('authentik'),
        command: 'server',
        environment: { AUTHENTIK_SECRET_KEY: 'lab-secret-key', AUTHENTIK_POSTGRESQL__HOST: 'authentik-db', AUTHENTIK_POSTGRESQL__USER: 'authentik', AUTHENTIK_POSTGRESQL__PASSWORD: 'ak-db-pass' },
        volumes: ['authentik-data:/data'],
        networks: ['edge', 'internal'],
        ports: [pub('authentik', 9000)],
        depends_on: { 'authentik-db': { condition: 'service_healthy' } },
        healthcheck: hc(['CMD', 'ak', 'healthcheck']),
      },
      'authentik-worker': {
        image: imageRef('authentik'),
        command: 'worker',
        user: 'root',
        environment: {
          AUTHENTIK_SECRET_KEY: 'lab-secret-key',
          AUTHENTIK_POSTGRESQL__HOST: 'authentik-db',
          // The worker signs in to the database too (its readiness, which `ak healthcheck` checks, needs it).
          AUTHENTIK_POSTGRESQL__USER: 'authentik',
          AUTHENTIK_POSTGRESQL__PASSWORD: 'ak-db-pass',
          AUTHENTIK_BOOTSTRAP_TOKEN: bootstrapToken,
          AUTHENTIK_BOOTSTRAP_PASSWORD: 'lab-admin-pass',
          NEXTCLOUD_OIDC_SECRET: 'lab-oidc-secret',
          M2_STANDIN_BLUEPRINT_INTERVAL_MS: '500',
        },
        volumes: ['authentik-data:/data', './blueprints:/blueprints/custom:ro'],
        networks: ['internal'],
        depends_on: { 'authentik-db': { condition: 'service_healthy' } },
        healthcheck: hc(['CMD', 'ak', 'healthcheck']),
      },
      'nextcloud-db': {
        image: imageRef('postgres'),
        environment: { POSTGRES_PASSWORD: 'nc-db-pass', POSTGRES_USER: 'nextcloud', POSTGRES_DB: 'nextcloud' },
        volumes: ['nextcloud-db:/var/lib/postgresql/data'],
        networks: ['internal'],
        healthcheck: hc(['CMD', 'pg_isready', '-U', 'nextcloud']),
      },
      redis: {
        image: imageRef('redis'),
        command: ['redis-server', '--requirepass', 'redis-pass'],
        networks: ['internal', 'lab'],
        ports: [pub('redis', 6379)],
        healthcheck: hc(['CMD-SHELL', 'redis-cli -a redis-pass --no-auth-warning ping | grep -q PONG']),
      },
      nextcloud: {
        image: imageRef('nextcloud'),
        environment: {
          POSTGRES_HOST: 'nextcloud-db',
          POSTGRES_DB: 'nextcloud',
          POSTGRES_USER: 'nextcloud',
          POSTGRES_PASSWORD: 'nc-db-pass',
          NEXTCLOUD_ADMIN_USER: 'admin',
          NEXTCLOUD_ADMIN_PASSWORD: 'nc-admin-pass',
          NEXTCLOUD_TRUSTED_DOMAINS: 'cloud.example.test',
          REDIS_HOST: 'redis',
          REDIS_HOST_PASSWORD: 'redis-pass',
          OVERWRITEPROTOCOL: 'https',
        },
        volumes: ['nextcloud:/var/www/html'],
        networks: ['edge', 'internal'],
        ports: [pub('nextcloud', 80)],
        depends_on: { 'nextcloud-db': { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } },
        healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost/status.php']),
      },
      'nextcloud-cron': {
        image: imageRef('nextcloud'),
        entrypoint: '/cron.sh',
        environment: { M2_STANDIN_CRON_INTERVAL_S: '1' },
        volumes: ['nextcloud:/var/www/html'],
        networks: ['internal'],
        depends_on: { nextcloud: { condition: 'service_healthy' } },
      },
      sonarr: {
        image: imageRef('sonarr'),
        environment: { PUID: '1000', PGID: '1000' },
        networks: ['media'],
        ports: [pub('sonarr', 8989)],
        healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost:8989/ping'], { retries: 2 }),
      },
      radarr: { image: imageRef('radarr'), networks: ['media'], ports: [pub('radarr', 7878)], healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost:7878/ping']) },
      qbittorrent: { image: imageRef('qbittorrent'), networks: ['media'], ports: [pub('qbittorrent', 8080)], healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost:8080/api/v2/app/version']) },
      wireguard: {
        image: imageRef('wireguard'),
        environment: { PEERS: 'laptop', SERVERURL: 'home.example.test', SERVERPORT: '51820' },
        volumes: ['wireguard:/config'],
        networks: ['edge'],
        ports: [`127.0.0.1:${ports.wireguard}:51820/udp`, pub('wireguardControl', 51821)],
        healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost:51821/health']),
      },
      restic: {
        image: imageRef('restic'),
        profiles: ['tools'],
        hostname: 'homeserver',
        environment: { RESTIC_REPOSITORY: '/repo', RESTIC_PASSWORD: 'restic-lab-pass' },
        volumes: ['restic-repo:/repo', 'nextcloud:/data/nextcloud:ro'],
        network_mode: 'none',
      },
    },
    networks: { edge: {}, internal: { internal: true }, media: {}, lab: {} },
    volumes: Object.fromEntries(['jellyfin-config', 'jellyfin-cache', 'authentik-db', 'authentik-data', 'nextcloud-db', 'nextcloud', 'wireguard', 'restic-repo'].map((v) => [v, {}])),
  };
}

beforeAll(async () => {
  try {
    await ensureDocker();
    await ensureStandInImages();
  } catch (err) {
    throw new Error(`lab: Docker Engine, Compose v2 or the stand-in images are missing and could not be set up: ${(err as Error).message}`, { cause: err });
  }
  for (const name of ['jellyfin', 'cloudflared', 'authentik', 'authentikDbControl', 'redis', 'nextcloud', 'sonarr', 'radarr', 'qbittorrent', 'wireguard', 'wireguardControl']) {
    ports[name] = await freePort();
  }
  // The custom blueprint folder is a bind mount next to the compose file.
  stack = StandInStack.create(project, composeFile(), { 'blueprints/homeserver-apps.yaml': customBlueprint });
  await stack.up();
}, 300_000);

afterAll(async () => {
  if (stack) {
    const r = await stack.down();
    expect(r.code).toBe(0);
    const left = await exec('docker', ['volume', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(left.stdout.trim()).toBe('');
  }
});

const url = (name: string, p: string): string => `http://127.0.0.1:${ports[name]}${p}`;

function get(name: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: ports[name], path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
  });
}

describe('the stand-in stack', () => {
  it('reaches healthy with every service running, ports published on 127.0.0.1 only', async () => {
    const ps = await stack.ps();
    const running = ps.filter((p) => p.Service !== 'restic');
    expect(running.map((p) => p.Service).sort()).toEqual(
      ['authentik-db', 'authentik-server', 'authentik-worker', 'cloudflared', 'jellyfin', 'nextcloud', 'nextcloud-cron', 'nextcloud-db', 'qbittorrent', 'radarr', 'redis', 'sonarr', 'wireguard'].sort(),
    );
    for (const p of running) {
      expect(p.State, p.Service).toBe('running');
      if (p.Service !== 'nextcloud-cron') expect(p.Health, p.Service).toBe('healthy');
      for (const pub of p.Publishers ?? []) if (pub.PublishedPort !== 0) expect(pub.URL, p.Service).toBe('127.0.0.1');
    }
  });
});

interface SessionDto {
  Id: string;
  UserName: string;
  DeviceName: string;
  NowPlayingItem?: { Name: string; Type: string; RunTimeTicks: number };
  PlayState: { PositionTicks?: number; PlayMethod?: string; IsPaused: boolean };
  TranscodingInfo?: Record<string, unknown>;
}

const mbAuth = (token?: string): string =>
  `MediaBrowser Client="M2 Companion", Device="Lab", DeviceId="lab-device-1", Version="0.1.0"${token ? `, Token="${token}"` : ''}`;

describe('Jellyfin stand-in', () => {
  let userToken = '';
  let apiKey = '';

  it('answers /health, /System/Ping and /System/Info/Public like Jellyfin 10.11', async () => {
    const health = await fetch(url('jellyfin', '/health'));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('Healthy');
    expect(await (await fetch(url('jellyfin', '/System/Ping'))).json()).toBe('Jellyfin Server');
    const info = (await (await fetch(url('jellyfin', '/System/Info/Public'))).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ Version: '10.11.11', ProductName: 'Jellyfin Server', StartupWizardCompleted: false });
    expect(info.Id).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(info).sort()).toEqual(['Id', 'LocalAddress', 'OperatingSystem', 'ProductName', 'ServerName', 'StartupWizardCompleted', 'Version']);
  });

  it('runs the first-run wizard anonymously, then requires an admin for it', async () => {
    const cfg = await fetch(url('jellyfin', '/Startup/Configuration'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ UICulture: 'en-GB', MetadataCountryCode: 'GB', PreferredMetadataLanguage: 'en' }) });
    expect(cfg.status).toBe(204);
    const first = (await (await fetch(url('jellyfin', '/Startup/User'))).json()) as { Name: string };
    expect(first.Name).toBeTypeOf('string');
    const setUser = await fetch(url('jellyfin', '/Startup/User'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'admin', Password: 'jf-admin-pass' }) });
    expect(setUser.status).toBe(204);
    expect((await fetch(url('jellyfin', '/Startup/RemoteAccess'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ EnableRemoteAccess: true, EnableAutomaticPortMapping: false }) })).status).toBe(204);
    expect((await fetch(url('jellyfin', '/Startup/Complete'), { method: 'POST' })).status).toBe(204);
    const info = (await (await fetch(url('jellyfin', '/System/Info/Public'))).json()) as { StartupWizardCompleted: boolean };
    expect(info.StartupWizardCompleted).toBe(true);
    expect((await fetch(url('jellyfin', '/Startup/User'))).status).toBe(401);
  });

  it('logs in by name, creates an API key that POST does not return, lists and deletes keys', async () => {
    const bad = await fetch(url('jellyfin', '/Users/AuthenticateByName'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: mbAuth() }, body: JSON.stringify({ Username: 'admin', Pw: 'wrong' }) });
    expect(bad.status).toBe(401);
    const login = await fetch(url('jellyfin', '/Users/AuthenticateByName'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: mbAuth() }, body: JSON.stringify({ Username: 'admin', Pw: 'jf-admin-pass' }) });
    expect(login.status).toBe(200);
    const auth = (await login.json()) as { AccessToken: string; ServerId: string; User: { Name: string; Policy: { IsAdministrator: boolean } }; SessionInfo: { DeviceId: string } };
    expect(auth.AccessToken).toMatch(/^[0-9a-f]{32}$/);
    expect(auth.User).toMatchObject({ Name: 'admin', Policy: { IsAdministrator: true } });
    expect(auth.SessionInfo.DeviceId).toBe('lab-device-1');
    userToken = auth.AccessToken;

    expect((await fetch(url('jellyfin', '/Auth/Keys?app=M2%20Companion'), { method: 'POST' })).status).toBe(401);
    const create = await fetch(url('jellyfin', '/Auth/Keys?app=M2%20Companion'), { method: 'POST', headers: { authorization: mbAuth(userToken) } });
    expect(create.status).toBe(204);
    expect(await create.text()).toBe('');
    const keys = (await (await fetch(url('jellyfin', '/Auth/Keys'), { headers: { authorization: mbAuth(userToken) } })).json()) as { Items: Array<{ AppName: string; AccessToken: string; Id: number }>; TotalRecordCount: number; StartIndex: number };
    expect(keys.TotalRecordCount).toBe(1);
    expect(keys.StartIndex).toBe(0);
    const mine = keys.Items.find((k) => k.AppName === 'M2 Companion');
    expect(mine?.AccessToken).toMatch(/^[0-9a-f]{32}$/);
    apiKey = mine?.AccessToken ?? '';
    // The key is admin: it can list keys itself (Authorization header or ApiKey query).
    expect((await fetch(url('jellyfin', `/Auth/Keys?ApiKey=${apiKey}`))).status).toBe(200);

    await fetch(url('jellyfin', '/Auth/Keys?app=throwaway'), { method: 'POST', headers: { authorization: mbAuth(apiKey) } });
    const list2 = (await (await fetch(url('jellyfin', '/Auth/Keys'), { headers: { authorization: mbAuth(apiKey) } })).json()) as { Items: Array<{ AppName: string; AccessToken: string }> };
    const throwaway = list2.Items.find((k) => k.AppName === 'throwaway')?.AccessToken ?? '';
    expect((await fetch(url('jellyfin', `/Auth/Keys/${throwaway}`), { method: 'DELETE', headers: { authorization: mbAuth(apiKey) } })).status).toBe(204);
    expect((await fetch(url('jellyfin', `/Auth/Keys?ApiKey=${throwaway}`))).status).toBe(401);
  });

  it('reads and writes EncodingOptions only with a token, and writes encoding.xml', async () => {
    expect((await fetch(url('jellyfin', '/System/Configuration/encoding'))).status).toBe(401);
    const enc = (await (await fetch(url('jellyfin', '/System/Configuration/encoding'), { headers: { authorization: mbAuth(apiKey) } })).json()) as Record<string, unknown>;
    expect(enc).toMatchObject({ HardwareAccelerationType: 'none', VaapiDevice: '/dev/dri/renderD128', EnableHardwareEncoding: true, HardwareDecodingCodecs: ['h264', 'vc1'], AllowHevcEncoding: false, H264Crf: 23 });
    const next = { ...enc, HardwareAccelerationType: 'vaapi', HardwareDecodingCodecs: ['h264', 'hevc', 'vp9'], EnableTonemapping: true };
    expect((await fetch(url('jellyfin', '/System/Configuration/encoding'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(next) })).status).toBe(401);
    const bad = await fetch(url('jellyfin', '/System/Configuration/encoding'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: mbAuth(apiKey) }, body: JSON.stringify({ ...next, HardwareAccelerationType: 'quantum' }) });
    expect(bad.status).toBe(400);
    const ok = await fetch(url('jellyfin', '/System/Configuration/encoding'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: mbAuth(userToken) }, body: JSON.stringify(next) });
    expect(ok.status).toBe(204);
    const after = (await (await fetch(url('jellyfin', '/System/Configuration/encoding'), { headers: { authorization: mbAuth(apiKey) } })).json()) as Record<string, unknown>;
    expect(after).toMatchObject({ HardwareAccelerationType: 'vaapi', HardwareDecodingCodecs: ['h264', 'hevc', 'vp9'], EnableTonemapping: true });
    const xml = await stack.exec('jellyfin', ['cat', '/config/config/encoding.xml']);
    expect(xml.stdout).toContain('<HardwareAccelerationType>vaapi</HardwareAccelerationType>');
    expect(xml.stdout).toContain('<string>hevc</string>');
  });

  it('lists hardware and software transcodes set through the control endpoint as SessionInfoDto', async () => {
    expect((await fetch(url('jellyfin', '/Sessions'))).status).toBe(401);
    await labState(ports.jellyfin ?? 0, {
      sessions: [
        { kind: 'hardware', userName: 'admin', item: { Name: 'Big Buck Bunny', Type: 'Movie', RunTimeTicks: 72_000_000_000 } },
        { kind: 'software', userName: 'admin', client: 'Jellyfin Android', deviceName: 'Pixel', item: { Name: 'Sintel', Type: 'Movie' } },
        { kind: 'direct', userName: 'admin', deviceName: 'TV' },
      ],
    });
    const res = await fetch(url('jellyfin', '/Sessions?activeWithinSeconds=960'), { headers: { authorization: mbAuth(apiKey) } });
    expect(res.status).toBe(200);
    const sessions = (await res.json()) as SessionDto[];
    const playing = sessions.filter((s) => s.NowPlayingItem !== undefined);
    expect(playing).toHaveLength(3);
    const hw = playing.find((s) => s.NowPlayingItem?.Name === 'Big Buck Bunny');
    expect(hw).toMatchObject({ UserName: 'admin', PlayState: { PlayMethod: 'Transcode', IsPaused: false }, NowPlayingItem: { Type: 'Movie', RunTimeTicks: 72_000_000_000 } });
    // The configured type (vaapi, set above) is what a hardware transcode reports.
    expect(hw?.TranscodingInfo).toMatchObject({ IsVideoDirect: false, HardwareAccelerationType: 'vaapi', VideoCodec: 'h264', TranscodeReasons: expect.arrayContaining(['VideoCodecNotSupported']) });
    const sw = playing.find((s) => s.NowPlayingItem?.Name === 'Sintel');
    expect(sw?.TranscodingInfo).toMatchObject({ IsVideoDirect: false, HardwareAccelerationType: 'none' });
    const direct = playing.find((s) => s.DeviceName === 'TV');
    expect(direct?.PlayState.PlayMethod).toBe('DirectPlay');
    expect(direct).not.toHaveProperty('TranscodingInfo');
    // Nulls are omitted, never serialised.
    expect(JSON.stringify(sessions)).not.toContain('null');
    // Position advances while playing.
    const p1 = hw?.PlayState.PositionTicks ?? 0;
    await sleep(300);
    const again = (await (await fetch(url('jellyfin', '/Sessions'), { headers: { authorization: mbAuth(apiKey) } })).json()) as SessionDto[];
    expect(again.find((s) => s.Id === hw?.Id)?.PlayState.PositionTicks).toBeGreaterThan(p1);

    await labState(ports.jellyfin ?? 0, { sessions: [] });
    const none = (await (await fetch(url('jellyfin', '/Sessions'), { headers: { authorization: mbAuth(apiKey) } })).json()) as Array<Record<string, unknown>>;
    expect(none.filter((s) => s.NowPlayingItem !== undefined)).toEqual([]);
  });

  it('keeps its state under /config across a restart', async () => {
    expect((await stack.compose(['restart', 'jellyfin'])).code).toBe(0);
    await waitFor('jellyfin after restart', async () => (await fetch(url('jellyfin', '/health'))).ok, 30_000);
    const info = (await (await fetch(url('jellyfin', '/System/Info/Public'))).json()) as { StartupWizardCompleted: boolean };
    expect(info.StartupWizardCompleted).toBe(true);
    const keys = await fetch(url('jellyfin', '/Auth/Keys'), { headers: { authorization: mbAuth(apiKey) } });
    expect(keys.status).toBe(200);
    const enc = (await (await fetch(url('jellyfin', '/System/Configuration/encoding'), { headers: { authorization: mbAuth(apiKey) } })).json()) as Record<string, unknown>;
    expect(enc.HardwareAccelerationType).toBe('vaapi');
  });
});

function parseProm(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe('cloudflared stand-in', () => {
  it('is ready with four connections and serves the metrics the app reads', async () => {
    const ready = await fetch(url('cloudflared', '/ready'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: number; readyConnections: number; connectorId: string };
    expect(body).toMatchObject({ status: 200, readyConnections: 4 });
    expect(body.connectorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await (await fetch(url('cloudflared', '/healthcheck'))).text()).toBe('OK\n');
    const metrics = await (await fetch(url('cloudflared', '/metrics'))).text();
    expect(metrics).toContain('# TYPE cloudflared_tunnel_ha_connections gauge');
    const m = parseProm(metrics);
    expect(m.get('cloudflared_tunnel_ha_connections')).toBe(4);
    expect(m.get('cloudflared_tunnel_total_requests')).toBe(0);
    expect(m.get('cloudflared_tunnel_request_errors')).toBe(0);
    expect([...m.keys()].filter((k) => k.startsWith('cloudflared_tunnel_server_locations{connection_id="'))).toHaveLength(4);
    expect([...m.keys()].filter((k) => k.startsWith('quic_client_smoothed_rtt{conn_index="'))).toHaveLength(4);
    expect(m.get('build_info{goversion="go1.24.6",revision="2026.8.2-standin",type="",version="2026.8.2"}')).toBe(1);
  });

  it('follows the control endpoint: connections drop and return, counters move, the healthcheck command follows /ready', async () => {
    await labState(ports.cloudflared ?? 0, { connections: 0, addRequests: 40, addErrors: 2 });
    const down = await fetch(url('cloudflared', '/ready'));
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 503, readyConnections: 0 });
    const probe = await stack.exec('cloudflared', ['cloudflared', 'tunnel', '--metrics', '127.0.0.1:2000', 'ready']);
    expect(probe.code).not.toBe(0);
    const m = parseProm(await (await fetch(url('cloudflared', '/metrics'))).text());
    expect(m.get('cloudflared_tunnel_ha_connections')).toBe(0);
    expect(m.get('cloudflared_tunnel_total_requests')).toBe(42);
    expect(m.get('cloudflared_tunnel_request_errors')).toBe(2);

    await labState(ports.cloudflared ?? 0, { connections: 2 });
    expect(await (await fetch(url('cloudflared', '/ready'))).json()).toMatchObject({ status: 200, readyConnections: 2 });
    await labState(ports.cloudflared ?? 0, { connections: 4 });
    const ok = await stack.exec('cloudflared', ['cloudflared', 'tunnel', '--metrics', '127.0.0.1:2000', 'ready']);
    expect(ok.code).toBe(0);
  });

  it('refuses to run without a token or with one that is not base64 JSON {a,t,s}, and has no shell like the distroless image', async () => {
    const none = await stack.compose(['run', '--rm', '--no-deps', '-e', 'TUNNEL_TOKEN=', 'cloudflared']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('requires the ID or name of the tunnel');
    const bad = await stack.compose(['run', '--rm', '--no-deps', '-e', `TUNNEL_TOKEN=${Buffer.from('{"a":"x"}').toString('base64')}`, 'cloudflared']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Provided Tunnel token is not valid.');
    const version = await stack.compose(['run', '--rm', '--no-deps', 'cloudflared', 'version']);
    expect(version.stdout).toContain('cloudflared version 2026.8.2');
    expect((await stack.exec('cloudflared', ['sh', '-c', 'true'])).code).not.toBe(0);
    const user = JSON.parse((await dockerApi('GET', `/containers/${project}-cloudflared-1/json`)).body) as { Config: { User: string } };
    expect(user.Config.User).toBe('65532:65532');
  });
});

describe('Authentik stand-in', () => {
  const bearer = { authorization: `Bearer ${bootstrapToken}` };

  it('is live and ready while its Postgres accepts connections', async () => {
    expect((await fetch(url('authentik', '/-/health/live/'))).status).toBe(200);
    expect((await fetch(url('authentik', '/-/health/ready/'))).status).toBe(200);
    expect((await stack.exec('authentik-worker', ['ak', 'healthcheck'])).code).toBe(0);
    expect((await fetch(url('authentik', '/if/flow/initial-setup/'))).status).toBe(200);
  });

  it('reports the blueprints the worker applied from /blueprints, including the mounted custom one', async () => {
    expect((await fetch(url('authentik', '/api/v3/managed/blueprints/'))).status).toBe(403);
    let list: { pagination: { count: number }; results: Array<{ name: string; path: string; status: string; managed_models: string[] }> } = { pagination: { count: 0 }, results: [] };
    await waitFor('the custom blueprint to be applied', async () => {
      list = (await (await fetch(url('authentik', '/api/v3/managed/blueprints/'), { headers: bearer })).json()) as typeof list;
      return list.results.some((b) => b.path === 'custom/homeserver-apps.yaml');
    }, 20_000);
    const custom = list.results.find((b) => b.path === 'custom/homeserver-apps.yaml');
    expect(custom).toMatchObject({ name: 'homeserver-apps', status: 'successful' });
    expect(custom?.managed_models.sort()).toEqual(['authentik_core.application', 'authentik_providers_oauth2.oauth2provider']);
    expect(list.results.map((b) => b.path)).toEqual(expect.arrayContaining(['system/providers-oauth2.yaml', 'default/flow-default-provider-invalidation.yaml']));
    expect(list.pagination.count).toBe(list.results.length);
    const apps = (await (await fetch(url('authentik', '/api/v3/core/applications/?slug=nextcloud'), { headers: bearer })).json()) as { results: Array<{ slug: string; name: string }> };
    expect(apps.results).toEqual([expect.objectContaining({ slug: 'nextcloud', name: 'Nextcloud' })]);
    expect((await fetch(url('authentik', '/api/v3/core/applications/'), { headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
    const oidc = (await (await fetch(url('authentik', '/application/o/nextcloud/.well-known/openid-configuration'))).json()) as { issuer: string };
    expect(oidc.issuer).toMatch(/\/application\/o\/nextcloud\/$/);
  });

  it('is not ready while its database is down, and ready again when it returns', async () => {
    await labState(ports.authentikDbControl ?? 0, { healthy: false });
    try {
      await waitFor('authentik not ready', async () => (await fetch(url('authentik', '/-/health/ready/'))).status === 503, 15_000);
      expect((await fetch(url('authentik', '/-/health/live/'))).status).toBe(200);
      expect((await stack.exec('authentik-worker', ['ak', 'healthcheck'])).code).toBe(1);
    } finally {
      await labState(ports.authentikDbControl ?? 0, { healthy: true });
    }
    await waitFor('authentik ready again', async () => (await fetch(url('authentik', '/-/health/ready/'))).status === 200, 15_000);
  });
});

describe('Nextcloud stand-in', () => {
  it('installed itself from the env and serves status.php like Nextcloud 34', async () => {
    const res = await fetch(url('nextcloud', '/status.php'));
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toEqual({ installed: true, maintenance: false, needsDbUpgrade: false, version: '34.0.2.1', versionstring: '34.0.2', edition: '', productname: 'Nextcloud', extendedSupport: false });
  });

  it('honours NEXTCLOUD_TRUSTED_DOMAINS', async () => {
    expect((await get('nextcloud', '/', { host: 'cloud.example.test' })).status).toBe(302);
    expect((await get('nextcloud', '/login', { host: 'localhost' })).status).toBe(200);
    const untrusted = await get('nextcloud', '/', { host: 'evil.example.test' });
    expect(untrusted.status).toBe(400);
    expect(untrusted.body).toContain('Access through untrusted domain');
    const td = await stack.exec('nextcloud', ['php', 'occ', 'config:system:get', 'trusted_domains'], { user: 'www-data' });
    expect(td.stdout.trim().split('\n')).toEqual(['localhost', 'cloud.example.test']);
  });

  it('has an occ that must run as www-data, and maintenance mode shows in status.php', async () => {
    const asRoot = await stack.exec('nextcloud', ['php', 'occ', 'status']);
    expect(asRoot.code).toBe(1);
    expect(asRoot.stderr).toContain('Console has to be executed with the user that owns the file config/config.php');
    const status = await stack.exec('nextcloud', ['php', 'occ', 'status', '--output=json'], { user: 'www-data' });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ installed: true, versionstring: '34.0.2' });
    expect((await stack.exec('nextcloud', ['php', 'occ', 'maintenance:mode', '--on'], { user: 'www-data' })).code).toBe(0);
    try {
      expect(await (await fetch(url('nextcloud', '/status.php'))).json()).toMatchObject({ maintenance: true });
    } finally {
      await stack.exec('nextcloud', ['php', 'occ', 'maintenance:mode', '--off'], { user: 'www-data' });
    }
    expect(await (await fetch(url('nextcloud', '/status.php'))).json()).toMatchObject({ maintenance: false });
  });

  it('runs cron.php from the /cron.sh container', async () => {
    await waitFor('lastcron to be set by the cron container', async () => {
      const r = await stack.exec('nextcloud', ['php', 'occ', 'config:app:get', 'core', 'lastcron'], { user: 'www-data' });
      return r.code === 0 && Number(r.stdout.trim()) > 0;
    }, 15_000);
  });
});

describe('Postgres and Redis stand-ins', () => {
  it('postgres refuses to initialise without POSTGRES_PASSWORD, like the real image', async () => {
    const r = await exec('docker', ['run', '--rm', '--network', 'none', imageRef('postgres')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Database is uninitialized and superuser password is not specified');
  });

  it('pg_isready answers and pg_dump prints a dump of the configured database', async () => {
    const ready = await stack.exec('nextcloud-db', ['pg_isready', '-U', 'nextcloud']);
    expect(ready.code).toBe(0);
    expect(ready.stdout).toContain('accepting connections');
    const dump = await stack.exec('nextcloud-db', ['pg_dump', '-U', 'nextcloud', 'nextcloud']);
    expect(dump.code).toBe(0);
    expect(dump.stdout).toContain('PostgreSQL database dump');
    expect((await stack.exec('nextcloud-db', ['pg_dump', '-U', 'nextcloud', 'nope'])).code).toBe(1);
  });

  it('redis answers PING with +PONG over RESP, and requires AUTH when a password is set', async () => {
    /** Send raw RESP and read `replies` one-line replies. */
    const talk = (payload: string, replies: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: ports.redis ?? 0 });
        let out = '';
        s.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.split('\r\n').length - 1 >= replies) {
            s.destroy();
            resolve(out);
          }
        });
        s.on('error', reject);
        s.write(payload);
      });
    expect(await talk('*1\r\n$4\r\nPING\r\n', 1)).toBe('-NOAUTH Authentication required.\r\n');
    expect(await talk('*2\r\n$4\r\nAUTH\r\n$10\r\nredis-pass\r\n*1\r\n$4\r\nPING\r\n', 2)).toBe('+OK\r\n+PONG\r\n');
    const cli = await stack.exec('redis', ['redis-cli', '-a', 'redis-pass', '--no-auth-warning', 'ping']);
    expect(cli.stdout.trim()).toBe('PONG');
  });
});

describe('restic, WireGuard and media stand-ins', () => {
  it('restic/restic is a real restic: init, backup and snapshots --json against a volume', async () => {
    const version = await stack.compose(['run', '--rm', 'restic', 'version']);
    expect(version.stdout).toMatch(/^restic \d+\.\d+\.\d+/);
    expect((await stack.compose(['run', '--rm', 'restic', 'init'])).code).toBe(0);
    const backup = await stack.compose(['run', '--rm', 'restic', 'backup', '--json', '--tag', 'lab', '/data/nextcloud']);
    expect(backup.code).toBe(0);
    const snaps = await stack.compose(['run', '--rm', 'restic', 'snapshots', '--json']);
    const list = JSON.parse(snaps.stdout) as Array<{ hostname: string; paths: string[]; tags: string[] }>;
    expect(list).toEqual([expect.objectContaining({ hostname: 'homeserver', paths: ['/data/nextcloud'], tags: ['lab'] })]);
  });

  it('wireguard wrote wg-quick peer configs for PEERS', async () => {
    const conf = await stack.exec('wireguard', ['cat', '/config/peer_laptop/peer_laptop.conf']);
    expect(conf.code).toBe(0);
    expect(conf.stdout).toMatch(/^\[Interface\]\nAddress = 10\.13\.13\.2\nPrivateKey = [A-Za-z0-9+/]{43}=\n/);
    expect(conf.stdout).toContain('Endpoint = home.example.test:51820');
  });

  it('sonarr, radarr and qBittorrent answer their health endpoints', async () => {
    expect(await (await fetch(url('sonarr', '/ping'))).json()).toEqual({ status: 'OK' });
    expect(await (await fetch(url('radarr', '/ping'))).json()).toEqual({ status: 'OK' });
    expect(await (await fetch(url('qbittorrent', '/api/v2/app/version'))).text()).toBe('v5.1.2');
  });

  it('a stand-in told to fail its health turns unhealthy in Docker, and healthy again when told so', async () => {
    const health = async (): Promise<string> => {
      const c = JSON.parse((await dockerApi('GET', `/containers/${project}-sonarr-1/json`)).body) as { State: { Health?: { Status: string } } };
      return c.State.Health?.Status ?? 'none';
    };
    await labState(ports.sonarr ?? 0, { healthy: false });
    await waitFor('sonarr unhealthy', async () => (await health()) === 'unhealthy', 20_000);
    await labState(ports.sonarr ?? 0, { healthy: true });
    await waitFor('sonarr healthy', async () => (await health()) === 'healthy', 20_000);
  });
});
