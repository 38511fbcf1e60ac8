import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 * The Backups page's restores that put data back where it lives, in Chromium against the lab stack installed through
 * the app (Jellyfin, Nextcloud, backup; project `m2` in the admin's ~/m2, shared with the other install e2e files,
 * which run one at a time): a deleted Nextcloud file chosen in the snapshot and put back in place after a
 * confirmation; a whole service restored only after its plan was shown and confirmed. Screenshots restore-*.png.
 */
const lab = inject('lab');
const adminServer = adminStack(lab.ssh.admin.name, 'm2-e2e-restore');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const backupRepo = path.join(adminServer.root, 'backup', 'restic');
const ncData = path.join(dataRoot, 'nextcloud', 'html', 'data');
const ncFiles = path.join(ncData, 'householdadmin', 'files');
const NOTE = Buffer.from(`shopping list ${randomBytes(8).toString('hex')}\n`);

const shot = (name: string): string => screenshotPath('e2e', `restore-${name}.png`);

describe('restoring in place and whole services from the Backups page, in Chromium', () => {
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
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-restore-'));
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

  it('installs the stack through the app and backs it up', async () => {
    profileId = await connectLabServer(page, lab.ssh, 'Lab restore');
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
    writeFileSync(path.join(ncFiles, 'shopping.txt'), NOTE);
    for (let d = path.join(ncFiles, 'shopping.txt'); d.startsWith(ncData); d = path.dirname(d)) chownSync(d, 33, 33);
    const run = await invoke<{ result: string }>(page, 'backups:run', { profileId });
    expect(run.result).toBe('success');
  }, 900_000);

  it('puts a deleted file back in place after a confirmation, and says Nextcloud rescanned it', async () => {
    rmSync(path.join(ncFiles, 'shopping.txt'));
    await page.goto(`${host.url}#/backups`);
    const group = page.getByRole('group', { name: 'Files in the snapshot' });
    await group.getByRole('button', { name: 'Open folder householdadmin' }).click({ timeout: 60_000 });
    await group.getByRole('button', { name: 'Open folder files' }).click();
    await group.getByRole('button', { name: 'Choose shopping.txt' }).click();
    await page.getByRole('button', { name: 'Restore in place' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Confirm restore in place' });
    await confirm.waitFor();
    await page.screenshot({ path: shot('in-place-confirm'), fullPage: true });
    // Nothing happens before the confirmation.
    expect(existsSync(path.join(ncFiles, 'shopping.txt'))).toBe(false);
    await confirm.getByRole('button', { name: 'Restore in place now' }).click();
    await page
      .getByRole('status', { name: 'Restore in place result' })
      .filter({ hasText: `1 of 1 files are back at ${path.join(ncFiles, 'shopping.txt')}.` })
      .filter({ hasText: 'Nextcloud rescanned /householdadmin/files' })
      .waitFor({ timeout: 180_000 });
    expect(readFileSync(path.join(ncFiles, 'shopping.txt')).equals(NOTE)).toBe(true);
    await page.screenshot({ path: shot('in-place-done'), fullPage: true });
  }, 300_000);

  it('restores a whole service only after its plan is shown and confirmed', async () => {
    const config = path.join(dataRoot, 'jellyfin', 'config');
    writeFileSync(path.join(config, 'after-the-backup.txt'), 'made after the snapshot');
    await page.getByLabel('Service', { exact: true }).selectOption('jellyfin');
    await page.getByRole('button', { name: 'Show the plan for Jellyfin' }).click();
    const plan = page.getByRole('region', { name: 'Restore plan' });
    await plan.waitFor({ timeout: 120_000 });
    await expect(plan.textContent()).resolves.toMatch(/Stop jellyfin, backup\..*If any step fails, it is put back instead and Jellyfin is started again\./s);
    const go = plan.getByRole('button', { name: 'Restore Jellyfin now' });
    await expect(go.isDisabled()).resolves.toBe(true);
    await page.screenshot({ path: shot('plan'), fullPage: true });
    await plan.getByRole('checkbox').check();
    await go.click();
    await page.getByRole('status', { name: 'Service restore result' }).filter({ hasText: 'Jellyfin is restored from snapshot' }).waitFor({ timeout: 600_000 });
    expect(existsSync(path.join(config, 'after-the-backup.txt'))).toBe(false);
    expect(readdirSync(path.join(dataRoot, 'jellyfin')).filter((n) => n.includes('.m2-'))).toEqual([]);
    await page.screenshot({ path: shot('service-done'), fullPage: true });
    expect(pageProblems).toEqual([]);
  }, 900_000);
});
