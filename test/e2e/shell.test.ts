import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotPath, type PageGlobals } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const PAGES = ['Setup', 'Dashboard', 'Services', 'Household', 'Backups', 'Remote access', 'Settings'] as const;

describe('the app shell in Chromium through the web host', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-'));
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

  it('loads, removes the token from the address bar and exposes only a frozen window.m2', async () => {
    await expect(page.getByRole('navigation', { name: 'Main' }).isVisible()).resolves.toBe(true);
    expect(page.url()).not.toContain('token=');
    const shape = await page.evaluate(() => {
      const w = globalThis as PageGlobals;
      return {
        frozen: Object.isFrozen(w.m2),
        keys: Object.keys(w.m2).sort(),
        hasIpc: 'ipcRenderer' in w || 'require' in w || 'process' in w,
      };
    });
    expect(shape).toEqual({ frozen: true, keys: ['calls', 'events', 'invoke', 'on'], hasIpc: false });
  });

  it('every navigation item opens its page, each says what will appear there', async () => {
    for (const name of PAGES) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      const current = await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).getAttribute('aria-current');
      expect(current).toBe('page');
      await page.screenshot({ path: screenshotPath('e2e', `page-${name.toLowerCase().replace(/\s+/g, '-')}.png`), fullPage: true });
    }
  });

  it('app:info round-trips through the contract and shows on Settings', async () => {
    const result = await page.evaluate(() => (globalThis as PageGlobals).m2.invoke('app:info'));
    expect(result).toEqual({
      ok: true,
      value: { name: 'M2 Companion', version: pkg.version, platform: process.platform, arch: process.arch, host: 'web' },
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByTestId('app-version').textContent()).resolves.toBe(pkg.version);
  });

  it('refuses unknown channels and invalid payloads with stable codes', async () => {
    const unknown = await page.evaluate(() => ((globalThis as PageGlobals).m2.invoke as (c: string) => Promise<unknown>)('shell:exec'));
    expect(unknown).toMatchObject({ ok: false, error: { code: 'ipc.unknown-channel' } });
    const invalid = await page.evaluate(() => (globalThis as PageGlobals).m2.invoke('profiles:save', { name: 'x', host: 'a b', port: 22, username: 'admin' }));
    expect(invalid).toMatchObject({ ok: false, error: { code: 'ipc.invalid', field: 'host' } });
  });

  it('shows a message naming the field for bad input and saves nothing', async () => {
    // The navigation's link (pages may link to Setup too, e.g. the Dashboard saying where to connect).
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Setup' }).click();
    const form = page.getByRole('form', { name: 'Add a server' });
    await form.getByLabel('Name').fill('Home');
    await form.getByLabel('Host').fill('$(touch /tmp/pwned)');
    await form.getByLabel('User').fill('admin');
    await form.getByRole('button', { name: 'Save server' }).click();
    const alert = form.getByRole('alert');
    await expect(alert.textContent()).resolves.toContain('Host:');
    await expect(page.evaluate(() => (globalThis as PageGlobals).m2.invoke('profiles:list'))).resolves.toEqual({ ok: true, value: [] });
    await page.screenshot({ path: screenshotPath('e2e', 'setup-invalid-host.png'), fullPage: true });
  });

  it('a saved profile survives a restart of the web host', async () => {
    const form = page.getByRole('form', { name: 'Add a server' });
    await form.getByLabel('Name').fill('Home server');
    await form.getByLabel('Host').fill('homeserver.local');
    await form.getByLabel('Port').fill('2222');
    await form.getByLabel('User').fill('admin');
    await form.getByRole('button', { name: 'Save server' }).click();
    // The list updates from the pushed profiles:changed event.
    await page.getByRole('list', { name: 'Saved servers' }).getByText('admin@homeserver.local:2222').waitFor();

    await host.stop();
    host = await startWebHostProcess({ dataDir });
    await page.goto(host.url);
    await page.getByRole('list', { name: 'Saved servers' }).getByText('Home server').waitFor();
    await page.screenshot({ path: screenshotPath('e2e', 'setup-saved-profile.png'), fullPage: true });

    await page.getByRole('button', { name: 'Remove Home server' }).click();
    await page.getByText('No servers saved yet').waitFor();
  });

  it('the socket refuses a wrong token and a foreign origin', async () => {
    const tryOpen = (url: string, origin: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url, { origin });
        ws.on('open', () => {
          ws.close();
          resolve('open');
        });
        ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.on('error', () => resolve('error'));
      });
    const token = new URL(host.url).searchParams.get('token') ?? '';
    const wsBase = `ws://127.0.0.1:${host.port}/__m2/ws`;
    await expect(tryOpen(`${wsBase}?token=${token}`, host.origin)).resolves.toBe('open');
    await expect(tryOpen(`${wsBase}?token=${'x'.repeat(token.length)}`, host.origin)).resolves.toBe('403');
    await expect(tryOpen(`${wsBase}?token=${token}`, 'http://evil.example')).resolves.toBe('403');
  });
});
