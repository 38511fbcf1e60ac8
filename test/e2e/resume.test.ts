import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../scripts/lab/process';
import { addLabServer, connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * Setup that resumes for real, in Chromium against the lab: what was done is kept in the web host's data folder, so a
 * restarted host (same --data-dir) reopens Setup on the first unfinished step with the finished ones marked and their
 * results and times shown; a preflight older than a day says so and runs again; the server chosen on one page is the
 * one every page shows and acts on, after a reload and after a restart.
 */
const lab = inject('lab');
const FIRST = 'Lab resume';
const SECOND = 'Lab resume two';
const shot = (name: string): string => screenshotPath('e2e', `resume-${name}.png`);

interface KeptPreflightFile {
  version: 1;
  last: { at: string; host: string; port: number; hostKeys: string[]; dataPaths: string[] } | null;
}

describe('Setup resumes where it stood, on the chosen server', () => {
  let dataDir: string;
  let port: number;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let firstId = '';
  let secondId = '';
  const pageProblems: string[] = [];

  const steps = (): Locator => page.getByRole('list', { name: 'Setup steps' });
  const step = (title: string): Locator => steps().getByRole('listitem').filter({ hasText: new RegExp(`^${title}$`) });
  const currentIs = (title: string): Promise<void> => steps().locator('[aria-current="step"]', { hasText: new RegExp(`^${title}$`) }).waitFor({ timeout: 20_000 });
  /** One step's line in "Setup progress": its name, status, time and result. */
  const progressOf = (title: string): Locator => page.getByRole('list', { name: 'Setup progress' }).getByRole('listitem').filter({ hasText: new RegExp(`^${title} `) });
  const keptPreflight = (profileId: string): KeptPreflightFile => JSON.parse(readFileSync(path.join(dataDir, 'preflight', `${profileId}.json`), 'utf8')) as KeptPreflightFile;
  const restartHost = async (): Promise<void> => {
    await host.stop();
    host = await startWebHostProcess({ dataDir, port });
    expect(host.port).toBe(port);
  };
  const connectedAgain = (profileId: string): Promise<void> =>
    expect.poll(async () => (await invoke<{ kind: string }>(page, 'server:state', { profileId }).catch(() => ({ kind: 'unreachable' }))).kind, { timeout: 60_000 }).toBe('connected');

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-resume-'));
    port = await freePort();
    host = await startWebHostProcess({ dataDir, port });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      // The socket to a web host that is restarting is refused for a moment: the page's own client retries it.
      if (/WebSocket connection to .* failed/.test(m.text())) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) pageProblems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => pageProblems.push(String(e)));
    await page.goto(host.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('after Connect and the preflight, Preflight is marked done with its time and Domain & Cloudflare is the step to work on', async () => {
    await currentIs('Server');
    firstId = await connectLabServer(page, lab.ssh, FIRST);
    await currentIs('Domain & Cloudflare');
    await expect(step('Server').getAttribute('data-status')).resolves.toBe('done');
    await expect(step('Preflight').getAttribute('data-status')).resolves.toBe('done');
    // Nothing later is marked: the page no longer jumps past the steps in between.
    for (const later of ['Domain & Cloudflare', 'Services & storage', 'Accounts', 'Review', 'Install', 'Done']) {
      await expect(step(later).getAttribute('data-status'), later).resolves.toBe('todo');
    }
    const kept = keptPreflight(firstId).last;
    expect(kept).toMatchObject({ host: lab.ssh.host, port: lab.ssh.port, hostKeys: [lab.ssh.hostKeyFingerprint], dataPaths: [`/home/${lab.ssh.admin.name}`] });
    await expect(progressOf('Preflight').locator('time').getAttribute('datetime')).resolves.toBe(kept?.at);
    await expect(progressOf('Preflight').textContent()).resolves.toMatch(/^Preflight ✓ Done · .* — (All \d+ checks passed\.|\d+ checks? passed, \d+ warnings?\.|\d+ checks? failed \(.*\): fix (it|them) before installing, then run the checks again\.)$/);
    await expect(progressOf('Server').textContent()).resolves.toContain(lab.ssh.hostKeyFingerprint);
    await page.screenshot({ path: shot('after-preflight'), fullPage: true });
  }, 180_000);

  it('after the web host restarts with the same data folder, Setup reopens with Preflight done at its time and the step after it current', async () => {
    const kept = keptPreflight(firstId).last;
    await restartHost();
    await page.goto(`${host.url}#/setup`);
    await currentIs('Domain & Cloudflare');
    await expect(step('Preflight').getAttribute('data-status')).resolves.toBe('done');
    await expect(progressOf('Preflight').locator('time').getAttribute('datetime')).resolves.toBe(kept?.at);
    await expect(progressOf('Preflight').textContent()).resolves.toMatch(/✓ Done/);
    // The server came back by itself (a key sign-in): the steps that need it are on the page without a manual Connect.
    await connectedAgain(firstId);
    await page.getByRole('region', { name: '4. Services & storage' }).getByRole('form', { name: 'Stack settings' }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: shot('after-restart'), fullPage: true });
  }, 180_000);

  it('a preflight older than a day says it is stale, and "Run again" checks the same folders and marks it done', async () => {
    const file = path.join(dataDir, 'preflight', `${firstId}.json`);
    const kept = keptPreflight(firstId);
    const dayAndHourAgo = new Date(Date.now() - 25 * 60 * 60 * 1000).toISOString();
    writeFileSync(file, JSON.stringify({ ...kept, last: { ...kept.last, at: dayAndHourAgo } }), { mode: 0o600 });
    await page.reload();
    await currentIs('Preflight');
    await expect(step('Preflight').getAttribute('data-status')).resolves.toBe('stale');
    const line = progressOf('Preflight');
    await expect(line.textContent()).resolves.toMatch(/Stale · .* — It ran more than a day ago; the server may have changed since\. Run it again\./);
    await page.screenshot({ path: shot('stale-preflight'), fullPage: true });

    await connectedAgain(firstId);
    await line.getByRole('button', { name: 'Run again' }).click();
    await currentIs('Domain & Cloudflare');
    await expect(step('Preflight').getAttribute('data-status')).resolves.toBe('done');
    const again = keptPreflight(firstId).last;
    expect(Date.parse(again?.at ?? '')).toBeGreaterThan(Date.parse(dayAndHourAgo));
    expect(again?.dataPaths).toEqual(kept.last?.dataPaths);
  }, 180_000);

  it('with two saved servers, the second picked in Setup stays chosen after a reload and a restart, and the Services page acts on it', async () => {
    await addLabServer(page, lab.ssh, SECOND);
    secondId = (await invoke<Array<{ id: string; name: string }>>(page, 'profiles:list')).find((p) => p.name === SECOND)?.id ?? '';
    expect(secondId).not.toBe('');
    await page.getByLabel('Server to set up').selectOption(secondId);
    // The second server's own progress: its address's host key is on record, its preflight never ran.
    await currentIs('Preflight');
    await page.getByText(`Connect to ${SECOND} above to continue its setup`).waitFor();

    await page.reload();
    await expect(page.getByLabel('Server to set up').inputValue()).resolves.toBe(secondId);
    await page.goto(`${host.url}#/services`);
    const picker = page.getByRole('combobox', { name: 'Server', exact: true });
    await expect.poll(() => picker.inputValue(), { timeout: 10_000 }).toBe(secondId);

    const form = page.getByRole('form', { name: 'Stack settings' });
    await form.getByLabel('Service data folder').fill('/srv/m2-second');
    await form.getByRole('button', { name: 'Save settings' }).click();
    const secondFile = path.join(dataDir, 'stacks', `${secondId}.json`);
    await expect.poll(() => existsSync(secondFile), { timeout: 10_000 }).toBe(true);
    expect((JSON.parse(readFileSync(secondFile, 'utf8')) as { settings: { dataRoot: string } }).settings.dataRoot).toBe('/srv/m2-second');
    // Nothing meant for the second server was saved to the first.
    expect(existsSync(path.join(dataDir, 'stacks', `${firstId}.json`))).toBe(false);
    await page.screenshot({ path: shot('services-second-server'), fullPage: true });

    await restartHost();
    await page.goto(`${host.url}#/services`);
    await expect.poll(() => page.getByRole('combobox', { name: 'Server', exact: true }).inputValue(), { timeout: 10_000 }).toBe(secondId);
    await page.goto(`${host.url}#/dashboard`);
    await expect.poll(() => page.getByRole('combobox', { name: 'Server', exact: true }).inputValue(), { timeout: 10_000 }).toBe(secondId);
    await expect(invoke<{ profileId: string | null }>(page, 'profiles:chosen')).resolves.toEqual({ profileId: secondId });
  }, 180_000);

  it('a finished install kept by the app resumes at Done after a restart, not at Review', async () => {
    await host.stop();
    // The outcome as the app keeps it when an install ends well (see electron/core/stack/apply-outcomes.ts).
    mkdirSync(path.join(dataDir, 'operations'), { recursive: true });
    const finishedAt = new Date().toISOString();
    writeFileSync(
      path.join(dataDir, 'operations', `${firstId}.json`),
      JSON.stringify({
        version: 1,
        install: {
          kind: 'finished',
          applyId: 'resume-e2e',
          startedAt: finishedAt,
          finishedAt,
          result: { kind: 'applied', releaseId: 'r-resume-e2e', services: [], health: [], warnings: [], durationMs: 1000 },
        },
      }),
      { mode: 0o600 },
    );
    host = await startWebHostProcess({ dataDir, port });
    await page.goto(`${host.url}#/setup`);
    await page.getByLabel('Server to set up').selectOption(firstId);
    await currentIs('Done');
    await expect(step('Install').getAttribute('data-status')).resolves.toBe('done');
    await expect(progressOf('Install').textContent()).resolves.toMatch(/Release r-resume-e2e installed/);
    await connectedAgain(firstId);
    await page.getByRole('region', { name: '8. Done' }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: shot('done-after-restart'), fullPage: true });
  }, 180_000);

  it('raised no CSP violation or script error', () => {
    expect(pageProblems).toEqual([]);
  });
});
