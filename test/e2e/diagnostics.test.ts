import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('Settings → Diagnostics in Chromium through the web host', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-diag-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(host.url);
  });

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows where the log is and exports one archive with the version and the log', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    const logPath = path.join(dataDir, 'logs', 'main.log');
    await expect(page.getByTestId('log-path').textContent()).resolves.toBe(logPath);
    // The web host has no file manager to open: only the desktop app offers "Show the log file".
    expect(await page.getByRole('button', { name: 'Show the log file' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Export diagnostics…' }).click();
    const saved = page.getByTestId('diagnostics-saved');
    await saved.waitFor();
    await page.getByRole('region', { name: 'Diagnostics' }).screenshot({ path: screenshotPath('e2e', 'settings-diagnostics.png') });
    const archive = (await saved.locator('code').textContent()) ?? '';
    expect(path.dirname(archive)).toBe(path.join(dataDir, 'diagnostics'));
    expect(existsSync(archive)).toBe(true);

    const out = path.join(dataDir, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', archive, '-C', out]);
    expect(readdirSync(out).sort()).toEqual(['about.json', 'log']);
    const about = JSON.parse(readFileSync(path.join(out, 'about.json'), 'utf8')) as { app: { version: string; host: string }; log: string };
    expect(about.app).toMatchObject({ version: pkg.version, host: 'web' });
    expect(about.log).toBe(logPath);
    expect(readdirSync(path.join(out, 'log'))).toEqual(['main.log']);
  });
});
