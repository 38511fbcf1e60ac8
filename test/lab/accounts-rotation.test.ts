import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { AccountsService } from '../../electron/core/accounts/accounts-service';
import { SecretRotation, previousName, rotatingName } from '../../electron/core/accounts/rotation';
import { AppError } from '../../electron/core/errors';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import type { Secret } from '../../electron/core/secrets/secret';
import { parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { NetworkName } from '../../electron/core/stack/types';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * Rotating the stack's generated secrets against the lab, with the services wired as the composition root wires
 * them: the stack service (settings file, the lab's real keychain, apply over the lab sshd) installs Jellyfin, Nextcloud (with
 * Postgres and Redis) and Authentik (server, worker, Postgres) from the stand-ins; the accounts service rotates. Each
 * rotation is proven from outside the app: the old value is refused and the new one works, at the service itself
 * (Nextcloud's OCS API with HTTP Basic, redis-cli, psql over TCP, Authentik's readiness). No value is ever on a
 * command line of the server (this machine: `ps` is sampled all along) or in the log. Own project, ~/m2 and subnets.
 */
const profileId = `lab-rotation-${randomBytes(3).toString('hex')}`;
const project = `m2lab-rotation-${process.pid}`;
const root = `/tmp/m2-rotation-lab-${process.pid}`;
const keychain = new KeyringSecretStore();
const ADMIN = 'householdadmin';
let conn: SshConnection;
let stack: StackService;
let accounts: AccountsService;
let dataDir: string;
let m2Dir = '';
const logLines: string[] = [];
/** The next install through the rotation: replaced by a test to cut one short. */
let redeploy: (id: string, secret: string) => ReturnType<StackService['apply']>;
let rotation: SecretRotation;

async function containers(): Promise<ContainerInfo[]> {
  const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
  return ids.length === 0 ? [] : parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout);
}
async function container(service: string): Promise<ContainerInfo> {
  const c = (await containers()).find((x) => x.service === service && x.state === 'running');
  if (!c) throw new Error(`no running ${service}`);
  return c;
}
async function ipOf(service: string): Promise<string> {
  const r = await exec('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', (await container(service)).id]);
  const ip = r.stdout.trim().split(/\s+/)[0];
  if (!ip) throw new Error(`${service} has no address`);
  return ip;
}

/** GET from a container's address, with a Host header the service trusts. */
function get(ip: string, port: number, p: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: ip, port, path: p, method: 'GET', headers, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Nextcloud signs the admin in with this password (its OCS API, HTTP Basic), as a client would. */
const nextcloudLogin = async (password: string): Promise<number> =>
  get(await ipOf('nextcloud'), 80, '/ocs/v2.php/cloud/user?format=json', {
    host: 'nextcloud',
    'ocs-apirequest': 'true',
    authorization: `Basic ${Buffer.from(`${ADMIN}:${password}`).toString('base64')}`,
  });

/** `redis-cli ping` in the Redis container with this password (the test's own command line, not the app's). */
const redisPing = async (password: string): Promise<string> => (await exec('docker', ['exec', '--env', `REDISCLI_AUTH=${password}`, (await container('nextcloud-redis')).id, 'redis-cli', '--no-auth-warning', 'ping'])).stdout.trim();

/** psql over TCP to the Authentik database as its role, with this password: exit 0 when it may sign in. */
const psqlLogin = async (password: string): Promise<{ code: number | null; out: string }> => {
  const r = await exec('docker', ['exec', '--env', `PGPASSWORD=${password}`, (await container('authentik-db')).id, 'psql', '-h', 'authentik-db', '-U', 'authentik', '-d', 'authentik', '-c', 'SELECT 1']);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
};

const authentikReady = async (): Promise<number> => get(await ipOf('authentik-server'), 9000, '/-/health/ready/');

const value = async (name: string): Promise<string> => {
  const v: Secret | undefined = await keychain.get(profileId, name);
  if (!v) throw new Error(`${name} is not in the keychain`);
  return v.reveal();
};

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

const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('10.236', (process.pid * 13) % 250);

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  const sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  const uid = Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim());
  m2Dir = `/home/${sshd.admin.name}/m2`;
  for (const d of [root, path.join(root, 'data')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-rotation-app-'));
  const log = createLogger((l) => logLines.push(l));
  stack = new StackService({
    settings: new StackSettingsStore(path.join(dataDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: keychain,
    log,
    onProgress: () => undefined,
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    renderOverrides: { project, subnets: await freeSubnets() },
    applyOverrides: { authentikTimeoutMs: 120_000 },
    beforeInstall: (id, finishing) => rotation.assertInstallAllowed(id, finishing),
  });
  redeploy = (id, secret) => stack.apply(id, { finishing: secret });
  // As electron/core/services.ts wires them.
  accounts = new AccountsService({
    settings: async (id) => (await stack.view(id)).settings,
    serverHost: async () => '127.0.0.1',
    published: async () => [],
    secrets: { get: (id, name) => stack.secrets.get(id, name) },
    rotation: (rotation = new SecretRotation({
      settings: async (id) => (await stack.view(id)).settings,
      secrets: stack.secrets,
      target: async () => ({ conn, dockerAccess: 'group', project }),
      redeploy: (id, secret) => redeploy(id, secret),
      installed: async (id) => (await stack.status(id)).currentRelease !== null,
      log,
    })),
    log,
  });
  const base = StackSettings.parse({});
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      publishAddress: '127.0.0.1',
      uid,
      gid,
      hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: {
        ...base.modules,
        jellyfin: { ...base.modules.jellyfin, lanPort: await freePort() },
        nextcloud: { ...base.modules.nextcloud, enabled: true, adminUser: ADMIN },
        authentik: { ...base.modules.authentik, enabled: true },
        cloudflared: { ...base.modules.cloudflared, enabled: false },
        backup: { ...base.modules.backup, enabled: false },
      },
    }),
  );
}, 300_000);

afterAll(async () => {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  // Only this test's releases: the guard's layout is shared with the product's ~/m2 of the lab admin.
  if (m2Dir) rmSync(m2Dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  for (const n of await keychain.names(profileId).catch(() => [])) await keychain.delete(profileId, n).catch(() => undefined);
  await conn?.close();
}, 240_000);

describe('rotating the stack’s generated secrets on the lab server', () => {
  it('installs Jellyfin, Nextcloud (Postgres, Redis) and Authentik; the plan says what each rotation restarts, before anything runs', async () => {
    const result = await stack.apply(profileId);
    expect(result.kind, JSON.stringify(result)).toBe('applied');
    // One sign-in: configuration fetched the LDAP outpost's token and the install's second release started the outpost.
    expect((result.kind === 'applied' ? result.warnings : []).filter((w) => /outpost|configur/i.test(w))).toEqual([]);
    expect((await container('authentik-ldap')).service).toBe('authentik-ldap');
    expect(await nextcloudLogin(await value('nextcloud.admin-password'))).toBe(200);
    expect(await redisPing(await value('nextcloud.redis-password'))).toBe('PONG');
    expect(await authentikReady()).toBe(200);

    const plans = Object.fromEntries((await accounts.rotations(profileId)).map((p) => [p.secret, p]));
    expect(plans['nextcloud.admin-password']).toMatchObject({ rotatable: true, restarts: ['nextcloud'] });
    expect(plans['nextcloud.redis-password']).toMatchObject({ rotatable: true, restarts: ['nextcloud', 'nextcloud-redis'] });
    expect(plans['authentik.db-password']).toMatchObject({ rotatable: true, restarts: ['authentik-db', 'authentik-server', 'authentik-worker'] });
    expect(plans['nextcloud.db-password']).toMatchObject({ rotatable: false });
  }, 600_000);

  it('Nextcloud admin: the old password stops signing in, the new one signs in, and reveal gives the new one', async () => {
    const old = await value('nextcloud.admin-password');
    const before = await container('nextcloud');
    const ps = samplePs();
    const result = await accounts.rotate(profileId, 'nextcloud.admin-password');
    const lines = await ps.stop();
    const next = await value('nextcloud.admin-password');
    expect(next).not.toBe(old);
    expect(next).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(result).toMatchObject({ secret: 'nextcloud.admin-password', resumed: false });
    expect(await nextcloudLogin(old)).toBe(401);
    expect(await nextcloudLogin(next)).toBe(200);
    expect((await accounts.reveal(profileId, 'nextcloud-admin')).password).toBe(next);
    // Its container was recreated with the new env file (the install-time value agrees with the keychain).
    expect((await container('nextcloud')).id).not.toBe(before.id);
    for (const v of [old, next]) expect(lines.some((l) => l.includes(v))).toBe(false);
    expect(await keychain.get(profileId, rotatingName('nextcloud.admin-password'))).toBeUndefined();
    expect(await keychain.get(profileId, previousName('nextcloud.admin-password'))).toBeUndefined();
  }, 600_000);

  it('Redis: Redis and Nextcloud restart with the new password; the old one is refused; the env file on the server is 0600 and holds only the new', async () => {
    const old = await value('nextcloud.redis-password');
    const ps = samplePs();
    const result = await accounts.rotate(profileId, 'nextcloud.redis-password');
    const lines = await ps.stop();
    const next = await value('nextcloud.redis-password');
    expect(next).not.toBe(old);
    expect(result.restarted.sort()).toEqual(['nextcloud', 'nextcloud-redis']);
    expect(await redisPing(next)).toBe('PONG');
    expect(await redisPing(old)).toMatch(/WRONGPASS/);
    const env = await exec('stat', ['-L', '--format', '%a', `${m2Dir}/current/env/nextcloud.env`]);
    expect(env.stdout.trim()).toBe('600');
    const content = (await exec('cat', [`${m2Dir}/current/env/nextcloud.env`])).stdout;
    expect(content.includes(next)).toBe(true);
    expect(content.includes(old)).toBe(false);
    for (const v of [old, next]) expect(lines.some((l) => l.includes(v))).toBe(false);
  }, 600_000);

  it('Authentik database: a rotation cut off after the install is undone (the old password works again), and rotating again finishes with the same new value', async () => {
    const old = await value('authentik.db-password');
    expect((await psqlLogin(old)).code).toBe(0);
    // The install goes through, then the app never hears back (as when the connection drops at its end).
    redeploy = async (id, secret) => {
      await stack.apply(id, { finishing: secret });
      redeploy = (again, s) => stack.apply(again, { finishing: s });
      throw new AppError('ssh.disconnected', 'The connection to the server was lost.');
    };
    const err = await accounts.rotate(profileId, 'authentik.db-password').then(
      () => undefined,
      (e: unknown) => e as AppError,
    );
    expect(err?.code).toBe('accounts.rotation-failed');
    expect(err?.userMessage).toMatch(/The old value is back in place and still works\.$/);
    const made = await value(rotatingName('authentik.db-password'));
    expect(made).not.toBe(old);
    expect(await value('authentik.db-password')).toBe(old);
    expect((await psqlLogin(old)).code).toBe(0);
    const refused = await psqlLogin(made);
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/password authentication failed for user "authentik"/);
    await expect.poll(authentikReady, { timeout: 60_000, interval: 2_000 }).toBe(200);
    expect((await accounts.rotations(profileId)).find((p) => p.secret === 'authentik.db-password')).toMatchObject({ unfinished: true });
    // Undone completely: server and keychain agree, so an ordinary install is allowed; as left by an app stopped in the
    // middle (the old value kept aside), it is refused before anything reaches the server.
    expect(await keychain.get(profileId, previousName('authentik.db-password'))).toBeUndefined();
    await expect(rotation.assertInstallAllowed(profileId)).resolves.toBeUndefined();
    await keychain.set(profileId, previousName('authentik.db-password'), await keychain.get(profileId, 'authentik.db-password').then((v) => v as Secret));
    const refusedInstall = await stack.apply(profileId).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );
    expect(refusedInstall?.code).toBe('accounts.rotation-unfinished');
    expect(refusedInstall?.hint).toMatch(/^Finish the rotation in Settings → Secrets → Rotation first/);

    const ps = samplePs();
    const result = await accounts.rotate(profileId, 'authentik.db-password');
    const lines = await ps.stop();
    expect(result.resumed).toBe(true);
    expect(await value('authentik.db-password')).toBe(made);
    expect((await psqlLogin(made)).code).toBe(0);
    expect((await psqlLogin(old)).out).toMatch(/password authentication failed/);
    expect(await authentikReady()).toBe(200);
    expect(await keychain.get(profileId, rotatingName('authentik.db-password'))).toBeUndefined();
    for (const v of [old, made]) expect(lines.some((l) => l.includes(v))).toBe(false);
  }, 900_000);

  it('no value the keychain holds ever reached the log', async () => {
    const text = logLines.join('\n');
    for (const n of await keychain.names(profileId)) expect(text.includes(await value(n)), n).toBe(false);
    expect(text).toContain('"rotated nextcloud.admin-password"');
  });
});
