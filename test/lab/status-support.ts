/**
 * A small stand-in stack for live-status tests and the status bench: Jellyfin, cloudflared and the backup module,
 * rendered by the product's renderStack under a project name of the caller's own and free subnets, brought up on
 * the lab's Docker Engine, with Jellyfin's wizard done and an API key made (as the post-install step would).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StackSettings } from '../../electron/contract/stack';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { Secret } from '../../electron/core/secrets/secret';
import { backupOnceCommand } from '../../electron/core/stack/modules/backup';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import type { NetworkName, RenderedStack, SecretRequest } from '../../electron/core/stack/types';
import { dockerApi, ensureDocker, exec, type ExecResult } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { freePort } from '../../scripts/lab/process';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

export interface StatusLabStack {
  readonly project: string;
  readonly root: string;
  readonly settings: StackSettings;
  readonly rendered: RenderedStack;
  readonly apiKey: string;
  readonly jellyfinPort: number;
  compose(args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** POST a patch to a stand-in's /__lab/state (by container IP: cloudflared publishes nothing). */
  labState(service: string, port: number, patch?: Record<string, unknown>): Promise<Record<string, unknown>>;
  backupOnce(): Promise<ExecResult>;
  down(): Promise<void>;
}

function generate(r: SecretRequest): Secret {
  if (r.name === 'cloudflared.tunnel-token') {
    return new Secret(Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64'));
  }
  if (r.kind === 'hex32') return new Secret(randomBytes(16).toString('hex'));
  return new Secret(randomBytes(24).toString('base64url'));
}

export const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('172.28', 60 + ((process.pid * 7) % 150));

const jfAuth = (token?: string): string =>
  `MediaBrowser Client="M2 lab", Device="lab", DeviceId="m2-lab-status", Version="1"${token ? `, Token="${token}"` : ''}`;

async function jellyfinApiKey(port: number): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const post = async (p: string, body?: unknown, token?: string): Promise<Response> =>
    fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: jfAuth(token) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  await post('/Startup/User', { Name: 'admin', Password: 'lab-password' });
  await post('/Startup/Complete');
  const login = (await (await post('/Users/AuthenticateByName', { Username: 'admin', Pw: 'lab-password' })).json()) as { AccessToken: string };
  await post('/Auth/Keys?app=M2%20Companion', undefined, login.AccessToken);
  const keys = (await (await fetch(`${base}/Auth/Keys`, { headers: { authorization: jfAuth(login.AccessToken) } })).json()) as { Items: Array<{ AccessToken: string; AppName: string }> };
  const key = keys.Items.find((k) => k.AppName === 'M2 Companion')?.AccessToken;
  if (!key) throw new Error('the Jellyfin stand-in made no API key');
  return key;
}

/** Bring the stack up; `uid`/`gid` own the data folders (the lab admin's, so the agent can read the backup status). */
export async function startStatusStack(name: string, ids: { uid: number; gid: number }): Promise<StatusLabStack> {
  await ensureDocker();
  await ensureStandInImages();
  const project = `m2lab-${name}-${process.pid}`;
  const root = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
  chmodSync(root, 0o755);
  const releaseDir = path.join(root, 'release');
  const jellyfinPort = await freePort();
  const settings = StackSettings.parse({
    dataRoot: path.join(root, 'data'),
    publishAddress: '127.0.0.1',
    uid: ids.uid,
    gid: ids.gid,
    timezone: 'UTC',
    hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
    modules: {
      jellyfin: { lanPort: jellyfinPort, mediaPaths: [path.join(root, 'media')] },
      nextcloud: { enabled: false },
      authentik: { enabled: false },
      cloudflared: { replicas: 1 },
      backup: { repository: path.join(root, 'backup-repo') },
    },
  });
  const secrets = new Map(requiredSecrets(settings).filter((r) => r.optional !== true).map((r) => [r.name, generate(r)]));
  const rendered = renderStack(settings, secrets, { m2Dir: path.join(root, 'm2'), project, subnets: await freeSubnets() });
  for (const f of rendered.releaseFiles) {
    mkdirSync(path.dirname(path.join(releaseDir, f.path)), { recursive: true });
    writeFileSync(path.join(releaseDir, f.path), f.content, { mode: f.mode });
  }
  for (const f of rendered.moduleFiles) {
    mkdirSync(path.dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { mode: f.mode });
  }
  for (const d of [...rendered.hostDirs, path.join(root, 'media'), settings.dataRoot]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, ids.uid, ids.gid);
  }
  const compose = (args: readonly string[], timeoutMs = 180_000): Promise<ExecResult> =>
    exec('docker', ['compose', '--project-name', project, ...rendered.envFiles.flatMap((f) => ['--env-file', f]), '--file', 'compose.yaml', ...args], { cwd: releaseDir, timeoutMs });
  const down = async (): Promise<void> => {
    await compose(['down', '--volumes', '--remove-orphans', '--timeout', '3']);
    rmSync(root, { recursive: true, force: true });
  };
  const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '120'], 200_000);
  if (up.code !== 0) {
    const logs = await compose(['logs', '--no-color', '--tail', '20']);
    await down();
    throw new Error(`up --wait failed (${up.code}):\n${up.stderr}\n${logs.stdout}`);
  }
  const apiKey = await jellyfinApiKey(jellyfinPort);
  const ipOf = async (service: string): Promise<string> => {
    const c = JSON.parse((await dockerApi('GET', `/containers/${project}-${service}-1/json`)).body) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
    const ip = Object.values(c.NetworkSettings.Networks)[0]?.IPAddress;
    if (!ip) throw new Error(`${service} has no IP address`);
    return ip;
  };
  return {
    project,
    root,
    settings,
    rendered,
    apiKey,
    jellyfinPort,
    compose,
    async labState(service, port, patch) {
      const res = await fetch(`http://${await ipOf(service)}:${port}/__lab/state`, patch === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
      if (!res.ok) throw new Error(`/__lab/state of ${service} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    },
    backupOnce: () => compose(['exec', '--no-TTY', 'backup', ...backupOnceCommand], 120_000),
    down,
  };
}

/** Counts TCP connections this process opens to a port (the lab sshd), with their local ports. */
export function countConnectionsTo(port: number): { readonly localPorts: number[]; restore(): void } {
  const localPorts: number[] = [];
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function patched(this: net.Socket, ...args: unknown[]) {
    const opts = args[0] as { port?: number } | number | undefined;
    const target = typeof opts === 'object' && opts !== null ? Number(opts.port) : Number(opts);
    if (target === port) this.once('connect', () => localPorts.push(this.localPort ?? 0));
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  return {
    localPorts,
    restore: () => {
      net.Socket.prototype.connect = original;
    },
  };
}

/** Status agents of a project running on the server as `user`: processes running the script whose parent does not (its subshells share the command line). */
export async function agentProcessCount(conn: Pick<SshConnection, 'exec'>, user: string, project: string): Promise<number> {
  const ps = await conn.exec(['ps', '-o', 'pid=,ppid=,args=', '-u', user]);
  const rows = ps.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.slice(2).join(' ').includes(`m2-status-agent.sh --project ${project} `));
  const pids = new Set(rows.map((f) => f[0]));
  return rows.filter((f) => !pids.has(f[1])).length;
}
