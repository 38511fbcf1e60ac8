import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishReport } from '../../electron/contract/cloudflare';
import { StackSettings, type StackProgress } from '../../electron/contract/stack';
import { API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { CloudflareService } from '../../electron/core/cloudflare/cloudflare-service';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { NetworkName } from '../../electron/core/stack/types';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort, sleep } from '../../scripts/lab/process';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * The product path of issues 5 and 6 together, with the real services as the composition root builds them: the
 * stack service (settings file, lab keychain, render, apply over the lab sshd, post-install configuration) installs
 * the stack without cloudflared (no tunnel yet); the Cloudflare service publishes against the API stand-in and
 * redeploys through the stack service — and only cloudflared is created; rotating the tunnel token recreates only
 * cloudflared. Own project name, ~/m2 folder and subnets, so it never meets other tests on the shared engine.
 */
const profileId = `lab-publish-${randomBytes(3).toString('hex')}`;
const project = `m2lab-publish-${process.pid}`;
const root = `/tmp/m2-publish-lab-${process.pid}`;
const keychain = new KeyringSecretStore();
let standIn: CloudflareStandIn;
let conn: SshConnection;
let stack: StackService;
let cloudflare: CloudflareService;
let dataDir: string;
const logLines: string[] = [];
const progress: StackProgress[] = [];
let m2Dir = '';

async function containers(): Promise<ContainerInfo[]> {
  const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
  return ids.length === 0 ? [] : parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout).sort((a, b) => a.name.localeCompare(b.name));
}
const idsByService = (cs: readonly ContainerInfo[]): Record<string, string> => Object.fromEntries(cs.map((c) => [c.service, c.id]));

const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('10.233', (process.pid * 11) % 250);

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  const sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  standIn = await startCloudflareStandIn();
  const uid = Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim());
  m2Dir = `/home/${sshd.admin.name}/m2`;
  for (const d of [root, path.join(root, 'data')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-publish-app-'));
  const log = createLogger((l) => logLines.push(l));
  stack = new StackService({
    settings: new StackSettingsStore(path.join(dataDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: keychain,
    log,
    onProgress: (p) => progress.push(p),
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    // The product's m2Dir is $HOME/m2; this test's own project keeps clear of the stack-apply test's `m2`.
    renderOverrides: { project, subnets: await freeSubnets() },
  });
  cloudflare = new CloudflareService({
    store: new CloudflareStore(path.join(dataDir, 'cloudflare')),
    secrets: keychain,
    stackSettings: async (id) => (await stack.view(id)).settings,
    redeploy: (id) => stack.apply(id),
    isInstalled: async (id) => (await stack.status(id)).currentRelease !== null,
    log,
    onProgress: () => undefined,
    client: { baseURL: standIn.url, maxRetries: 2, timeoutMs: 5_000 },
  });
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      publishAddress: '127.0.0.1',
      uid,
      gid,
      hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: {
        jellyfin: { lanPort: await freePort() },
        nextcloud: { enabled: false },
        authentik: { enabled: false },
        backup: { enabled: false },
      },
    }),
  );
}, 300_000);

afterAll(async () => {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  // Only this test's releases: the guard's layout is shared with the product's ~/m2 of the lab admin.
  rmSync(m2Dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET, 'jellyfin.admin-password', 'jellyfin.api-key']) await keychain.delete(profileId, n).catch(() => undefined);
  await standIn?.close();
  await conn?.close();
}, 240_000);

describe('install, then publish through Cloudflare', () => {
  it('installs the stack without cloudflared while no tunnel exists, and says why', async () => {
    const plan = await stack.plan(profileId);
    expect(plan.services.map((s) => s.service)).not.toContain('cloudflared');
    expect(plan.warnings.join(' ')).toMatch(/cloudflared is left out/);
    const result = await stack.apply(profileId);
    expect(result.kind).toBe('applied');
    const cs = await containers();
    expect(cs.map((c) => c.service)).toEqual(['jellyfin']);
    expect(progress.some((p) => p.kind === 'phase' && p.phase === 'configure')).toBe(true);
    // The Jellyfin API key obtained by the post-install configuration is in the keychain, never in the logs.
    const apiKey = await keychain.get(profileId, 'jellyfin.api-key');
    expect(apiKey?.reveal()).toMatch(/\S{16,}/);
    expect(logLines.join('\n')).not.toContain(apiKey?.reveal());
  }, 240_000);

  it('publishing creates the tunnel and redeploys: only cloudflared is created, with the token in its 0600 env file', async () => {
    const before = idsByService(await containers());
    await cloudflare.setToken(profileId, DEFAULT_TOKENS.all);
    await cloudflare.saveSettings(profileId, {
      accountId: DEFAULT_ACCOUNT_ID,
      zoneId: DEFAULT_ZONE_ID,
      zoneName: 'example.com',
      access: { emails: ['alice@example.com'], emailDomain: null, sessionDuration: '24h' },
    });
    const report: PublishReport = await cloudflare.publish(profileId);
    expect(report.ok, JSON.stringify(report.steps)).toBe(true);
    expect(report.steps.find((s) => s.id === 'deploy')?.status).toBe('done');

    const after = idsByService(await containers());
    expect(Object.keys(after).sort()).toEqual(['cloudflared', 'jellyfin']);
    expect(after.jellyfin).toBe(before.jellyfin);

    const token = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    expect(token).not.toBe('');
    const live = (await exec('readlink', [path.join(m2Dir, 'current')])).stdout.trim();
    const envFile = path.resolve(m2Dir, live, 'env', 'cloudflared.env');
    expect((await exec('stat', ['-c', '%a %U', envFile])).stdout.trim()).toBe('600 m2admin');
    expect(readFileSync(envFile, 'utf8')).toContain(token);
    // The cloudflared stand-in runs with the token it got from that file, and Cloudflare (the stand-in) accepts it.
    const accepted = await fetch(`${standIn.controlUrl}/tunnels/config`, { method: 'POST', body: JSON.stringify({ token }) });
    expect(accepted.status).toBe(200);
    const args = await new Promise<string>((resolve) => execFile('ps', ['-eo', 'args'], { maxBuffer: 16 << 20 }, (_e, out) => resolve(String(out))));
    expect(args).not.toContain(token);
    expect(logLines.join('\n')).not.toContain(token);
  }, 240_000);

  it('a second publish changes nothing on the server; rotating the tunnel token recreates only cloudflared', async () => {
    const before = idsByService(await containers());
    const again = await cloudflare.publish(profileId);
    expect(again.ok).toBe(true);
    expect(idsByService(await containers())).toEqual(before);

    const oldToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    const rotated = await cloudflare.rotateTunnelToken(profileId);
    expect(rotated.ok, JSON.stringify(rotated.steps)).toBe(true);
    await sleep(200);
    const after = idsByService(await containers());
    expect(after.jellyfin).toBe(before.jellyfin);
    expect(after.cloudflared).not.toBe(before.cloudflared);
    const newToken = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';
    expect(newToken).not.toBe(oldToken);
    const refused = await fetch(`${standIn.controlUrl}/tunnels/config`, { method: 'POST', body: JSON.stringify({ token: oldToken }) });
    expect(refused.status).not.toBe(200);
  }, 240_000);
});
