import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CloudflareRunReport, PublishReport } from '../../electron/contract/cloudflare';
import { StackSettings, type ApplyResult } from '../../electron/contract/stack';
import { API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { tunnelTokenSecret } from '../../electron/core/stack/modules/cloudflared';
import { renderStack } from '../../electron/core/stack/render';
import type { NetworkName } from '../../electron/core/stack/types';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { dockerApi, ensureDocker } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { connectToLab } from '../support/ssh';
import { makeHarness, type Harness } from './cloudflare-support';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * The tunnel token reaches the lab server only through the stack's env file: the keychain token is rendered by
 * the stack's own renderer (cloudflared module → env/cloudflared.env, 0600, written over SFTP), compose
 * interpolates it into TUNNEL_TOKEN of the cloudflared stand-in (distroless shape, `tunnel --metrics … run`),
 * and the Cloudflare stand-in accepts the token the container holds. The stack's apply engine had not landed
 * when this was written, so the injected redeploy does what its upload + `up --wait` do, for cloudflared only;
 * the project is this test's own, never `m2`.
 */
const lab = inject('lab');
const project = `m2lab-cf-${process.pid}`;
const profileId = `cfd-${randomBytes(4).toString('hex')}`;
const keychain = new KeyringSecretStore();
const notCloudflared = ['jellyfin', 'nextcloud', 'authentik', 'backup', 'wireguard', 'mediaAutomation'] as const;

let standIn: CloudflareStandIn;
let conn: SshConnection;
let h: Harness;
let home = '';
let subnets: Record<NetworkName, string>;
let releases = 0;
const commandLines: string[] = [];

async function run(argv: string[]): Promise<string> {
  commandLines.push(argv.join(' '));
  const r = await conn.exec(argv, { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

async function containerOf(service: string): Promise<{ id: string; env: string[]; args: string[] } | undefined> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] }));
  const list = JSON.parse((await dockerApi('GET', `/containers/json?filters=${filters}`)).body) as Array<{ Id: string }>;
  const id = list[0]?.Id;
  if (!id) return undefined;
  const info = JSON.parse((await dockerApi('GET', `/containers/${id}/json`)).body) as { Config: { Env: string[] }; Args: string[]; Path: string };
  return { id, env: info.Config.Env, args: [info.Path, ...info.Args] };
}

/** What the stack's apply does for this test: render, upload the release over SFTP (env files 0600), `up --wait`. */
async function redeploy(id: string): Promise<ApplyResult> {
  const started = Date.now();
  const token = await keychain.get(id, tunnelTokenSecret);
  if (!token) throw new Error('no tunnel token in the keychain');
  const settings = StackSettings.parse({ dataRoot: `${home}/${project}/data` });
  const rendered = renderStack(settings, new Map([[tunnelTokenSecret, token]]), { m2Dir: `${home}/${project}`, project, subnets, skip: notCloudflared });
  const releaseId = `r${++releases}`;
  const dir = `${home}/${project}/releases/${releaseId}`;
  await run(['mkdir', '-p', '--', `${dir}/env`]);
  for (const f of rendered.releaseFiles) await conn.writeFileAtomic(`${dir}/${f.path}`, f.content, { mode: f.mode });
  const before = await containerOf('cloudflared');
  await run([
    'docker', 'compose', '--project-name', project, '--project-directory', dir, '--file', `${dir}/compose.yaml`,
    ...rendered.envFiles.flatMap((e) => ['--env-file', `${dir}/${e}`]),
    'up', '--detach', '--wait', '--wait-timeout', '60', '--remove-orphans',
  ]);
  const after = await containerOf('cloudflared');
  const action = !before ? 'create' : before.id === after?.id ? 'unchanged' : 'recreate';
  return {
    kind: 'applied',
    releaseId,
    services: [{ service: 'cloudflared', module: 'cloudflared', action, reason: action === 'unchanged' ? 'same configuration' : 'tunnel token changed', image: rendered.serviceImages.cloudflared ?? null }],
    health: [],
    warnings: [],
    durationMs: Date.now() - started,
  };
}

const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('172.28', 200 + (process.pid % 40));

const accepts = async (token: string): Promise<number> =>
  (await fetch(`${standIn.controlUrl}/tunnels/connect`, { method: 'POST', body: JSON.stringify({ token }) })).status;
const tokenIn = (env: string[]): string => (env.find((e) => e.startsWith('TUNNEL_TOKEN=')) ?? '').slice('TUNNEL_TOKEN='.length);

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  subnets = await freeSubnets();
  standIn = await startCloudflareStandIn();
  conn = await connectToLab(lab.ssh);
  home = (await conn.exec(['sh', '-c', 'printf %s "$HOME"'])).stdout;
  h = makeHarness({ standIn, secrets: keychain, redeploy });
  await h.call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all });
  await h.call('cloudflare:save-settings', {
    profileId,
    settings: { accountId: DEFAULT_ACCOUNT_ID, zoneId: DEFAULT_ZONE_ID, zoneName: 'example.com', access: { emails: [], emailDomain: 'example.com' } },
  });
});

afterAll(async () => {
  if (conn && home) {
    await conn.exec(['docker', 'compose', '--project-name', project, 'down', '--volumes', '--remove-orphans'], { timeoutMs: 120_000 }).catch(() => undefined);
    await conn.exec(['rm', '-rf', '--', `${home}/${project}`]).catch(() => undefined);
    await conn.close();
  }
  await standIn?.close();
  for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET]) await keychain.delete(profileId, n).catch(() => undefined);
});

describe('the tunnel token reaches the lab server only through the env file', () => {
  it('publish delivers it in env/cloudflared.env (0600), cloudflared runs with it, the stand-in accepts it, and no command line carries it', async () => {
    const report = await h.call<PublishReport>('cloudflare:publish', { profileId });
    // Any step that did not pass, with its error, is the failure message.
    expect(report.steps.filter((s) => s.status !== 'done' && s.status !== 'unchanged')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.steps.find((s) => s.id === 'deploy')).toMatchObject({ status: 'done', detail: expect.stringContaining('recreated cloudflared') });
    const token = (await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal() ?? '';

    const envFile = `${home}/${project}/releases/r1/env/cloudflared.env`;
    expect((await run(['stat', '-c', '%a %U', '--', envFile])).trim()).toBe(`600 ${lab.ssh.admin.name}`);
    expect((await conn.readFile(envFile)).toString('utf8')).toContain(token);
    expect((await conn.readFile(`${home}/${project}/releases/r1/compose.yaml`)).toString('utf8')).not.toContain(token);

    const c = await containerOf('cloudflared');
    expect(c).toBeDefined();
    expect(tokenIn(c?.env ?? [])).toBe(token);
    expect(c?.args.join(' ')).not.toContain(token);
    expect(c?.args).toEqual(expect.arrayContaining(['tunnel', '--metrics', '0.0.0.0:2000', 'run']));
    const ps = await run(['ps', '-eo', 'args']);
    expect(ps).not.toContain(token);
    for (const line of commandLines) expect(line).not.toContain(token);

    expect(await accepts(tokenIn(c?.env ?? []))).toBe(200);
    const tunnel = standIn.state.snapshot().tunnels[0];
    expect(tunnel?.status).toBe('healthy');

    // Publishing again leaves the running cloudflared alone.
    const again = await h.call<PublishReport>('cloudflare:publish', { profileId });
    expect(again.steps.find((s) => s.id === 'deploy')?.status).toBe('unchanged');
    expect((await containerOf('cloudflared'))?.id).toBe(c?.id);
  });

  it('rotating the tunnel token recreates cloudflared with the new token; the old one is refused', async () => {
    const before = await containerOf('cloudflared');
    const oldToken = tokenIn(before?.env ?? []);
    const r = await h.call<CloudflareRunReport>('cloudflare:rotate-tunnel-token', { profileId });
    expect(r.steps.filter((s) => s.status !== 'done')).toEqual([]);
    expect(r.steps.find((s) => s.id === 'deploy')?.detail).toContain('recreated cloudflared');
    const after = await containerOf('cloudflared');
    expect(after?.id).not.toBe(before?.id);
    const newToken = tokenIn(after?.env ?? []);
    expect(newToken).not.toBe(oldToken);
    expect(newToken).toBe((await keychain.get(profileId, TUNNEL_TOKEN_SECRET))?.reveal());
    expect(await accepts(oldToken)).toBe(404);
    expect(await accepts(newToken)).toBe(200);
    expect(JSON.stringify([h.lines, h.events, h.outputs])).not.toContain(newToken);
  });
});
