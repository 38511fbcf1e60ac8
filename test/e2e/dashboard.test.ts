import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { backupOnceCommand } from '../../electron/core/stack/modules/backup';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Dashboard in Chromium against the lab (issue 7): the stack installed through the app (project `m2`, as the
 * admin's ~/m2; shared with test/lab/stack-apply.test.ts, test/lab/stack-publish.test.ts and test/e2e/stack.test.ts,
 * which run one file at a time), with a tunnel token in the keychain so cloudflared runs; then stand-in state is
 * changed on the server and each change must be on the page within 2 s of the command that made it.
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-dashboard');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;

const e2eRoot = adminServer.root;
const dataRoot = path.join(e2eRoot, 'data');
const mediaRoot = path.join(e2eRoot, 'media');
const backupRepo = path.join(e2eRoot, 'backup', 'restic');
const BAR_MS = 2_000;

const shot = (name: string): string => screenshotPath('e2e', `dashboard-${name}.png`);



/** A token of the shape cloudflared (and its lab stand-in) accepts: base64 JSON of account, tunnel id and secret. */
const tunnelToken = (): string =>
  Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');


const containerIp = (service: string): string =>
  execFileSync('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', `m2-${service}-1`], { encoding: 'utf8' }).trim().split(/\s+/)[0] ?? '';

/** POST a patch to a stand-in's control API, by container IP (cloudflared publishes no port). */
async function labState(service: string, port: number, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`http://${containerIp(service)}:${port}/__lab/state`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
  if (!res.ok) throw new Error(`/__lab/state of ${service} answered ${res.status}: ${await res.text()}`);
}

/** Milliseconds from `since` until the locator matches (waits at most `timeoutMs`). */
async function visibleAfter(locator: Locator, since: number, timeoutMs = 15_000): Promise<number> {
  await locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
  return Date.now() - since;
}

/** The text a control's aria-describedby points to: what a screen reader reads after its name. */
const description = (el: Locator): Promise<string> =>
  el.evaluate((node) =>
    (node.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id: string) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById(id)?.textContent ?? '')
      .join(' '),
  );

const chart = (page: Page, title: string): Locator => page.getByRole('figure', { name: `${title}, last hour` });

const latencies: Record<string, number> = {};

describe('the Dashboard in Chromium, live against the lab stack', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  const keychain = new KeyringSecretStore();
  const pageProblems: string[] = [];
  /** Contract calls the page sent over the web host's socket: channel and profile, in order. */
  const sentCalls: Array<{ channel: string; profileId?: string }> = [];

  const region = (name: string): Locator => page.getByRole('region', { name, exact: true });
  const cards = (): Locator => page.getByRole('list', { name: 'Status, worst first' });
  const card = (name: string): Locator => cards().getByRole('listitem', { name, exact: true });
  const streams = (): Locator => region('Transcodes').getByRole('table', { name: 'Streams' });
  const serviceRow = (service: string): Locator =>
    region('Services').getByRole('table', { name: 'Services status' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: service, exact: true }) });

  beforeAll(async () => {
    removeStack();
    makeAdminFolders(dataRoot, mediaRoot, path.dirname(backupRepo));
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-dashboard-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // A CSP violation or a script error anywhere on the page fails the test (Recharts renders SVG with styles).
    // The web host serves no favicon; Chromium's request for one is not the page's doing.
    page.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) pageProblems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => pageProblems.push(String(e)));
    page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        const msg = JSON.parse(String(f.payload)) as { t?: string; channel?: string; payload?: { profileId?: string } };
        if (msg.t === 'call' && msg.channel) sentCalls.push({ channel: msg.channel, ...(msg.payload?.profileId ? { profileId: msg.payload.profileId } : {}) });
      }),
    );
    await page.goto(host.url);
  }, 120_000);

  afterAll(async () => {
    // Every secret the app kept for this server in the lab keychain, by name (the profile id is this run's own).
    const generated = profileId ? await invoke<Array<{ name: string }>>(page, 'stack:secrets', { profileId }).catch(() => []) : [];
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileId) {
      for (const n of new Set([TUNNEL_TOKEN_SECRET, 'jellyfin.admin-password', 'jellyfin.api-key', ...generated.map((g) => g.name)])) await keychain.delete(profileId, n).catch(() => undefined);
    }
    removeStack();
    if (Object.keys(latencies).length) console.info(`dashboard change → visible: ${JSON.stringify(latencies)}`);
  }, 240_000);

  it('with no server saved, says what it will show once there is one', async () => {
    await page.goto(`${host.url}#/dashboard`);
    const empty = page.getByRole('region', { name: 'No servers saved yet' });
    await empty.waitFor({ timeout: 10_000 });
    await expect(empty.getByRole('link', { name: 'Setup' }).getAttribute('href')).resolves.toBe('#/setup');
    await expect(page.getByRole('list', { name: 'Status, worst first' }).count()).resolves.toBe(0);
    await page.screenshot({ path: shot('no-server'), fullPage: true });
  });

  it('for a connected server without the stack, says it is not installed yet', async () => {
    await page.goto(host.url);
    profileId = await connectLabServer(page, lab.ssh, 'Lab dashboard');

    await page.goto(`${host.url}#/dashboard`);
    await page.getByRole('region', { name: 'Not installed yet' }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: shot('not-installed'), fullPage: true });
  }, 120_000);

  it('for a saved server that is not connected, says so and that the page follows by itself (nothing to retry)', async () => {
    const offline = await invoke<{ id: string }>(page, 'profiles:save', { name: 'Lab offline', host: '127.0.0.1', port: await freePort(), username: admin.name, auth: { kind: 'agent' } });
    try {
      await page.goto(`${host.url}#/dashboard`);
      await page.getByRole('combobox', { name: 'Server', exact: true }).selectOption(offline.id);
      const notice = page.getByRole('status', { name: 'Connection' });
      await notice.filter({ hasText: 'Not connected to this server.' }).waitFor({ timeout: 10_000 });
      await expect(notice.textContent()).resolves.toMatch(/Connect to it in Setup; this page follows by itself\. Open Setup$/);
      await expect(notice.getByRole('link', { name: 'Open Setup' }).getAttribute('href')).resolves.toBe('#/setup');
      await expect(page.getByRole('button', { name: 'Try again' }).count()).resolves.toBe(0);
      await page.screenshot({ path: shot('not-connected'), fullPage: true });
    } finally {
      await invoke(page, 'profiles:remove', { id: offline.id });
    }
  });

  it('installs the stack through the app, cloudflared included once a tunnel token is in the keychain', async () => {
    // The tunnel exists (as after the Cloudflare step): its token is in the keychain, so the stack runs cloudflared.
    await keychain.set(profileId, TUNNEL_TOKEN_SECRET, new Secret(tunnelToken()));
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
          cloudflared: { enabled: true, replicas: 1 },
          backup: { repository: backupRepo },
        },
      },
    });
    const applied = await invoke<{ kind: string; services?: Array<{ service: string }> }>(page, 'stack:apply', { profileId });
    expect(applied.kind, JSON.stringify(applied)).toBe('applied');
    expect(applied.services?.map((s) => s.service).sort()).toEqual(['backup', 'cloudflared', 'jellyfin']);
  }, 600_000);

  it('renders the first full snapshot: every card, worst first, the panels and the charts', async () => {
    const t0 = Date.now();
    await page.goto(`${host.url}#/dashboard`);
    await expect(page.getByRole('combobox', { name: 'Server', exact: true }).inputValue()).resolves.toBe(profileId);
    for (const name of ['Tunnel', 'Services', 'Backups', 'Transcodes', 'Server']) await card(name).waitFor({ timeout: 20_000 });
    latencies.firstFullDashboard = Date.now() - t0;
    await expect(cards().getByRole('listitem').count()).resolves.toBe(5);
    // Worst first: the order of severities never improves down the list; no backup has run yet, so that is an error.
    // Read from each card's badge alone, in one pass (a reason may quote words such as "Unknown"): title and rank.
    const ranked = await cards()
      .getByRole('listitem')
      .evaluateAll((items) =>
        items.map((li) => {
          const badge = li.querySelector('.status-card-head .badge')?.textContent ?? '';
          return { title: li.querySelector('h3')?.textContent ?? '', rank: /Error/.test(badge) ? 3 : /Warning/.test(badge) ? 2 : /Unknown/.test(badge) ? 1 : /OK/.test(badge) ? 0 : -1 };
        }),
      );
    expect(ranked.map((r) => r.rank), JSON.stringify(ranked)).not.toContain(-1);
    expect([...ranked].sort((a, b) => b.rank - a.rank).map((r) => r.rank), JSON.stringify(ranked)).toEqual(ranked.map((r) => r.rank));
    // The backup service writes its first status file just after it starts: until then the card says it waits for it.
    await card('Backups').filter({ hasText: /Error.*No backup has completed/ }).waitFor({ timeout: 30_000 });
    await expect(card('Tunnel').textContent()).resolves.toMatch(/OK/);
    await expect(page.getByRole('status').filter({ hasText: /^. Error: Something is wrong\./ }).count()).resolves.toBe(1);

    await expect(region('Tunnel').getByText('Tunnel healthy').count()).resolves.toBe(1);
    await expect(region('Tunnel').textContent()).resolves.toMatch(/Connections4 of 4/);
    await expect(region('Transcodes').getByText('Nobody is watching right now.').count()).resolves.toBe(1);
    for (const s of ['backup', 'cloudflared', 'jellyfin']) await expect(serviceRow(s).textContent(), s).resolves.toMatch(/OK.*running/);
    await expect(region('Host').getByRole('table', { name: 'Free space' }).getByRole('row').count()).resolves.toBeGreaterThanOrEqual(3);

    // Each chart has a title and a text summary of its latest value, and Recharts drew its SVG.
    const figure = chart(page, 'Transcode frames per second');
    await figure.waitFor({ timeout: 10_000 });
    await expect(description(figure)).resolves.toMatch(/^Latest — All transcodes: 0 fps\.$/);
    await figure.locator('svg.recharts-surface').first().waitFor({ state: 'visible', timeout: 10_000 });
    await figure.locator('svg .recharts-line').first().waitFor({ state: 'attached', timeout: 10_000 });
    await expect(page.getByRole('figure', { name: 'Tunnel requests and errors per second, last hour' }).count()).resolves.toBe(1);
    await expect(page.getByRole('figure', { name: 'GPU encoder and decoder load, last hour' }).count()).resolves.toBe(1);
    await page.screenshot({ path: shot('first-snapshot'), fullPage: true });
  }, 60_000);

  it('shows two new transcodes, one hardware and one software, within 2 s', async () => {
    await labState('jellyfin', 8096, {
      addSessions: [
        { kind: 'hardware', userName: 'alice', item: { Name: 'Big Buck Bunny', Type: 'Movie', RunTimeTicks: 6_000_000_000 } },
        { kind: 'software', userName: 'bob', item: { Name: 'Sintel', Type: 'Movie', RunTimeTicks: 8_880_000_000 } },
      ],
    });
    const t0 = Date.now();
    const alice = streams().getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'alice', exact: true }) });
    const bob = streams().getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'bob', exact: true }) });
    const a = await visibleAfter(alice.filter({ hasText: 'Hardware transcode' }), t0);
    const b = await visibleAfter(bob.filter({ hasText: 'Software transcode' }), t0);
    latencies.transcodes = Math.max(a, b);
    expect(latencies.transcodes).toBeLessThanOrEqual(BAR_MS);
    await expect(alice.textContent()).resolves.toMatch(/Big Buck Bunny.*87\.4/);
    await expect(bob.textContent()).resolves.toMatch(/Sintel.*31\.2/);
    await expect(card('Transcodes').textContent()).resolves.toMatch(/2 streams: 1 hardware, 1 software\./);
    await expect(alice.getByRole('progressbar', { name: 'Progress of Big Buck Bunny for alice' }).count()).resolves.toBe(1);
    // The chart's summary follows the snapshot: the two streams' fps together.
    await expect(description(chart(page, 'Transcode frames per second'))).resolves.toMatch(/All transcodes: 118\.6\d? fps/);
    // Main samples its history every 5 s: wait until it has kept these streams (a later test reloads the page from it).
    const mainFps = async (): Promise<Array<number | null>> =>
      (await invoke<{ series: { transcodeFps: Array<{ v: number | null }> } }>(page, 'status:history', { profileId })).series.transcodeFps.map((p) => p.v);
    await expect.poll(async () => (await mainFps()).some((v) => v !== null && v > 118), { timeout: 10_000 }).toBe(true);
    await page.screenshot({ path: shot('transcodes'), fullPage: true });
  });

  it('says the tunnel is down within 2 s of cloudflared losing its edge connections, in words a screen reader reads', async () => {
    await labState('cloudflared', 2000, { connections: 0 });
    const t0 = Date.now();
    latencies.tunnelDown = await visibleAfter(region('Tunnel').getByText('Tunnel down'), t0);
    expect(latencies.tunnelDown).toBeLessThanOrEqual(BAR_MS);
    await expect(card('Tunnel').textContent()).resolves.toMatch(/Error.*no connection to Cloudflare/);
    await expect(region('Tunnel').textContent()).resolves.toMatch(/Connections0 of 4/);
    // The severity is a word in the accessible text, not only a colour: the card's name and text say it.
    const a11y = await card('Tunnel').ariaSnapshot();
    expect(a11y).toMatch(/Error/);
    expect(a11y).toMatch(/no connection to Cloudflare/);
    expect(a11y).not.toMatch(/✕/);
    await expect(region('Tunnel').getByRole('list', { name: 'Tunnel evidence' }).getByRole('listitem').count()).resolves.toBeGreaterThan(0);
    await page.screenshot({ path: shot('tunnel-down'), fullPage: true });
  });

  it('shows a finished backup within 2 s of the run ending: last good time, size, result and next run', async () => {
    await expect(region('Backups').getByText(/^Succeeded/).count()).resolves.toBe(0);
    const run = execFileSync('docker', ['exec', 'm2-backup-1', ...backupOnceCommand], { stdio: 'pipe', timeout: 120_000 });
    expect(run).toBeDefined();
    const t0 = Date.now();
    latencies.backup = await visibleAfter(region('Backups').getByText(/^Succeeded/), t0);
    expect(latencies.backup).toBeLessThanOrEqual(BAR_MS);
    const text = (await region('Backups').textContent()) ?? '';
    // A backup that has never been restored is not called good: a warning until a restore drill passes.
    expect(text).toMatch(/Warning/);
    expect(text).toMatch(/Restore drillnone yet/);
    expect(text).not.toMatch(/Last goodnone yet/);
    expect(text).toMatch(/Last good.*(just now|ago).*(B|KiB|MiB), took .*snapshot [0-9a-f]{8}/);
    expect(text).toMatch(/Next run.*\(in /);
    await expect(card('Backups').textContent()).resolves.toMatch(/Warning.*No restore drill has passed yet.*Last good backup/);
    await page.screenshot({ path: shot('backup-finished'), fullPage: true });
  }, 150_000);

  it('shows a stopped container within 2 s, worst first, with the reason in words', async () => {
    execFileSync('docker', ['stop', '--time', '1', 'm2-jellyfin-1'], { stdio: 'pipe', timeout: 60_000 });
    const t0 = Date.now();
    latencies.containerStopped = await visibleAfter(serviceRow('jellyfin').filter({ hasText: 'exited' }), t0);
    expect(latencies.containerStopped).toBeLessThanOrEqual(BAR_MS);
    await expect(serviceRow('jellyfin').textContent()).resolves.toMatch(/Error.*exited.*Stopped \(exit code \d+\)/);
    // Main sorts services worst first: the stopped one leads the table.
    const firstRow = region('Services').getByRole('table', { name: 'Services status' }).locator('tbody tr').first();
    await expect(firstRow.getByRole('rowheader').textContent()).resolves.toBe('jellyfin');
    await expect(card('Services').textContent()).resolves.toMatch(/Error.*jellyfin: Stopped/);
    await page.screenshot({ path: shot('container-stopped'), fullPage: true });
  });

  it('unsubscribes when the page is left, and coming back subscribes again with the last hour from main', async () => {
    const statusCalls = (): string[] => sentCalls.filter((c) => c.channel.startsWith('status:') && c.profileId === profileId).map((c) => c.channel);
    const before = statusCalls().length;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Services' }).click();
    await expect.poll(() => statusCalls().slice(before), { timeout: 5_000 }).toEqual(['status:unsubscribe']);

    const back = statusCalls().length;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await card('Services').waitFor({ timeout: 10_000 });
    await expect.poll(() => statusCalls().slice(back), { timeout: 5_000 }).toEqual(['status:subscribe', 'status:history']);
    // A fresh page has seen no transcode itself (Jellyfin is stopped now): the earlier fps can only come from main's history.
    const fps = chart(page, 'Transcode frames per second');
    await expect.poll(() => description(fps), { timeout: 5_000 }).toBe('Latest — All transcodes: no reading.');
    await page.screenshot({ path: shot('history-after-return'), fullPage: true });
  });

  it('says live status is reconnecting when the agent on the server dies, then carries on by itself', async () => {
    // The agent this page's subscription started on the lab server (project m2): its exec session's process group.
    const groups = execFileSync('ps', ['-o', 'pgid=,args=', '-u', admin.name], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('m2-status-agent.sh --project m2 '))
      .map((l) => l.trim().split(/\s+/)[0] ?? '');
    const pgids = [...new Set(groups)].filter((g) => /^\d+$/.test(g));
    expect(pgids).toHaveLength(1);
    execFileSync('kill', ['-KILL', '--', `-${pgids[0] ?? ''}`]);
    const notice = page.getByRole('status').filter({ hasText: /^Live status is reconnecting: the agent stopped/ });
    await notice.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: shot('agent-restarting'), fullPage: true });
    await notice.waitFor({ state: 'detached', timeout: 20_000 });
    // The new agent's stream reaches the page: Jellyfin started again shows as running.
    execFileSync('docker', ['start', 'm2-jellyfin-1'], { stdio: 'pipe', timeout: 60_000 });
    await serviceRow('jellyfin').filter({ hasText: 'running' }).waitFor({ timeout: 20_000 });
  }, 60_000);

  it('raised no CSP violation or script error on the page', () => {
    expect(pageProblems).toEqual([]);
  });
});
