import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { AUTHENTIK_BOOTSTRAP_TOKEN, configureAuthentik } from '../../electron/core/stack/configure/authentik';
import { containerAddresses, findContainer, openEndpoint, type ConfigureStep, type ConfigureTarget } from '../../electron/core/stack/configure/common';
import { configureStack } from '../../electron/core/stack/configure/configure-stack';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY, JELLYFIN_APP_NAME, configureJellyfin, mediaBrowserAuth } from '../../electron/core/stack/configure/jellyfin';
import { configureNextcloud } from '../../electron/core/stack/configure/nextcloud';
import { StackSecrets, type ProfileSecrets } from '../../electron/core/stack/secrets';
import { imageRef } from '../../electron/core/stack/versions';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { StandInStack } from '../../scripts/lab/images/stack';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';

/**
 * Post-install configuration against a stand-in stack shaped like the product's (Jellyfin; Nextcloud with Postgres,
 * Redis and cron; Authentik server, worker and Postgres with the M2 blueprint mounted into the worker), over the
 * lab's real sshd as the admin, with secrets in the lab's real keychain. Assertions read the stand-ins' own state.
 */
const project = `m2lab-configure-${process.pid}`;
const profile = `lab-configure-${randomBytes(4).toString('hex')}`;
const ncHost = 'cloud.configure.example.test';
const ports: Record<string, number> = {};
const store = new KeyringSecretStore();
const stackSecrets = new StackSecrets(store);
let secrets: ProfileSecrets;
let stack: StandInStack;
let sshd: LabSshd;
let conn: SshConnection;
let target: ConfigureTarget;
let bootstrapToken: Secret;

const blueprint = `# yaml-language-server: $schema=https://goauthentik.io/blueprints/schema.json
version: 1
metadata: { name: m2-apps }
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
      redirect_uris: [{ matching_mode: strict, url: "https://${ncHost}/apps/user_oidc/code" }]
  - model: authentik_core.application
    identifiers: { slug: nextcloud }
    attrs: { name: Nextcloud, provider: !KeyOf nc-provider, meta_launch_url: "https://${ncHost}" }
`;

let settings: StackSettings;

function composeFile(): Record<string, unknown> {
  const hc = (test: string[]): Record<string, unknown> => ({ test, interval: '1s', timeout: '5s', retries: 60 });
  const pub = (name: string, target: number): string => `127.0.0.1:${ports[name]}:${target}`;
  const akEnv = { AUTHENTIK_SECRET_KEY: 'lab-configure-secret-key', AUTHENTIK_POSTGRESQL__HOST: 'authentik-db', AUTHENTIK_POSTGRESQL__USER: 'authentik', AUTHENTIK_POSTGRESQL__PASSWORD: 'ak-db-pass' };
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
      'authentik-db': {
        image: imageRef('postgres'),
        environment: { POSTGRES_PASSWORD: 'ak-db-pass', POSTGRES_USER: 'authentik', POSTGRES_DB: 'authentik' },
        volumes: ['authentik-db:/var/lib/postgresql/data'],
        networks: ['internal'],
        healthcheck: hc(['CMD', 'pg_isready', '-U', 'authentik']),
      },
      'authentik-server': {
        image: imageRef('authentik'),
        command: 'server',
        environment: akEnv,
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
        // The product passes these through a 0600 env file; here the token comes from the lab keychain.
        environment: { ...akEnv, AUTHENTIK_BOOTSTRAP_TOKEN: bootstrapToken.reveal(), NEXTCLOUD_OIDC_SECRET: 'lab-oidc-secret', M2_STANDIN_BLUEPRINT_INTERVAL_MS: '500' },
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
        networks: ['internal'],
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
          // Not the tunnel's name: configuration must add it.
          NEXTCLOUD_TRUSTED_DOMAINS: 'nextcloud.lan',
          REDIS_HOST: 'redis',
          REDIS_HOST_PASSWORD: 'redis-pass',
          OVERWRITEPROTOCOL: 'https',
        },
        volumes: ['nextcloud:/var/www/html'],
        networks: ['edge', 'internal'],
        depends_on: { 'nextcloud-db': { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } },
        healthcheck: hc(['CMD', 'curl', '-fsS', 'http://localhost/status.php']),
      },
      'nextcloud-cron': {
        image: imageRef('nextcloud'),
        entrypoint: '/cron.sh',
        volumes: ['nextcloud:/var/www/html'],
        networks: ['internal'],
        depends_on: { nextcloud: { condition: 'service_healthy' } },
      },
    },
    networks: { edge: {}, internal: { internal: true } },
    volumes: Object.fromEntries(['jellyfin-config', 'jellyfin-cache', 'authentik-db', 'authentik-data', 'nextcloud-db', 'nextcloud'].map((v) => [v, {}])),
  };
}

/** Samples `ps -eo args` on this machine (it is also the server) until stopped: every command line seen. */
function samplePs(): { stop: () => Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { stdout } = await promisify(execFile)('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 });
        for (const l of stdout.split('\n')) seen.add(l);
      } catch {
        /* ps raced a process exit; sample again */
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

async function jellyfin(path: string, token?: Secret): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${ports.jellyfin}${path}`, { headers: { authorization: mediaBrowserAuth({ deviceId: 'lab-test', version: '0.0.0' }, token) } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

const occJson = async (args: string[]): Promise<unknown> => {
  const r = await stack.exec('nextcloud', ['php', 'occ', ...args, '--output=json'], { user: 'www-data' });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

const allSecrets = async (): Promise<Secret[]> =>
  (await Promise.all([JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY, AUTHENTIK_BOOTSTRAP_TOKEN].map((r) => secrets.get(r.name)))).filter((s): s is Secret => s !== undefined);

beforeAll(async () => {
  try {
    sshd = await ensureSshd();
    await ensureDocker();
    await ensureStandInImages();
    Object.assign(process.env, (await ensureKeychain()).env);
  } catch (err) {
    throw new Error(`lab: sshd, Docker Engine, the stand-in images or the keychain are missing and could not be set up: ${(err as Error).message}`, { cause: err });
  }
  secrets = stackSecrets.forProfile(profile);
  // As the product does before rendering: the bootstrap token exists before Authentik's first start.
  const generated = await stackSecrets.ensure(profile, [AUTHENTIK_BOOTSTRAP_TOKEN]);
  bootstrapToken = generated.get(AUTHENTIK_BOOTSTRAP_TOKEN.name) as Secret;
  for (const name of ['jellyfin', 'authentik']) ports[name] = await freePort();
  // lanPort is where the product publishes Jellyfin; configuration falls back to it when container addresses fail.
  settings = StackSettings.parse({
    hostnames: { nextcloud: ncHost },
    modules: { jellyfin: { hwAccel: 'vaapi', renderDevice: '/dev/dri/renderD128', lanPort: ports.jellyfin }, cloudflared: { enabled: false }, backup: { enabled: false } },
  });
  stack = StandInStack.create(project, composeFile(), { 'blueprints/m2-apps.yaml': blueprint });
  await stack.up();
  conn = await connectToLab(sshd, sshd.admin);
  target = { conn, dockerAccess: 'group', project };
}, 300_000);

afterAll(async () => {
  await conn?.close();
  for (const r of [JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY, AUTHENTIK_BOOTSTRAP_TOKEN]) await store.delete(profile, r.name).catch(() => undefined);
  if (stack) {
    const r = await stack.down();
    expect(r.code).toBe(0);
    const left = await exec('docker', ['volume', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(left.stdout.trim()).toBe('');
  }
});

describe('configureStack against the stand-ins over SSH', () => {
  const firstRun: ConfigureStep[] = [];
  const secondRun: ConfigureStep[] = [];
  let commandLines: string[] = [];

  it('configures Jellyfin, Nextcloud and Authentik on the first run, reporting each step as changed (Authentik only verified)', async () => {
    expect(((await jellyfin('/System/Info/Public')).body as { StartupWizardCompleted: boolean }).StartupWizardCompleted).toBe(false);
    const ps = samplePs();
    try {
      const steps = await configureStack(target, settings, secrets, (s) => firstRun.push(s));
      expect(steps).toEqual(firstRun);
    } finally {
      commandLines = await ps.stop();
    }
    expect(firstRun.map((s) => [s.service, s.changed])).toEqual([
      ['jellyfin', true],
      ['nextcloud', true],
      ['authentik', false],
    ]);
    expect(firstRun[0]?.message).toMatch(/first-run wizard completed.*API key created.*hardware acceleration set to vaapi on \/dev\/dri\/renderD128/i);
    expect(firstRun[1]?.message).toContain(ncHost);
    expect(firstRun[2]?.message).toMatch(/m2-apps applied.*nextcloud present/);
  });

  it('reaches a service at its container address over an SSH forward, skipping addresses that do not answer', async () => {
    const id = await findContainer(target, 'jellyfin', 'jellyfin');
    const ips = await containerAddresses(target, id);
    expect(ips.length).toBeGreaterThan(0);
    // 192.0.2.1 (TEST-NET-1) answers nothing: the next candidate is used.
    const ep = await openEndpoint(target, 'jellyfin', [{ host: '192.0.2.1', port: 8096 }, ...ips.map((host) => ({ host, port: 8096 }))], '/System/Ping', { probeTimeoutMs: 1_500 });
    try {
      expect(ep.via).toBe(`${ips[0]}:8096`);
      expect(await (await fetch(`http://127.0.0.1:${ep.port}/System/Ping`)).json()).toBe('Jellyfin Server');
    } finally {
      await ep.close();
    }
  });

  it('completed the Jellyfin wizard with the admin whose password is in the keychain', async () => {
    expect(((await jellyfin('/System/Info/Public')).body as { StartupWizardCompleted: boolean }).StartupWizardCompleted).toBe(true);
    const pw = await secrets.get(JELLYFIN_ADMIN_PASSWORD.name);
    expect(pw?.reveal()).toMatch(/^[A-Za-z0-9]{24}$/);
    const login = await fetch(`http://127.0.0.1:${ports.jellyfin}/Users/AuthenticateByName`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: mediaBrowserAuth({ deviceId: 'lab-test', version: '0.0.0' }) },
      body: JSON.stringify({ Username: 'admin', Pw: pw?.reveal() }),
    });
    expect(login.status).toBe(200);
  });

  it('runs a second time changing nothing, and says so for every service', async () => {
    const ps = samplePs();
    try {
      await configureStack(target, settings, secrets, (s) => secondRun.push(s));
    } finally {
      commandLines = [...commandLines, ...(await ps.stop())];
    }
    expect(secondRun.map((s) => [s.service, s.changed])).toEqual([
      ['jellyfin', false],
      ['nextcloud', false],
      ['authentik', false],
    ]);
    expect(secondRun[0]?.message).toMatch(/^Already configured/);
    expect(secondRun[1]?.message).toMatch(/^Already configured/);
  });

  it('kept the API key that Jellyfin lists, exactly one with the app’s name after two runs', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    expect(key?.reveal()).toMatch(/^[0-9a-f]{32}$/);
    const keys = await jellyfin('/Auth/Keys', key);
    expect(keys.status).toBe(200);
    const ours = (keys.body as { Items: Array<{ AppName: string; AccessToken: string }> }).Items.filter((k) => k.AppName === JELLYFIN_APP_NAME);
    expect(ours.map((k) => k.AccessToken)).toEqual([key?.reveal()]);
  });

  it('set hardware acceleration through the API: /System/Configuration/encoding and encoding.xml say vaapi on the render node', async () => {
    const enc = (await jellyfin('/System/Configuration/encoding', await secrets.get(JELLYFIN_API_KEY.name))).body as Record<string, unknown>;
    expect(enc).toMatchObject({ HardwareAccelerationType: 'vaapi', VaapiDevice: '/dev/dri/renderD128', EnableHardwareEncoding: true, HardwareDecodingCodecs: ['h264', 'hevc', 'mpeg2video', 'vc1'] });
    const xml = await stack.exec('jellyfin', ['cat', '/config/config/encoding.xml']);
    expect(xml.stdout).toContain('<HardwareAccelerationType>vaapi</HardwareAccelerationType>');
    expect(xml.stdout).toContain('<string>hevc</string>');
  });

  it('added the tunnel host to Nextcloud’s trusted domains (keeping the others) and switched background jobs to cron', async () => {
    expect(await occJson(['config:system:get', 'trusted_domains'])).toEqual(['localhost', 'nextcloud.lan', ncHost]);
    const mode = await stack.exec('nextcloud', ['php', 'occ', 'config:app:get', 'core', 'backgroundjobs_mode'], { user: 'www-data' });
    expect(mode.stdout.trim()).toBe('cron');
  });

  it('found the application the blueprint declares in Authentik', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.authentik}/api/v3/core/applications/?slug=nextcloud`, { headers: { authorization: `Bearer ${bootstrapToken.reveal()}` } });
    const body = (await res.json()) as { results: Array<{ slug: string; name: string }> };
    expect(body.results.map((a) => [a.slug, a.name])).toEqual([['nextcloud', 'Nextcloud']]);
  });

  it('put no secret on any command line on the server during either run', async () => {
    expect(commandLines.length).toBeGreaterThan(50);
    // The configuration's docker commands were seen, so the sampling caught the runs.
    expect(commandLines.some((l) => l.includes('php occ'))).toBe(true);
    const values = (await allSecrets()).map((s) => s.reveal());
    expect(values).toHaveLength(3);
    for (const v of values) expect(commandLines.filter((l) => l.includes(v))).toEqual([]);
  });

  it('reuses the API key Jellyfin already has when the keychain lost it, instead of creating a second one', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    await secrets.delete(JELLYFIN_API_KEY.name);
    const step = await configureJellyfin(target, { settings: settings.modules.jellyfin, secrets });
    expect(step).toEqual({ service: 'jellyfin', changed: true, message: 'API key kept in the keychain.' });
    expect((await secrets.get(JELLYFIN_API_KEY.name))?.reveal()).toBe(key?.reveal());
    const ours = ((await jellyfin('/Auth/Keys', key)).body as { Items: Array<{ AppName: string }> }).Items.filter((k) => k.AppName === JELLYFIN_APP_NAME);
    expect(ours).toHaveLength(1);
  });

  it('says what to do when Jellyfin was set up but the keychain has neither its API key nor its admin password', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    const pw = await secrets.get(JELLYFIN_ADMIN_PASSWORD.name);
    await secrets.delete(JELLYFIN_API_KEY.name);
    await secrets.delete(JELLYFIN_ADMIN_PASSWORD.name);
    try {
      const err = await configureJellyfin(target, { settings: settings.modules.jellyfin, secrets }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringMatching(/^Jellyfin: it was set up outside M2 Companion/), hint: expect.stringContaining('API Keys') });
    } finally {
      if (key) await secrets.set(JELLYFIN_API_KEY.name, key);
      if (pw) await secrets.set(JELLYFIN_ADMIN_PASSWORD.name, pw);
    }
  });

  it('works through sudo for an SSH user outside the docker group', async () => {
    const sudoConn = await connectToLab(sshd, sshd.sudoUser);
    try {
      const step = await configureNextcloud({ conn: sudoConn, dockerAccess: 'sudo', project }, { hostnames: [ncHost, 'files.configure.example.test'] });
      expect(step).toMatchObject({ service: 'nextcloud', changed: true });
      expect(step.message).toContain('files.configure.example.test');
      expect(await occJson(['config:system:get', 'trusted_domains'])).toEqual(['localhost', 'nextcloud.lan', ncHost, 'files.configure.example.test']);
    } finally {
      await sudoConn.close();
    }
  });

  it('fails with stack.configure-failed naming Authentik, within the bound, when the blueprint never appears, and masks the token', async () => {
    const started = Date.now();
    const err = await configureAuthentik(target, { secrets, applications: ['nextcloud'], blueprintName: 'not-mounted', timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err).toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringMatching(/^Authentik: the blueprint not-mounted was not discovered within 3 s\./) });
    const text = JSON.stringify(err) + String(err) + (err as Error).message;
    expect(text).not.toContain(bootstrapToken.reveal());
  });

  it('fails naming Authentik when the keychain token is not the one Authentik knows, with the value masked', async () => {
    const other = new StackSecrets(store).forProfile(`${profile}-x`);
    await other.set(AUTHENTIK_BOOTSTRAP_TOKEN.name, new Secret('wrong-token-0123456789'));
    try {
      const err = await configureAuthentik(target, { secrets: other, applications: [], timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringMatching(/^Authentik: it refused the bootstrap token/) });
      expect((err as Error).message).not.toContain('wrong-token-0123456789');
    } finally {
      await other.delete(AUTHENTIK_BOOTSTRAP_TOKEN.name);
    }
  });

  it('fails naming the service when its container is not running in the project', async () => {
    const err = await configureNextcloud({ ...target, project: `${project}-absent` }, { hostnames: [ncHost] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringMatching(/^Nextcloud: no running container for the service nextcloud of the project/) });
  });
});
