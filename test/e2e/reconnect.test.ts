import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { addLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * Connections that come back by themselves, and installs that always end on the page with an outcome, in Chromium
 * against the lab: the Dashboard follows a connection made in another tab; an install whose SSH session is killed
 * while the release starts says so (also after a reload); a restarted web host (same --data-dir, the page left open)
 * reconnects the server and live status flows again. Shares project `m2` and ~/m2 with the other stack e2e files.
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-reconnect');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');
const NAME = 'Lab reconnect';

const shot = (name: string): string => screenshotPath('e2e', `reconnect-${name}.png`);

/** The sshd process that serves the SSH connection running `pid` (its nearest sshd ancestor). */
function sshdServing(pid: number): number {
  for (let p = pid, i = 0; p > 1 && i < 10; i++) {
    const [ppid, comm] = execFileSync('ps', ['-o', 'ppid=,comm=', '-p', String(p)], { encoding: 'utf8' }).trim().split(/\s+/);
    if (comm?.startsWith('sshd') && p !== pid) return p;
    p = Number(ppid);
  }
  throw new Error(`no sshd above process ${pid}`);
}

const guardPids = (): number[] => {
  try {
    return execFileSync('pgrep', ['-u', admin.name, '-f', 'm2/bin/m2-apply.sh'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

describe('connections that come back by themselves, and install outcomes that stay on the page', () => {
  let dataDir: string;
  let port: number;
  let host: RunningWebHost;
  let browser: Browser;
  /** The Dashboard, opened first and left open throughout. */
  let dash: Page;
  /** Setup, in another tab. */
  let setup: Page;
  let profileId = '';
  let firstRelease = '';
  const pageProblems: string[] = [];
  /** Resolves when the Setup tab receives the named install phase (pushed over the web host's socket). */
  const phaseWaiters = new Map<string, () => void>();

  const settings = (lanPort: number) => ({
    dataRoot,
    publishAddress: '127.0.0.1',
    uid: adminUid,
    gid: adminGid,
    timezone: 'UTC',
    hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
    modules: {
      jellyfin: { lanPort, mediaPaths: [mediaRoot] },
      nextcloud: { enabled: false },
      authentik: { enabled: false },
      cloudflared: { enabled: false, replicas: 1 },
      backup: { enabled: false },
    },
  });
  const serviceRow = (page: Page, service: string): Locator =>
    page
      .getByRole('region', { name: 'Services', exact: true })
      .getByRole('table', { name: 'Services status' })
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: service, exact: true }) });
  const watch = (page: Page): void => {
    page.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      // The socket to a web host that is restarting is refused for a moment: the page's own client retries it.
      if (/WebSocket connection to .* failed/.test(m.text())) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) pageProblems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => pageProblems.push(String(e)));
  };

  beforeAll(async () => {
    removeStack();
    makeAdminFolders(dataRoot, mediaRoot);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-reconnect-'));
    port = await freePort();
    host = await startWebHostProcess({ dataDir, port });
    browser = await launchChromium();
    dash = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    setup = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    watch(dash);
    watch(setup);
    setup.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        const msg = JSON.parse(String(f.payload)) as { t?: string; event?: string; payload?: { kind?: string; phase?: string } };
        if (msg.t === 'event' && msg.event === 'stack:progress' && msg.payload?.kind === 'phase' && msg.payload.phase) phaseWaiters.get(msg.payload.phase)?.();
      }),
    );
  }, 120_000);

  afterAll(async () => {
    const generated = profileId ? await invoke<Array<{ name: string }>>(dash, 'stack:secrets', { profileId }).catch(() => []) : [];
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const keychain = new KeyringSecretStore();
    for (const n of new Set(['jellyfin.admin-password', 'jellyfin.api-key', ...generated.map((g) => g.name)])) await keychain.delete(profileId, n).catch(() => undefined);
    removeStack();
  }, 240_000);

  it('the Dashboard, opened before connecting, follows a connection made in another tab without "Try again"', async () => {
    await dash.goto(`${host.url}#/dashboard`);
    await dash.getByRole('region', { name: 'No servers saved yet' }).waitFor({ timeout: 10_000 });

    await setup.goto(host.url);
    await addLabServer(setup, lab.ssh, NAME);
    // Saved in the other tab: the Dashboard lists it at once and says it is not connected, and that it will follow.
    const connection = dash.getByRole('status', { name: 'Connection' });
    await connection.filter({ hasText: 'Not connected to this server. Connect to it in Setup; this page follows by itself.' }).waitFor({ timeout: 10_000 });
    await dash.screenshot({ path: shot('dashboard-before-connect'), fullPage: true });

    await setup.getByRole('button', { name: `Connect to ${NAME}` }).click();
    await setup.getByRole('dialog', { name: 'Confirm the server’s identity' }).getByRole('button', { name: 'Trust and connect' }).click();
    profileId = (await invoke<Array<{ id: string; name: string }>>(setup, 'profiles:list')).find((p) => p.name === NAME)?.id ?? '';
    expect(profileId).not.toBe('');

    // Nothing pressed on the Dashboard: it asked the server by itself once the connection was up.
    await dash
      .getByRole('region', { name: 'Not installed yet' })
      .waitFor({ timeout: 60_000 })
      .catch(async (err: unknown) => {
        await dash.screenshot({ path: shot('failed-dashboard'), fullPage: true });
        await setup.screenshot({ path: shot('failed-setup'), fullPage: true });
        throw err;
      });
    await expect(connection.count()).resolves.toBe(0);
    await expect(dash.getByRole('button', { name: 'Try again' }).count()).resolves.toBe(0);
    await dash.screenshot({ path: shot('dashboard-followed-connect'), fullPage: true });
  }, 180_000);

  it('an install whose SSH session is killed while the release starts ends with "connection lost", also after a reload', async () => {
    await invoke(setup, 'stack:save-settings', { profileId, settings: settings(await freePort()) });
    const first = await invoke<{ kind: string; releaseId?: string }>(setup, 'stack:apply', { profileId });
    expect(first.kind, JSON.stringify(first)).toBe('applied');
    firstRelease = first.releaseId ?? '';
    // An update: Jellyfin moves to another port, so the next install recreates it.
    await invoke(setup, 'stack:save-settings', { profileId, settings: settings(await freePort()) });

    await setup.goto(`${host.url}#/setup`);
    await setup.reload();
    const review = setup.getByRole('region', { name: '6. Review' });
    const install = setup.getByRole('region', { name: '7. Install' });
    await review.getByRole('button', { name: 'Review changes' }).click();
    await review.getByRole('table', { name: 'Service changes' }).locator('tbody tr').filter({ hasText: 'Recreate' }).first().waitFor({ timeout: 120_000 });

    const starting = new Promise<void>((resolve) => phaseWaiters.set('start', resolve));
    await install.getByRole('button', { name: 'Install' }).click();
    await starting;
    // The new release is starting on the server: kill the sshd process that serves the app's connection.
    const guards = guardPids();
    expect(guards.length).toBeGreaterThan(0);
    execFileSync('kill', ['-KILL', String(sshdServing(guards[0] ?? 0))]);

    const outcome = install.getByRole('alert', { name: 'Install interrupted' });
    await outcome.waitFor({ timeout: 30_000 });
    await expect(outcome.textContent()).resolves.toMatch(/^Connection lost — the server restored the previous release; run Install again\./);
    await expect(install.getByRole('button', { name: 'Install' }).isEnabled()).resolves.toBe(true);
    await setup.screenshot({ path: shot('install-connection-lost'), fullPage: true });

    // The server's guard brought the previous release back, and the connection came back by itself.
    await expect.poll(() => guardPids().length, { timeout: 120_000, interval: 500 }).toBe(0);
    await expect.poll(async () => (await invoke<{ kind: string }>(setup, 'server:state', { profileId })).kind, { timeout: 60_000 }).toBe('connected');
    await expect(invoke<{ currentRelease: string | null }>(setup, 'stack:status', { profileId })).resolves.toMatchObject({ currentRelease: firstRelease });

    // A reload (or a window opened later) shows the same outcome, kept by main.
    await setup.reload();
    const again = setup.getByRole('region', { name: '7. Install' }).getByRole('alert', { name: 'Install interrupted' });
    await again.waitFor({ timeout: 30_000 });
    await expect(again.textContent()).resolves.toMatch(/^Connection lost — the server restored the previous release; run Install again\./);
    await setup.screenshot({ path: shot('install-connection-lost-after-reload'), fullPage: true });
  }, 600_000);

  it('a restarted web host reconnects the server by itself, and the open Dashboard’s live status flows again', async () => {
    await dash.goto(`${host.url}#/dashboard`);
    await serviceRow(dash, 'jellyfin').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 });
    // A server signed in with a password was connected too: it cannot come back without the password, and says so.
    const pw = await invoke<{ id: string }>(dash, 'profiles:save', { name: 'Lab password', host: lab.ssh.host, port: lab.ssh.port, username: admin.name, auth: { kind: 'password' } });
    mkdirSync(path.join(dataDir, 'connections'), { recursive: true });
    writeFileSync(path.join(dataDir, 'connections', `${pw.id}.json`), JSON.stringify({ version: 1, reconnect: true }), { mode: 0o600 });
    expect(JSON.parse(readFileSync(path.join(dataDir, 'connections', `${profileId}.json`), 'utf8'))).toEqual({ version: 1, reconnect: true });

    await host.stop();
    host = await startWebHostProcess({ dataDir, port });
    expect(host.port).toBe(port);

    // The page was never reloaded: its socket joins the new host, which reconnects the server on its own.
    await expect.poll(async () => (await invoke<{ kind: string }>(dash, 'server:state', { profileId }).catch(() => ({ kind: 'unreachable' }))).kind, { timeout: 60_000 }).toBe('connected');
    await serviceRow(dash, 'jellyfin').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 });
    // Live status flows from the new host: a container stopped now shows on the page.
    execFileSync('docker', ['stop', '--time', '1', 'm2-jellyfin-1'], { stdio: 'pipe', timeout: 60_000 });
    await serviceRow(dash, 'jellyfin').filter({ hasText: 'exited' }).waitFor({ timeout: 20_000 });
    await expect(dash.getByRole('button', { name: 'Try again' }).count()).resolves.toBe(0);
    await dash.screenshot({ path: shot('dashboard-after-host-restart'), fullPage: true });
    execFileSync('docker', ['start', 'm2-jellyfin-1'], { stdio: 'pipe', timeout: 60_000 });
    await serviceRow(dash, 'jellyfin').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 });

    await dash.getByRole('combobox', { name: 'Server', exact: true }).selectOption(pw.id);
    await dash.getByRole('status', { name: 'Connection' }).filter({ hasText: /signs in with a password, which M2 Companion never keeps, so it could not reconnect by itself/ }).waitFor({ timeout: 10_000 });
    await dash.screenshot({ path: shot('dashboard-password-after-restart'), fullPage: true });
    await invoke(dash, 'profiles:remove', { id: pw.id });
    expect(existsSync(path.join(dataDir, 'webhost-token'))).toBe(true);
  }, 300_000);

  it('raised no CSP violation or script error on either page', () => {
    expect(pageProblems).toEqual([]);
  });
});
