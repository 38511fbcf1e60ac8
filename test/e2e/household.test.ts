import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { AUTHENTIK_BOOTSTRAP_TOKEN } from '../../electron/core/stack/configure/authentik';
import { imageRef } from '../../electron/core/stack/versions';
import { exec } from '../../scripts/lab/docker';
import { adminStack } from '../support/admin-stack';
import { connectLabServer, launchChromium, screenshotPath } from '../support/chromium';
import { freeSubnets } from '../support/subnets';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The Household page in Chromium through the web host: Authentik's stand-in (server and database, Compose project
 * `m2` as the app runs it, shared with the other install e2e files, which run one at a time) reached over the lab's
 * sshd with the bootstrap token in the keychain. Cloudflare is not set up for this server, so roles take effect at
 * publish (the lab test covers Access). Add a person, a wrong address refused under its field, remove with
 * confirmation.
 */
const lab = inject('lab');
const { removeStack } = adminStack(lab.ssh.admin.name, 'm2-e2e-household');
const shot = (name: string): string => screenshotPath('e2e', `household-${name}.png`);

describe('the Household page in Chromium', () => {
  const keychain = new KeyringSecretStore();
  const token = randomBytes(32).toString('hex');
  const composeDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-household-'));
  let dataDir = '';
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let profileId = '';
  const problems: string[] = [];
  const compose = (args: readonly string[]): ReturnType<typeof exec> =>
    exec('docker', ['compose', '--project-name', 'm2', '--file', path.join(composeDir, 'compose.yaml'), ...args], { cwd: composeDir, timeoutMs: 180_000 });
  const directory = async (): Promise<{ users: Array<{ username: string; groups_obj: Array<{ name: string }> }> }> => {
    const id = (await exec('docker', ['ps', '--quiet', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'label=com.docker.compose.service=authentik-server'])).stdout.trim();
    const ip = (await exec('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
    return (await (await fetch(`http://${ip}:9000/__lab/core`)).json()) as never;
  };

  beforeAll(async () => {
    removeStack();
    const subnet = (await freeSubnets('172.29', 90 + (process.pid % 150))).edge;
    writeFileSync(
      path.join(composeDir, 'compose.yaml'),
      [
        'services:',
        '  authentik-db:',
        `    image: ${imageRef('postgres')}`,
        '    environment: { POSTGRES_PASSWORD: e2e-db-password, POSTGRES_USER: authentik, POSTGRES_DB: authentik }',
        '  authentik-server:',
        `    image: ${imageRef('authentik')}`,
        '    command: server',
        '    environment:',
        '      AUTHENTIK_SECRET_KEY: e2e-secret-key',
        '      AUTHENTIK_POSTGRESQL__HOST: authentik-db',
        '      AUTHENTIK_POSTGRESQL__PASSWORD: e2e-db-password',
        `      AUTHENTIK_BOOTSTRAP_TOKEN: ${token}`,
        '    healthcheck: { test: ["CMD", "ak", "healthcheck"], interval: 1s, timeout: 5s, retries: 60 }',
        '    depends_on: [authentik-db]',
        'networks:',
        '  default:',
        `    ipam: { config: [{ subnet: ${subnet} }] }`,
        '',
      ].join('\n'),
    );
    const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '120']);
    if (up.code !== 0) throw new Error(`authentik stand-in did not come up: ${up.stderr}`);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-household-data-'));
    host = await startWebHostProcess({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.location().url.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(host.url);
    profileId = await connectLabServer(page, lab.ssh, 'Household lab');
    // What an install from this computer leaves in the keychain: the token Authentik read on its first start.
    await keychain.set(profileId, AUTHENTIK_BOOTSTRAP_TOKEN.name, new Secret(token));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    if (profileId) await keychain.delete(profileId, AUTHENTIK_BOOTSTRAP_TOKEN.name).catch(() => undefined);
    await compose(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    rmSync(composeDir, { recursive: true, force: true });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('explains the roles and adds a media-only person, who gets an Authentik user in m2-media', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Household', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Household' }).waitFor();
    await page.getByText('Watches films, series and music in Jellyfin.').first().waitFor();
    await page.getByRole('note').filter({ hasText: 'Cloudflare is not set up for this server yet' }).waitFor();
    await page.screenshot({ path: shot('empty'), fullPage: true });

    await page.getByLabel('Name', { exact: true }).fill('Amy Pond');
    await page.getByLabel('Email', { exact: true }).fill('amy@example.com');
    await page.getByRole('radio', { name: /Media only/ }).check();
    await page.getByRole('button', { name: 'Add person' }).click();
    const result = page.getByRole('status', { name: 'Adding Amy Pond result' });
    await result.getByText('Adding Amy Pond: done.').waitFor({ timeout: 60_000 });
    await result.getByText(/Authentik made no invite link \(No recovery flow set\)/).waitFor();
    const row = page.getByRole('table', { name: 'Household members' }).getByRole('row', { name: /Amy Pond/ });
    await row.getByText('Media only').waitFor();
    await row.getByText('Has access').waitFor();
    await page.screenshot({ path: shot('added'), fullPage: true });
    const amy = (await directory()).users.find((u) => u.username === 'amy@example.com');
    expect(amy?.groups_obj.map((g) => g.name)).toEqual(['m2-media']);
  }, 120_000);

  it('refuses a wrong address and a hostile name under their fields, and adds nobody', async () => {
    await page.getByLabel('Name', { exact: true }).fill('$(reboot)');
    await page.getByLabel('Email', { exact: true }).fill('bob@@example.com');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.getByText('Email: enter an address such as alex@example.com').waitFor();
    await page.getByText('Name: use letters, spaces, dots, hyphens and apostrophes only').waitFor();
    expect(await page.getByLabel('Email', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: shot('refused'), fullPage: true });
    expect((await directory()).users.map((u) => u.username).sort()).toEqual(['akadmin', 'amy@example.com']);
  }, 60_000);

  it('removes a person after a confirmation; Cancel changes nothing', async () => {
    await page.getByRole('button', { name: 'Remove Amy Pond' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove Amy Pond?' });
    await dialog.waitFor();
    await page.screenshot({ path: shot('confirm-remove'), fullPage: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await directory()).users.map((u) => u.username)).toContain('amy@example.com');

    await page.getByRole('button', { name: 'Remove Amy Pond' }).click();
    await page.getByRole('dialog', { name: 'Remove Amy Pond?' }).getByRole('button', { name: 'Remove Amy Pond' }).click();
    await page.getByRole('status', { name: 'Removing Amy Pond result' }).getByText('Removing Amy Pond: done.').waitFor({ timeout: 60_000 });
    await page.getByText('Nobody yet.').waitFor();
    await page.screenshot({ path: shot('removed'), fullPage: true });
    expect((await directory()).users.map((u) => u.username)).toEqual(['akadmin']);
    expect(problems).toEqual([]);
  }, 120_000);
});
