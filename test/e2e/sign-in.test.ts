import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Browser, Page } from 'playwright-core';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { run } from '../../scripts/lab/process';
import { launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

const lab = inject('lab');
const { utils } = ssh2;

/** Where this file keeps what it makes (an agent socket, a passphrase-protected key); removed afterwards. */
const work = path.resolve('.lab', 'sign-in-e2e');
/** Hostile input that would leave this file behind if any of it reached a shell. */
const PWNED = '/tmp/m2-sign-in-pwned';
const HOSTILE = `'"; touch ${PWNED}; echo "$(touch ${PWNED})\`touch ${PWNED}\``;

const shot = (name: string) => screenshotPath('e2e', `sign-in-${name}.png`);

type AuthChoice = { kind: 'agent' } | { kind: 'key'; keyPath: string } | { kind: 'password' };

/** Fill Setup's "Add a server" form and save it, as the admin would. */
async function addServer(page: Page, name: string, user: string, auth: AuthChoice): Promise<void> {
  const form = page.getByRole('form', { name: 'Add a server' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Host').fill(lab.ssh.host);
  await form.getByLabel('Port').fill(String(lab.ssh.port));
  await form.getByLabel('User').fill(user);
  await form.getByLabel('Sign in with').selectOption(auth.kind);
  if (auth.kind === 'key') await form.getByLabel('Key file').fill(auth.keyPath);
  await form.getByRole('button', { name: 'Save server' }).click();
  await page.getByRole('button', { name: `Connect to ${name}` }).waitFor();
}

const region = (page: Page, name: string) => page.getByRole('region', { name: `Server ${name}` });
const statusOf = (page: Page, name: string) => region(page, name).getByRole('status').first().textContent();

/** The host-key question shows the lab's own fingerprint; the admin trusts it. */
async function trustLabHostKey(page: Page, screenshot?: string): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'Confirm the server’s identity' });
  await dialog.waitFor();
  await expect(dialog.getByTestId('presented-fingerprint').textContent()).resolves.toBe(lab.ssh.hostKeyFingerprint);
  if (screenshot) await page.screenshot({ path: shot(screenshot), fullPage: true });
  await dialog.getByRole('button', { name: 'Trust and connect' }).click();
}

async function waitConnected(page: Page, name: string): Promise<void> {
  await expect.poll(() => statusOf(page, name), { timeout: 60_000 }).toBe('Connected');
  await region(page, name).getByRole('list', { name: 'Preflight checks' }).waitFor({ timeout: 60_000 });
}

/** The message shown right beside a field (its aria-describedby), which must be an alert naming the problem. */
async function messageBeside(page: Page, field: ReturnType<Page['getByLabel']>): Promise<string> {
  const quick = { timeout: 2_000 };
  await expect.poll(() => field.getAttribute('aria-invalid', quick)).toBe('true');
  const id = await field.getAttribute('aria-describedby', quick);
  expect(id).toBeTruthy();
  const beside = page.locator(`[id="${id}"]`);
  await expect(beside.getAttribute('role', quick)).resolves.toBe('alert');
  return (await beside.textContent(quick)) ?? '';
}

/** A fresh web host (its own data folder and HOME, so no host key is known yet) and a page on it. */
async function freshApp(browser: Browser, env: NodeJS.ProcessEnv = {}): Promise<{ page: Page; host: RunningWebHost; dataDir: string; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-sign-in-'));
  const home = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-sign-in-home-'));
  const host = await startWebHostProcess({ dataDir, env: { HOME: home, SSH_AUTH_SOCK: '', ...env } });
  const page = await browser.newPage();
  await page.goto(host.url);
  return {
    page,
    host,
    dataDir,
    close: async () => {
      await page.close();
      await host.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const homeOf = async (user: string): Promise<string> => (await run('getent', ['passwd', user])).trim().split(':')[5] ?? '';

describe('first contact for every sign-in method, in Chromium against the lab', () => {
  let browser: Browser;
  let agent: ChildProcess | undefined;
  let agentSocket: string;
  const password = readFileSync(lab.ssh.passwordUser.passwordFile, 'utf8').trim();
  // The passphrase of a key made for this test only; it never appears in argv or a log.
  const passphrase = `pässphrase ${Date.now()} "$(touch ${PWNED})"`;
  let lockedKeyPath: string;
  let lockedPublicKey: string;
  let adminAuthorizedKeys: string;
  let passHome: string;
  let passSshBefore: { authorizedKeys: string | undefined; dirExisted: boolean };
  const keychain = new KeyringSecretStore();
  const PASSPHRASE_PROFILE = 'signin-passphrase';

  beforeAll(async () => {
    rmSync(PWNED, { force: true });
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true, mode: 0o700 });

    // An SSH agent of this test's own, holding the admin's key.
    agentSocket = path.join(work, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSocket); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(agentSocket)).toBe(true);
    await run('ssh-add', ['-q', lab.ssh.admin.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });

    // A passphrase-protected key, authorized for the admin (the line is removed again afterwards).
    const pair = utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 16, comment: 'm2-sign-in-e2e' });
    lockedKeyPath = path.join(work, 'locked_ed25519');
    writeFileSync(lockedKeyPath, pair.private, { mode: 0o600 });
    lockedPublicKey = pair.public.trim();
    adminAuthorizedKeys = path.join(await homeOf(lab.ssh.admin.name), '.ssh', 'authorized_keys');
    appendFileSync(adminAuthorizedKeys, `${lockedPublicKey}\n`);

    // The password user as the lab left it, restored afterwards so other tests start clean.
    passHome = await homeOf(lab.ssh.passwordUser.name);
    const ak = path.join(passHome, '.ssh', 'authorized_keys');
    passSshBefore = { dirExisted: existsSync(path.join(passHome, '.ssh')), authorizedKeys: existsSync(ak) ? readFileSync(ak, 'utf8') : undefined };
    // First contact means no key installed yet.
    if (existsSync(ak)) writeFileSync(ak, '');

    await keychain.delete(PASSPHRASE_PROFILE, 'ssh-key-passphrase').catch(() => false);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (agent?.pid) process.kill(agent.pid, 'SIGTERM');
    if (adminAuthorizedKeys && lockedPublicKey) {
      const lines = readFileSync(adminAuthorizedKeys, 'utf8').split('\n');
      writeFileSync(adminAuthorizedKeys, lines.filter((l) => l.trim() !== lockedPublicKey).join('\n'));
    }
    if (passHome && passSshBefore) {
      const dir = path.join(passHome, '.ssh');
      if (!passSshBefore.dirExisted) rmSync(dir, { recursive: true, force: true });
      else if (passSshBefore.authorizedKeys === undefined) rmSync(path.join(dir, 'authorized_keys'), { force: true });
      else writeFileSync(path.join(dir, 'authorized_keys'), passSshBefore.authorizedKeys);
    }
    await keychain.delete(PASSPHRASE_PROFILE, 'ssh-key-passphrase').catch(() => false);
    rmSync(work, { recursive: true, force: true });
  });

  it('SSH agent: add → connect → the lab’s fingerprint → trust → connected; disconnect and reconnect without a question', async () => {
    const app = await freshApp(browser, { SSH_AUTH_SOCK: agentSocket });
    try {
      const { page } = app;
      await addServer(page, 'Agent', lab.ssh.admin.name, { kind: 'agent' });
      await expect(region(page, 'Agent').textContent()).resolves.toContain('signs in with the SSH agent');
      await page.getByRole('button', { name: 'Connect to Agent' }).click();
      await trustLabHostKey(page, 'agent-host-key');
      await waitConnected(page, 'Agent');
      await page.screenshot({ path: shot('agent-connected'), fullPage: true });

      await page.getByRole('button', { name: 'Disconnect from Agent' }).click();
      await expect.poll(() => statusOf(page, 'Agent')).toBe('Disconnected');
      await page.getByRole('button', { name: 'Connect to Agent' }).click();
      await expect.poll(() => statusOf(page, 'Agent'), { timeout: 30_000 }).toBe('Connected');
      await expect(page.getByRole('dialog').count()).resolves.toBe(0);
      expect(readFileSync(lab.ssh.logPath, 'utf8')).toMatch(new RegExp(`Accepted publickey for ${lab.ssh.admin.name} `));
    } finally {
      await app.close();
    }
  });

  it('SSH agent: no agent running → a clear message that says what to do, nothing stored', async () => {
    const app = await freshApp(browser);
    try {
      const { page } = app;
      await addServer(page, 'No agent', lab.ssh.admin.name, { kind: 'agent' });
      await page.getByRole('button', { name: 'Connect to No agent' }).click();
      const alert = region(page, 'No agent').getByRole('alert');
      await alert.waitFor();
      await expect(alert.textContent()).resolves.toMatch(/No SSH agent is running.*ssh-add/);
      expect(existsSync(path.join(app.dataDir, 'known-hosts.json'))).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('key file with a passphrase: wrong passphrase named beside the field; the right one, remembered → trust → connected; reconnecting asks nothing', async () => {
    const app = await freshApp(browser);
    try {
      const { page } = app;
      const name = 'Signin passphrase';
      await addServer(page, name, lab.ssh.admin.name, { kind: 'key', keyPath: lockedKeyPath });
      await page.getByRole('button', { name: `Connect to ${name}` }).click();
      const signIn = page.getByRole('form', { name: `Sign in to ${name}` });
      const field = signIn.getByLabel('Key passphrase');
      await expect(messageBeside(page, field)).resolves.toContain('This key file is protected by a passphrase.');
      await page.screenshot({ path: shot('passphrase-asked'), fullPage: true });

      await field.fill(`wrong ${HOSTILE}`);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => messageBeside(page, field)).toContain('The passphrase does not unlock this key.');
      await page.screenshot({ path: shot('passphrase-wrong'), fullPage: true });

      // Not remembered: the passphrase typed before the host-key question must reach the server after it.
      await field.fill(passphrase);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await trustLabHostKey(page, 'passphrase-host-key');
      await waitConnected(page, name);
      await page.screenshot({ path: shot('passphrase-connected'), fullPage: true });
      expect(readFileSync(lab.ssh.logPath, 'utf8')).toContain(`Accepted publickey for ${lab.ssh.admin.name} from 127.0.0.1`);
      await expect(keychain.get(PASSPHRASE_PROFILE, 'ssh-key-passphrase')).resolves.toBeUndefined();

      // Next time it is asked again (nothing kept); this time the admin has it remembered in the keychain.
      await page.getByRole('button', { name: `Disconnect from ${name}` }).click();
      await expect.poll(() => statusOf(page, name)).toBe('Disconnected');
      await page.getByRole('button', { name: `Connect to ${name}` }).click();
      await expect.poll(() => messageBeside(page, field)).toContain('This key file is protected by a passphrase.');
      await field.fill(passphrase);
      await signIn.getByLabel('Remember it in this computer’s keychain').check();
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await waitConnected(page, name);
      await expect(keychain.get(PASSPHRASE_PROFILE, 'ssh-key-passphrase').then((s) => s?.reveal() === passphrase)).resolves.toBe(true);

      // Remembered: the next connection asks for nothing.
      await page.getByRole('button', { name: `Disconnect from ${name}` }).click();
      await expect.poll(() => statusOf(page, name)).toBe('Disconnected');
      await page.getByRole('button', { name: `Connect to ${name}` }).click();
      await expect.poll(() => statusOf(page, name), { timeout: 30_000 }).toBe('Connected');
      await expect(page.getByRole('dialog').count()).resolves.toBe(0);
      await expect(region(page, name).getByRole('form', { name: `Sign in to ${name}` }).count()).resolves.toBe(0);
      // The passphrase went nowhere it should not: not the data folder, not the page.
      expect(JSON.stringify(readdirDeep(app.dataDir))).not.toContain(passphrase);
      await expect(page.content()).resolves.not.toContain(passphrase);
    } finally {
      await app.close();
    }
  });

  it('password: → the lab’s fingerprint → trust → connected → offered a key → installed → reconnects with the key, no password', async () => {
    const app = await freshApp(browser);
    try {
      const { page } = app;
      const name = 'Password';
      await addServer(page, name, lab.ssh.passwordUser.name, { kind: 'password' });
      await expect(region(page, name).textContent()).resolves.toContain('signs in with a password');
      const signIn = page.getByRole('form', { name: `Sign in to ${name}` });
      await signIn.getByLabel('Password').fill(password);
      await page.screenshot({ path: shot('password-typed'), fullPage: true });
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await trustLabHostKey(page, 'password-host-key');
      await waitConnected(page, name);

      const offer = region(page, name).getByRole('group', { name: 'Switch to a key' });
      await offer.waitFor();
      await page.screenshot({ path: shot('password-connected-offer-key'), fullPage: true });
      await offer.getByRole('button', { name: 'Create a key and use it' }).click();
      const installed = page.getByRole('region', { name: `Server ${name}` }).getByRole('status', { name: 'Key installed' });
      await installed.waitFor({ timeout: 30_000 });
      await expect(installed.textContent()).resolves.toMatch(/Installed a new key on the server \(SHA256:/);
      await expect(region(page, name).textContent()).resolves.toContain(`signs in with the key file ${path.join(app.dataDir, 'keys')}`);
      await page.screenshot({ path: shot('password-key-installed'), fullPage: true });

      // The key is in the password user's authorized_keys; the private half stays here, 0600.
      const list = (JSON.parse(readFileSync(path.join(app.dataDir, 'profiles.json'), 'utf8')) as { profiles: { auth: { kind: string; keyPath?: string } }[] }).profiles;
      const keyPath = list[0]?.auth.keyPath ?? '';
      expect(list[0]?.auth.kind).toBe('key');
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const publicLine = readFileSync(`${keyPath}.pub`, 'utf8').trim();
      expect(readFileSync(path.join(passHome, '.ssh', 'authorized_keys'), 'utf8')).toContain(publicLine);

      await page.getByRole('button', { name: `Disconnect from ${name}` }).click();
      await expect.poll(() => statusOf(page, name)).toBe('Disconnected');
      const logBefore = readFileSync(lab.ssh.logPath, 'utf8').length;
      await page.getByRole('button', { name: `Connect to ${name}` }).click();
      await expect.poll(() => statusOf(page, name), { timeout: 30_000 }).toBe('Connected');
      await expect(page.getByRole('dialog').count()).resolves.toBe(0);
      await expect(region(page, name).getByRole('form', { name: `Sign in to ${name}` }).count()).resolves.toBe(0);
      expect(readFileSync(lab.ssh.logPath, 'utf8').slice(logBefore)).toContain(`Accepted publickey for ${lab.ssh.passwordUser.name} from 127.0.0.1`);
      await page.screenshot({ path: shot('password-reconnected-with-key'), fullPage: true });

      // The password is in no file the app wrote and not in the page.
      expect(JSON.stringify(readdirDeep(app.dataDir))).not.toContain(password);
      await expect(page.content()).resolves.not.toContain(password);
    } finally {
      await app.close();
    }
  });

  it('password: a wrong one (hostile, unicode) is refused beside the field after the host key; the right one then connects', async () => {
    const app = await freshApp(browser);
    try {
      const { page } = app;
      const name = 'Wrong password';
      await addServer(page, name, lab.ssh.passwordUser.name, { kind: 'password' });
      const signIn = page.getByRole('form', { name: `Sign in to ${name}` });
      const field = signIn.getByLabel('Password');
      await field.fill(`ünïcødé ${HOSTILE}`);
      const logStart = readFileSync(lab.ssh.logPath, 'utf8').length;
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('dialog', { name: 'Confirm the server’s identity' }).waitFor();
      // Until the admin trusts the host key, no password is sent to whoever answers at that address.
      expect(readFileSync(lab.ssh.logPath, 'utf8').slice(logStart)).not.toMatch(new RegExp(`password for ${lab.ssh.passwordUser.name}`));
      await trustLabHostKey(page);
      await expect.poll(() => messageBeside(page, field), { timeout: 30_000 }).toContain(`The server refused to let ${lab.ssh.passwordUser.name} sign in.`);
      await expect(statusOf(page, name)).resolves.not.toBe('Connected');
      // Once trusted, the typed password did reach the server (and was refused there).
      await expect.poll(() => readFileSync(lab.ssh.logPath, 'utf8').slice(logStart)).toMatch(new RegExp(`Failed password for ${lab.ssh.passwordUser.name} `));
      await page.screenshot({ path: shot('password-wrong'), fullPage: true });

      // Longer than any password the contract carries: named beside the field, nothing sent.
      await field.fill('x'.repeat(1500));
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => messageBeside(page, field)).toContain('Password: at most 1024 characters.');

      await field.fill(password);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      // The host key was confirmed a moment ago: no second question.
      await waitConnected(page, name);
      await expect(page.getByRole('dialog').count()).resolves.toBe(0);
      expect(existsSync(PWNED)).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('hostile input in every field: a clear message beside the field, nothing executed, nothing saved that should not be', async () => {
    const app = await freshApp(browser);
    try {
      const { page } = app;
      const form = page.getByRole('form', { name: 'Add a server' });
      const fill = async (values: { name?: string; host?: string; port?: string; user?: string; key?: string }) => {
        await form.getByLabel('Name').fill(values.name ?? 'Hostile');
        await form.getByLabel('Host').fill(values.host ?? lab.ssh.host);
        await form.getByLabel('Port').fill(values.port ?? String(lab.ssh.port));
        await form.getByLabel('User').fill(values.user ?? lab.ssh.admin.name);
        await form.getByLabel('Sign in with').selectOption('key');
        await form.getByLabel('Key file').fill(values.key ?? lab.ssh.admin.keyPath);
        await form.getByRole('button', { name: 'Save server' }).click();
      };
      const cases: [string, Parameters<typeof fill>[0], string, string][] = [
        ['Name', { name: `${'ü'.repeat(200)}${HOSTILE}` }, 'Name', 'Name: keep it under 80 characters.'],
        ['Host', { host: `$(touch ${PWNED})` }, 'Host', 'Host: enter a host name'],
        ['Host', { host: `lab"; touch ${PWNED}; "` }, 'Host', 'Host: enter a host name'],
        ['Host', { host: 'h'.repeat(300) }, 'Host', 'Host: enter a host name'],
        ['Port', { port: `22; touch ${PWNED}` }, 'Port', 'Port: use a number from 1 to 65535'],
        ['Port', { port: '99999' }, 'Port', 'Port: use a number from 1 to 65535'],
        ['User', { user: `root$(touch ${PWNED})` }, 'User', 'User: enter the login name'],
        ['User', { user: 'ädmin' }, 'User', 'User: enter the login name'],
        ['User', { user: 'u'.repeat(300) }, 'User', 'User: enter the login name'],
        ['Key file', { key: '' }, 'Key file', 'Key file: choose the private key file'],
        ['Key file', { key: `/${'k'.repeat(5000)}` }, 'Key file', 'Key file: the path is too long.'],
      ];
      for (const [label, values, fieldLabel, message] of cases) {
        await fill(values);
        const field = form.getByLabel(fieldLabel);
        await expect.poll(() => messageBeside(page, field), { message: `${label}: ${JSON.stringify(values).slice(0, 80)}` }).toContain(message);
        if (label === 'Host' && values.host?.startsWith('$(')) await page.screenshot({ path: shot('hostile-host'), fullPage: true });
      }
      expect(existsSync(path.join(app.dataDir, 'profiles.json')) ? readFileSync(path.join(app.dataDir, 'profiles.json'), 'utf8') : '[]').not.toContain('touch');

      // Quotes, $() and unicode are fine in a name (it is only shown) and in a key path (only read): shown as typed.
      const name = `Ünïcødé "quoted" $(touch ${PWNED})`;
      await fill({ name, key: `/tmp/no such key '$(touch ${PWNED})'` });
      const connect = page.getByRole('button', { name: `Connect to ${name}` });
      await connect.waitFor();
      await connect.click();
      const alert = region(page, name).getByRole('alert');
      await alert.waitFor();
      await expect(alert.textContent()).resolves.toContain(`The key file /tmp/no such key '$(touch ${PWNED})' cannot be read.`);
      await page.screenshot({ path: shot('hostile-key-path'), fullPage: true });

      // The data folder: a relative path is named beside the field; a hostile absolute one is only a path to check.
      await fill({ name: 'Hostile data' });
      await page.getByRole('button', { name: 'Connect to Hostile data' }).click();
      await trustLabHostKey(page);
      await waitConnected(page, 'Hostile data');
      const data = region(page, 'Hostile data').getByLabel('Data folder on the server');
      await data.fill(`srv/$(touch ${PWNED})`);
      await region(page, 'Hostile data').getByRole('button', { name: 'Run checks again' }).click();
      await expect.poll(() => messageBeside(page, data)).toContain('Data folders: use a full path that starts with /');
      await page.screenshot({ path: shot('hostile-data-folder'), fullPage: true });
      await data.fill(`/tmp/$(touch ${PWNED}) "ü" \`x\``);
      await region(page, 'Hostile data').getByRole('button', { name: 'Run checks again' }).click();
      await expect.poll(() => data.getAttribute('aria-invalid')).toBe(null);
      await region(page, 'Hostile data').getByRole('list', { name: 'Preflight checks' }).waitFor();

      expect(existsSync(PWNED)).toBe(false);
    } finally {
      await app.close();
    }
  });
});

/** Every file's content under a folder, for proving a secret is in none of them. */
function readdirDeep(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out[p] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}
