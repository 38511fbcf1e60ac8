import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { StackSettings, type ApplyResult } from '../../electron/contract/stack';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore, type SecretStore } from '../../electron/core/secrets/keychain';
import type { Secret } from '../../electron/core/secrets/secret';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY } from '../../electron/core/stack/configure/jellyfin';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { NetworkName } from '../../electron/core/stack/types';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * Jellyfin's first-run wizard is taken by whoever reaches it first. A first install through the stack service (the
 * product path: lab keychain, render, apply over the lab sshd, configure) publishes Jellyfin on the server's
 * loopback only until the configure step has created the admin, then on the home network. The window is looked at
 * from inside it: the keychain the service uses is wrapped, and the moment configure keeps the new admin password
 * (before it creates the admin) the test asks Jellyfin at the server's LAN address and on its loopback. A failed
 * configure leaves it on loopback, and the next install finishes the job. Own project, subnets and data folder.
 */
const profileId = `lab-wizard-${randomBytes(3).toString('hex')}`;
const project = `m2lab-wizard-${process.pid}`;
const root = `/tmp/m2-wizard-lab-${process.pid}`;
const keychain = new KeyringSecretStore();
let sshd: LabSshd;
let conn: SshConnection;
let stack: StackService;
let dataDir: string;
let m2Dir = '';
let lanPort = 0;

type Answer = { kind: 'answered'; wizardCompleted: unknown } | { kind: 'refused'; reason: string };
/** What a device at `host` gets from Jellyfin's anonymous public info. */
async function ask(host: string): Promise<Answer> {
  try {
    const res = await fetch(`http://${host}:${lanPort}/System/Info/Public`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { StartupWizardCompleted?: unknown };
    return { kind: 'answered', wizardCompleted: body.StartupWizardCompleted };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { kind: 'refused', reason: cause?.code ?? (err as Error).message };
  }
}

/** What the window looks like, seen from inside it; and whether the configure step is made to fail there. */
const window: { seen: Array<{ lan: Answer; loopback: Answer }>; failConfigure: boolean } = { seen: [], failConfigure: false };
/** The lab keychain, with a look at Jellyfin when configure keeps the admin password it is about to create the admin with. */
const watchedKeychain: SecretStore = {
  get: (p, n) => keychain.get(p, n),
  delete: (p, n) => keychain.delete(p, n),
  names: (p) => keychain.names(p),
  async set(p: string, n: string, value: Secret): Promise<void> {
    if (p === profileId && n === JELLYFIN_ADMIN_PASSWORD.name) {
      window.seen.push({ lan: await ask(sshd.lanHost), loopback: await ask('127.0.0.1') });
      if (window.failConfigure) throw new Error('the keychain is locked (made to fail by the test)');
    }
    await keychain.set(p, n, value);
  },
};

const jellyfinBinding = async (): Promise<string> => (await exec('docker', ['compose', '--project-name', project, 'port', 'jellyfin', '8096'])).stdout.trim();
const jellyfinId = async (): Promise<string> => (await exec('docker', ['compose', '--project-name', project, 'ps', '--quiet', 'jellyfin'])).stdout.trim();

/** A first install again: the stack, Jellyfin's data and what the keychain kept for it gone. */
async function fresh(): Promise<void> {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  rmSync(m2Dir, { recursive: true, force: true });
  rmSync(path.join(root, 'data'), { recursive: true, force: true });
  mkdirSync(path.join(root, 'data'), { recursive: true });
  chownSync(path.join(root, 'data'), Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim()), Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim()));
  for (const n of await keychain.names(profileId)) await keychain.delete(profileId, n);
  window.seen = [];
}

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  m2Dir = `/home/${sshd.admin.name}/m2`;
  mkdirSync(root, { recursive: true });
  chownSync(root, Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim()), Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim()));
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-wizard-app-'));
  lanPort = await freePort();
  const subnets: Record<NetworkName, string> = await freeSubnetsUnder('10.234', (process.pid * 7) % 250);
  stack = new StackService({
    settings: new StackSettingsStore(path.join(dataDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: watchedKeychain,
    log: createLogger(() => undefined),
    onProgress: () => undefined,
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    renderOverrides: { project, subnets },
    // Asking a Jellyfin that does not run yet answers at once; one that runs answers within seconds.
    applyOverrides: { wizardAnswerTimeoutMs: 20_000 },
  });
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      // The household's choice: the services on the home network.
      publishAddress: '0.0.0.0',
      uid: Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim()),
      gid: Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim()),
      modules: {
        jellyfin: { lanPort },
        nextcloud: { enabled: false },
        authentik: { enabled: false },
        cloudflared: { enabled: false },
        backup: { enabled: false },
      },
    }),
  );
  await fresh();
}, 300_000);

afterAll(async () => {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  rmSync(m2Dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  for (const n of await keychain.names(profileId).catch(() => [])) await keychain.delete(profileId, n).catch(() => undefined);
  await conn?.close();
}, 240_000);

const applied = (r: ApplyResult): Extract<ApplyResult, { kind: 'applied' }> => {
  if (r.kind !== 'applied') throw new Error(`the install rolled back: ${JSON.stringify(r)}`);
  return r;
};

describe('Jellyfin’s first-run wizard and the home network', () => {
  it('the plan of a first install publishes Jellyfin on the server’s loopback only, and says why', async () => {
    const plan = await stack.plan(profileId);
    const compose = YAML.parse(plan.files.find((f) => f.path === 'compose.yaml')?.preview ?? '') as { services: Record<string, { ports?: unknown }> };
    expect(compose.services.jellyfin?.ports).toEqual([{ target: 8096, published: String(lanPort), host_ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(plan.warnings.join('\n')).toContain(`Jellyfin answers on the server itself only (127.0.0.1:${lanPort}) until M2 Companion has created its administrator`);
  }, 120_000);

  it('during a first install the wizard is not reachable at the server’s LAN address; once configured, Jellyfin is served there', async () => {
    const result = applied(await stack.apply(profileId));
    // Seen from inside the window: configure is about to create the admin; the wizard is open, on loopback only.
    expect(window.seen).toHaveLength(1);
    expect(window.seen[0]?.loopback).toEqual({ kind: 'answered', wizardCompleted: false });
    expect(window.seen[0]?.lan).toEqual({ kind: 'refused', reason: 'ECONNREFUSED' });
    // After: on the home network, with the wizard taken by the app's admin.
    await expect(ask(sshd.lanHost)).resolves.toEqual({ kind: 'answered', wizardCompleted: true });
    await expect(jellyfinBinding()).resolves.toBe(`0.0.0.0:${lanPort}`);
    expect(result.warnings.join('\n')).not.toMatch(/stays on the server itself only/);
    await expect(keychain.get(profileId, JELLYFIN_API_KEY.name)).resolves.toBeDefined();
  }, 600_000);

  it('installing a configured stack again keeps Jellyfin on the home network and does not restart it', async () => {
    const before = await jellyfinId();
    const plan = await stack.plan(profileId);
    expect(plan.warnings.join('\n')).not.toContain('Jellyfin answers on the server itself only');
    applied(await stack.apply(profileId));
    await expect(jellyfinId()).resolves.toBe(before);
    await expect(jellyfinBinding()).resolves.toBe(`0.0.0.0:${lanPort}`);
    expect(window.seen).toHaveLength(1);
  }, 600_000);

  it('a configure step that fails leaves the wizard off the home network, and the next install publishes Jellyfin once the admin exists', async () => {
    await fresh();
    window.failConfigure = true;
    const failed = applied(await stack.apply(profileId));
    window.failConfigure = false;
    expect(failed.warnings.join('\n')).toMatch(/Jellyfin stays on the server itself only \(127\.0\.0\.1\) until its first-run setup is done/);
    await expect(jellyfinBinding()).resolves.toBe(`127.0.0.1:${lanPort}`);
    await expect(ask(sshd.lanHost)).resolves.toEqual({ kind: 'refused', reason: 'ECONNREFUSED' });
    await expect(ask('127.0.0.1')).resolves.toEqual({ kind: 'answered', wizardCompleted: false });

    // The retry: still on loopback while configure runs, then published.
    const retried = applied(await stack.apply(profileId));
    expect(window.seen.map((w) => w.lan)).toEqual([
      { kind: 'refused', reason: 'ECONNREFUSED' },
      { kind: 'refused', reason: 'ECONNREFUSED' },
    ]);
    expect(retried.warnings.join('\n')).not.toMatch(/stays on the server itself only/);
    await expect(ask(sshd.lanHost)).resolves.toEqual({ kind: 'answered', wizardCompleted: true });
    await expect(jellyfinBinding()).resolves.toBe(`0.0.0.0:${lanPort}`);
  }, 900_000);
});
