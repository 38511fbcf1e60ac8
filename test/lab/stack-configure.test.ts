import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { AUTHENTIK_BOOTSTRAP_TOKEN, configureAuthentik } from '../../electron/core/stack/configure/authentik';
import { containerAddresses, findContainer, openEndpoint, type ConfigureStep, type ConfigureTarget } from '../../electron/core/stack/configure/common';
import { configureStack } from '../../electron/core/stack/configure/configure-stack';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY, JELLYFIN_APP_NAME, configureJellyfin, mediaBrowserAuth } from '../../electron/core/stack/configure/jellyfin';
import { JELLYFIN_FFMPEG } from '../../electron/core/stack/configure/transcoding-probe';
import { configureNextcloud } from '../../electron/core/stack/configure/nextcloud';
import { LDAP_PLUGIN, wantedLdapConfig } from '../../electron/core/stack/configure/jellyfin-ldap';
import { authentikSecrets } from '../../electron/core/stack/modules/authentik';
import { nextcloudSecrets } from '../../electron/core/stack/modules/nextcloud';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import { StackSecrets, type ProfileSecrets } from '../../electron/core/stack/secrets';
import type { NetworkName, RenderedStack } from '../../electron/core/stack/types';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec, type ExecResult } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * Post-install configuration against the stack as the product renders it (renderStack: Jellyfin; Nextcloud with
 * Postgres, Redis and cron; Authentik server, worker and Postgres with the M2 blueprint as a content-addressed
 * module file mounted into the worker), brought up from the stand-ins with secrets from the lab's real keychain,
 * configured over the lab's real sshd as the admin. Assertions read the stand-ins' own state. The project name is
 * this test's own, never `m2`, and its subnets are picked free on the shared engine.
 */
const project = `m2lab-configure-${process.pid}`;
const profile = `lab-configure-${randomBytes(4).toString('hex')}`;
const ncHost = 'cloud.configure.example.test';
const root = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
const releaseDir = path.join(root, 'release');
const m2Dir = path.join(root, 'm2');
const dataRoot = path.join(root, 'data');
const store = new KeyringSecretStore();
const stackSecrets = new StackSecrets(store);
let secrets: ProfileSecrets;
let rendered: RenderedStack;
let settings: StackSettings;
let sshd: LabSshd;
let conn: SshConnection;
let target: ConfigureTarget;
let stackSecretNames: string[] = [];
let subnets: Record<NetworkName, string>;
const files = ['compose.yaml', 'lab-override.yaml'];

const compose = (args: readonly string[], timeoutMs = 180_000): Promise<ExecResult> =>
  exec('docker', ['compose', '--project-name', project, ...rendered.envFiles.flatMap((f) => ['--env-file', f]), ...files.flatMap((f) => ['--file', f]), ...args], { cwd: releaseDir, timeoutMs });

/** Three /24s no network on the shared engine uses. */
const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('172.27', 60 + (process.pid % 150));

/** Release files and module files of a rendering where the apply step puts them. */
function writeRelease(r: RenderedStack): void {
  for (const f of r.releaseFiles) {
    mkdirSync(path.dirname(path.join(releaseDir, f.path)), { recursive: true });
    writeFileSync(path.join(releaseDir, f.path), f.content, { mode: f.mode });
  }
  for (const f of r.moduleFiles) {
    mkdirSync(path.dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { mode: f.mode });
  }
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

async function jellyfin(p: string, token?: Secret): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${settings.modules.jellyfin.lanPort}${p}`, { headers: { authorization: mediaBrowserAuth({ deviceId: 'lab-test', version: '0.0.0' }, token) } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** GET from Authentik's API as the app would: over an SSH forward, the bootstrap token in a header. */
async function authentik(p: string, token: Secret): Promise<{ status: number; body: unknown }> {
  const id = await findContainer(target, 'authentik', 'authentik-server');
  const ep = await openEndpoint(target, 'authentik', (await containerAddresses(target, id)).map((host) => ({ host, port: 9000 })), '/-/health/live/');
  try {
    const res = await fetch(`http://127.0.0.1:${ep.port}${p}`, { headers: { authorization: `Bearer ${token.reveal()}` } });
    return { status: res.status, body: (await res.json()) as unknown };
  } finally {
    await ep.close();
  }
}

const occJson = async (args: string[]): Promise<unknown> => {
  const r = await compose(['exec', '--no-TTY', '--user', 'www-data', 'nextcloud', 'php', 'occ', ...args, '--output=json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

/** Every secret of the profile: the stack's (rendered into env files) and what configuration added. */
const allSecrets = async (): Promise<Secret[]> =>
  (await Promise.all([...stackSecretNames, JELLYFIN_ADMIN_PASSWORD.name, JELLYFIN_API_KEY.name].map((n) => secrets.get(n)))).filter((s): s is Secret => s !== undefined);

beforeAll(async () => {
  try {
    sshd = await ensureSshd();
    await ensureDocker();
    await ensureStandInImages();
    Object.assign(process.env, (await ensureKeychain()).env);
  } catch (err) {
    throw new Error(`lab: sshd, Docker Engine, the stand-in images or the keychain are missing and could not be set up: ${(err as Error).message}`, { cause: err });
  }
  settings = StackSettings.parse({
    dataRoot,
    publishAddress: '127.0.0.1',
    uid: 1000,
    gid: 1000,
    hostnames: { nextcloud: ncHost },
    modules: {
      jellyfin: { hwAccel: 'vaapi', renderDevice: '/dev/dri/renderD128', renderGid: 993, lanPort: await freePort() },
      cloudflared: { enabled: false },
      backup: { enabled: false },
    },
  });
  // As the stack service does: the keychain holds the stack's secrets (generated once) before anything renders.
  secrets = stackSecrets.forProfile(profile);
  const requests = requiredSecrets(settings);
  stackSecretNames = requests.map((r) => r.name);
  subnets = await freeSubnets();
  rendered = renderStack(settings, await stackSecrets.ensure(profile, requests), { m2Dir, project, subnets });

  // What the apply step does: release files, module files at their absolute paths, host dirs owned by the admin.
  writeRelease(rendered);
  for (const d of rendered.hostDirs) {
    mkdirSync(d, { recursive: true });
    chownSync(d, settings.uid, settings.gid);
  }
  // Lab only: this machine has no GPU, so the render node is not passed through; the settings still say VA-API, and
  // the test encode after install finds no device (the stand-in's ffmpeg fails as the real one does).
  writeFileSync(path.join(releaseDir, 'lab-override.yaml'), 'services:\n  jellyfin:\n    devices: !reset []\n');
  const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '240'], 320_000);
  if (up.code !== 0) {
    const logs = await compose(['logs', '--no-color', '--tail', '20']);
    throw new Error(`up --wait failed (${up.code}):\n${up.stderr}\n${logs.stdout}`);
  }
  conn = await connectToLab(sshd, sshd.admin);
  target = { conn, dockerAccess: 'group', project };
}, 400_000);

afterAll(async () => {
  await conn?.close();
  for (const n of [...stackSecretNames, JELLYFIN_ADMIN_PASSWORD.name, JELLYFIN_API_KEY.name]) await store.delete(profile, n).catch(() => undefined);
  if (rendered) {
    const down = await compose(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    expect(down.code, down.stderr).toBe(0);
    const left = await exec('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(left.stdout.trim()).toBe('');
  }
  rmSync(root, { recursive: true, force: true });
}, 120_000);

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
      ['authentik', true],
    ]);
    // The settings say VA-API, but the lab passes no render node: the test encode fails as FFmpeg does, so software.
    expect(firstRun[0]?.message).toMatch(
      /^First-run wizard completed.*API key created.*\. Transcoding: software — The render node \/dev\/dri\/renderD128 could not be opened inside the Jellyfin container.* \(FFmpeg: “No VA display found for device \/dev\/dri\/renderD128\.”\)$/,
    );
    expect(firstRun[0]?.message).not.toMatch(/hardware acceleration set to/);
    // One sign-in: the LDAP plugin installed, loaded by a restart and pointed at Authentik's outpost.
    expect(firstRun[0]?.message).toMatch(/; plugin “LDAP Authentication” installed; Jellyfin restarted to load it; sign-in through Authentik’s LDAP outpost set \(LdapServer, /);
    // The host name was trusted at install (NEXTCLOUD_TRUSTED_DOMAINS); cron mode and the sign-in are what the first run sets.
    expect(firstRun[1]?.message).toBe('Background jobs run by cron; OpenID Connect app (user_oidc) installed; sign-in through Authentik registered: provider authentik, client nextcloud.');
    // Who may use the applications is set from the install on (household/authentik-bindings.ts): never everyone.
    expect(firstRun[2]?.message).toMatch(
      /m2-apps applied.*applications nextcloud, jellyfin present; let authentik Admins, m2-power-users, m2-admins, akadmin into Nextcloud; let authentik Admins, m2-media, m2-power-users, m2-admins, akadmin into Jellyfin; the LDAP outpost’s token kept in the keychain \(the outpost runs from the next release\)\.$/,
    );
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
    const login = await fetch(`http://127.0.0.1:${settings.modules.jellyfin.lanPort}/Users/AuthenticateByName`, {
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
    expect(secondRun[2]?.message).toMatch(/; LDAP outpost token in the keychain\.$/);
  });

  it('kept the API key that Jellyfin lists, exactly one with the app’s name after two runs', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    expect(key?.reveal()).toMatch(/^[0-9a-f]{32}$/);
    const keys = await jellyfin('/Auth/Keys', key);
    expect(keys.status).toBe(200);
    const ours = (keys.body as { Items: Array<{ AppName: string; AccessToken: string }> }).Items.filter((k) => k.AppName === JELLYFIN_APP_NAME);
    expect(ours.map((k) => k.AccessToken)).toEqual([key?.reveal()]);
  });

  it('left Jellyfin on software for VA-API without a render node in the container, and reported why as a typed result', async () => {
    expect(firstRun[0]?.transcoding).toEqual({
      method: 'vaapi',
      verdict: 'software',
      jellyfinType: 'none',
      hardwareEncoding: false,
      reason: expect.stringContaining('the render node /dev/dri/renderD128 could not be opened inside the Jellyfin container'),
      detail: 'No VA display found for device /dev/dri/renderD128.',
    });
    expect(secondRun[0]?.transcoding).toEqual(firstRun[0]?.transcoding);
    const enc = (await jellyfin('/System/Configuration/encoding', await secrets.get(JELLYFIN_API_KEY.name))).body as Record<string, unknown>;
    expect(enc).toMatchObject({ HardwareAccelerationType: 'none' });
    const xml = await compose(['exec', '--no-TTY', 'jellyfin', 'cat', '/config/config/encoding.xml']);
    expect(xml.stdout).toContain('<HardwareAccelerationType>none</HardwareAccelerationType>');
    // The stand-in's ffmpeg is the real one's behaviour without the hardware: software encodes work, hardware ones fail.
    const sw = await compose(['exec', '--no-TTY', 'jellyfin', JELLYFIN_FFMPEG, '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '1', '-c:v', 'libx264', '-f', 'null', '-']);
    expect([sw.code, sw.stderr]).toEqual([0, '']);
  });

  it('NVIDIA chosen on a server without the GPU: the test encode fails as FFmpeg does (no libcuda), so Jellyfin ends on software — even from nvenc set before — with the reason in the step', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    // As an earlier install that trusted the setting would have left it.
    const before = (await jellyfin('/System/Configuration/encoding', key)).body as Record<string, unknown>;
    const set = await fetch(`http://127.0.0.1:${settings.modules.jellyfin.lanPort}/System/Configuration/encoding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: mediaBrowserAuth({ deviceId: 'lab-test', version: '0.0.0' }, key) },
      body: JSON.stringify({ ...before, HardwareAccelerationType: 'nvenc', EnableHardwareEncoding: true }),
    });
    expect(set.status).toBeLessThan(300);
    const nvidia = { ...settings.modules.jellyfin, hwAccel: 'nvidia' as const };
    const step = await configureJellyfin(target, { settings: nvidia, secrets });
    expect(step.transcoding).toEqual({
      method: 'nvidia',
      verdict: 'software',
      jellyfinType: 'none',
      hardwareEncoding: false,
      reason: expect.stringContaining('no NVIDIA driver inside the Jellyfin container (libcuda is missing)'),
      detail: 'Cannot load libcuda.so.1',
    });
    expect(step.changed).toBe(true);
    expect(step.message).toMatch(/^Hardware acceleration set to none \(HardwareAccelerationType\)\. Transcoding: software — There is no NVIDIA driver inside the Jellyfin container .*\(FFmpeg: “Cannot load libcuda\.so\.1”\)$/);
    expect(((await jellyfin('/System/Configuration/encoding', key)).body as Record<string, unknown>).HardwareAccelerationType).toBe('none');
    // Run again: the same verdict, nothing to change.
    const again = await configureJellyfin(target, { settings: nvidia, secrets });
    expect([again.changed, again.transcoding?.verdict]).toEqual([false, 'software']);
    expect(again.message).toMatch(/^Already configured: .*hardware acceleration none\. Transcoding: software — There is no NVIDIA driver/);
  });

  it('acceleration off in the settings: no test encode, software as before, said so', async () => {
    const off = { ...settings.modules.jellyfin, hwAccel: 'none' as const };
    const step = await configureJellyfin(target, { settings: off, secrets });
    expect(step).toEqual({
      service: 'jellyfin',
      changed: false,
      message: 'Already configured: setup complete, API key valid, hardware acceleration none. Transcoding: software — Hardware acceleration is off in the settings, so Jellyfin transcodes in software.',
      transcoding: { method: 'none', verdict: 'software', jellyfinType: 'none', hardwareEncoding: false, reason: 'hardware acceleration is off in the settings, so Jellyfin transcodes in software.', detail: null },
    });
    expect(((await jellyfin('/System/Configuration/encoding', await secrets.get(JELLYFIN_API_KEY.name))).body as Record<string, unknown>).HardwareAccelerationType).toBe('none');
  });

  it('left Nextcloud trusting the tunnel host and switched its background jobs to cron', async () => {
    expect(await occJson(['config:system:get', 'trusted_domains'])).toEqual(['localhost', ncHost, 'nextcloud']);
    const mode = await compose(['exec', '--no-TTY', '--user', 'www-data', 'nextcloud', 'php', 'occ', 'config:app:get', 'core', 'backgroundjobs_mode']);
    expect(mode.stdout.trim()).toBe('cron');
  });

  it('found the application the blueprint declares in Authentik', async () => {
    const token = await secrets.get(AUTHENTIK_BOOTSTRAP_TOKEN.name);
    if (!token) throw new Error('no bootstrap token in the keychain');
    const blueprints = (await authentik('/api/v3/managed/blueprints/', token)).body as { results: Array<{ name: string; path: string; status: string }> };
    expect(blueprints.results.find((b) => b.name === 'm2-apps')).toMatchObject({ path: 'custom/m2-apps.yaml', status: 'successful' });
    const body = (await authentik('/api/v3/core/applications/?slug=nextcloud', token)).body as { results: Array<{ slug: string; name: string }> };
    expect(body.results.map((a) => [a.slug, a.name])).toEqual([['nextcloud', 'Nextcloud']]);
  });

  it('installed user_oidc in Nextcloud and registered Authentik with its discovery URI, the client id and the keychain’s secret', async () => {
    const apps = (await occJson(['app:list'])) as { enabled: Record<string, string>; disabled: Record<string, string> };
    expect(Object.keys(apps.enabled)).toContain('user_oidc');
    const provider = (await occJson(['user_oidc:provider', 'authentik'])) as Record<string, unknown>;
    expect(provider).toMatchObject({
      identifier: 'authentik',
      clientId: 'nextcloud',
      discoveryEndpoint: `https://${settings.hostnames.authentik}/application/o/nextcloud/.well-known/openid-configuration`,
      scope: 'openid email profile',
      settings: { uniqueUid: true, mappingDisplayName: 'name', mappingEmail: 'email' },
    });
    expect(JSON.stringify(provider)).not.toMatch(/secret/i);
    // Exactly one provider after two runs; the secret it holds (the stand-in keeps its SHA-256) is the keychain's.
    expect(((await occJson(['user_oidc:provider'])) as unknown[]).length).toBe(1);
    const kept = await compose(['exec', '--no-TTY', 'nextcloud', 'cat', '/var/www/html/config/standin.json']);
    const held = (JSON.parse(kept.stdout) as { oidcProviders: Array<{ clientSecretSha256: string }> }).oidcProviders[0]?.clientSecretSha256;
    const secret = await secrets.get(nextcloudSecrets.oidcSecret);
    expect(held).toBe(createHash('sha256').update(secret?.reveal() ?? '-', 'utf8').digest('hex'));
  });

  it('installed and configured Jellyfin’s LDAP plugin through its API, with the bind password from the keychain', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    const plugins = (await jellyfin('/Plugins', key)).body as Array<{ Id: string; Name: string; Status: string }>;
    expect(plugins.map((x) => [x.Name, x.Id, x.Status])).toEqual([['LDAP Authentication', LDAP_PLUGIN.guid.replace(/-/g, ''), 'Active']]);
    const bindPassword = await secrets.get(authentikSecrets.ldapBindPassword);
    if (!bindPassword) throw new Error('no bind password in the keychain');
    const config = (await jellyfin(`/Plugins/${LDAP_PLUGIN.guid}/Configuration`, key)).body as Record<string, unknown>;
    expect(config).toMatchObject(wantedLdapConfig({ bindPassword }));
    // Authentik got the same password through the blueprint (the worker's environment), for the same account.
    const token = await secrets.get(AUTHENTIK_BOOTSTRAP_TOKEN.name);
    if (!token) throw new Error('no bootstrap token in the keychain');
    const apps = (await authentik('/api/v3/core/applications/?slug=jellyfin', token)).body as { results: Array<{ slug: string; provider: unknown }> };
    expect(apps.results.map((a) => a.slug)).toEqual(['jellyfin']);
  });

  it('runs Authentik’s LDAP outpost from the next release with the token configuration fetched, which Authentik accepts', async () => {
    const token = await secrets.get(authentikSecrets.ldapOutpostToken);
    expect(token?.reveal()).toMatch(/^[A-Za-z0-9]{128}$/);
    expect(Object.keys(rendered.serviceModules)).not.toContain('authentik-ldap');
    // As the stack service's release after configuration: rendered again, now with the outpost.
    const next = renderStack(settings, await stackSecrets.ensure(profile, requiredSecrets(settings)), { m2Dir, project, subnets });
    expect(next.serviceModules['authentik-ldap']).toBe('authentik');
    rendered = next;
    writeRelease(next);
    const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '60', 'authentik-ldap'], 120_000);
    expect(up.code, up.stderr).toBe(0);
    const logs = await compose(['logs', '--no-color', 'authentik-ldap']);
    expect(logs.stdout).toContain('"event":"Successfully connected to authentik","outpost":"m2-ldap","type":"ldap"');
    expect((await compose(['exec', '--no-TTY', 'authentik-ldap', '/ldap', 'healthcheck'])).code).toBe(0);
    // Jellyfin's LDAP plugin points at it by its service name on the edge network: reachable from Jellyfin's container.
    const reach = await compose(['exec', '--no-TTY', 'jellyfin', 'sh', '-c', 'nc -w 3 authentik-ldap 3389 </dev/null']);
    expect(reach.code, reach.stderr).toBe(0);
    expect(logs.stdout).not.toContain(token?.reveal() ?? '-');
  });

  it('put no secret on any command line on the server during either run', async () => {
    expect(commandLines.length).toBeGreaterThan(50);
    // The configuration's docker commands were seen, so the sampling caught the runs.
    expect(commandLines.some((l) => l.includes('php occ'))).toBe(true);
    const values = (await allSecrets()).map((s) => s.reveal());
    expect(values.length).toBe(stackSecretNames.length + 2);
    for (const v of values) expect(commandLines.filter((l) => l.includes(v))).toEqual([]);
  });

  it('reuses the API key Jellyfin already has when the keychain lost it, instead of creating a second one', async () => {
    const key = await secrets.get(JELLYFIN_API_KEY.name);
    await secrets.delete(JELLYFIN_API_KEY.name);
    const step = await configureJellyfin(target, { settings: settings.modules.jellyfin, secrets });
    expect(step).toMatchObject({ service: 'jellyfin', changed: true, message: expect.stringMatching(/^API key kept in the keychain\. Transcoding: software — /) });
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

  it('trusts a changed host name (the install-time variable no longer applies), through sudo for a user outside the docker group', async () => {
    const renamed = 'files.configure.example.test';
    const sudoConn = await connectToLab(sshd, sshd.sudoUser);
    try {
      const step = await configureStack({ conn: sudoConn, dockerAccess: 'sudo', project }, StackSettings.parse({ ...settings, hostnames: { ...settings.hostnames, nextcloud: renamed }, modules: { ...settings.modules, authentik: { enabled: false } } }), secrets);
      expect(step.map((s) => [s.service, s.changed, s.message])).toEqual([
        ['jellyfin', false, expect.stringMatching(/^Already configured/)],
        ['nextcloud', true, `Trusted ${renamed}.`],
      ]);
      expect(await occJson(['config:system:get', 'trusted_domains'])).toEqual(['localhost', ncHost, 'nextcloud', renamed]);
    } finally {
      await sudoConn.close();
    }
  });

  it('fails with stack.configure-failed naming Authentik, within the bound, when the blueprint never appears, and masks the token', async () => {
    const started = Date.now();
    const err = await configureAuthentik(target, { secrets, applications: ['nextcloud'], blueprintName: 'not-mounted', timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err).toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringMatching(/^Authentik: the blueprint not-mounted was not discovered within 3 s\./) });
    const text = JSON.stringify(err) + String(err) + (err as Error).message + String((err as { hint?: string }).hint);
    for (const s of await allSecrets()) expect(text).not.toContain(s.reveal());
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
