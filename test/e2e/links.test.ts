import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { linkAllowed, type LinkRules } from '../../electron/contract/links';
import { StackSettings } from '../../electron/contract/stack';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { pinnedImages } from '../../electron/core/stack/versions';
import { connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

const lab = inject('lab');
const PAGES = ['Setup', 'Dashboard', 'Services', 'Household', 'Backups', 'Remote access', 'Settings'] as const;
const hostnames = { jellyfin: 'media.links.example', nextcloud: 'cloud.links.example', authentik: 'auth.links.example' };
const shot = (name: string): string => screenshotPath('e2e', `links-${name}.png`);

/** What page functions see of an anchor (this file is type-checked without the DOM library). */
interface Anchor {
  readonly href: string;
  readonly target: string;
  readonly rel: string;
  readonly download: boolean;
  readonly text: string;
}
interface PageAnchor {
  href: string;
  target: string;
  rel: string;
  textContent: string | null;
  hasAttribute(name: string): boolean;
}

/** URLs a crafted page, table or DNS name could put in front of the admin. */
const hostile = ['javascript:alert(document.domain)', 'file:///etc/passwd', 'http://evil.example/', 'https://dash.cloudflare.com.evil.example/', `https://${hostnames.authentik}/`, 'https://evil.example/https://dash.cloudflare.com/profile/api-tokens'];

describe('every link the app shows opens, and nothing else does (Chromium through the web host)', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let profileId: string;
  const refused: string[] = [];
  let refusedWaiters: Array<() => void> = [];

  /** Resolves once the page has said it refused `count` links in all. */
  const refusals = (count: number): Promise<void> =>
    refused.length >= count ? Promise.resolve() : new Promise((resolve) => refusedWaiters.push(() => refused.length >= count && resolve()));

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-links-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      const said = /^M2 Companion refused to open (.*): it is not one/.exec(m.text());
      if (!said) return;
      refused.push(said[1] ?? '');
      const waiting = refusedWaiters;
      refusedWaiters = [];
      for (const w of waiting) w();
    });
    await page.goto(host.url);
    // The lab server, added and connected through Setup as the admin would (preflight's fix links render there).
    profileId = await connectLabServer(page, lab.ssh, 'Links home');
    // A stack saved with Jellyfin on the LAN, and Jellyfin and Nextcloud published through the tunnel (Authentik not
    // yet): the files the app itself keeps after Services & storage and a publish.
    await new StackSettingsStore(path.join(dataDir, 'stacks')).save(profileId, StackSettings.parse({ hostnames, publishAddress: '0.0.0.0' }));
    await new CloudflareStore(path.join(dataDir, 'cloudflare')).update(profileId, (f) => {
      f.managed.dns = [hostnames.jellyfin, hostnames.nextcloud].map((hostname, i) => ({ hostname, zoneId: 'z'.repeat(32), id: `record-${i}`, origin: 'created', previous: [] }));
    });
  });

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const anchors = (): Promise<Anchor[]> =>
    page.$$eval('a[href]', (as) =>
      (as as unknown as PageAnchor[]).map((a) => ({ href: a.href, target: a.target, rel: a.rel, download: a.hasAttribute('download'), text: (a.textContent ?? '').trim() })),
    );

  it('walks every page: each outside link is one the app allows, opens in a new tab without a referrer', async () => {
    const rules = await invoke<LinkRules>(page, 'app:links');
    const seen = new Map<string, string>();
    let authentikShown = true;
    for (const name of PAGES) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      if (name === 'Services') await page.getByRole('table', { name: 'Pinned images' }).waitFor();
      if (name === 'Services' || name === 'Dashboard') {
        await page.getByRole('list', { name: 'Service addresses' }).waitFor();
        authentikShown &&= await page.getByRole('list', { name: 'Service addresses' }).getByText(`https://${hostnames.authentik}/`).isVisible();
      }
      await page.screenshot({ path: shot(name.toLowerCase().replace(/ /g, '-')), fullPage: true });
      for (const a of await anchors()) {
        const u = new URL(a.href);
        // In-app pages, and a file the page makes for download, are not outside links.
        if (u.origin === host.origin || (a.download && (u.protocol === 'data:' || u.protocol === 'blob:'))) continue;
        expect({ page: name, href: a.href, target: a.target, noreferrer: a.rel.split(/\s+/).includes('noreferrer'), allowed: linkAllowed(a.href, rules) }).toEqual({
          page: name,
          href: a.href,
          target: '_blank',
          noreferrer: true,
          allowed: true,
        });
        seen.set(a.href, name);
      }
    }
    // What must have been among them: the published addresses and Jellyfin at home, and every release note.
    expect(seen.get(`https://${hostnames.jellyfin}/`)).toBeDefined();
    expect(seen.get(`https://${hostnames.nextcloud}/`)).toBeDefined();
    expect(seen.get(`http://${lab.ssh.host}:8096/`)).toBeDefined();
    for (const image of Object.values(pinnedImages)) expect(seen.get(new URL(image.releaseNotes).href)).toBe('Services');
    // A host name not published yet is shown, not linked.
    expect(seen.has(`https://${hostnames.authentik}/`)).toBe(false);
    expect(authentikShown).toBe(true);
  });

  it('a click on a service’s address opens it in a new tab; a hostile link or window.open is refused and opens nothing', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Services', exact: true }).click();
    const list = page.getByRole('list', { name: 'Service addresses' });
    const [tab] = await Promise.all([context.waitForEvent('page'), list.getByRole('link', { name: `Open Jellyfin at ${hostnames.jellyfin}` }).click()]);
    await tab.waitForURL(/media\.links\.example/, { waitUntil: 'commit' }).catch(() => undefined);
    expect(tab.url()).toMatch(/^(https:\/\/media\.links\.example\/|chrome-error:)/);
    await tab.close();
    const pagesBefore = context.pages().length;

    for (const [i, url] of hostile.entries()) {
      await page.evaluate(
        ([href, id]) => {
          const doc = (globalThis as unknown as { document: { createElement(t: string): PageAnchor & { id: string; textContent: string }; body: { append(n: unknown): void } } }).document;
          const a = doc.createElement('a');
          Object.assign(a, { href, target: '_blank', rel: 'noreferrer', id, textContent: `hostile link ${id}` });
          doc.body.append(a);
        },
        [url, `hostile-${i}`] as const,
      );
      await page.getByRole('link', { name: `hostile link hostile-${i}` }).click();
      await refusals(i + 1);
    }
    expect(refused).toEqual(hostile.map((u) => new URL(u).href));
    const opened = await page.evaluate(() => (globalThis as unknown as { open(u: string): unknown }).open('https://dash.cloudflare.com.evil.example/'));
    expect(opened).toBeNull();
    await refusals(hostile.length + 1);
    expect(refused.at(-1)).toBe('https://dash.cloudflare.com.evil.example/');
    expect(context.pages().length).toBe(pagesBefore);
    await page.screenshot({ path: shot('refused'), fullPage: true });
  });
});
