import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StackSettings, type ApplyResult, type StackProgress } from '../../electron/contract/stack';
import type { UpdateProgress } from '../../electron/contract/updates';
import { AppError } from '../../electron/core/errors';
import { silentLogger } from '../../electron/core/log';
import { Secret } from '../../electron/core/secrets/secret';
import { applyStack, loadGuardScript, stackStatus } from '../../electron/core/stack/apply';
import { parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import type { StackTarget } from '../../electron/core/stack/remote-release';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import type { NetworkName } from '../../electron/core/stack/types';
import { serverHttp } from '../../electron/core/updates/ssh-http';
import { createUpdatesStore, UpdateService } from '../../electron/core/updates/update-service';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { exec } from '../../scripts/lab/docker';
import { freePort } from '../../scripts/lab/process';
import { registryRef } from '../../scripts/lab/registry';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets } from '../support/subnets';

/**
 * Updates through the lab's real registry (Debian's docker-registry, started by the lab): a stack of Jellyfin and
 * cloudflared whose images come from the registry (StackSettings.imageRegistry) is checked for updates over SSH and
 * updated 10.11.11 → 10.11.12; then to a version whose health check fails (rolled back, 10.11.12 still serving); then
 * to one whose pull loses the registry half-way (nothing changed, said so). The registry is reached through a relay
 * this file owns, so "the registry stops mid-pull" is exact: the relay cuts every connection once 1 MiB of a
 * download has passed and refuses new ones. One stack for the whole file.
 */
const project = 'm2upd';
const m2Dir = '/home/m2admin/m2-updates-lab';
const root = `/tmp/m2-updates-lab-${process.pid}`;
const profileId = 'lab-updates';
const UNHEALTHY = '10.11.13';
const BIG = '10.11.14';

let conn: SshConnection;
let target: StackTarget;
let guardScript = '';
let saved: StackSettings;
let subnets: Record<NetworkName, string>;
let lanPort = 0;
const secrets = new Map<string, Secret>();
const progress: StackProgress[] = [];
const steps: UpdateProgress[] = [];
const calls: string[] = [];
let updates: UpdateService;

// ---- the relay in front of the registry ----
const relay = { server: undefined as net.Server | undefined, port: 0, sockets: new Set<net.Socket>(), cutAfter: Infinity, cut: false };
async function openRelay(registryPort: number): Promise<void> {
  relay.cut = false;
  relay.server = net.createServer((client) => {
    const upstream = net.connect(registryPort, '127.0.0.1');
    relay.sockets.add(client).add(upstream);
    let down = 0;
    upstream.on('data', (d: Buffer) => {
      down += d.length;
      if (down > relay.cutAfter && !relay.cut) {
        relay.cut = true;
        // The registry goes away: this download and every other connection end, and nothing answers any more.
        relay.server?.close();
        for (const s of relay.sockets) s.destroy();
      }
    });
    client.pipe(upstream).pipe(client);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      relay.sockets.delete(client);
      relay.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  const server = relay.server;
  await new Promise<void>((resolve) => server.listen(relay.port, '127.0.0.1', () => resolve()));
  relay.port = (server.address() as net.AddressInfo).port;
}

const docker = async (args: string[], input?: string): Promise<string> => {
  const r = await exec('docker', args, { timeoutMs: 300_000, ...(input !== undefined ? { input } : {}), env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

/** A version of the Jellyfin stand-in in the registry (built from 10.11.12, pushed, and not kept locally: the server must pull it). */
async function pushVariant(registry: string, tag: string, dockerfileTail: string): Promise<void> {
  const tags = (await (await fetch(`http://${registry}/v2/jellyfin/jellyfin/tags/list`)).json()) as { tags?: string[] };
  if (tags.tags?.includes(tag)) return;
  const ref = registryRef(registry, 'jellyfin', tag);
  await docker(['build', '--quiet', '--tag', ref, '-'], `FROM jellyfin/jellyfin:10.11.12\n${dockerfileTail}\n`);
  await docker(['push', '--quiet', ref]);
  await docker(['rmi', ref]);
}

async function containersOf(): Promise<ContainerInfo[]> {
  const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
  return ids.length === 0 ? [] : parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout);
}
const containerOf = async (service: string): Promise<ContainerInfo | undefined> => (await containersOf()).find((c) => c.service === service && c.state === 'running');

/** What Jellyfin says its version is, asked on its published port. */
const servedVersion = async (): Promise<string> => ((await (await fetch(`http://127.0.0.1:${String(lanPort)}/System/Info/Public`)).json()) as { Version: string }).Version;

function render(s: StackSettings): ReturnType<typeof renderStack> {
  for (const r of requiredSecrets(s)) if (!secrets.has(r.name) && r.optional !== true) secrets.set(r.name, r.name === 'cloudflared.tunnel-token' ? new Secret(Buffer.from(JSON.stringify({ a: 'f'.repeat(32), t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64')) : new Secret(randomBytes(24).toString('base64url')));
  return renderStack(s, secrets, { m2Dir, project, subnets });
}

/** How long `up --wait` may take: a healthy stand-in is healthy at its first check (5 s); the unhealthy one is given less. */
let waitTimeoutS = 30;
const install = (s: StackSettings): Promise<ApplyResult> =>
  applyStack(target, render(s), { applyId: randomBytes(4).toString('hex'), settings: s, pullPolicy: 'missing', guardScript, waitTimeoutS }, (p) => progress.push(p));

async function cleanUp(): Promise<void> {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  rmSync(m2Dir, { recursive: true, force: true });
}

beforeAll(async () => {
  const lab = inject('lab');
  const sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  guardScript = await loadGuardScript(path.resolve('resources'));
  const uid = Number((await exec('id', ['-u', 'm2admin'])).stdout.trim());
  const gid = Number((await exec('id', ['-g', 'm2admin'])).stdout.trim());
  await cleanUp();
  for (const d of [m2Dir, root, path.join(root, 'data'), path.join(root, 'media')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  target = { conn, dockerAccess: 'group', m2Dir, project, profileId };
  subnets = await freeSubnets('10.236', (process.pid * 11) % 250);
  lanPort = await freePort();
  await pushVariant(lab.registry.host, UNHEALTHY, 'ENV M2_STANDIN_UNHEALTHY=1');
  await pushVariant(lab.registry.host, BIG, 'RUN head -c 12582912 /dev/urandom > /opt/m2-lab-padding');
  await openRelay(lab.registry.port);
  saved = StackSettings.parse({
    dataRoot: path.join(root, 'data'),
    publishAddress: '127.0.0.1',
    uid,
    gid,
    imageRegistry: `127.0.0.1:${String(relay.port)}`,
    modules: { jellyfin: { lanPort, mediaPaths: [path.join(root, 'media')] }, nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false }, wireguard: { enabled: false }, mediaAutomation: { enabled: false } },
  });
  const first = await install(saved);
  expect(first.kind, JSON.stringify(first)).toBe('applied');
  updates = new UpdateService({
    settings: async () => saved,
    saveSettings: async (_p, s) => {
      calls.push('save');
      saved = s;
    },
    http: () => serverHttp(conn),
    running: async () => (await stackStatus(target)).services,
    backup: async () => {
      calls.push('backup');
      return { snapshotId: null, skipped: 'The backup module is off on this server: no backup was taken.' };
    },
    apply: async (_p, s) => {
      calls.push(`apply ${s.imageOverrides.jellyfin ?? '-'}`);
      return install(s);
    },
    store: createUpdatesStore(mkdtempSync(path.join(os.tmpdir(), 'm2-updates-'))),
    emit: (p) => steps.push(p),
    log: silentLogger,
  });
}, 300_000);

afterAll(async () => {
  relay.server?.close();
  for (const s of relay.sockets) s.destroy();
  await conn?.close();
  await cleanUp();
  rmSync(root, { recursive: true, force: true });
}, 300_000);

describe('updates through the lab registry', () => {
  it('checks over SSH: the newer patch versions the registry holds, by policy, with the services that run them', async () => {
    const check = await updates.check(profileId);
    const jf = check.images.find((i) => i.key === 'jellyfin');
    expect(jf).toMatchObject({ current: '10.11.11', registry: `127.0.0.1:${String(relay.port)}`, services: ['jellyfin'], error: null, warning: null });
    expect(jf?.candidates.map((c) => c.tag)).toEqual([BIG, UNHEALTHY, '10.11.12']);
    expect(check.images.find((i) => i.key === 'cloudflared')?.candidates).toEqual([{ tag: '2026.8.3', level: 'patch' }]);
  }, 60_000);

  it('updates 10.11.11 → 10.11.12: backup first, the new image pulled with progress, only Jellyfin recreated, recorded', async () => {
    const cfBefore = await containerOf('cloudflared');
    const jfBefore = await containerOf('jellyfin');
    progress.length = 0;
    const r = await updates.apply(profileId, [{ key: 'jellyfin', tag: '10.11.12' }]);
    expect(r.outcome, JSON.stringify(r.apply)).toBe('updated');
    expect(calls).toEqual(['backup', 'apply 10.11.12', 'save']);
    expect(await servedVersion()).toBe('10.11.12');
    expect((await containerOf('cloudflared'))?.id).toBe(cfBefore?.id);
    expect((await containerOf('jellyfin'))?.id).not.toBe(jfBefore?.id);
    const pulls = progress.filter((p): p is Extract<StackProgress, { kind: 'pull' }> => p.kind === 'pull' && p.image.endsWith('jellyfin:10.11.12'));
    expect(pulls.map((p) => p.status)).toContain('done');
    expect(saved.imageOverrides).toEqual({ jellyfin: '10.11.12' });
    const view = await updates.view(profileId);
    expect(view.versions).toEqual([expect.objectContaining({ key: 'jellyfin', tag: '10.11.12', from: '10.11.11', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as string })]);
    expect(view.history.map((h) => h.outcome)).toEqual(['updated']);
  }, 180_000);

  it('a new version that never becomes healthy is rolled back: 10.11.12 serves again, the settings stay', async () => {
    calls.length = 0;
    // Its check fails from the start; within its 60 s start period Docker still says "starting", and the wait decides.
    waitTimeoutS = 15;
    const r = await updates.apply(profileId, [{ key: 'jellyfin', tag: UNHEALTHY }]).finally(() => {
      waitTimeoutS = 30;
    });
    expect(r.outcome).toBe('rolled-back');
    expect(r.apply.kind).toBe('rolled-back');
    if (r.apply.kind === 'rolled-back') expect(r.apply.report).toMatchObject({ failedService: 'jellyfin', restored: true });
    expect(await servedVersion()).toBe('10.11.12');
    expect((await containerOf('jellyfin'))?.image).toMatch(/jellyfin:10\.11\.12$/);
    expect(saved.imageOverrides).toEqual({ jellyfin: '10.11.12' });
    const view = await updates.view(profileId);
    expect(view.versions[0]).toMatchObject({ tag: '10.11.12' });
    expect(view.history.map((h) => h.outcome)).toEqual(['updated', 'rolled-back']);
  }, 240_000);

  it('the registry stops half-way through the pull: nothing changes, 10.11.12 serves on, and the message names the registry', async () => {
    calls.length = 0;
    const before = await containerOf('jellyfin');
    relay.cutAfter = 1024 * 1024;
    const err = await updates.apply(profileId, [{ key: 'jellyfin', tag: BIG }]).catch((e: unknown) => e);
    expect(relay.cut).toBe(true);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('updates.registry-unreachable');
    expect((err as AppError).userMessage).toContain(`image registry 127.0.0.1:${String(relay.port)}`);
    expect((err as AppError).userMessage).toContain('Nothing was changed: jellyfin 10.11.12 still runs.');
    expect((await containerOf('jellyfin'))?.id).toBe(before?.id);
    expect(await servedVersion()).toBe('10.11.12');
    expect(saved.imageOverrides).toEqual({ jellyfin: '10.11.12' });
    expect((await updates.view(profileId)).history.at(-1)).toMatchObject({ outcome: 'failed', changes: [{ key: 'jellyfin', to: BIG }] });
    // Docker retried the download (5 tries, waiting 5, 10, 15, 20 s): the registry stayed away. A check now says so by name.
    await expect(updates.check(profileId)).rejects.toThrow(`The server could not reach the image registry 127.0.0.1:${String(relay.port)}`);
  }, 240_000);
});
