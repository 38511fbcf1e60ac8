import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { BackupsService, createDrillStore } from '../../electron/core/backups/backups-service';
import { RestoresService } from '../../electron/core/backups/restores-service';
import { AppError } from '../../electron/core/errors';
import { silentLogger } from '../../electron/core/log';
import { stackLogsTarget } from '../../electron/core/logs/stack-logs-target';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { NetworkName } from '../../electron/core/stack/types';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * Restores that put data back where it lives, against one stack the stack service installs on the lab server
 * (Jellyfin, Nextcloud with Postgres and Redis, the backup with its dump sidecar) from the stand-ins, over the lab
 * sshd as the admin: a deleted file back in place with Nextcloud in maintenance mode and rescanned (`occ files:scan
 * --path`), the whole Nextcloud (its folder and its database from the dump) back from a snapshot and healthy, and a
 * whole restore whose dump fails to load half-way putting the data from before back. Own project, ~/m2 and subnets.
 */
const profileId = `lab-restore-${randomBytes(3).toString('hex')}`;
const project = `m2lab-restore-${process.pid}`;
const root = `/tmp/m2-restore-lab-${process.pid}`;
const dataRoot = path.join(root, 'data');
const html = path.join(dataRoot, 'nextcloud', 'html');
const dbInfo = path.join(dataRoot, 'nextcloud', 'db', 'standin.json');
const ADMIN = 'householdadmin';
const userFiles = path.join(html, 'data', ADMIN, 'files');
const keychain = new KeyringSecretStore();
let conn: SshConnection;
let sshd: LabSshd;
let stack: StackService;
let backups: BackupsService;
let restores: RestoresService;
let dataDir: string;
let m2Dir = '';

const NOTES = Buffer.from(`family meeting ${randomBytes(8).toString('hex')}\n`);
const PHOTO = randomBytes(200 * 1024);
let snapshotA = '';
let initialisedA = '';

async function containers(): Promise<ContainerInfo[]> {
  const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
  return ids.length === 0 ? [] : parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout);
}
const health = async (service: string): Promise<string> => {
  const c = (await containers()).find((x) => x.service === service && !x.oneoff);
  return c ? `${c.state}/${c.health}` : 'missing';
};
const compose = (...args: string[]) => exec('docker', ['compose', '--project-name', project, ...args], { timeoutMs: 180_000 });
const occ = async (...args: string[]) => compose('exec', '-T', '--user', 'www-data', 'nextcloud', 'php', 'occ', ...args);
const put = (rel: string, data: Buffer): void => {
  const p = path.join(userFiles, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
  for (let d = p; d.startsWith(path.join(html, 'data')); d = path.dirname(d)) chownSync(d, 33, 33);
};
const leftovers = (): string[] => readdirSync(path.join(dataRoot, 'nextcloud')).filter((n) => n.includes('.m2-'));

async function until<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const appError = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
};

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  const uid = Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim());
  m2Dir = `/home/${sshd.admin.name}/m2`;
  for (const d of [root, dataRoot, path.join(root, 'backup')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-restore-app-'));
  const subnets: Record<NetworkName, string> = await freeSubnetsUnder('10.238', (process.pid * 17) % 250);
  stack = new StackService({
    settings: new StackSettingsStore(path.join(dataDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: keychain,
    log: silentLogger,
    onProgress: () => undefined,
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    renderOverrides: { project, subnets },
  });
  // As electron/core/services.ts wires them.
  const target = stackLogsTarget({ connection: () => conn, dockerAccess: () => 'group', project, vault: keychain });
  const settings = async (id: string) => (await stack.view(id)).settings;
  backups = new BackupsService({ target, settings, drills: createDrillStore(path.join(dataDir, 'drills')), emit: () => undefined, log: silentLogger });
  restores = new RestoresService({ target, settings, exclusive: (id, what, f) => backups.exclusive(id, what, f), emit: () => undefined, log: silentLogger });
  const base = StackSettings.parse({});
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot,
      publishAddress: '127.0.0.1',
      uid,
      gid,
      timezone: 'UTC',
      hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: {
        ...base.modules,
        jellyfin: { ...base.modules.jellyfin, lanPort: await freePort() },
        nextcloud: { ...base.modules.nextcloud, enabled: true, adminUser: ADMIN },
        authentik: { ...base.modules.authentik, enabled: false },
        cloudflared: { ...base.modules.cloudflared, enabled: false },
        backup: { ...base.modules.backup, enabled: true, repository: path.join(root, 'backup', 'restic') },
      },
    }),
  );
  const applied = await stack.apply(profileId);
  if (applied.kind !== 'applied') throw new Error(`install failed: ${JSON.stringify(applied)}`);
  put('notes.txt', NOTES);
  put('Photos/holiday.bin', PHOTO);
  const run = await backups.run(profileId);
  if (run.result !== 'success' || !run.snapshotId) throw new Error(`backup failed: ${JSON.stringify(run)}`);
  snapshotA = run.snapshotId;
  initialisedA = (JSON.parse(readFileSync(dbInfo, 'utf8')) as { initializedAt: string }).initializedAt;
}, 900_000);

afterAll(async () => {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  if (m2Dir) rmSync(m2Dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  for (const n of await keychain.names(profileId).catch(() => [])) await keychain.delete(profileId, n).catch(() => undefined);
  await conn?.close();
}, 240_000);

describe('restoring Nextcloud’s data where it lives, on the lab server', () => {
  it('puts a deleted file back in place byte for byte, with Nextcloud paused and then rescanned; a changed one is kept beside it', async () => {
    rmSync(path.join(userFiles, 'notes.txt'));
    writeFileSync(path.join(userFiles, 'Photos', 'holiday.bin'), 'edited after the backup');
    const r = await restores.inPlace({ profileId, snapshotId: snapshotA, path: `${ADMIN}/files/notes.txt` });
    expect(r).toMatchObject({ restoredPath: path.join(userFiles, 'notes.txt'), keptAs: null, filesExpected: 1, filesRestored: 1, scan: { path: `/${ADMIN}/files` } });
    expect(readFileSync(path.join(userFiles, 'notes.txt')).equals(NOTES)).toBe(true);
    const photo = await restores.inPlace({ profileId, snapshotId: snapshotA, path: `${ADMIN}/files/Photos/holiday.bin` });
    expect(readFileSync(path.join(userFiles, 'Photos', 'holiday.bin')).equals(PHOTO)).toBe(true);
    expect(photo.keptAs).toMatch(/\/Photos\/holiday \(before restore \d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d\)\.bin$/);
    expect(readFileSync(photo.keptAs ?? '', 'utf8')).toBe('edited after the backup');
    expect(readdirSync(path.join(userFiles, 'Photos')).filter((n) => n.startsWith('.'))).toEqual([]);
    // Nextcloud's own record of the rescans (the stand-in's: the real one updates its file cache), and it runs again.
    const scans = JSON.parse(readFileSync(path.join(html, 'config', 'standin-scans.json'), 'utf8')) as Array<{ targets: Array<{ path: string }>; files: number }>;
    expect(scans.slice(-2).map((s) => [s.targets[0]?.path, s.files])).toEqual([
      [`/${ADMIN}/files`, 2],
      [`/${ADMIN}/files/Photos`, 2],
    ]);
    expect(photo.scan).toEqual({ path: `/${ADMIN}/files/Photos`, folders: 1, files: 2 });
    expect((await occ('maintenance:mode')).stdout).toContain('Maintenance mode is currently disabled');
    // Owned by the web server's user, as the snapshot has it, so Nextcloud can change it again.
    expect((await exec('stat', ['-c', '%u:%g', path.join(userFiles, 'notes.txt')])).stdout.trim()).toBe('33:33');
  }, 300_000);

  it('restores the whole Nextcloud from the snapshot: its folder and a fresh database from the dump, healthy, the data from before gone', async () => {
    put('after-the-backup.txt', Buffer.from('written after the snapshot'));
    rmSync(path.join(userFiles, 'Photos'), { recursive: true });
    const htmlOwner = (await exec('stat', ['-c', '%u:%g %a', html])).stdout.trim();
    const plan = await restores.plan({ profileId, snapshotId: snapshotA, service: 'nextcloud' });
    expect(plan.stops).toEqual(['nextcloud-cron', 'nextcloud', 'nextcloud-db-dump', 'nextcloud-db', 'backup']);
    expect(plan.database?.name).toBe('nextcloud');
    expect(plan.space.enough).toBe(true);
    const r = await restores.restoreService({ profileId, snapshotId: snapshotA, service: 'nextcloud' });
    expect(r.steps.map((s) => s.name)).toEqual(['Restored beside', 'Stopped', 'Swapped', 'Database', 'Healthy', 'Finished']);
    expect(readFileSync(path.join(userFiles, 'Photos', 'holiday.bin')).equals(PHOTO)).toBe(true);
    expect(readFileSync(path.join(userFiles, 'notes.txt')).equals(NOTES)).toBe(true);
    expect(existsSync(path.join(userFiles, 'after-the-backup.txt'))).toBe(false);
    // A fresh database (initialised now), loaded from the dump of the one the snapshot saw.
    const info = JSON.parse(readFileSync(dbInfo, 'utf8')) as { initializedAt: string; restoredFrom?: { initializedAt: string } };
    expect(info.initializedAt).not.toBe(initialisedA);
    expect(info.restoredFrom?.initializedAt).toBe(initialisedA);
    for (const s of ['nextcloud', 'nextcloud-db', 'nextcloud-cron', 'nextcloud-db-dump', 'backup']) expect(await health(s), s).toMatch(/^running\/(healthy)?$/);
    // The folder itself has its owner and mode back (restic makes a restore's target root's and 0700): occ runs as www-data.
    expect((await exec('stat', ['-c', '%u:%g %a', html])).stdout.trim()).toBe(htmlOwner);
    expect((await occ('status', '--output=json')).stdout).toContain('"installed":true');
    expect(leftovers()).toEqual([]);
    expect(await restores.unfinished(profileId)).toEqual([]);
    // The backup container sees the restored folder (its mount was renewed when it started again).
    expect((await backups.run(profileId)).result).toBe('success');
  }, 900_000);

  it('a restore whose dump fails to load half-way puts the data from before back, and Nextcloud runs again', async () => {
    // A snapshot whose dump is complete-looking but breaks in the middle (its header and closing line are there).
    const dumps = path.join(dataRoot, 'backup', 'dumps');
    const good = readFileSync(path.join(dumps, 'nextcloud.sql'), 'utf8');
    writeFileSync(path.join(dumps, 'nextcloud.sql'), good.replace("SET client_encoding = 'UTF8';", "SET client_encoding = 'UTF8';\nSELEC broken FROM nowhere;"));
    const b = await compose('exec', '-T', 'backup', 'restic', 'backup', '--json', '--host', 'm2-server', '--tag', 'm2', '/m2/dumps', '/source');
    expect(b.code, b.stderr).toBe(0);
    const snapshotB = /"snapshot_id":"([0-9a-f]+)"/.exec(b.stdout)?.[1] ?? '';
    writeFileSync(path.join(dumps, 'nextcloud.sql'), good);
    put('current.txt', Buffer.from('the data from before'));
    const before = readFileSync(dbInfo, 'utf8');
    const err = await appError(restores.restoreService({ profileId, snapshotId: snapshotB, service: 'nextcloud' }));
    expect(err.code).toBe('backups.restore-failed');
    expect(err.userMessage).toMatch(/^The restore of Nextcloud failed while loading the database dump: .*syntax error at or near "SELEC".*\. The data from before is back in place and Nextcloud runs again\.$/);
    expect(readFileSync(path.join(userFiles, 'current.txt'), 'utf8')).toBe('the data from before');
    expect(readFileSync(dbInfo, 'utf8')).toBe(before);
    expect(leftovers()).toEqual([]);
    expect(readdirSync(dumps).filter((n) => n.includes('tmp-restore'))).toEqual([]);
    for (const s of ['nextcloud', 'nextcloud-db', 'backup']) expect(await health(s), s).toMatch(/^running\/(healthy)?$/);
    expect(await restores.unfinished(profileId)).toEqual([]);
  }, 900_000);

  it('the app’s connection gone mid-restore: the data from before stays on the server, listed as unfinished, and is put back', async () => {
    put('before-the-cut.txt', Buffer.from('kept through a cut'));
    const before = readFileSync(dbInfo, 'utf8');
    const journal = path.join(dataRoot, 'nextcloud', '.m2-service-restore');
    const running = restores.restoreService({ profileId, snapshotId: snapshotA, service: 'nextcloud' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The moment the folders start to move, the app and its connection go (the server's commands run on).
    await until('the restore to start moving folders', () => (existsSync(journal) ? true : undefined), 300_000);
    await conn.close();
    const err = await running;
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).userMessage).toMatch(/Putting the data from before back did not finish/);
    // The app comes back with a new connection: the restore is listed, a new one is refused, and putting back works.
    conn = await connectToLab(sshd);
    const unfinished = await restores.unfinished(profileId);
    expect(unfinished).toHaveLength(1);
    expect(unfinished[0]).toMatchObject({ service: 'nextcloud', keptAside: [`${html}.m2-before-restore`, path.join(dataRoot, 'nextcloud', 'db.m2-before-restore')] });
    expect(unfinished[0]?.snapshotId.startsWith(snapshotA.slice(0, 8))).toBe(true);
    expect(await appError(restores.restoreService({ profileId, snapshotId: snapshotA, service: 'nextcloud' }))).toMatchObject({ code: 'backups.restore-unfinished' });
    const back = await restores.putBack({ profileId, service: 'nextcloud' });
    expect(back).toMatchObject({ service: 'nextcloud', healthy: true });
    expect(readFileSync(path.join(userFiles, 'before-the-cut.txt'), 'utf8')).toBe('kept through a cut');
    expect(readFileSync(dbInfo, 'utf8')).toBe(before);
    expect(leftovers()).toEqual([]);
    expect(await restores.unfinished(profileId)).toEqual([]);
    for (const s of ['nextcloud', 'nextcloud-db', 'backup']) expect(await health(s), s).toMatch(/^running\/(healthy)?$/);
  }, 900_000);
});
