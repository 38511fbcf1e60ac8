import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

const lab = inject('lab');

/** Add a server through the Setup form, as the admin would. */
async function addServer(page: Page, name: string, user: string, keyPath: string): Promise<void> {
  const form = page.getByRole('form', { name: 'Add a server' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Host').fill(lab.ssh.host);
  await form.getByLabel('Port').fill(String(lab.ssh.port));
  await form.getByLabel('User').fill(user);
  await form.getByLabel('Sign in with').selectOption('key');
  await form.getByLabel('Key file').fill(keyPath);
  await form.getByRole('button', { name: 'Save server' }).click();
  await page.getByRole('button', { name: `Connect to ${name}` }).waitFor();
}

describe('Setup → Server and Preflight in Chromium against the lab', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-server-'));
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

  it('connects as the admin after the host key is confirmed, and shows the preflight', async () => {
    await addServer(page, 'Lab admin', lab.ssh.admin.name, lab.ssh.admin.keyPath);
    await page.getByRole('button', { name: 'Connect to Lab admin' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm the server’s identity' });
    await dialog.waitFor();
    await expect(dialog.getByTestId('presented-fingerprint').textContent()).resolves.toBe(lab.ssh.hostKeyFingerprint);
    await page.screenshot({ path: screenshotPath('e2e', 'server-confirm-host-key.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Trust and connect' }).click();

    const checks = page.getByRole('list', { name: 'Preflight checks' });
    await checks.waitFor({ timeout: 60_000 });
    const section = page.getByRole('region', { name: 'Server Lab admin' });
    await expect(section.getByRole('status').textContent()).resolves.toBe('Connected');
    for (const title of await checks.getByRole('listitem').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))) {
      expect(title).toMatch(/: (Pass|Warning|Fail)$/);
    }
    await expect(checks.getByRole('listitem', { name: /Docker Engine.*: Pass/i }).count()).resolves.toBe(1);
    await expect(checks.getByRole('listitem', { name: /Compose.*: Pass/i }).count()).resolves.toBe(1);
    await page.screenshot({ path: screenshotPath('e2e', 'server-preflight.png'), fullPage: true });
    // The confirmed key was stored by main, in the app's data folder.
    expect(readFileSync(path.join(dataDir, 'known-hosts.json'), 'utf8')).toContain(`[${lab.ssh.host}]:${lab.ssh.port}`);
  });

  it('the sudo user path works: docker is reached through sudo', async () => {
    await addServer(page, 'Lab sudo', lab.ssh.sudoUser.name, lab.ssh.sudoUser.keyPath);
    await page.getByRole('button', { name: 'Connect to Lab sudo' }).click();
    const section = page.getByRole('region', { name: 'Server Lab sudo' });
    const checks = section.getByRole('list', { name: 'Preflight checks' });
    await checks.waitFor({ timeout: 60_000 });
    const access = checks.getByRole('listitem', { name: /Access to Docker/i });
    await expect(access.textContent()).resolves.toMatch(/sudo/i);
    await page.screenshot({ path: screenshotPath('e2e', 'server-sudo-user.png'), fullPage: true });
  });

  it('a wrong key gives a clear error and nothing is stored', async () => {
    await addServer(page, 'Wrong key', lab.ssh.admin.name, lab.ssh.sudoUser.keyPath);
    await page.getByRole('button', { name: 'Connect to Wrong key' }).click();
    const alert = page.getByRole('region', { name: 'Server Wrong key' }).getByRole('alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toContain('refused to let m2admin sign in');
    await page.screenshot({ path: screenshotPath('e2e', 'server-wrong-key.png'), fullPage: true });
  });

  it('a changed host key shows the refusal with both fingerprints', async () => {
    // This laptop once confirmed a different key for the lab's address (as after a reinstall, or an attacker).
    const other = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-changed-'));
    const fakeKey = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64');
    writeFileSync(
      path.join(other, 'known-hosts.json'),
      JSON.stringify({ version: 1, hosts: [{ name: `[${lab.ssh.host}]:${lab.ssh.port}`, keyType: 'ssh-ed25519', key: fakeKey, addedAt: '2026-01-01T00:00:00Z' }] }),
    );
    const host2 = await startWebHostProcess({ dataDir: other });
    const page2 = await browser.newPage();
    try {
      await page2.goto(host2.url);
      await addServer(page2, 'Changed', lab.ssh.admin.name, lab.ssh.admin.keyPath);
      await page2.getByRole('button', { name: 'Connect to Changed' }).click();
      const refusal = page2.getByRole('alertdialog', { name: /identity has changed/ });
      await refusal.waitFor();
      await expect(refusal.getByTestId('presented-fingerprint').textContent()).resolves.toBe(lab.ssh.hostKeyFingerprint);
      await expect(refusal.getByTestId('expected-fingerprint').textContent()).resolves.toMatch(/^SHA256:/);
      await page2.screenshot({ path: screenshotPath('e2e', 'server-host-key-changed.png'), fullPage: true });
      await refusal.getByRole('button', { name: 'Do not connect' }).click();
      await expect(page2.getByRole('region', { name: 'Server Changed' }).getByRole('status').textContent()).resolves.toBe('Not connected');
    } finally {
      await page2.close();
      await host2.stop();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('imports a host from ~/.ssh/config, connects to it and explains what it cannot use', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-home-'));
    mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(
      path.join(home, '.ssh', 'config'),
      [
        'Host homelab',
        `  HostName ${lab.ssh.host}`,
        `  Port ${lab.ssh.port}`,
        `  User ${lab.ssh.admin.name}`,
        `  IdentityFile ${lab.ssh.admin.keyPath}`,
        'Host evil',
        '  HostName $(touch /tmp/m2-e2e-pwned)',
        'Host *',
        '  ServerAliveInterval 30',
        '',
      ].join('\n'),
    );
    const data = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-import-'));
    const host3 = await startWebHostProcess({ dataDir: data, env: { HOME: home } });
    const page3 = await browser.newPage();
    try {
      await page3.goto(host3.url);
      await page3.getByRole('button', { name: 'Import from SSH config' }).click();
      const found = page3.getByRole('list', { name: 'Hosts in SSH config' });
      await found.waitFor();
      await expect(found.getByRole('listitem').count()).resolves.toBe(1);
      await expect(page3.getByText(/evil/).first().textContent()).resolves.toMatch(/evil/);
      await page3.screenshot({ path: screenshotPath('e2e', 'server-import-ssh-config.png'), fullPage: true });
      await found.getByRole('button', { name: 'Add homelab' }).click();
      await page3.getByRole('button', { name: 'Connect to homelab' }).click();
      await page3.getByRole('dialog', { name: 'Confirm the server’s identity' }).getByRole('button', { name: 'Trust and connect' }).click();
      await page3.getByRole('region', { name: 'Server homelab' }).getByRole('list', { name: 'Preflight checks' }).waitFor({ timeout: 60_000 });
      expect(existsSync('/tmp/m2-e2e-pwned')).toBe(false);
    } finally {
      await page3.close();
      await host3.stop();
      rmSync(home, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  });
});
