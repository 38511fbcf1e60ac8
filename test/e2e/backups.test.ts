import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Backups page in Chromium against the lab stack: Jellyfin, Nextcloud and the backup installed through the app
 * (project `m2` in the admin's ~/m2, shared with the other install e2e files, which run one at a time). A file put in
 * Nextcloud's data is backed up with "Back up now", deleted, and restored through the page into a new folder, byte
 * for byte; the restore drill passes and the page says so; hostile input is refused under its field.
 */
const lab = inject('lab');
const adminServer = adminStack(lab.ssh.admin.name, 'm2-e2e-backups');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const backupRepo = path.join(adminServer.root, 'backup', 'restic');
const ncFiles = path.join(dataRoot, 'nextcloud', 'html', 'data', 'householdadmin', 'files');
const NOTE = Buffer.from(`minutes of the family meeting ${randomBytes(8).toString('hex')}\n`);

const shot = (name: string): string => screenshotPath('e2e', `backups-${name}.png`);

describe('the Backups page in Chromium, against the lab stack', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  const keychain = new KeyringSecretStore();
  const pageProblems: string[] = [];

  beforeAll(async () => {
    removeStack();
    makeAdminFolders(dataRoot, mediaRoot, path.dirname(backupRepo));
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-backups-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) pageProblems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => pageProblems.push(String(e)));
    await page.goto(host.url);
  }, 120_000);

  afterAll(async () => {
    const generated = profileId ? await invoke<Array<{ name: string }>>(page, 'stack:secrets', { profileId }).catch(() => []) : [];
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileId) for (const n of new Set(['jellyfin.admin-password', 'jellyfin.api-key', ...generated.map((g) => g.name)])) await keychain.delete(profileId, n).catch(() => undefined);
    removeStack();
  }, 240_000);

  it('installs Jellyfin, Nextcloud and the backup through the app', async () => {
    profileId = await connectLabServer(page, lab.ssh, 'Lab backups');
    await invoke(page, 'stack:save-settings', {
      profileId,
      settings: {
        dataRoot,
        publishAddress: '127.0.0.1',
        uid: adminUid,
        gid: adminGid,
        timezone: 'UTC',
        hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
        modules: {
          jellyfin: { lanPort: await freePort(), mediaPaths: [mediaRoot] },
          nextcloud: { enabled: true, adminUser: 'householdadmin' },
          authentik: { enabled: false },
          cloudflared: { enabled: false },
          backup: { repository: backupRepo },
        },
      },
    });
    const applied = await invoke<{ kind: string }>(page, 'stack:apply', { profileId });
    expect(applied.kind, JSON.stringify(applied)).toBe('applied');
    mkdirSync(ncFiles, { recursive: true });
    writeFileSync(path.join(ncFiles, 'meeting.txt'), NOTE);
  }, 600_000);

  it('backs up now with progress, then lists the snapshot with the last and next run', async () => {
    await page.goto(`${host.url}#/backups`);
    const backUp = page.getByRole('button', { name: 'Back up now' });
    await backUp.waitFor({ timeout: 60_000 });
    await expect(page.getByText('No restore drill yet: a backup that has never been restored is not called good.').count()).resolves.toBe(1);
    await page.screenshot({ path: shot('before'), fullPage: true });
    await backUp.click();
    await page.getByRole('status', { name: 'Progress' }).waitFor({ timeout: 60_000 });
    await page.getByRole('status', { name: 'Backup result' }).filter({ hasText: 'Backup complete.' }).waitFor({ timeout: 300_000 });
    const table = page.getByRole('table', { name: 'Snapshots' });
    await table.waitFor({ timeout: 30_000 });
    await expect(table.locator('tbody tr').count()).resolves.toBe(1);
    await expect(table.locator('tbody tr').first().textContent()).resolves.toMatch(/\/m2\/dumps, \/source.*m2/);
    await expect(page.getByLabel('Last run').textContent()).resolves.toMatch(/^success/);
    await expect(page.getByLabel('Next run').textContent()).resolves.toMatch(/every day at 03:30, UTC/);
    await page.screenshot({ path: shot('after-backup'), fullPage: true });
  }, 400_000);

  it('restores a deleted file into a new folder, byte for byte; hostile input is refused under its field', async () => {
    rmSync(path.join(ncFiles, 'meeting.txt'));
    const group = page.getByRole('group', { name: 'Files in the snapshot' });
    await group.getByRole('button', { name: 'Open folder householdadmin' }).click();
    await group.getByRole('button', { name: 'Open folder files' }).click();
    await group.getByRole('button', { name: 'Choose meeting.txt' }).click();
    await expect(page.getByRole('textbox', { name: 'What to restore' }).inputValue()).resolves.toBe('householdadmin/files/meeting.txt');
    const into = page.getByRole('textbox', { name: 'Restore into (new folder)' });
    const canary = path.join(adminServer.home, `pwned-${process.pid}`);
    await into.fill(`$(touch ${canary})`);
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText('Restore into: use letters, digits, dots, dashes and underscores only (no “/”, spaces or leading dot).').waitFor({ timeout: 10_000 });
    await page.getByRole('textbox', { name: 'What to restore' }).fill('../../etc/passwd');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText('What to restore: “..”, “.” and empty parts are not allowed in the path.').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: shot('hostile'), fullPage: true });
    expect(existsSync(canary)).toBe(false);
    await page.getByRole('textbox', { name: 'What to restore' }).fill('householdadmin/files/meeting.txt');
    await into.fill('meeting-back');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    const restored = path.join(dataRoot, 'restores', 'meeting-back', 'meeting.txt');
    await page.getByRole('status', { name: 'Restore result' }).filter({ hasText: `Restored 1 of 1 files to ${restored}.` }).waitFor({ timeout: 120_000 });
    expect(readFileSync(restored).equals(NOTE)).toBe(true);
    await page.screenshot({ path: shot('restored'), fullPage: true });
    // The same folder again: refused, nothing written over.
    await into.fill('meeting-back');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByText(/^Restore into: .*meeting-back exists already; a restore never writes over anything\.$/).waitFor({ timeout: 60_000 });
  }, 300_000);

  it('runs a restore drill that passes and says when the last drill passed', async () => {
    await page.getByRole('button', { name: 'Run a restore drill' }).click();
    await page.getByRole('status', { name: 'Drill result' }).filter({ hasText: 'The restore drill passed.' }).waitFor({ timeout: 300_000 });
    await page.getByText('Last drill passed today.').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: shot('drill-passed'), fullPage: true });
    expect(pageProblems).toEqual([]);
  }, 400_000);

  it('a drill that fails on a damaged repository makes the Dashboard’s Backups card an error that says why', async () => {
    const packs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? packs(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const biggest = packs(path.join(backupRepo, 'data')).sort((a, b) => statSync(b).size - statSync(a).size)[0] ?? '';
    const intact = readFileSync(biggest);
    try {
      chmodSync(biggest, 0o600);
      truncateSync(biggest, Math.floor(intact.length / 2));
      await page.getByRole('button', { name: 'Run a restore drill' }).click();
      await page.getByText(/Repository check: restic check found errors: pack [0-9a-f]+/).first().waitFor({ timeout: 300_000 });
      await page.goto(`${host.url}#/dashboard`);
      const card = page.getByRole('list', { name: 'Status, worst first' }).getByRole('listitem', { name: 'Backups', exact: true });
      // The status agent reads the drill's result on the server every 5 s.
      await card.filter({ hasText: /Error.*The last restore drill failed .*Repository check: restic check found errors: pack [0-9a-f]+/ }).waitFor({ timeout: 60_000 });
      await expect(page.getByRole('region', { name: 'Backups', exact: true }).textContent()).resolves.toMatch(/Restore drill\s*Failed/);
      await page.screenshot({ path: shot('dashboard-drill-failed'), fullPage: true });
    } finally {
      writeFileSync(biggest, intact);
      chmodSync(biggest, 0o400);
    }
  }, 400_000);
});
