import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings, type ApplyResult, type StackProgress, type StackSettingsInput } from '../../electron/contract/stack';
import { AppError } from '../../electron/core/errors';
import { Secret } from '../../electron/core/secrets/secret';
import { applyStack, loadGuardScript, rollbackStack, stackStatus, type ApplyOptions } from '../../electron/core/stack/apply';
import { parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import { RELEASE_ID, resolveM2Dir } from '../../electron/core/stack/layout';
import { planStack } from '../../electron/core/stack/plan';
import type { StackTarget } from '../../electron/core/stack/remote-release';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import type { NetworkName, RenderedStack, SecretRequest } from '../../electron/core/stack/types';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { StandInStack } from '../../scripts/lab/images/stack';
import { freePort, sleep, waitFor } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * The apply engine against the lab: real sshd, Docker Engine 20.10 and Compose 2.26, the product's project name
 * `m2` in the admin's ~/m2 (cleaned at start and end: the engine and the home are shared), the real renderStack
 * with the stand-in images. One failing release is derived from a rendered one (a stand-in told to fail its
 * health check). While the file runs, `ps -eo args` is sampled every ~20 ms: no secret may show up in it.
 */
const project = 'm2';
const m2Dir = '/home/m2admin/m2';
const root = `/tmp/m2-apply-lab-${process.pid}`;
const dataRoot = path.join(root, 'data');
const media = path.join(root, 'media', 'Films & "Series" $(x)');
const otherProject = `m2lab-apply-other-${process.pid}`;

let sshd: LabSshd;
let conn: SshConnection;
let target: StackTarget;
let guardScript: string;
let secrets: Map<string, Secret>;
let subnets: Record<NetworkName, string>;
let uid = 0;
let gid = 0;
let lanPort = 0;
let other: StandInStack | undefined;
let otherBefore: ContainerInfo[] = [];
const timings: Record<string, number> = {};
/** The settings of the live release, as the tests move it on. */
let settingsB: StackSettings;

const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');

function generate(r: SecretRequest): Secret {
  if (r.name === 'cloudflared.tunnel-token') return new Secret(tunnelToken);
  if (r.kind === 'token') return new Secret(randomBytes(32).toString('base64url'));
  if (r.kind === 'hex32') return new Secret(randomBytes(16).toString('hex'));
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return new Secret(Array.from(randomBytes(24), (b) => alnum[b % alnum.length]).join(''));
}

/** Three /24s no network on the shared engine uses (fixed subnets collide across projects). */
const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('10.231', (process.pid * 7) % 250);

const settingsWith = (patch: (s: StackSettingsInput) => void = () => {}): StackSettings => {
  const s: StackSettingsInput = {
    dataRoot,
    publishAddress: '127.0.0.1',
    uid,
    gid,
    hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
    modules: {
      jellyfin: { lanPort, mediaPaths: [media] },
      backup: { repository: path.join(root, 'backup-repo') },
      wireguard: { enabled: false },
      mediaAutomation: { enabled: false },
    },
  };
  patch(s);
  return StackSettings.parse(s);
};

const render = (settings: StackSettings): RenderedStack => {
  // Optional secrets (Authentik's LDAP outpost token) come from the server after a first install, as in the app: none here.
  for (const r of requiredSecrets(settings)) if (!secrets.has(r.name) && r.optional !== true) secrets.set(r.name, generate(r));
  return renderStack(settings, secrets, { m2Dir, project, subnets });
};

/** A release derived from `r` where one service's stand-in fails its health check (quickly). */
function withUnhealthy(r: RenderedStack, service: string): RenderedStack {
  const composeFile = r.releaseFiles.find((f) => f.path === 'compose.yaml');
  if (!composeFile) throw new Error('no compose.yaml');
  const doc = YAML.parse(composeFile.content) as { services: Record<string, { environment?: Record<string, string>; healthcheck?: Record<string, unknown> }> };
  const svc = doc.services[service];
  if (!svc) throw new Error(`no service ${service}`);
  svc.environment = { ...(svc.environment ?? {}), M2_STANDIN_UNHEALTHY: '1' };
  svc.healthcheck = { ...svc.healthcheck, interval: '1s', retries: 2, start_period: '0s' };
  const content = YAML.stringify(doc);
  return {
    ...r,
    releaseFiles: r.releaseFiles.map((f) => (f === composeFile ? { ...f, content, masked: content } : f)),
    digest: createHash('sha256').update(r.digest).update(content).digest('hex'),
  };
}

/** A release derived from `r` where one service writes a line with terminal escape codes and exits 3 at once (its health check and start period as rendered). */
function withCrash(r: RenderedStack, service: string): RenderedStack {
  return editCompose(r, (doc) => {
    const svc = doc.services[service];
    if (!svc) throw new Error(`no service ${service}`);
    svc.entrypoint = ['sh', '-c', "printf '\\033[2K\\033[31mfatal:\\033[0m config is broken\\r\\n\\033]0;title\\007plain line\\n'; exit 3"];
  });
}

/** `r` with compose.yaml changed by `edit` (parsed and written again), and its digest following. */
function editCompose(r: RenderedStack, edit: (doc: { services: Record<string, Record<string, unknown>> }) => void, trailer = ''): RenderedStack {
  const composeFile = r.releaseFiles.find((f) => f.path === 'compose.yaml');
  if (!composeFile) throw new Error('no compose.yaml');
  const doc = YAML.parse(composeFile.content) as { services: Record<string, Record<string, unknown>> };
  edit(doc);
  const content = `${YAML.stringify(doc)}${trailer}`;
  return {
    ...r,
    releaseFiles: r.releaseFiles.map((f) => (f === composeFile ? { ...f, content, masked: content } : f)),
    digest: createHash('sha256').update(r.digest).update(content).digest('hex'),
  };
}

/** Every file under `dir` (as root, locally). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

const options = (settings: StackSettings, extra: Partial<ApplyOptions> = {}): ApplyOptions => ({
  applyId: randomBytes(4).toString('hex'),
  settings,
  pullPolicy: 'missing',
  guardScript,
  waitTimeoutS: 120,
  ...extra,
});

async function timedApply(name: string, r: RenderedStack, settings: StackSettings, events: StackProgress[] = [], extra: Partial<ApplyOptions> = {}): Promise<ApplyResult> {
  const t0 = Date.now();
  const result = await applyStack(target, r, options(settings, extra), (p) => events.push(p));
  timings[name] = Date.now() - t0;
  return result;
}

/** The containers of a project as the engine has them (root, locally). */
async function containersOf(p: string): Promise<ContainerInfo[]> {
  const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${p}`])).stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  return parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout).sort((a, b) => a.name.localeCompare(b.name));
}

const byName = (cs: readonly ContainerInfo[]): Map<string, ContainerInfo> => new Map(cs.map((c) => [c.name, c]));
const currentLink = async (): Promise<string> => (await exec('readlink', [path.join(m2Dir, 'current')])).stdout.trim();
const releaseDirs = async (): Promise<string[]> => (await exec('ls', ['-1A', path.join(m2Dir, 'releases')])).stdout.split('\n').filter(Boolean).sort();
const filesDirs = async (): Promise<string[]> => (await exec('ls', ['-1A', path.join(m2Dir, 'files')])).stdout.split('\n').filter(Boolean).sort();

async function cleanM2(): Promise<void> {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  rmSync(m2Dir, { recursive: true, force: true });
}

/** `ps -eo args` every ~20 ms while the file runs; every secret value must be absent from every sample. */
const sampler = { running: false, samples: 0, leaks: [] as string[], done: Promise.resolve() };
function startSampler(): void {
  sampler.running = true;
  sampler.done = (async () => {
    while (sampler.running) {
      const out = await new Promise<string>((resolve) => execFile('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 }, (_e, stdout) => resolve(String(stdout))));
      sampler.samples++;
      for (const s of secrets.values()) if (out.includes(s.reveal())) sampler.leaks.push(out.split('\n').find((l) => l.includes(s.reveal()))?.replace(s.reveal(), '<SECRET>') ?? '?');
      await sleep(20);
    }
  })();
}

beforeAll(async () => {
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  expect(await resolveM2Dir(conn)).toBe(m2Dir);
  target = { conn, dockerAccess: 'group', m2Dir, project, profileId: 'lab-apply' };
  guardScript = await loadGuardScript(path.resolve('resources'));
  const ids = (await exec('id', ['-u', 'm2admin'])).stdout.trim();
  uid = Number(ids);
  gid = Number((await exec('id', ['-g', 'm2admin'])).stdout.trim());
  await cleanM2();
  rmSync(root, { recursive: true, force: true });
  for (const d of [root, dataRoot, media]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  chownSync(path.dirname(media), uid, gid);
  writeFileSync(path.join(media, 'film.mkv'), 'not really a film');
  lanPort = await freePort();
  subnets = await freeSubnets();
  secrets = new Map();

  other = StandInStack.create(otherProject, {
    services: {
      sonarr: { image: 'lscr.io/linuxserver/sonarr:4.0.15', volumes: ['data:/config'], healthcheck: { test: ['CMD', 'curl', '-fsS', 'http://localhost:8989/ping'], interval: '1s', timeout: '5s', retries: 30 } },
    },
    volumes: { data: {} },
  });
  await other.up();
  otherBefore = await containersOf(otherProject);
  startSampler();
}, 300_000);

afterAll(async () => {
  sampler.running = false;
  await sampler.done;
  await conn?.close();
  await cleanM2();
  if (other) await other.down();
  rmSync(root, { recursive: true, force: true });
  console.log(`stack-apply timings (ms): ${JSON.stringify(timings)}; ps samples: ${sampler.samples}`);
}, 300_000);

describe('applying the stack over SSH', () => {
  let release1 = '';
  let release2 = '';

  it('installs fresh: every service healthy, `current` switched, env files 0600, module files in place', async () => {
    const settings = settingsWith();
    const rendered = render(settings);
    const plan = await planStack(target, rendered);
    expect(plan.currentRelease).toBeNull();
    expect(plan.noop).toBe(false);
    expect(plan.services.every((s) => s.action === 'create')).toBe(true);
    expect(plan.files.find((f) => f.path === 'env/nextcloud.env')).toMatchObject({ status: 'added', secret: true, mode: '0600' });
    for (const f of plan.files) for (const s of secrets.values()) expect(`${f.preview}${f.diff}`).not.toContain(s.reveal());

    const events: StackProgress[] = [];
    const result = await timedApply('fresh', rendered, settings, events);
    expect(result.kind, JSON.stringify(result)).toBe('applied');
    if (result.kind !== 'applied') return;
    release1 = result.releaseId;
    expect(release1).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expect(await currentLink()).toBe(`releases/${release1}`);
    const services = Object.keys(rendered.serviceModules).sort();
    expect([...new Set(result.health.map((h) => h.service))].sort()).toEqual(services);
    for (const h of result.health) {
      expect(h.state, h.service).toBe('running');
      expect(['healthy', ''], h.service).toContain(h.health);
    }
    expect(events.filter((e) => e.kind === 'phase').map((e) => (e.kind === 'phase' ? e.phase : ''))).toEqual(['prepare', 'upload', 'validate', 'pull', 'start', 'health', 'switch', 'done']);
    expect(events.filter((e) => e.kind === 'service')).toHaveLength(result.health.length);
    expect(events.filter((e) => e.kind === 'pull').every((e) => e.kind === 'pull' && e.status === 'present')).toBe(true);

    const rel = path.join(m2Dir, 'releases', release1);
    const stat = (await exec('stat', ['-c', '%a %U', ...rendered.envFiles.map((e) => path.join(rel, e)), rel])).stdout.trim().split('\n');
    expect(stat).toEqual([...rendered.envFiles.map(() => '600 m2admin'), '700 m2admin']);
    for (const f of rendered.moduleFiles) expect(readFileSync(f.path, 'utf8')).toBe(f.content);
    const manifest = JSON.parse(readFileSync(path.join(rel, 'release.json'), 'utf8')) as { state: string; digest: string };
    expect(manifest).toMatchObject({ state: 'live', digest: rendered.digest });
    const status = await stackStatus(target);
    expect(status).toMatchObject({ currentRelease: release1, previousRelease: null });
    expect(status.services.length).toBe(result.health.length);
    const res = await fetch(`http://127.0.0.1:${lanPort}/health`);
    expect(res.status).toBe(200);
  }, 300_000);

  it('re-applies an unchanged stack without recreating or restarting any container', async () => {
    const settings = settingsWith();
    const rendered = render(settings);
    const plan = await planStack(target, rendered);
    expect(plan.noop, JSON.stringify(plan.services.filter((s) => s.action !== 'unchanged'))).toBe(true);
    const before = await containersOf(project);
    const events: StackProgress[] = [];
    const result = await timedApply('noop', rendered, settings, events);
    // Said after one check: no lock, upload or `up`.
    expect(result).toMatchObject({ kind: 'applied', releaseId: release1, nothingToChange: true });
    const services = Object.keys(rendered.serviceModules).length;
    expect(events.filter((e) => e.kind === 'phase').map((e) => (e.kind === 'phase' ? e.message : ''))).toEqual(['Checking the server', `Nothing to change; all ${String(services)} services healthy`]);
    const after = await containersOf(project);
    expect(after.map((c) => [c.name, c.id, c.startedAt])).toEqual(before.map((c) => [c.name, c.id, c.startedAt]));
    expect(await releaseDirs()).toEqual([release1]);
  }, 120_000);

  it('re-applying with a container stopped takes the full path and brings it back, touching no other', async () => {
    const settings = settingsWith();
    const rendered = render(settings);
    const before = byName(await containersOf(project));
    const stopped = [...before.values()].find((c) => c.service === 'redis') ?? [...before.values()][0];
    if (!stopped) throw new Error('no container');
    await exec('docker', ['stop', '--time', '5', stopped.id]);
    expect(byName(await containersOf(project)).get(stopped.name)?.state).toBe('exited');
    const result = await timedApply('noop-stopped', rendered, settings);
    expect(result.kind, JSON.stringify(result)).toBe('applied');
    if (result.kind !== 'applied') return;
    expect(result.nothingToChange).toBeUndefined();
    expect(result.releaseId).toBe(release1);
    expect(result.services.filter((s) => s.action !== 'unchanged').map((s) => s.service)).toEqual([stopped.service]);
    const after = await containersOf(project);
    for (const c of after) {
      expect(c.state, c.name).toBe('running');
      const b = before.get(c.name);
      if (c.name === stopped.name) expect(c.startedAt).not.toBe(b?.startedAt);
      else expect([c.id, c.startedAt], c.name).toEqual([b?.id, b?.startedAt]);
    }
    // Healthy again: the next apply is a no-op once more.
    expect(await applyStack(target, rendered, options(settings), () => {})).toMatchObject({ kind: 'applied', nothingToChange: true });
  }, 300_000);

  it('re-applying after a live file was edited on the server takes the full path and puts the file right, touching no container', async () => {
    const settings = settingsWith();
    const rendered = render(settings);
    const live = path.join(m2Dir, 'releases', release1, 'compose.yaml');
    await exec('sh', ['-c', 'printf "# edited on the server\\n" >> "$1"', 'edit', live]);
    const before = await containersOf(project);
    const result = await timedApply('noop-drift', rendered, settings);
    expect(result.kind, JSON.stringify(result)).toBe('applied');
    if (result.kind !== 'applied') return;
    expect(result.nothingToChange).toBeUndefined();
    // A fresh copy of the same content (the edited folder is not reused), and the containers as they were.
    expect(result.releaseId).not.toBe(release1);
    expect(readFileSync(path.join(m2Dir, 'releases', result.releaseId, 'compose.yaml'), 'utf8')).toBe(rendered.releaseFiles.find((f) => f.path === 'compose.yaml')?.content);
    expect((await containersOf(project)).map((c) => [c.name, c.id, c.startedAt])).toEqual(before.map((c) => [c.name, c.id, c.startedAt]));
    expect(await applyStack(target, rendered, options(settings), () => {})).toMatchObject({ kind: 'applied', nothingToChange: true, releaseId: result.releaseId });
    release1 = result.releaseId;
  }, 300_000);

  it('changing one module’s setting recreates only that module’s containers', async () => {
    // One setting of one module: Jellyfin's published port.
    lanPort = await freePort();
    settingsB = settingsWith();
    const rendered = render(settingsB);
    const plan = await planStack(target, rendered);
    expect(plan.noop).toBe(false);
    const changed = plan.services.filter((s) => s.action !== 'unchanged');
    expect(changed).toEqual([expect.objectContaining({ service: 'jellyfin', module: 'jellyfin', action: 'recreate', reason: 'configuration changed' })]);
    const composeChange = plan.files.find((f) => f.path === 'compose.yaml');
    expect(composeChange?.status).toBe('changed');
    expect(composeChange?.diff).toContain(`+`);
    expect(composeChange?.diff).toContain(String(lanPort));

    const before = byName(await containersOf(project));
    const result = await timedApply('one-module', rendered, settingsB);
    expect(result.kind, JSON.stringify(result)).toBe('applied');
    if (result.kind !== 'applied') return;
    release2 = result.releaseId;
    expect(result.services.filter((s) => s.action !== 'unchanged').map((s) => s.service)).toEqual(['jellyfin']);
    const after = await containersOf(project);
    for (const c of after) {
      const b = before.get(c.name);
      if (c.service === 'jellyfin') expect(c.id).not.toBe(b?.id);
      else expect([c.name, c.id, c.startedAt]).toEqual([b?.name, b?.id, b?.startedAt]);
    }
    expect(await currentLink()).toBe(`releases/${release2}`);
    expect(await stackStatus(target)).toMatchObject({ currentRelease: release2, previousRelease: release1 });
    expect((await fetch(`http://127.0.0.1:${lanPort}/health`)).status).toBe(200);
  }, 300_000);

  it('rolls back by itself when a service fails its health check, and reports it with its last log lines', async () => {
    const failing = withUnhealthy(render(settingsB), 'jellyfin');
    const before = byName(await containersOf(project));
    const events: StackProgress[] = [];
    const result = await timedApply('failed-health-rollback', failing, settingsB, events, { waitTimeoutS: 60 });
    expect(result.kind, JSON.stringify(result)).toBe('rolled-back');
    if (result.kind !== 'rolled-back') return;
    expect(result.report).toMatchObject({ failedService: 'jellyfin', restoredRelease: release2, restored: true });
    expect(result.report.reason).toMatch(/jellyfin did not become healthy/);
    expect(result.report.logTail.length).toBeGreaterThan(0);
    expect(events.some((e) => e.kind === 'phase' && e.phase === 'rollback')).toBe(true);
    expect(await currentLink()).toBe(`releases/${release2}`);
    const after = await containersOf(project);
    for (const c of after) {
      const b = before.get(c.name);
      expect(c.state, c.name).toBe('running');
      // The failed service is back on the previous configuration; the others never stopped.
      expect(c.configHash, c.name).toBe(b?.configHash);
      if (c.service !== 'jellyfin') expect([c.id, c.startedAt]).toEqual([b?.id, b?.startedAt]);
    }
    const manifest = JSON.parse(readFileSync(path.join(m2Dir, 'releases', result.attemptedRelease, 'release.json'), 'utf8')) as { state: string };
    expect(manifest.state).toBe('failed');
    await waitFor('jellyfin healthy again', async () => (await fetch(`http://127.0.0.1:${lanPort}/health`)).status === 200, 30_000);
  }, 300_000);

  it('a service that exits at once is rolled back as soon as that is certain, with log lines free of escape codes', async () => {
    const failing = withCrash(render(settingsB), 'jellyfin');
    // jellyfin's rendered health check has a 60 s start period, and up may wait 120 s: neither is waited out.
    expect(failing.releaseFiles.find((f) => f.path === 'compose.yaml')?.content).toMatch(/start_period: 60s/);
    const before = byName(await containersOf(project));
    const events: StackProgress[] = [];
    const result = await timedApply('crash-rollback', failing, settingsB, events, { waitTimeoutS: 120 });
    expect(result.kind, JSON.stringify(result)).toBe('rolled-back');
    if (result.kind !== 'rolled-back') return;
    const { report } = result;
    expect(report.decidedBy).toMatchObject({ kind: 'certain-failure', service: 'jellyfin' });
    expect(report.decidedBy.kind === 'certain-failure' && ['exited', 'restarting'].includes(report.decidedBy.evidence)).toBe(true);
    expect(report).toMatchObject({ failedService: 'jellyfin', restoredRelease: release2, restored: true });
    expect(report.reason).toMatch(/^jellyfin (exited with code 3|kept stopping) as it started/);
    // eslint-disable-next-line no-control-regex -- the point is that no control character reaches the page
    const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
    for (const line of [report.reason, ...report.logTail]) expect(line).not.toMatch(controls);
    expect(report.logTail).toContain('fatal: config is broken');
    expect(report.logTail).toContain('plain line');
    // Decided on the crash itself (by the app's watch, or by Compose when one of its polls fell between an exit
    // and the restart): nothing waited for the start period or the wait timeout.
    const phases = events.filter((e) => e.kind === 'phase').map((e) => (e.kind === 'phase' ? e.phase : ''));
    expect(phases.slice(-4)).toEqual(['start', 'health', 'rollback', 'done']);
    expect(readFileSync(path.join(m2Dir, 'releases', result.attemptedRelease, 'apply.log'), 'utf8')).not.toMatch(controls);
    expect(await currentLink()).toBe(`releases/${release2}`);
    for (const c of await containersOf(project)) {
      expect(c.state, c.name).toBe('running');
      expect(c.configHash, c.name).toBe(before.get(c.name)?.configHash);
    }
    expect((await fetch(`http://127.0.0.1:${lanPort}/health`)).status).toBe(200);
  }, 300_000);

  it('ten interrupted or identical applies leave at most the configured number of releases, and no secret outside them', async () => {
    const keepReleases = 2;
    const { previousRelease } = await stackStatus(target);
    expect(previousRelease).not.toBeNull();
    const liveSecrets = [...secrets.values()].map((s) => s.reveal());
    // Five contents, each applied twice: compose.yaml differs by a comment only, so no container is touched.
    const variant = (n: number): RenderedStack => editCompose(render(settingsB), () => {}, `# lab variant ${String(n)}\n`);
    const attempts: string[] = [];
    for (let i = 0; i < 10; i++) {
      if (i === 5) {
        // An upload cut off half-way by a process that died: a `.partial` with an env file holding a secret.
        const leftover = path.posix.join(m2Dir, 'releases', '20260101T000000Z-0badc0de.partial');
        await conn.exec(['mkdir', '-p', '-m', '700', '--', `${leftover}/env`]);
        await conn.writeFileAtomic(`${leftover}/env/jellyfin.env`, `SECRET=${liveSecrets[0] ?? ''}\n`, { mode: 0o600 });
      }
      const stop = new AbortController();
      const result = await applyStack(target, variant(Math.floor(i / 2)), options(settingsB, { keepReleases, signal: stop.signal }), (p) => {
        if (p.kind === 'phase' && p.phase === 'start') stop.abort();
      });
      expect(result.kind, JSON.stringify(result)).toBe('rolled-back');
      if (result.kind !== 'rolled-back') return;
      expect(result.report.decidedBy).toEqual({ kind: 'cancelled' });
      expect(result.report.restored).toBe(true);
      // The identical second apply reuses the folder of the first.
      if (i % 2 === 1) expect(result.attemptedRelease).toBe(attempts.at(-1));
      attempts.push(result.attemptedRelease);
      const releases = (await releaseDirs()).filter((d) => RELEASE_ID.test(d));
      expect(releases.length, releases.join(' ')).toBeLessThanOrEqual(keepReleases + 2);
    }
    expect(new Set(attempts).size).toBe(5);
    expect(await currentLink()).toBe(`releases/${release2}`);
    const left = await releaseDirs();
    expect(left.filter((d) => !RELEASE_ID.test(d))).toEqual([]);
    expect(left.sort()).toEqual([release2, previousRelease ?? '', ...attempts.slice(-3).filter((_, k) => k !== 1)].sort());
    // Every file holding a secret value is in a release that is still there (compose env files, 0600).
    for (const file of filesUnder(m2Dir)) {
      const text = readFileSync(file, 'utf8');
      if (!liveSecrets.some((v) => text.includes(v))) continue;
      const rel = path.relative(path.join(m2Dir, 'releases'), file).split(path.sep);
      expect(left, file).toContain(rel[0]);
      expect(rel[1], file).toBe('env');
    }
    expect((await fetch(`http://127.0.0.1:${lanPort}/health`)).status).toBe(200);
  }, 300_000);

  it('a cut connection during apply leaves the previous release running, and the next apply converges', async () => {
    const cut = await connectToLab(sshd);
    const sessionPid = Number((await cut.exec(['sh', '-c', 'echo $PPID'])).stdout.trim());
    expect(sessionPid).toBeGreaterThan(1);
    const newPort = await freePort();
    const settingsC = settingsWith((s) => {
      s.modules = { ...s.modules, jellyfin: { lanPort: newPort, mediaPaths: [media] } };
    });
    const rendered = render(settingsC);
    const before = byName(await containersOf(project));
    let killed = false;
    const applying = applyStack({ ...target, conn: cut }, rendered, options(settingsC), (p) => {
      if (p.kind === 'phase' && p.phase === 'start' && !killed) {
        killed = true;
        // Kill the sshd process serving this connection while compose is recreating jellyfin.
        setTimeout(() => process.kill(sessionPid, 'SIGKILL'), 300);
      }
    });
    await expect(applying).rejects.toBeInstanceOf(AppError);
    expect(killed).toBe(true);
    await cut.close();
    await waitFor('the guard to finish its rollback', async () => (await exec('pgrep', ['-f', 'm2/bin/m2-apply.sh'])).code === 1, 120_000, 250);
    expect(await currentLink()).toBe(`releases/${release2}`);
    const after = await containersOf(project);
    for (const c of after) {
      const b = before.get(c.name);
      expect(c.state, c.name).toBe('running');
      expect(c.configHash, c.name).toBe(b?.configHash);
      if (c.service !== 'jellyfin') expect([c.id, c.startedAt]).toEqual([b?.id, b?.startedAt]);
    }
    expect((await fetch(`http://127.0.0.1:${lanPort}/health`)).status).toBe(200);

    const converge = await timedApply('after-cut', rendered, settingsC);
    expect(converge.kind, JSON.stringify(converge)).toBe('applied');
    expect((await fetch(`http://127.0.0.1:${newPort}/health`)).status).toBe(200);
    // No half-uploaded leftovers.
    expect((await releaseDirs()).filter((d) => d.endsWith('.partial'))).toEqual([]);
    lanPort = newPort;
    settingsB = settingsC;
    if (converge.kind === 'applied') release2 = converge.releaseId;
  }, 300_000);

  it('lets one apply run at a time: a concurrent one is refused as busy', async () => {
    // A change (a comment in compose.yaml): an unchanged stack would be answered without the lock.
    const rendered = editCompose(render(settingsB), () => {}, '# lab: one at a time\n');
    const results = await Promise.allSettled([applyStack(target, rendered, options(settingsB), () => {}), applyStack(target, rendered, options(settingsB), () => {})]);
    const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof AppError && r.reason.code === 'stack.busy');
    const applied = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'applied');
    expect([busy.length, applied.length]).toEqual([1, 1]);
  }, 120_000);

  it('rolls back by hand to the previous release, and forward again', async () => {
    const { currentRelease: live, previousRelease: previous } = await stackStatus(target);
    expect(previous).not.toBeNull();
    const back = await rollbackStack(target, { applyId: 'manual', guardScript, secretValues: [...secrets.values()] }, () => {});
    expect(back).toMatchObject({ kind: 'applied', releaseId: previous });
    expect(await stackStatus(target)).toMatchObject({ currentRelease: previous, previousRelease: live });
    const forward = await rollbackStack(target, { applyId: 'manual-2', guardScript }, () => {});
    expect(forward).toMatchObject({ kind: 'applied', releaseId: live });
    expect((await fetch(`http://127.0.0.1:${lanPort}/health`)).status).toBe(200);
  }, 300_000);
});

describe('bad input changes nothing on the server', () => {
  const snapshot = async (): Promise<unknown> => ({
    current: await currentLink(),
    releases: await releaseDirs(),
    files: await filesDirs(),
    containers: (await containersOf(project)).map((c) => [c.name, c.id, c.startedAt, c.state]),
  });

  const expectRefused = async (settings: StackSettings, want: { code: string; field?: string; message?: RegExp }, extra: Partial<ApplyOptions> = {}, rendered?: RenderedStack): Promise<void> => {
    const before = await snapshot();
    const err = await applyStack(target, rendered ?? render(settings), options(settings, extra), () => {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: want.code, ...(want.field ? { field: want.field } : {}) });
    if (want.message) expect((err as AppError).userMessage).toMatch(want.message);
    expect(await snapshot()).toEqual(before);
  };

  it('a media folder that does not exist', async () => {
    const missing = path.join(root, 'no such media');
    await expectRefused(settingsWith((s) => (s.modules = { ...s.modules, jellyfin: { lanPort, mediaPaths: [media, missing] } })), { code: 'stack.data-path', field: 'modules.jellyfin.mediaPaths', message: /no such media/ });
  });

  it('a data root the SSH user cannot write', async () => {
    const locked = path.join(root, 'root-owned');
    mkdirSync(locked, { recursive: true, mode: 0o755 });
    await expectRefused(settingsWith((s) => (s.dataRoot = locked)), { code: 'stack.data-path', field: 'dataRoot', message: /not writable/ });
    await expectRefused(settingsWith((s) => (s.dataRoot = path.join(locked, 'below'))), { code: 'stack.data-path', field: 'dataRoot', message: /cannot create/ });
  });

  it('too little free space for the data', async () => {
    // A change (a comment in compose.yaml): an apply with nothing to change writes nothing, so space is not asked.
    const settings = settingsWith();
    await expectRefused(settings, { code: 'stack.data-path', field: 'dataRoot', message: /free/ }, { minFreeBytes: 2 ** 60 }, editCompose(render(settings), () => {}, '# lab: needs space\n'));
  });

  it('a port another program listens on', async () => {
    const server = net.createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '0.0.0.0', () => resolve((server.address() as net.AddressInfo).port)));
    try {
      await expectRefused(settingsWith((s) => (s.modules = { ...s.modules, jellyfin: { lanPort: port, mediaPaths: [media] } })), { code: 'stack.port-taken', field: 'modules.jellyfin.lanPort', message: new RegExp(`${port}/tcp for jellyfin`) });
    } finally {
      server.close();
    }
  });

  it('an image that is not on the server while the registry cannot be reached', async () => {
    await expectRefused(settingsWith((s) => (s.imageOverrides = { jellyfin: '0.0.0-m2-missing' })), { code: 'stack.image-missing', message: /jellyfin\/jellyfin:0\.0\.0-m2-missing.*needed by jellyfin/ });
  }, 120_000);

  it('an image pull that fails for an image already present goes on with a warning (policy always)', async () => {
    const rendered = render(settingsB);
    const events: StackProgress[] = [];
    const result = await applyStack(target, rendered, options(settingsB, { pullPolicy: 'always' }), (p) => events.push(p));
    expect(result.kind).toBe('applied');
    expect(result.warnings.length).toBeGreaterThan(0);
    expect(events.some((e) => e.kind === 'pull' && e.status === 'failed')).toBe(true);
    expect(events.some((e) => e.kind === 'warning')).toBe(true);
  }, 120_000);
});

describe('around the stack', () => {
  it('leaves another Compose project untouched through install, change, rollback and a cut connection', async () => {
    const after = await containersOf(otherProject);
    expect(after.map((c) => [c.name, c.id, c.startedAt, c.state, c.health])).toEqual(otherBefore.map((c) => [c.name, c.id, c.startedAt, 'running', 'healthy']));
  });

  it('never showed a secret value in any command line on the server while applying', async () => {
    expect(sampler.samples).toBeGreaterThan(50);
    expect(sampler.leaks).toEqual([]);
  });
});
