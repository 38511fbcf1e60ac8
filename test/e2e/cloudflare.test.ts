import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { DEFAULT_TOKENS, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { addLabServer, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Domain & Cloudflare step on the Remote access page, in Chromium through the web host, against the lab's
 * Cloudflare stand-in (the SDK in the web host reads CLOUDFLARE_BASE_URL) and the lab keychain.
 */
const lab = inject('lab');

describe('Remote access → Cloudflare in Chromium', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let standIn: CloudflareStandIn;
  let profileId = '';

  beforeAll(async () => {
    standIn = await startCloudflareStandIn();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-cloudflare-'));
    host = await startWebHostProcess({ dataDir, env: { CLOUDFLARE_BASE_URL: standIn.url, ...lab.keychain.env } });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(host.url);
    await addLabServer(page, lab.ssh, 'Lab home');
    await page.getByRole('button', { name: 'Connect to Lab home' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await standIn?.close();
    const keychain = new KeyringSecretStore();
    if (profileId) for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET]) await keychain.delete(profileId, n).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies the token, names what it lacks, then publishes with a per-step report; the token never reaches the page', async () => {
    await page.goto(`${host.url.split('#')[0]}#/remote`);
    await page.getByRole('heading', { name: 'Remote access' }).waitFor();
    profileId = await page.getByLabel('Server').inputValue();

    // A read-only token: verified, and each missing permission is named next to its feature.
    await page.getByLabel('API token', { exact: true }).fill(DEFAULT_TOKENS.readOnly);
    await page.getByRole('button', { name: 'Verify and keep token' }).click();
    const can = page.getByRole('list', { name: 'What the token may do' });
    await can.waitFor();
    await expect(can.getByRole('listitem').filter({ hasText: 'Cloudflare Tunnel' }).textContent()).resolves.toContain('missing Cloudflare Tunnel Write');
    await page.screenshot({ path: screenshotPath('e2e', 'cloudflare-token-read-only.png'), fullPage: true });

    // Replace it with a full token.
    await page.getByLabel('Replace API token', { exact: true }).fill(DEFAULT_TOKENS.all);
    await page.getByRole('button', { name: 'Verify and keep token' }).click();
    await can.getByRole('listitem').filter({ hasText: 'Cloudflare Tunnel — allowed' }).waitFor();

    await page.getByLabel('Account').selectOption({ label: 'Home' });
    await page.getByLabel('Zone').selectOption({ label: 'example.com' });
    await page.getByLabel('Allowed emails').fill('alice@example.com');
    await page.getByRole('button', { name: 'Save Cloudflare settings' }).click();
    await page.getByRole('button', { name: 'Publish through Cloudflare' }).click();
    const steps = page.getByRole('list', { name: 'Publish steps' });
    await steps.getByRole('listitem').filter({ hasText: 'DNS record for auth.example.com' }).waitFor({ timeout: 60_000 });
    for (const title of ['Tunnel m2-', 'Tunnel routes', 'Access policy', 'Access application for media.example.com', 'DNS record for media.example.com']) {
      await expect(steps.getByRole('listitem').filter({ hasText: title }).textContent()).resolves.toContain('Done');
    }
    await page.screenshot({ path: screenshotPath('e2e', 'cloudflare-published.png'), fullPage: true });
    expect(standIn.state.snapshot().dnsRecords).toHaveLength(3);

    // Publishing again changes nothing.
    standIn.requests.clear();
    await page.getByRole('button', { name: 'Publish through Cloudflare' }).click();
    await steps.getByRole('listitem').filter({ hasText: 'DNS record for auth.example.com' }).filter({ hasText: 'Unchanged' }).waitFor({ timeout: 60_000 });
    expect(standIn.requests.count({ method: 'POST' })).toBe(0);

    const managed = page.getByRole('list', { name: 'Managed in Cloudflare' });
    await managed.getByRole('listitem').filter({ hasText: 'tunnel:' }).waitFor();
    const html = await page.content();
    for (const t of [DEFAULT_TOKENS.readOnly, DEFAULT_TOKENS.all]) expect(html).not.toContain(t);
    expect(await page.getByLabel('Replace API token', { exact: true }).inputValue()).toBe('');
  });

  it('removes exactly what it created after a yes', async () => {
    await page.getByRole('button', { name: 'Remove from Cloudflare…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove from Cloudflare?' });
    await confirm.waitFor();
    await expect(confirm.textContent()).resolves.toContain('Delete tunnel m2-');
    await page.screenshot({ path: screenshotPath('e2e', 'cloudflare-remove-confirm.png'), fullPage: true });
    await confirm.getByRole('button', { name: 'Yes, remove from Cloudflare' }).click();
    await page.getByRole('list', { name: 'Last run' }).waitFor({ timeout: 60_000 });
    await page.getByRole('list', { name: 'Managed in Cloudflare' }).getByRole('listitem').first().waitFor({ state: 'detached' });
    const snap = standIn.state.snapshot();
    expect(snap.dnsRecords).toEqual([]);
    expect(snap.accessApps).toEqual([]);
    expect(snap.tunnels.every((t) => t.deleted_at)).toBe(true);
  });

  it('shows a rate limit as a countdown with the attempt, stops on request, and the next publish finishes', async () => {
    // Cloudflare refuses everything and asks for 8 s each time.
    const storm = standIn.faults.add({ kind: 'rateLimited', path: '**', times: 'always', retryAfter: 8 });
    await page.getByRole('button', { name: 'Publish through Cloudflare' }).click();
    const waiting = page.getByRole('status', { name: 'Waiting to retry' });
    await waiting.getByText(/^Cloudflare is rate-limiting; retrying in \d s — attempt 2 of 10$/).waitFor({ timeout: 30_000 });
    await expect(waiting.textContent()).resolves.toContain('During: Check the API token.');
    await page.screenshot({ path: screenshotPath('e2e', 'cloudflare-rate-limited.png'), fullPage: true });

    await page.getByRole('button', { name: 'Stop publishing' }).click();
    await page.getByText('Stopped as you asked. Publish again to continue where it stopped: nothing is created twice.').waitFor({ timeout: 10_000 });
    await expect(page.getByRole('list', { name: 'Publish steps' }).getByRole('listitem').filter({ hasText: 'Check the API token' }).textContent()).resolves.toContain('Publishing was stopped as you asked');
    expect(await waiting.count()).toBe(0);
    await page.screenshot({ path: screenshotPath('e2e', 'cloudflare-publish-stopped.png'), fullPage: true });
    expect(standIn.requests.count({ method: 'POST' })).toBe(0);

    standIn.faults.remove(storm.id);
    await page.getByRole('button', { name: 'Publish through Cloudflare' }).click();
    // Everything on Cloudflare's side goes through (the tunnel token waits for a connected server, as in the first run).
    const steps = page.getByRole('list', { name: 'Publish steps' });
    await steps.getByRole('listitem').filter({ hasText: 'DNS record for auth.example.com' }).filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
    await expect(steps.getByRole('listitem').filter({ hasText: 'Check the API token' }).textContent()).resolves.toContain('Unchanged');
    expect(standIn.state.snapshot().dnsRecords).toHaveLength(3);
  });
});
