import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { artifactsDir, connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Setup page as the admin reads it, in Chromium against the lab: its sections are numbered as the step list
 * numbers the steps, 1 to 8 with no gap — before the first review (Install waits for a plan) and after an install, when
 * the page reopens on Done. The README's picture of setup is this page after an install (written to docs/ when
 * M2_UPDATE_DOCS=1, so a test run never changes the repository by itself).
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-setup-page');
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const NAME = 'Home server';
const README_PICTURE = path.resolve(artifactsDir, '..', 'docs', 'screenshot-setup.png');

describe('the Setup page in Chromium against the lab', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  const keychain = new KeyringSecretStore();

  /** Every numbered heading on the page (sections and the preflight under the server), in reading order. */
  const numberedHeadings = async (): Promise<string[]> =>
    (await page.locator('main h2, main h3').allTextContents()).map((t) => t.trim()).filter((t) => /^\d+\. /.test(t));

  beforeAll(async () => {
    adminServer.removeStack();
    adminServer.makeAdminFolders(dataRoot, mediaRoot);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-setup-page-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${host.url}#/setup`);
    profileId = await connectLabServer(page, lab.ssh, NAME);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileId) for (const n of await keychain.names(profileId).catch(() => [])) await keychain.delete(profileId, n).catch(() => undefined);
    adminServer.removeStack();
  }, 240_000);

  it('numbers its sections 1 to 7 with no gap once the settings are saved, before any review', async () => {
    const form = page.getByRole('region', { name: '4. Services & storage' }).getByRole('form', { name: 'Stack settings' });
    await form.waitFor({ timeout: 30_000 });
    await invoke(page, 'stack:save-settings', {
      profileId,
      settings: {
        dataRoot,
        publishAddress: '0.0.0.0',
        uid: adminServer.uid,
        gid: adminServer.gid,
        timezone: 'UTC',
        hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
        modules: {
          jellyfin: { lanPort: await freePort(), mediaPaths: [mediaRoot] },
          nextcloud: { enabled: false },
          authentik: { enabled: false },
          cloudflared: { enabled: false },
          backup: { enabled: false },
        },
      },
    });
    await page.reload();
    const install = page.getByRole('region', { name: '7. Install' });
    await install.waitFor({ timeout: 30_000 });
    // Install is on the page before there is a plan to run, and says what it waits for.
    await expect(install.textContent()).resolves.toContain('Review the plan above first');
    await expect(install.getByRole('button', { name: 'Install' }).count()).resolves.toBe(0);
    expect(await numberedHeadings()).toEqual(['1. Server', '2. Preflight', '3. Domain & Cloudflare', '4. Services & storage', '5. Accounts', '6. Review', '7. Install']);
  }, 120_000);

  it('after an install the page reopens on Done, numbered 1 to 8 with no gap, and that is the README’s picture', async () => {
    const applied = await invoke<{ kind: string }>(page, 'stack:apply', { profileId });
    expect(applied.kind, JSON.stringify(applied)).toBe('applied');
    await page.reload();
    await page.getByRole('region', { name: '8. Done' }).waitFor({ timeout: 30_000 });
    expect(await numberedHeadings()).toEqual(['1. Server', '2. Preflight', '3. Domain & Cloudflare', '4. Services & storage', '5. Accounts', '6. Review', '7. Install', '8. Done']);
    await expect(page.getByRole('region', { name: '7. Install' }).textContent()).resolves.toContain('Installed: the stack runs on this server.');
    await page.getByRole('list', { name: 'Setup steps' }).locator('[aria-current="step"]').waitFor({ timeout: 20_000 });

    // The top of the page, where the steps, their results and the server stand: the README's picture.
    await page.evaluate('window.scrollTo(0, 0)');
    const picture = screenshotPath('e2e', 'screenshot-setup.png');
    await page.screenshot({ path: picture, clip: { x: 0, y: 0, width: 1280, height: 860 } });
    if (process.env.M2_UPDATE_DOCS === '1') copyFileSync(picture, README_PICTURE);
    await page.screenshot({ path: screenshotPath('e2e', 'setup-page-done.png'), fullPage: true });
  }, 600_000);
});
