import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cspFor } from '../../electron/main/csp';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The whole app by keyboard, and every page checked, in Chromium against the lab (one install shared by the file):
 * - setup from an empty app to an installed stack with Tab, Shift+Tab, Enter, Space, arrow keys and typing only —
 *   no click, fill, check or selectOption — each control reached by Tab (so reachable in the page's tab order);
 * - the modal dialogs: the safe action has focus, Tab and Shift+Tab stay inside, Escape is the safe answer;
 * - every page (and the open host-key dialog) with axe-core: no serious or critical violation, light and dark;
 * - every page under the production CSP (no 'unsafe-inline'): no `securitypolicyviolation` and no CSP console message.
 * Cloudflare stays off (the lab has no Cloudflare account): setup is complete when Install reaches Done.
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-keyboard');
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const NAME = 'Keyboard home';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const shot = (name: string): string => screenshotPath('e2e', `keyboard-${name}.png`);
const startedAt = (service: string): string => execFileSync('docker', ['inspect', '--format', '{{.State.StartedAt}}', `m2-${service}-1`], { encoding: 'utf8' }).trim();

/** What page functions see (this file is type-checked without the DOM library). */
interface PageWindow {
  document: { activeElement: unknown; querySelectorAll(s: string): ArrayLike<{ textContent: string | null }>; createElement(t: string): { textContent: string }; head: { append(n: unknown): void } };
  __m2Csp: string[];
  axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> };
}
interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

describe('the app by keyboard, and every page under the CSP and axe, in Chromium against the lab', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  let servedCsp = '';
  const keychain = new KeyringSecretStore();
  const consoleCsp: string[] = [];
  const axeReport: Record<string, AxeViolation[]> = {};

  const isFocused = (target: Locator): Promise<boolean> => target.evaluate((el) => el === (globalThis as unknown as PageWindow).document.activeElement);
  /** Presses Tab (or Shift+Tab) until `target` has focus: the way a keyboard user gets there, proving it can. */
  const tabTo = async (target: Locator, opts: { back?: boolean; max?: number } = {}): Promise<void> => {
    await target.waitFor({ timeout: 60_000 });
    for (let i = 0; i <= (opts.max ?? 250); i++) {
      if (await isFocused(target)) return;
      await page.keyboard.press(opts.back ? 'Shift+Tab' : 'Tab');
    }
    throw new Error(`${String(target)} was never reached with ${opts.back ? 'Shift+Tab' : 'Tab'}`);
  };
  const typeInto = async (target: Locator, text: string): Promise<void> => {
    await tabTo(target);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(text);
    await expect(target.inputValue()).resolves.toBe(text);
  };
  /** A switch or checkbox set with Space. */
  const setSwitch = async (target: Locator, on: boolean): Promise<void> => {
    await tabTo(target);
    if ((await target.isChecked()) !== on) await page.keyboard.press('Space');
    await expect(target.isChecked()).resolves.toBe(on);
  };
  /** A select moved with the arrow keys until it holds `value`. */
  const choose = async (target: Locator, value: string): Promise<void> => {
    await tabTo(target);
    for (let i = 0; i < 10 && (await target.inputValue()) !== value; i++) await page.keyboard.press('ArrowDown');
    await expect(target.inputValue()).resolves.toBe(value);
  };
  const press = async (target: Locator, key = 'Enter'): Promise<void> => {
    await tabTo(target);
    await page.keyboard.press(key);
  };

  /** Focus stays in the dialog through a full round of Tab and of Shift+Tab. */
  const expectFocusTrapped = async (dialog: Locator): Promise<void> => {
    const inside = (): Promise<boolean> => dialog.evaluate((el) => el.contains((globalThis as unknown as PageWindow).document.activeElement as never) && el !== (globalThis as unknown as PageWindow).document.activeElement);
    for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
      await page.keyboard.press(key);
      expect(await inside(), `focus left the dialog after ${key}`).toBe(true);
    }
  };

  /** The violations heard since the last look (a full load starts a new list in the page, so each visit is read). */
  const cspHeard: string[] = [];
  const cspViolations = async (): Promise<string[]> => {
    cspHeard.push(...(await page.evaluate(() => (globalThis as unknown as PageWindow).__m2Csp.splice(0))), ...consoleCsp.splice(0));
    return cspHeard;
  };

  /**
   * Waits until the page has its answers — no progress line left in main (muted lines: the app's "Loading…", "Asking the
   * server…", "Waiting for the first full reading…" all end in an ellipsis) — then runs axe over the whole document.
   */
  const axeScan = async (label: string): Promise<AxeViolation[]> => {
    const inProgress = (): string[] =>
      [...((globalThis as unknown as PageWindow).document.querySelectorAll('main p.muted') as unknown as Array<{ textContent: string | null }>)]
        .map((p) => (p.textContent ?? '').trim())
        .filter((t) => t.endsWith('…'));
    await page.waitForFunction(() => {
      const busy = [...((globalThis as unknown as PageWindow).document.querySelectorAll('main p.muted') as unknown as Array<{ textContent: string | null }>)]
        .map((p) => (p.textContent ?? '').trim())
        .filter((t) => t.endsWith('…'));
      return busy.length === 0;
    }, undefined, { timeout: 90_000 }).catch(async (err: unknown) => {
      throw new Error(`${label}: still in progress after 90 s: ${JSON.stringify(await page.evaluate(inProgress))} (${String(err)})`);
    });
    if (!(await page.evaluate(() => typeof (globalThis as unknown as Partial<PageWindow>).axe === 'object'))) await page.evaluate(axeSource);
    const { violations } = await page.evaluate(() => (globalThis as unknown as PageWindow).axe.run((globalThis as unknown as PageWindow).document, { resultTypes: ['violations'] }));
    axeReport[label] = violations;
    return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  };
  const describeViolations = (vs: AxeViolation[]): string =>
    vs.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')} — ${n.failureSummary ?? ''}`).join('\n')}`).join('\n');

  beforeAll(async () => {
    adminServer.removeStack();
    adminServer.makeAdminFolders(dataRoot, mediaRoot);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-keyboard-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Heard from the first script on: every CSP violation the page reports, and Chromium's own CSP messages.
    await page.addInitScript(() => {
      const w = globalThis as unknown as PageWindow & { document: { addEventListener(t: string, f: (e: Record<string, unknown>) => void): void } };
      w.__m2Csp = [];
      w.document.addEventListener('securitypolicyviolation', (e) => w.__m2Csp.push(`${String(e.effectiveDirective)} blocked ${String(e.blockedURI)} at ${String(e.sourceFile)}:${String(e.lineNumber)}`));
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) consoleCsp.push(m.text());
    });
    const response = await page.goto(`${host.url}#/setup`);
    servedCsp = (await response?.allHeaders())?.['content-security-policy'] ?? '';
  }, 120_000);

  afterAll(async () => {
    writeFileSync(screenshotPath('e2e', 'axe-report.json'), JSON.stringify(axeReport, null, 2));
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileId) for (const n of await keychain.names(profileId).catch(() => [])) await keychain.delete(profileId, n).catch(() => undefined);
    adminServer.removeStack();
  }, 240_000);

  it('completes setup against the lab with the keyboard only, through the host-key dialog', async () => {
    const form = page.getByRole('form', { name: 'Add a server' });
    await typeInto(form.getByLabel('Name'), NAME);
    await typeInto(form.getByLabel('Host'), lab.ssh.host);
    await typeInto(form.getByLabel('Port'), String(lab.ssh.port));
    await typeInto(form.getByLabel('User'), admin.name);
    await choose(form.getByLabel('Sign in with'), 'key');
    await typeInto(form.getByLabel('Key file'), admin.keyPath);
    await press(form.getByRole('button', { name: 'Save server' }));
    await page.getByRole('list', { name: 'Saved servers' }).getByText(NAME).waitFor();

    // The host key: Cancel has focus first, focus stays in the dialog, Escape cancels and nothing connects.
    const connect = page.getByRole('button', { name: `Connect to ${NAME}` });
    await press(connect);
    const dialog = page.getByRole('dialog', { name: 'Confirm the server’s identity' });
    await dialog.waitFor({ timeout: 60_000 });
    await expect(isFocused(dialog.getByRole('button', { name: 'Cancel' }))).resolves.toBe(true);
    const dialogIssues = await axeScan('host-key dialog');
    expect(dialogIssues, describeViolations(dialogIssues)).toEqual([]);
    await page.screenshot({ path: shot('host-key-dialog') });
    await expectFocusTrapped(dialog);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await expect(page.getByRole('list', { name: 'Preflight checks' }).count()).resolves.toBe(0);

    // Again, and this time trust it: Shift+Tab from Cancel to Trust and connect, Enter.
    await press(connect);
    await dialog.waitFor({ timeout: 60_000 });
    await expect(isFocused(dialog.getByRole('button', { name: 'Cancel' }))).resolves.toBe(true);
    await tabTo(dialog.getByRole('button', { name: 'Trust and connect' }), { back: true, max: 3 });
    await page.keyboard.press('Enter');
    await page.getByRole('region', { name: `Server ${NAME}` }).getByRole('list', { name: 'Preflight checks' }).waitFor({ timeout: 60_000 });
    profileId = (await invoke<Array<{ id: string; name: string }>>(page, 'profiles:list')).find((p) => p.name === NAME)?.id ?? '';
    expect(profileId).not.toBe('');

    // Services & storage: Jellyfin alone, on this server only, with the lab admin's folders and ids.
    const settings = page.getByRole('region', { name: '4. Services & storage' }).getByRole('form', { name: 'Stack settings' });
    await typeInto(settings.getByLabel('Service data folder'), dataRoot);
    await choose(settings.getByLabel('Publish ports on'), '127.0.0.1');
    await typeInto(settings.getByLabel('User id'), String(adminServer.uid));
    await typeInto(settings.getByLabel('Group id'), String(adminServer.gid));
    await typeInto(settings.getByLabel('Time zone'), 'UTC');
    await typeInto(settings.getByLabel('Jellyfin port'), String(await freePort()));
    await press(settings.getByRole('button', { name: 'Add a media folder' }));
    await typeInto(settings.getByLabel('Media folder 1', { exact: true }), mediaRoot);
    for (const module of ['Nextcloud', 'Authentik', 'Cloudflare Tunnel', 'Backups']) await setSwitch(settings.getByRole('switch', { name: module }), false);
    await press(settings.getByRole('button', { name: 'Save settings' }));
    await settings.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 30_000 });
    await expect(settings.getByRole('alert').count()).resolves.toBe(0);

    // Review, then Install, to Done.
    const review = page.getByRole('region', { name: '6. Review' });
    await press(review.getByRole('button', { name: 'Review changes' }));
    await review.getByRole('table', { name: 'Service changes' }).waitFor({ timeout: 120_000 });
    const install = page.getByRole('region', { name: '7. Install' });
    await press(install.getByRole('button', { name: 'Install' }));
    await install.getByRole('region', { name: /^Installed release / }).waitFor({ timeout: 540_000 });
    await page.getByRole('region', { name: '8. Done' }).getByRole('list', { name: 'Your services' }).waitFor({ timeout: 60_000 });
    await expect(page.getByRole('alert').count()).resolves.toBe(0);
    const status = await invoke<{ currentRelease: string | null; services: Array<{ service: string; state: string }> }>(page, 'stack:status', { profileId });
    expect(status.currentRelease).not.toBeNull();
    expect(status.services.find((s) => s.service === 'jellyfin')?.state).toBe('running');
    await page.screenshot({ path: shot('setup-done'), fullPage: true });
  }, 600_000);

  it('every page, light and dark, has no serious or critical axe violation and reports no CSP violation under the production policy', async () => {
    // The policy Chromium enforced is the desktop app's production one: no 'unsafe-inline' anywhere.
    expect(servedCsp).toBe(cspFor(false));
    expect(servedCsp).not.toContain('unsafe-inline');

    const nav = page.getByRole('navigation', { name: 'Main' });
    // Every page the navigation offers, as it offers them.
    const pages = (await nav.getByRole('link').allTextContents()).map((t) => t.trim());
    expect(pages.length).toBeGreaterThanOrEqual(6);
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const visits: Array<[string, () => Promise<void>]> = [
        ...pages.map((name): [string, () => Promise<void>] => [
          name,
          async () => {
            await press(nav.getByRole('link', { name, exact: true }));
            await page.getByRole('heading', { level: 1, name }).waitFor();
          },
        ]),
        // Pages reached from others: the recovery kit and one service's logs.
        ['Recovery kit', () => page.goto(`${host.url}#/recovery-kit`).then(() => page.getByRole('heading', { level: 1 }).first().waitFor())],
        ['Logs', () => page.goto(`${host.url}#/logs/jellyfin`).then(() => page.getByRole('list', { name: 'Log lines of jellyfin' }).waitFor({ timeout: 60_000 }))],
      ];
      for (const [name, visit] of visits) {
        await visit();
        const issues = await axeScan(`${name} (${scheme})`);
        const csp = await cspViolations();
        if (csp.length) problems.push(`${name} (${scheme}): CSP violations\n${csp.join('\n')}`);
        if (issues.length) problems.push(`${name} (${scheme}):\n${describeViolations(issues)}`);
        await page.screenshot({ path: shot(`page-${name.toLowerCase().replace(/\s+/g, '-')}-${scheme}`), fullPage: true });
      }
    }
    expect(problems.join('\n\n')).toBe('');
    expect(await cspViolations()).toEqual([]);

    // The listener does hear a violation: an inline <style> is refused and reported.
    await page.evaluate(() => {
      const s = (globalThis as unknown as PageWindow).document.createElement('style');
      s.textContent = 'main { outline: 1px solid red; }';
      (globalThis as unknown as PageWindow).document.head.append(s);
    });
    await page.waitForFunction(() => (globalThis as unknown as PageWindow).__m2Csp.length > 0, undefined, { timeout: 10_000 });
    expect((await cspViolations()).join('\n')).toMatch(/^style-src-elem blocked inline/);
  }, 600_000);

  it('the service action dialog starts on Cancel, keeps focus inside, and Escape changes nothing on the server', async () => {
    await page.goto(`${host.url}#/logs/jellyfin`);
    await page.emulateMedia({ colorScheme: 'light' });
    const before = startedAt('jellyfin');
    await press(page.getByRole('region', { name: 'Service jellyfin' }).getByRole('button', { name: 'Restart', exact: true }));
    const dialog = page.getByRole('dialog', { name: 'Restart jellyfin?' });
    await dialog.waitFor();
    await expect(isFocused(dialog.getByRole('button', { name: 'Cancel' }))).resolves.toBe(true);
    await expectFocusTrapped(dialog);
    await page.screenshot({ path: shot('restart-dialog') });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Nothing was asked of the server: the container was not restarted.
    expect(startedAt('jellyfin')).toBe(before);
    // Enter on the focused Cancel is the safe answer too.
    await press(page.getByRole('region', { name: 'Service jellyfin' }).getByRole('button', { name: 'Restart', exact: true }));
    await dialog.waitFor();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    expect(startedAt('jellyfin')).toBe(before);
  }, 120_000);
});
