import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Logs page in Chromium against the lab: Jellyfin and the backup installed through the app (project `m2` in the
 * admin's ~/m2, shared with the other install e2e files, which run one at a time). The backup container really
 * prints its restic password (a keychain-held generated secret) into its log; the page must show it masked. Restart,
 * stop and start go through the confirmation dialog and are checked against Docker itself.
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-logs');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const backupRepo = path.join(adminServer.root, 'backup', 'restic');
const MASK = '••••••••';

const shot = (name: string): string => screenshotPath('e2e', `logs-${name}.png`);
const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const startedAt = (service: string): string => docker('inspect', '--format', '{{.State.StartedAt}}', `m2-${service}-1`);
/** Write a line into a container's own log, as if its main process had printed it. */
const printInto = (service: string, shellLine: string): void => void docker('exec', `m2-${service}-1`, 'sh', '-c', `${shellLine} > /proc/1/fd/1`);

describe('the Logs page in Chromium, against the lab stack', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  let resticPassword = '';
  const keychain = new KeyringSecretStore();
  const pageProblems: string[] = [];

  const logLines = (service: string): Locator => page.getByRole('list', { name: `Log lines of ${service}` });
  const streamStatus = (): Locator => page.getByRole('status', { name: 'Log stream' });

  beforeAll(async () => {
    removeStack();
    makeAdminFolders(dataRoot, mediaRoot, path.dirname(backupRepo));
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-logs-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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

  it('installs Jellyfin and the backup through the app', async () => {
    profileId = await connectLabServer(page, lab.ssh, 'Lab logs');
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
          nextcloud: { enabled: false },
          authentik: { enabled: false },
          cloudflared: { enabled: false },
          backup: { repository: backupRepo },
        },
      },
    });
    const applied = await invoke<{ kind: string }>(page, 'stack:apply', { profileId });
    expect(applied.kind, JSON.stringify(applied)).toBe('applied');
    resticPassword = docker('exec', 'm2-backup-1', 'sh', '-c', 'echo "$RESTIC_PASSWORD"');
    expect(resticPassword.length).toBeGreaterThan(20);
  }, 600_000);

  it('opens a service’s logs from the Dashboard’s service list', async () => {
    await page.goto(`${host.url}#/dashboard`);
    const link = page.getByRole('table', { name: 'Services status' }).getByRole('link', { name: 'Logs and actions of backup' });
    await link.waitFor({ timeout: 60_000 });
    await link.click();
    await page.waitForURL(/#\/logs\/backup$/);
    await page.getByRole('heading', { name: 'backup', level: 2 }).waitFor({ timeout: 20_000 });
    await expect(page.getByRole('navigation', { name: 'Services' }).getByRole('link', { name: 'backup' }).getAttribute('aria-current')).resolves.toBe('page');
    await streamStatus().filter({ hasText: /^Following — / }).waitFor({ timeout: 20_000 });
    // The Dashboard stays the current navigation item: the Logs page is one of its subpages.
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current')).resolves.toBe('page');
  }, 120_000);

  it('follows new lines, with the restic password (a keychain secret) masked before it reaches the page', async () => {
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    printInto('backup', `echo "${marker} restic: opening repository with password $RESTIC_PASSWORD"`);
    // The value really is in Docker's log, in clear.
    expect(docker('logs', '--tail', '5', 'm2-backup-1')).toContain(resticPassword);
    const line = logLines('backup').getByRole('listitem').filter({ hasText: marker });
    await line.waitFor({ timeout: 30_000 });
    await expect(line.locator('.log-text').textContent()).resolves.toBe(`${marker} restic: opening repository with password ${MASK}`);
    expect(await page.content()).not.toContain(resticPassword);
    await page.screenshot({ path: shot('follow-masked'), fullPage: true });
  }, 60_000);

  it('searches, and reads a closed time range; hostile text is only ever searched for', async () => {
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill('MARKER-');
    await streamStatus().filter({ hasText: /^Following — 1 line;/ }).waitFor({ timeout: 20_000 });
    await expect(logLines('backup').getByRole('listitem').count()).resolves.toBe(1);
    await page.screenshot({ path: shot('search'), fullPage: true });
    // A search for the secret's value finds nothing: lines are searched after masking.
    await search.fill(resticPassword.slice(0, 12));
    await page.getByText(`No line contains “${resticPassword.slice(0, 12)}”.`).waitFor({ timeout: 20_000 });
    const canary = path.join(adminServer.home, `pwned-${process.pid}`);
    await search.fill(`$(touch ${canary}) \`touch ${canary}\` '; touch ${canary}; '`);
    await page.getByText(/^No line contains “\$\(touch/).waitFor({ timeout: 20_000 });
    expect(existsSync(canary)).toBe(false);
    await search.fill('');
    await page.getByRole('checkbox', { name: 'Follow' }).uncheck();
    await page.getByRole('combobox', { name: 'From', exact: true }).selectOption('1h');
    await streamStatus().filter({ hasText: /All lines of the range are shown\.$/ }).waitFor({ timeout: 20_000 });
    await expect(logLines('backup').getByRole('listitem').filter({ hasText: 'marker-' }).count()).resolves.toBe(1);
    await page.screenshot({ path: shot('range'), fullPage: true });
    // The contract refuses a service name that is not one, naming the field.
    await expect(invoke(page, 'logs:open', { profileId, streamId: 'hostile-0001', service: 'backup; reboot' })).rejects.toThrow(/Error: Service: choose a service/);
    await expect(invoke(page, 'logs:open', { profileId, streamId: 'hostile-0002', service: 'postgres' })).rejects.toThrow(/Error: Service: “postgres” is not a service/);
    expect(pageProblems).toEqual([]);
  }, 120_000);

  it('restarts a service only after the admin confirms, and Docker shows it restarted', async () => {
    await page.getByRole('navigation', { name: 'Services' }).getByRole('link', { name: 'jellyfin' }).click();
    await page.getByRole('heading', { name: 'jellyfin', level: 2 }).waitFor();
    const before = startedAt('jellyfin');
    const panel = page.getByRole('region', { name: 'Service jellyfin' });
    await panel.getByRole('button', { name: 'Restart', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Restart jellyfin?' });
    await dialog.waitFor();
    await page.screenshot({ path: shot('restart-confirm'), fullPage: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog.count()).resolves.toBe(0);
    expect(startedAt('jellyfin')).toBe(before);
    await panel.getByRole('button', { name: 'Restart', exact: true }).click();
    await dialog.getByRole('button', { name: 'Restart jellyfin' }).click();
    await panel.getByRole('status').filter({ hasText: /^jellyfin: restarted in [\d.]+ s — now running\.$/ }).waitFor({ timeout: 60_000 });
    expect(startedAt('jellyfin')).not.toBe(before);
    await page.screenshot({ path: shot('restarted'), fullPage: true });
  }, 120_000);

  it('stops and starts a service, each confirmed', async () => {
    const panel = page.getByRole('region', { name: 'Service jellyfin' });
    await panel.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('dialog', { name: 'Stop jellyfin?' }).getByRole('button', { name: 'Stop jellyfin' }).click();
    await panel.getByRole('status').filter({ hasText: /stopped in [\d.]+ s — now exited\.$/ }).waitFor({ timeout: 60_000 });
    expect(docker('inspect', '--format', '{{.State.Running}}', 'm2-jellyfin-1')).toBe('false');
    await page.screenshot({ path: shot('stopped'), fullPage: true });
    await panel.getByRole('button', { name: 'Start', exact: true }).click();
    await page.getByRole('dialog', { name: 'Start jellyfin?' }).getByRole('button', { name: 'Start jellyfin' }).click();
    await panel.getByRole('status').filter({ hasText: /started in [\d.]+ s — now running\.$/ }).waitFor({ timeout: 60_000 });
    expect(docker('inspect', '--format', '{{.State.Running}}', 'm2-jellyfin-1')).toBe('true');
    // Compose stopped following the stopped container; the log opens again by itself after the start.
    await streamStatus().filter({ hasText: /^Following — / }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: shot('started'), fullPage: true });
  }, 120_000);

  it('says a container keeps restarting, with its last lines masked', async () => {
    // The backup container, told to die at once with the password in its last words, under Docker's restart policy.
    const id = docker('ps', '--quiet', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'label=com.docker.compose.service=backup');
    docker('update', '--restart', 'always', id);
    printInto('backup', 'echo "backup: repository refused password $RESTIC_PASSWORD"');
    // Its main process killed from outside (not `docker kill`, which counts as stopped by hand): Docker restarts it by
    // policy and counts the restart; four times in a row is a crash loop.
    for (let i = 0; i < 4; i++) {
      const pid = Number(docker('inspect', '--format', '{{.State.Pid}}', id));
      if (pid > 0) process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 1_500));
    }
    expect(Number(docker('inspect', '--format', '{{.RestartCount}}', id))).toBeGreaterThanOrEqual(3);
    await page.reload();
    const alert = page.getByRole('alert', { name: 'backup keeps restarting' });
    await alert.waitFor({ timeout: 30_000 });
    await expect(alert.getByLabel('Last lines of backup').textContent()).resolves.toContain(`backup: repository refused password ${MASK}`);
    expect(await page.content()).not.toContain(resticPassword);
    await page.screenshot({ path: shot('crash-loop'), fullPage: true });
  }, 120_000);
});
