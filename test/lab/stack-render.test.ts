import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { Secret } from '../../electron/core/secrets/secret';
import { renderEnvFile } from '../../electron/core/stack/compose-yaml';
import { backupOnceCommand } from '../../electron/core/stack/modules/backup';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import type { NetworkName, RenderedStack, SecretRequest } from '../../electron/core/stack/types';
import { dockerApi, ensureDocker, exec, type ExecResult } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { parsePs } from '../../scripts/lab/images/stack';
import { freePort } from '../../scripts/lab/process';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * The rendered stack (every module on, the lab's stand-ins under the pinned image names) validated by the real
 * `docker compose config` and brought up with `up --wait`: every service reaches healthy. The project name is
 * this test's own, never `m2`, and its subnets are picked free on the shared engine.
 */
const project = `m2lab-render-${process.pid}`;
const root = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
const releaseDir = path.join(root, 'release');
const m2Dir = path.join(root, 'm2');
const dataRoot = path.join(root, 'data');
const hostileMedia = path.join(root, 'media', '$(touch /tmp/m2-pwn)', '"x" y');
const unicodeMedia = path.join(root, 'media', 'Fïlme 🎬 & Serien');
const uid = 1000;
const gid = 1000;

const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');

function generate(r: SecretRequest): Secret {
  if (r.name === 'cloudflared.tunnel-token') return new Secret(tunnelToken);
  if (r.kind === 'token') return new Secret(randomBytes(32).toString('base64url'));
  if (r.kind === 'hex32') return new Secret(randomBytes(16).toString('hex'));
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return new Secret(Array.from(randomBytes(24), (b) => alnum[b % alnum.length]).join(''));
}

/** Three /24s no network on the shared engine uses (fixed subnets collide across projects). */
const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('172.29', 40 + (process.pid % 150));

let rendered: RenderedStack;
let settings: StackSettings;
let subnets: Record<NetworkName, string>;
let bootstrapToken = '';
const files = ['compose.yaml'];

const compose = (args: readonly string[], timeoutMs = 180_000): Promise<ExecResult> =>
  exec('docker', ['compose', '--project-name', project, ...rendered.envFiles.flatMap((f) => ['--env-file', f]), ...files.flatMap((f) => ['--file', f]), ...args], { cwd: releaseDir, timeoutMs });

beforeAll(async () => {
  try {
    await ensureDocker();
    await ensureStandInImages();
  } catch (err) {
    throw new Error(`lab: Docker Engine, Compose v2 or the stand-in images are missing and could not be set up: ${(err as Error).message}`, { cause: err });
  }
  subnets = await freeSubnets();
  settings = StackSettings.parse({
    dataRoot,
    publishAddress: '127.0.0.1',
    uid,
    gid,
    timezone: 'UTC',
    hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
    modules: {
      jellyfin: { lanPort: await freePort(), mediaPaths: [hostileMedia, unicodeMedia] },
      cloudflared: { replicas: 2 },
      backup: { repository: path.join(root, 'backup-repo') },
      wireguard: { enabled: true, port: await freePort() },
      // With the fallback, Nextcloud answers on the home network too (its own port).
      nextcloud: { lanPort: await freePort() },
      mediaAutomation: { enabled: true, ingestPath: path.join(root, 'ingest') },
    },
  });
  const secrets = new Map(requiredSecrets(settings).filter((r) => r.optional !== true).map((r) => [r.name, generate(r)]));
  bootstrapToken = secrets.get('authentik.bootstrap-token')?.reveal() ?? '';
  rendered = renderStack(settings, secrets, { m2Dir, project, subnets });

  // What the apply step does: release files, module files at their absolute paths, host dirs owned by the admin.
  for (const f of rendered.releaseFiles) {
    mkdirSync(path.dirname(path.join(releaseDir, f.path)), { recursive: true });
    writeFileSync(path.join(releaseDir, f.path), f.content, { mode: f.mode });
  }
  for (const f of rendered.moduleFiles) {
    mkdirSync(path.dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { mode: f.mode });
  }
  for (const d of rendered.hostDirs) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  for (const d of [hostileMedia, unicodeMedia]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(unicodeMedia, 'film.mkv'), 'not really a film');
}, 300_000);

afterAll(async () => {
  if (rendered) {
    const down = await compose(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    expect(down.code, down.stderr).toBe(0);
  }
  rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('the rendered stack on a real Docker Engine', () => {
  it('passes docker compose config', async () => {
    const r = await compose(['config', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('comes up with every service healthy, only Jellyfin and Nextcloud (for the fallback) published, on 127.0.0.1 (WireGuard is on the host network)', async () => {
    const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '240'], 320_000);
    if (up.code !== 0) {
      const logs = await compose(['logs', '--no-color', '--tail', '20']);
      throw new Error(`up --wait failed (${up.code}):\n${up.stderr}\n${logs.stdout}`);
    }
    const ps = parsePs((await compose(['ps', '--all', '--format', 'json'])).stdout);
    expect(ps.map((p) => p.Service).sort()).toEqual(Object.keys(rendered.serviceModules).sort());
    expect(ps).toHaveLength(17);
    for (const p of ps) {
      expect(p.State, p.Service).toBe('running');
      expect(p.Health, p.Service).toBe('healthy');
    }
    const published = ps.flatMap((p) => (p.Publishers ?? []).filter((x) => x.PublishedPort !== 0).map((x) => ({ service: p.Service, url: x.URL, port: x.PublishedPort, protocol: x.Protocol })));
    expect(published.sort((a, b) => a.service.localeCompare(b.service))).toEqual([
      { service: 'jellyfin', url: '127.0.0.1', port: settings.modules.jellyfin.lanPort, protocol: 'tcp' },
      { service: 'nextcloud', url: '127.0.0.1', port: settings.modules.nextcloud.lanPort, protocol: 'tcp' },
    ]);
    // Both connectors at their fixed edge addresses, the only ones Nextcloud rewrites its links for.
    const edgeIp = async (name: string): Promise<string> =>
      (JSON.parse((await dockerApi('GET', `/containers/${project}-${name}-1/json`)).body) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }).NetworkSettings.Networks[`${project}_edge`]?.IPAddress ?? '';
    const top = subnets.edge.replace(/\.0\/24$/, '');
    expect([await edgeIp('cloudflared'), await edgeIp('cloudflared-2')]).toEqual([`${top}.254`, `${top}.253`]);
    const health = await fetch(`http://127.0.0.1:${settings.modules.jellyfin.lanPort}/health`);
    expect(health.status).toBe(200);
  }, 330_000);

  it('mounts hostile and unicode media paths literally and read-only, and runs nothing they contain', async () => {
    const c = JSON.parse((await dockerApi('GET', `/containers/${project}-jellyfin-1/json`)).body) as { Mounts: Array<{ Source: string; Destination: string; RW: boolean }>; Config: { User: string } };
    const byTarget = new Map(c.Mounts.map((m) => [m.Destination, m]));
    expect(byTarget.get('/media/1')).toMatchObject({ Source: hostileMedia, RW: false });
    expect(byTarget.get('/media/2')).toMatchObject({ Source: unicodeMedia, RW: false });
    expect(byTarget.get('/media/ingest')).toMatchObject({ Source: path.join(root, 'ingest'), RW: false });
    expect(byTarget.get('/config')).toMatchObject({ Source: path.join(dataRoot, 'jellyfin', 'config'), RW: true });
    expect(c.Config.User).toBe(`${uid}:${gid}`);
    expect(existsSync('/tmp/m2-pwn')).toBe(false);
    const ls = await compose(['exec', '--no-TTY', 'jellyfin', 'ls', '/media/2']);
    expect(ls.stdout.trim()).toBe('film.mkv');
    const write = await compose(['exec', '--no-TTY', 'jellyfin', 'touch', '/media/2/new']);
    expect(write.code).not.toBe(0);
  });

  it('puts databases on the internal network only, with the subnets it was given', async () => {
    const inspect = async (name: NetworkName): Promise<{ Internal: boolean; IPAM: { Config: Array<{ Subnet: string }> }; Containers: Record<string, { Name: string }> }> =>
      JSON.parse((await dockerApi('GET', `/networks/${project}_${name}`)).body) as never;
    const internal = await inspect('internal');
    const edge = await inspect('edge');
    const media = await inspect('media');
    expect(internal.Internal).toBe(true);
    expect(edge.Internal).toBe(false);
    expect(media.Internal).toBe(false);
    expect([internal, edge, media].map((n) => n.IPAM.Config[0]?.Subnet)).toEqual([subnets.internal, subnets.edge, subnets.media]);
    const members = (n: typeof edge): string[] => Object.values(n.Containers).map((c) => c.Name.replace(`${project}-`, '').replace(/-1$/, '')).sort();
    expect(members(internal)).toEqual(['authentik-db', 'authentik-db-dump', 'authentik-server', 'authentik-worker', 'nextcloud', 'nextcloud-cron', 'nextcloud-db', 'nextcloud-db-dump', 'nextcloud-redis']);
    expect(members(media)).toEqual(['qbittorrent', 'radarr', 'sonarr']);
    expect(members(edge)).toEqual(['authentik-server', 'authentik-worker', 'cloudflared', 'cloudflared-2', 'jellyfin', 'nextcloud', 'nextcloud-cron']);
  });

  it('keeps every secret out of the command lines on the host, and redis asks for its password', async () => {
    const ps = await exec('ps', ['-eo', 'args']);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toContain('redis.conf');
    for (const s of rendered.secretValues) expect(ps.stdout.includes(s.reveal())).toBe(false);
    const composeYaml = readFileSync(path.join(releaseDir, 'compose.yaml'), 'utf8');
    for (const s of rendered.secretValues) expect(composeYaml.includes(s.reveal())).toBe(false);
    const noAuth = await execIn('nextcloud-redis', ['redis-cli', 'ping']);
    expect(noAuth.stdout).toContain('NOAUTH');
  });

  it('has the worker apply the Nextcloud blueprint from the content-addressed module file', async () => {
    let list: { results: Array<{ path: string; status: string; managed_models: string[] }> } = { results: [] };
    for (let i = 0; i < 40; i++) {
      const r = await execIn('authentik-worker', ['curl', '-fsS', '-H', `Authorization: Bearer ${bootstrapToken}`, 'http://localhost:9000/api/v3/managed/blueprints/']);
      if (r.code === 0) {
        list = JSON.parse(r.stdout) as typeof list;
        if (list.results.some((b) => b.path === 'custom/m2-apps.yaml')) break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    const mine = list.results.find((b) => b.path === 'custom/m2-apps.yaml');
    expect(mine).toMatchObject({ status: 'successful' });
    // Nextcloud's OIDC provider and app, and for Jellyfin the LDAP bind account, LDAP provider and outpost (one sign-in).
    expect(mine?.managed_models.sort()).toEqual(['authentik_core.application', 'authentik_core.user', 'authentik_outposts.outpost', 'authentik_providers_ldap.ldapprovider', 'authentik_providers_oauth2.oauth2provider']);
  });

  it('backs up once on request: dumps, a restic snapshot and a status file', async () => {
    const once = await compose(['exec', '--no-TTY', 'backup', ...backupOnceCommand], 120_000);
    expect(once.code, once.stderr).toBe(0);
    const status = JSON.parse(readFileSync(path.join(dataRoot, 'backup', 'status', 'status.json'), 'utf8')) as {
      version: number;
      running: boolean;
      nextRun: string;
      lastRun: { startedAt: string; finishedAt: string; result: string; exitCode: number; snapshotId: string; durationSeconds: number; bytesAdded: number; totalBytes: number; message: string };
    };
    expect(status).toMatchObject({ version: 1, running: false, lastRun: { result: 'success', exitCode: 0, message: 'Backup complete.' } });
    expect(status.lastRun.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(status.lastRun.totalBytes).toBeGreaterThan(0);
    expect(status.lastRun.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(status.nextRun)).toBeGreaterThan(Date.now());
    expect(status.nextRun).toMatch(/T03:30:00Z$/);
    expect(readFileSync(path.join(dataRoot, 'backup', 'dumps', 'nextcloud.sql'), 'utf8')).toContain('PostgreSQL database dump');
    expect(readFileSync(path.join(dataRoot, 'backup', 'dumps', 'authentik.sql'), 'utf8')).toContain('database authentik');

    const snaps = await execIn('backup', ['restic', 'snapshots', '--json']);
    const list = JSON.parse(snaps.stdout) as Array<{ id: string; hostname: string; paths: string[]; tags: string[] }>;
    expect(list).toEqual([expect.objectContaining({ id: status.lastRun.snapshotId, hostname: 'm2-server', tags: ['m2'] })]);
    const ls = await execIn('backup', ['restic', 'ls', '--json', 'latest']);
    expect(ls.stdout).toContain('"path":"/m2/dumps/nextcloud.sql"');
    expect(ls.stdout).toContain('"path":"/source/nextcloud/config/config.php"');
    expect(ls.stdout).not.toMatch(/"path":"[^"]*\.(request|done|failed|err)"/);
  }, 150_000);
});

const execIn = (service: string, argv: readonly string[]): Promise<ExecResult> => compose(['exec', '--no-TTY', service, ...argv]);

describe('env files as Compose reads them', () => {
  it('gives a single-quoted value back literally: $, quotes, #, spaces, backslashes and unicode', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `${project}-dotenv-`));
    try {
      const value = 'p@ss $HOME ${X} "q" #h \\n ü';
      writeFileSync(path.join(dir, 'a.env'), renderEnvFile([['M2_VALUE', new Secret(value)], ['M2_PLAIN', 'abc-_=/+.:@,~%^']]).content);
      writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  x:\n    image: busybox\n    environment:\n      A: ${M2_VALUE}\n      B: ${M2_PLAIN}\n');
      const r = await exec('docker', ['compose', '--project-name', `${project}-dotenv`, '--env-file', 'a.env', 'config', '--format', 'json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const env = (JSON.parse(r.stdout) as { services: { x: { environment: { A: string; B: string } } } }).services.x.environment;
      // `config` writes a compose file again, so it doubles `$`.
      expect(env.A.replace(/\$\$/g, '$')).toBe(value);
      expect(env.B).toBe('abc-_=/+.:@,~%^');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
