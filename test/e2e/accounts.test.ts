import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { exec } from '../../scripts/lab/docker';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { connectLabServer, invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * The accounts the stack creates, in Chromium against the lab: the stack installed through the app (Compose project
 * `m2` as the admin's ~/m2, shared with the other install tests, which run one file at a time), then Setup's
 * Accounts step and Settings → Secrets list the Jellyfin, Nextcloud and Authentik admins; a password reaches the
 * page only when revealed, equals the keychain's, and is in the log only as "revealed <account>".
 */
const lab = inject('lab');
const admin = lab.ssh.admin;
const adminServer = adminStack(admin.name, 'm2-e2e-accounts');
const { uid: adminUid, gid: adminGid, removeStack, makeAdminFolders } = adminServer;
const dataRoot = path.join(adminServer.root, 'data');
const mediaRoot = path.join(adminServer.root, 'media');

const shot = (name: string): string => screenshotPath('e2e', `accounts-${name}.png`);

const ACCOUNTS = [
  { id: 'jellyfin-admin', who: 'Jellyfin admin', secret: 'jellyfin.admin-password' },
  { id: 'nextcloud-admin', who: 'Nextcloud householdadmin', secret: 'nextcloud.admin-password' },
  { id: 'authentik-admin', who: 'Authentik akadmin', secret: 'authentik.bootstrap-password' },
] as const;

describe('the stack’s accounts in Chromium against the lab', () => {
  let dataDir: string;
  let host: RunningWebHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let profileId = '';
  let jellyfinPort = 0;
  /** Everything the web host logged (JSON lines on stderr). */
  let hostLog = '';
  const keychain = new KeyringSecretStore();

  const accountsStep = (): Locator => page.getByRole('region', { name: '5. Accounts' });
  const row = (table: Locator, title: string): Locator => table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${title}`) }) });

  /** Every secret value the keychain holds for this server (account passwords and the services' own secrets). */
  const keychainValues = async (): Promise<Map<string, string>> => {
    const names = new Set<string>([...ACCOUNTS.map((a) => a.secret), ...(await invoke<Array<{ name: string }>>(page, 'stack:secrets', { profileId })).map((s) => s.name)]);
    const out = new Map<string, string>();
    for (const n of names) {
      const v = await keychain.get(profileId, n);
      if (v) out.set(n, v.reveal());
    }
    return out;
  };
  const expectNoSecretInPage = async (except: readonly string[] = []): Promise<void> => {
    const html = await page.content();
    for (const [name, value] of await keychainValues()) if (!except.includes(name)) expect(html.includes(value), `${name} in the page`).toBe(false);
  };

  beforeAll(async () => {
    removeStack();
    makeAdminFolders(dataRoot, mediaRoot);
    jellyfinPort = await freePort();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-accounts-'));
    host = await startWebHostProcess({ dataDir });
    host.child.stderr?.on('data', (d: Buffer) => (hostLog += d.toString()));
    browser = await launchChromium();
    // The web host's page copies with navigator.clipboard (no app clipboard there): allowed for this test's page.
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    await page.goto(host.url);
    profileId = await connectLabServer(page, lab.ssh, 'Lab accounts');
    // The same name gives the same id: what a run that could not clean up left in the keychain is removed first.
    for (const n of await keychain.names(profileId)) await keychain.delete(profileId, n);
  }, 120_000);

  afterAll(async () => {
    const names = profileId ? await invoke<Array<{ name: string }>>(page, 'stack:secrets', { profileId }).catch(() => []) : [];
    await browser?.close();
    await host?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileId) {
      const kept = await keychain.names(profileId).catch(() => []);
      for (const n of new Set([...ACCOUNTS.map((a) => a.secret), 'jellyfin.api-key', ...names.map((s) => s.name), ...kept])) await keychain.delete(profileId, n).catch(() => undefined);
    }
    removeStack();
  }, 240_000);

  it('before anything is generated, the Accounts step lists the three admins and says when their passwords are made', async () => {
    await invoke(page, 'stack:save-settings', {
      profileId,
      settings: {
        dataRoot,
        publishAddress: '0.0.0.0',
        uid: adminUid,
        gid: adminGid,
        timezone: 'UTC',
        hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
        modules: {
          jellyfin: { lanPort: jellyfinPort, mediaPaths: [mediaRoot] },
          nextcloud: { enabled: true, adminUser: 'householdadmin' },
          authentik: { enabled: true },
          cloudflared: { enabled: false },
          backup: { enabled: false },
        },
      },
    });
    await page.goto(`${host.url}#/setup`);
    const table = accountsStep().getByRole('table', { name: 'Accounts' });
    await table.waitFor({ timeout: 30_000 });
    await expect(table.locator('tbody tr').count()).resolves.toBe(3);
    await expect(row(table, 'Jellyfin').textContent()).resolves.toMatch(/admin.*made when the install sets Jellyfin up/);
    await expect(row(table, 'Nextcloud').textContent()).resolves.toMatch(/householdadmin.*made when you first review the install/);
    await expect(row(table, 'Authentik').textContent()).resolves.toMatch(/akadmin.*https:\/\/auth\.example\.test\/ once the tunnel publishes it/);
    await expect(accountsStep().getByRole('button', { name: /^Reveal password/ }).count()).resolves.toBe(0);
    await page.screenshot({ path: shot('before-install'), fullPage: true });
  });

  it('installs the stack through the app (Jellyfin, Nextcloud, Authentik)', async () => {
    const applied = await invoke<{ kind: string; services?: Array<{ service: string }> }>(page, 'stack:apply', { profileId });
    expect(applied.kind, JSON.stringify(applied)).toBe('applied');
    expect(applied.services?.map((s) => s.service)).toEqual(expect.arrayContaining(['jellyfin', 'nextcloud', 'authentik-server']));
  }, 600_000);

  it('lists every account with where it signs in, and the page holds no secret value before a reveal', async () => {
    await page.goto(`${host.url}#/setup`);
    const table = accountsStep().getByRole('table', { name: 'Accounts' });
    await table.getByRole('button', { name: 'Reveal password for Jellyfin admin' }).waitFor({ timeout: 30_000 });
    await expect(row(table, 'Nextcloud').textContent()).resolves.toMatch(/householdadmin/);
    // Jellyfin's port is published on the LAN: it signs in at the server's address, the one the profile names.
    const jellyfinUrl = `http://${lab.ssh.host}:${jellyfinPort}/`;
    await expect(row(table, 'Jellyfin').getByRole('link', { name: jellyfinUrl }).count()).resolves.toBe(1);
    await expect(row(table, 'Nextcloud').textContent()).resolves.toContain(`m2-companion · ${profileId}/nextcloud.admin-password`);
    for (const a of ACCOUNTS) await expect(table.getByRole('button', { name: `Copy password for ${a.who}` }).count(), a.id).resolves.toBe(1);

    const values = await keychainValues();
    for (const a of ACCOUNTS) expect(values.get(a.secret), a.secret).toMatch(/^[A-Za-z0-9]{24}$/);
    await expectNoSecretInPage();
    // The list the page got carries no value either.
    const listed = JSON.stringify(await invoke(page, 'accounts:list', { profileId }));
    for (const [name, v] of values) expect(listed.includes(v), name).toBe(false);
    await page.screenshot({ path: shot('listed'), fullPage: true });
  }, 120_000);

  it('Reveal shows exactly the keychain’s password, the one Jellyfin accepts, and the log says only “revealed <account>”', async () => {
    const table = accountsStep().getByRole('table', { name: 'Accounts' });
    const revealed: string[] = [];
    for (const a of ACCOUNTS) {
      await table.getByRole('button', { name: `Reveal password for ${a.who}` }).click();
      const shown = table.getByLabel(`Password for ${a.who}`, { exact: true });
      await shown.waitFor();
      const text = (await shown.textContent()) ?? '';
      expect(text, a.id).toBe((await keychain.get(profileId, a.secret))?.reveal());
      revealed.push(text);
    }
    await page.screenshot({ path: shot('revealed'), fullPage: true });

    // The Jellyfin admin signs in with it at the address the list gives.
    const login = await fetch(`http://${lab.ssh.host}:${jellyfinPort}/Users/AuthenticateByName`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'MediaBrowser Client="e2e", Device="e2e", DeviceId="accounts-e2e", Version="1"' },
      body: JSON.stringify({ Username: 'admin', Pw: revealed[0] }),
    });
    expect(login.status).toBe(200);
    const wrong = await fetch(`http://${lab.ssh.host}:${jellyfinPort}/Users/AuthenticateByName`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'MediaBrowser Client="e2e", Device="e2e", DeviceId="accounts-e2e", Version="1"' },
      body: JSON.stringify({ Username: 'admin', Pw: `${revealed[0] ?? ''}x` }),
    });
    expect(wrong.status).toBe(401);

    await expect.poll(() => ACCOUNTS.every((a) => hostLog.includes(`"revealed ${a.id}"`)), { timeout: 5_000 }).toBe(true);
    for (const v of revealed) expect(hostLog.includes(v)).toBe(false);

    // Hide takes it off the page again.
    for (const a of ACCOUNTS) await table.getByRole('button', { name: `Hide password for ${a.who}` }).click();
    await expectNoSecretInPage();
  }, 120_000);

  it('Copy in the browser host puts the password on the clipboard without showing it on the page', async () => {
    const table = accountsStep().getByRole('table', { name: 'Accounts' });
    await table.getByRole('button', { name: 'Copy password for Authentik akadmin' }).click();
    await row(table, 'Authentik').getByRole('status').filter({ hasText: /^Copied\. The clipboard is cleared in 30 s/ }).waitFor();
    const onClipboard = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    expect(onClipboard).toBe((await keychain.get(profileId, 'authentik.bootstrap-password'))?.reveal());
    await expectNoSecretInPage();
    await expect.poll(() => hostLog.includes('"revealed authentik-admin"')).toBe(true);
    expect(hostLog.includes(onClipboard)).toBe(false);
  });

  it('an unknown or hostile account is refused with a message naming the field, and nothing is revealed', async () => {
    const before = hostLog;
    await expect(invoke(page, 'accounts:reveal', { profileId, accountId: 'nextcloud-db' })).rejects.toThrow('Account: there is no account “nextcloud-db” on this server.');
    for (const accountId of ['nextcloud.admin-password', '$(touch /tmp/m2-e2e-accounts-pwned)', 'nextcloud-admin"\nrevealed authentik-admin', 'x'.repeat(500), 'nextcloüd-admin']) {
      await expect(invoke(page, 'accounts:reveal', { profileId, accountId }), JSON.stringify(accountId)).rejects.toThrow('Account: choose an account from the list.');
    }
    expect(hostLog.slice(before.length)).not.toMatch(/revealed/);
  });

  it('Settings → Secrets shows the same list, with reveal, and the services’ own secrets masked', async () => {
    await page.goto(`${host.url}#/settings`);
    const section = page.getByRole('region', { name: 'Secrets' });
    const table = section.getByRole('table', { name: 'Accounts' });
    await table.getByRole('button', { name: 'Reveal password for Nextcloud householdadmin' }).waitFor({ timeout: 30_000 });
    await expect(table.locator('tbody tr').count()).resolves.toBe(3);
    await section.getByRole('table', { name: 'Generated secrets' }).waitFor();
    await expectNoSecretInPage();
    await page.screenshot({ path: shot('settings-secrets'), fullPage: true });

    await table.getByRole('button', { name: 'Reveal password for Nextcloud householdadmin' }).click();
    const shown = table.getByLabel('Password for Nextcloud householdadmin', { exact: true });
    await shown.waitFor();
    await expect(shown.textContent()).resolves.toBe((await keychain.get(profileId, 'nextcloud.admin-password'))?.reveal());
    await expectNoSecretInPage(['nextcloud.admin-password']);
    await page.screenshot({ path: shot('settings-revealed'), fullPage: true });
  });
  /** Nextcloud's answer to the admin signing in with this password (its OCS API, HTTP Basic), at its container. */
  const nextcloudLogin = async (password: string): Promise<number> => {
    const id = (await exec('docker', ['ps', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'label=com.docker.compose.service=nextcloud', '--format', '{{.ID}}'])).stdout.trim().split('\n')[0] ?? '';
    const ip = (await exec('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', id])).stdout.trim().split(/\s+/)[0] ?? '';
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: ip,
          port: 80,
          path: '/ocs/v2.php/cloud/user?format=json',
          agent: false,
          headers: { host: 'nextcloud', 'ocs-apirequest': 'true', authorization: `Basic ${Buffer.from(`householdadmin:${password}`).toString('base64')}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
  };

  it('Settings → Secrets → Rotation: the plan says what restarts first; Rotate now sets a new Nextcloud admin password that Nextcloud takes, the old one is refused', async () => {
    await page.goto(`${host.url}#/settings`);
    const section = page.getByRole('region', { name: 'Secrets' });
    const rotation = section.getByRole('table', { name: 'Rotation' });
    await rotation.getByRole('button', { name: 'Rotate Nextcloud admin password…' }).waitFor({ timeout: 30_000 });
    // What is not offered says why, beside it.
    await expect(row(rotation, 'Nextcloud’s database password').textContent()).resolves.toMatch(/config\.php/);
    await expect(row(rotation, 'Authentik secret key').textContent()).resolves.toMatch(/signs everyone out/);
    const old = (await keychain.get(profileId, 'nextcloud.admin-password'))?.reveal() ?? '';
    expect(await nextcloudLogin(old)).toBe(200);

    await rotation.getByRole('button', { name: 'Rotate Nextcloud admin password…' }).click();
    const plan = rotation.getByRole('region', { name: 'Rotate Nextcloud admin password' });
    await expect(plan.textContent()).resolves.toMatch(/This restarts nextcloud\..*occ user:resetpassword.*only one in the keychain/);
    await page.screenshot({ path: shot('rotation-plan'), fullPage: true });
    const before = hostLog.length;
    await plan.getByRole('button', { name: 'Rotate now' }).click();
    await row(rotation, 'Nextcloud admin password').getByRole('status').filter({ hasText: /^Nextcloud admin password rotated: (.+, )?nextcloud(, .+)? restarted with the new value, and it works\.$/ }).waitFor({ timeout: 300_000 });
    await page.screenshot({ path: shot('rotation-done'), fullPage: true });

    const next = (await keychain.get(profileId, 'nextcloud.admin-password'))?.reveal() ?? '';
    expect(next).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(next).not.toBe(old);
    expect(await nextcloudLogin(next)).toBe(200);
    expect(await nextcloudLogin(old)).toBe(401);
    // Neither value reached the page or the log; the log names the secret only.
    await expectNoSecretInPage();
    expect((await page.content()).includes(old)).toBe(false);
    const logged = hostLog.slice(before);
    expect(logged).toContain('"rotated nextcloud.admin-password"');
    for (const v of [old, next]) expect(logged.includes(v)).toBe(false);

    // Reveal, the one way a value reaches the page, gives the new one.
    const accounts = section.getByRole('table', { name: 'Accounts' });
    await accounts.getByRole('button', { name: 'Reveal password for Nextcloud householdadmin' }).click();
    await expect(accounts.getByLabel('Password for Nextcloud householdadmin', { exact: true }).textContent()).resolves.toBe(next);
  }, 420_000);

  it('rotation refuses hostile or unknown secrets with a message naming the field, and secrets it does not rotate with the reason', async () => {
    for (const secret of ['$(touch /tmp/m2-e2e-rotate-pwned)', "nextcloud.admin-password'; --", 'nextcloud.admin-password\n', 'x'.repeat(300), 'néxtcloud.admin-password']) {
      await expect(invoke(page, 'accounts:rotate', { profileId, secret }), JSON.stringify(secret)).rejects.toThrow('Secret: choose a secret from the list.');
    }
    await expect(invoke(page, 'accounts:rotate', { profileId, secret: 'authentik.secret-key' })).rejects.toThrow('Authentik secret key: it cannot be rotated here.');
    await expect(invoke(page, 'accounts:rotate', { profileId, secret: 'cloudflared.tunnel-token' })).rejects.toThrow('Secret: this server’s stack has no secret “cloudflared.tunnel-token”.');
  });
});
