import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { invoke, launchChromium, screenshotPath } from '../support/chromium';
import { startWebHostProcess, type RunningWebHost } from '../support/webhost';

/**
 * Hostile input in every field a household admin types into during setup, in Chromium through the web host against
 * the lab (real sshd and Docker, the Cloudflare stand-in, the lab keychain): quotes, `$()`, backticks, `; rm`, line
 * breaks, 10,000 characters, right-to-left and zero-width characters, `../../etc`. Each must come back as a message
 * under the field that names it and says what to do, with nothing saved, nothing sent to Cloudflare, and nothing run on
 * the server: no canary file, no SSH session opened on the app's connection, no container created.
 */
const lab = inject('lab');
const admin = lab.ssh.admin;

/** Every command below would leave a file starting with this if any of it ever reached a shell. */
const CANARY = '/tmp/m2-setup-hostile-pwned';
const canaries = (): string[] => readdirSync('/tmp').filter((f) => f.startsWith(path.basename(CANARY)));
const RTL = '\u202e';
const ZERO_WIDTH = '\u200b';
const LONG = 'a'.repeat(10_000);

/** The hostile shapes, each with a tag so a canary says which one ran. */
const sub = (tag: string): string => `$(touch ${CANARY}-${tag})`;
const ticks = (tag: string): string => `\`touch ${CANARY}-${tag}\``;
const semi = (tag: string): string => `x; rm -rf ~; touch ${CANARY}-${tag}`;
const quotes = (tag: string): string => `it's "quoted" ${tag}`;
/** What reaches the field when a line break is typed or pasted into a one-line input: the browser drops the break. */
const newline = (tag: string): string => `one\ntouch ${CANARY}-${tag}`;

const shot = (name: string): string => screenshotPath('e2e', `setup-hostile-${name}.png`);

interface PageDocument {
  getElementById(id: string): { textContent: string | null; getAttribute(n: string): string | null } | null;
}

/** The text of what a control's aria-describedby points to (its message first, then its hint). */
const described = (control: Locator): Promise<{ text: string; roles: string[] }> =>
  control.evaluate((el) => {
    const ids = (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
    const doc = (globalThis as unknown as { document: PageDocument }).document;
    return {
      text: ids.map((id: string) => doc.getElementById(id)?.textContent ?? '').join(' '),
      roles: ids.map((id: string) => doc.getElementById(id)?.getAttribute('role') ?? ''),
    };
  });

/** Every file under a folder with its content: what the app keeps, compared before and after a refused value. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !e.name.endsWith('.log')) out[path.relative(dir, p)] = `${statSync(p).mode.toString(8)} ${readFileSync(p, 'latin1')}`;
    }
  };
  walk(dir);
  return out;
}

const sshdLog = (): string => readFileSync(lab.ssh.logPath, 'utf8');
/** Docker containers created or started since a moment (seconds since the epoch), as the engine itself saw them. */
const containerEventsSince = (since: number): string =>
  execFileSync('docker', ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=container', '--filter', 'event=create', '--filter', 'event=start', '--format', '{{.Actor.Attributes.name}}'], {
    encoding: 'utf8',
  }).trim();

describe('hostile input in every setup step, in Chromium against the lab', () => {
  let dataDir: string;
  let home: string;
  let host: RunningWebHost;
  let browser: Browser;
  let page: Page;
  let standIn: CloudflareStandIn;
  let profileId = '';
  /** The app's one SSH connection to the lab, by its client port in sshd's log. */
  let appPort = '';
  let startedAt = 0;
  const keychain = new KeyringSecretStore();

  /** Sessions (commands, SFTP) sshd started on the app's connection, and connections it accepted, so far. */
  const serverSide = (): { sessions: number; accepted: number } => {
    const log = sshdLog();
    return {
      sessions: appPort ? log.split('\n').filter((l) => l.includes(`Starting session:`) && l.includes(`port ${appPort} `)).length : 0,
      accepted: log.split('\n').filter((l) => l.includes(`Accepted publickey for ${admin.name} `)).length,
    };
  };

  /**
   * Waits until the app's connection is quiet: what a page asks of the server when it opens (preflight, what the GPU
   * is, setup progress) has finished before refused values are measured against it. Each step's test starts with it.
   */
  const quiet = async (): Promise<void> => {
    let last = -1;
    await expect
      .poll(
        async () => {
          const now = serverSide().sessions;
          const settled = now === last;
          last = now;
          if (!settled) await new Promise((r) => setTimeout(r, 1_500));
          return settled;
        },
        { timeout: 60_000, interval: 1_500, message: 'the app’s connection never went quiet' },
      )
      .toBe(true);
  };

  /**
   * Runs one refused submission and proves it refused everything: the app kept the same files, Cloudflare heard
   * nothing that changes anything, the server opened no session and no new connection, and no canary appeared.
   */
  const refusedWithoutEffect = async (label: string, act: () => Promise<void>): Promise<void> => {
    const files = snapshot(dataDir);
    const server = serverSide();
    const writes = (): number => ['POST', 'PUT', 'PATCH', 'DELETE'].reduce((n, method) => n + standIn.requests.count({ method }), 0);
    const cloudflareWrites = writes();
    await act();
    expect(snapshot(dataDir), `${label}: nothing the app keeps changed`).toEqual(files);
    expect(writes(), `${label}: nothing sent to Cloudflare`).toBe(cloudflareWrites);
    expect(serverSide(), `${label}: no session or connection on the server`).toEqual(server);
    expect(canaries(), label).toEqual([]);
  };

  beforeAll(async () => {
    for (const f of canaries()) rmSync(path.join('/tmp', f), { force: true });
    startedAt = Math.floor(Date.now() / 1000);
    standIn = await startCloudflareStandIn();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-setup-hostile-'));
    home = mkdtempSync(path.join(os.tmpdir(), 'm2-e2e-setup-hostile-home-'));
    host = await startWebHostProcess({ dataDir, env: { HOME: home, SSH_AUTH_SOCK: '', CLOUDFLARE_BASE_URL: standIn.url, ...lab.keychain.env } });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(host.url);
    await page.getByRole('heading', { name: 'Setup', exact: true }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await standIn?.close();
    if (profileId) await keychain.delete(profileId, API_TOKEN_SECRET).catch(() => false);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (home) rmSync(home, { recursive: true, force: true });
    for (const f of canaries()) rmSync(path.join('/tmp', f), { force: true });
  });

  it('Server: every field of "Add a server" names itself beside the field and nothing is saved', async () => {
    const form = page.getByRole('form', { name: 'Add a server' });
    const valid = { Name: 'Hostile home', Host: lab.ssh.host, Port: String(lab.ssh.port), User: admin.name };
    const fill = async (values: Partial<Record<keyof typeof valid | 'Key file', string>>): Promise<void> => {
      for (const [label, value] of Object.entries({ ...valid, ...values })) await form.getByLabel(label, { exact: true }).fill(value);
    };
    await form.getByLabel('Sign in with').selectOption('key');
    const NAME = /^Name: /;
    const HOST = /Host: enter a host name such as homeserver\.local or an IP address/;
    const PORT = /^Port: use a number from 1 to 65535 \(SSH usually listens on 22\)\./;
    const USER = /^User: enter the login name on the server/;
    const cases: Array<[field: string, value: string, message: RegExp]> = [
      ['Name', LONG, /^Name: keep it under 80 characters\./],
      ['Name', `Home${RTL}revres`, /^Name: remove the invisible or right-to-left characters/],
      ['Name', `Home${ZERO_WIDTH}server`, /^Name: remove the invisible or right-to-left characters/],
      ['Name', '   ', NAME],
      ...[sub('host'), ticks('host'), semi('host'), quotes('host'), newline('host'), LONG, `lab${RTL}.local`, `lab${ZERO_WIDTH}.local`, '../../etc', 'lab.local/../../etc'].map((v): [string, string, RegExp] => ['Host', v, HOST]),
      ...[`22; touch ${CANARY}-port`, sub('port'), '0x16', '1e3', '99999', '', LONG].map((v): [string, string, RegExp] => ['Port', v, PORT]),
      ...[sub('user'), ticks('user'), semi('user'), quotes('user'), newline('user'), 'u'.repeat(10_000), `adm${RTL}in`, `adm${ZERO_WIDTH}in`, '../../etc'].map((v): [string, string, RegExp] => ['User', v, USER]),
      ['Key file', '', /^Key file: choose the private key file/],
      ['Key file', `/${LONG}`, /^Key file: the path is too long\./],
    ];
    for (const [field, value, message] of cases) {
      const label = `${field} = ${JSON.stringify(value).slice(0, 40)}`;
      await refusedWithoutEffect(label, async () => {
        await fill({ 'Key file': admin.keyPath, [field]: value });
        await form.getByRole('button', { name: 'Save server' }).click();
        const input = form.getByLabel(field, { exact: true });
        await expect.poll(() => input.getAttribute('aria-invalid'), { message: label }).toBe('true');
        const beside = await described(input);
        expect(beside.text, label).toMatch(message);
        expect(beside.roles, label).toContain('alert');
      });
      if (field === 'Host' && value === sub('host')) await page.screenshot({ path: shot('server-host'), fullPage: true });
      if (field === 'Name' && value.includes(RTL)) await page.screenshot({ path: shot('server-name-rtl'), fullPage: true });
    }
    expect(existsSync(path.join(dataDir, 'profiles.json')) ? (JSON.parse(readFileSync(path.join(dataDir, 'profiles.json'), 'utf8')) as { profiles?: unknown[] }).profiles ?? [] : []).toEqual([]);

    // A line break that does reach main (pasted through the contract, not the one-line field) is named too.
    await expect(invoke(page, 'profiles:save', { name: `Home\n${sub('name')}`, host: lab.ssh.host, port: lab.ssh.port, username: admin.name })).rejects.toThrow(/Name: remove control characters such as line breaks\./);
    await expect(invoke(page, 'profiles:save', { name: 'Home', host: `lab\n.local`, port: lab.ssh.port, username: admin.name })).rejects.toThrow(HOST);

    // Quotes and $() are fine in a name, which is only ever shown: saved and shown as typed, never run.
    const name = `Home "quoted" ${sub('name')}`;
    await fill({ Name: name, 'Key file': admin.keyPath });
    await form.getByRole('button', { name: 'Save server' }).click();
    await page.getByRole('button', { name: `Connect to ${name}` }).waitFor();
    await page.getByRole('button', { name: `Connect to ${name}` }).click();
    await page.getByRole('dialog', { name: 'Confirm the server’s identity' }).getByRole('button', { name: 'Trust and connect' }).click();
    const server = page.getByRole('region', { name: `Server ${name}` });
    await server.getByRole('list', { name: 'Preflight checks' }).waitFor({ timeout: 60_000 });
    profileId = (await invoke<Array<{ id: string; name: string }>>(page, 'profiles:list')).find((p) => p.name === name)?.id ?? '';
    expect(profileId).not.toBe('');
    const accepted = [...sshdLog().matchAll(new RegExp(`Accepted publickey for ${admin.name} from 127\\.0\\.0\\.1 port (\\d+)`, 'g'))];
    appPort = accepted.at(-1)?.[1] ?? '';
    expect(appPort).not.toBe('');
    expect(canaries()).toEqual([]);
  }, 300_000);

  it('Preflight: the data folder names itself for each hostile path, and a hostile path that is a real path is only checked', async () => {
    await quiet();
    const server = page.getByRole('region', { name: /^Server Home "quoted"/ });
    const data = server.getByLabel('Data folder on the server');
    const cases: Array<[string, RegExp]> = [
      [`srv/${sub('data')}`, /^Data folders: use a full path that starts with \//],
      ['../../etc', /^Data folders: use a full path that starts with \//],
      ['/srv/m2/../../etc', /^Data folders: write the path without "\.\."/],
      [`/srv/m2\t${sub('data')}`, /^Data folders: a path must not contain line breaks, tabs or NUL characters\./],
      [`/srv/m2${ZERO_WIDTH}`, /^Data folders: remove the invisible or right-to-left characters/],
      [`/srv/${RTL}2m`, /^Data folders: remove the invisible or right-to-left characters/],
      [`/${LONG}`, /^Data folders: keep each path under 1024 characters\./],
    ];
    for (const [value, message] of cases) {
      const label = `data folder ${JSON.stringify(value).slice(0, 40)}`;
      await refusedWithoutEffect(label, async () => {
        await data.fill(value);
        await server.getByRole('button', { name: 'Run checks again' }).click();
        await expect.poll(() => data.getAttribute('aria-invalid'), { message: label }).toBe('true');
        await expect.poll(async () => (await described(data)).text, { message: label }).toMatch(message);
      });
      if (value.startsWith('srv/')) await page.screenshot({ path: shot('preflight-data-folder'), fullPage: true });
    }
    // Quotes, $(), backticks and `; rm` in an absolute path are only a path: preflight checks it and runs none of it.
    const hostile = `/tmp/${sub('data')} ${ticks('data')} '${semi('data')}' "q"`;
    await data.fill(hostile);
    await server.getByRole('button', { name: 'Run checks again' }).click();
    await expect.poll(() => data.getAttribute('aria-invalid')).toBe(null);
    await server.getByRole('list', { name: 'Preflight checks' }).getByText(hostile, { exact: false }).first().waitFor({ timeout: 60_000 });
    expect(canaries()).toEqual([]);
  }, 300_000);

  it('Domain & Cloudflare: the token, allowed emails and email domain name themselves beside the field; nothing kept, nothing sent', async () => {
    await quiet();
    await page.getByText('Set up the Cloudflare token, zone and host names').click();
    const token = page.getByLabel('API token', { exact: true });
    await token.waitFor();
    const verify = page.getByRole('button', { name: 'Verify and keep token' });
    const cases: Array<[string, RegExp]> = [
      [`${'a'.repeat(30)}${sub('token')}`, /^API token: paste only the token \(letters, digits, - and _\), without "Bearer" or spaces\./],
      [`Bearer ${DEFAULT_TOKENS.all}`, /^API token: paste only the token/],
      [`${DEFAULT_TOKENS.all}${ticks('token')}`, /^API token: paste only the token/],
      [`${DEFAULT_TOKENS.all}; rm -rf ~`, /^API token: paste only the token/],
      [`${DEFAULT_TOKENS.all}'"`, /^API token: paste only the token/],
      [`${DEFAULT_TOKENS.all}${RTL}`, /^API token: paste only the token/],
      [`${DEFAULT_TOKENS.all}${ZERO_WIDTH}`, /^API token: paste only the token/],
      [`../../etc/${DEFAULT_TOKENS.all}`, /^API token: paste only the token/],
      [LONG, /^API token: this is longer than any Cloudflare API token\./],
      ['$(id)', /^API token: paste the whole token/],
    ];
    for (const [value, message] of cases) {
      const label = `token ${JSON.stringify(value).slice(0, 40)}`;
      await refusedWithoutEffect(label, async () => {
        const asked = standIn.requests.count();
        await token.fill(value);
        await verify.click();
        await expect.poll(() => token.getAttribute('aria-invalid'), { message: label }).toBe('true');
        const beside = await described(token);
        expect(beside.text, label).toMatch(message);
        expect(beside.text, label).toContain('Nothing was changed.');
        expect(beside.roles, label).toEqual(['alert']);
        // Refused before Cloudflare is asked anything, and nothing kept in the keychain.
        expect(standIn.requests.count(), label).toBe(asked);
        await expect(keychain.get(profileId, API_TOKEN_SECRET), label).resolves.toBeUndefined();
      });
      if (value.startsWith('Bearer')) await page.screenshot({ path: shot('cloudflare-token'), fullPage: true });
    }

    // A real token, then the domain and who may sign in.
    await token.fill(DEFAULT_TOKENS.all);
    await verify.click();
    await page.getByRole('list', { name: 'What the token may do' }).waitFor({ timeout: 30_000 });
    await page.getByLabel('Account', { exact: true }).selectOption({ label: 'Home' });
    await page.getByLabel('Zone', { exact: true }).selectOption({ label: 'example.com' });
    await quiet();
    const emails = page.getByLabel('Allowed emails', { exact: true });
    const domain = page.getByLabel('Allowed email domain', { exact: true });
    const save = page.getByRole('button', { name: 'Save Cloudflare settings' });
    const EMAILS = /^Allowed emails: enter addresses such as alice@example\.com\./;
    const emailCases: Array<[string, RegExp]> = [
      [`alice@example.com, ${sub('email')}@example.com`, /^Allowed emails: enter addresses such as alice@example\.com\. Address 2 \(“\$\(touch”\) is not one\./],
      [`${ticks('email')}@example.com`, EMAILS],
      [`"bob"@example.com`, EMAILS],
      [`bob'@example.com`, EMAILS],
      [`b${RTL}ob@example.com`, EMAILS],
      [`bob${ZERO_WIDTH}@example.com`, EMAILS],
      [`bob@example.com${ZERO_WIDTH}`, EMAILS],
      [`${LONG}@example.com`, /^Allowed emails: keep each address under 254 characters\./],
    ];
    for (const [value, message] of emailCases) {
      const label = `emails ${JSON.stringify(value).slice(0, 40)}`;
      await refusedWithoutEffect(label, async () => {
        await emails.fill(value);
        await domain.fill('');
        await save.click();
        await expect.poll(() => emails.getAttribute('aria-invalid'), { message: label }).toBe('true');
        const beside = await described(emails);
        expect(beside.text, label).toMatch(message);
        expect(beside.roles, label).toEqual(['alert']);
      });
      if (value.startsWith('alice')) await page.screenshot({ path: shot('cloudflare-emails'), fullPage: true });
    }
    const DOMAIN = /^Allowed email domain: enter a domain such as example\.com\./;
    for (const value of [sub('domain'), `example.com; rm -rf ~`, `"example.com"`, ticks('domain'), '../../etc', `exa${RTL}mple.com`, `example${ZERO_WIDTH}.com`, `${LONG}.com`]) {
      const label = `email domain ${JSON.stringify(value).slice(0, 40)}`;
      await refusedWithoutEffect(label, async () => {
        await emails.fill('alice@example.com');
        await domain.fill(value);
        await save.click();
        await expect.poll(() => domain.getAttribute('aria-invalid'), { message: label }).toBe('true');
        expect((await described(domain)).text, label).toMatch(DOMAIN);
        await expect(emails.getAttribute('aria-invalid')).resolves.toBeNull();
      });
    }
    await page.screenshot({ path: shot('cloudflare-domain'), fullPage: true });

    // Account and zone are chosen from lists; a hostile id sent anyway is named and refused by main.
    const settings = { accountId: DEFAULT_ACCOUNT_ID, zoneId: DEFAULT_ZONE_ID, zoneName: 'example.com', access: { emails: ['alice@example.com'], emailDomain: null, sessionDuration: '24h' } };
    for (const [patch, message] of [
      [{ accountId: sub('account') }, /Account: choose one from the list/],
      [{ zoneId: `${DEFAULT_ZONE_ID}; rm -rf ~` }, /Zone: choose one from the list/],
      [{ zoneName: `../../etc` }, /Zone: enter a domain such as example\.com\./],
    ] as const) {
      await refusedWithoutEffect(`settings ${JSON.stringify(patch)}`, async () => {
        await expect(invoke(page, 'cloudflare:save-settings', { profileId, settings: { ...settings, ...patch } })).rejects.toThrow(message);
      });
    }
    await refusedWithoutEffect('zones of a hostile account', async () => {
      await expect(invoke(page, 'cloudflare:zones', { profileId, accountId: `../../${sub('zones')}` })).rejects.toThrow(/Error: Account: /);
    });
  }, 300_000);

  it('Services & storage: every text field names itself beside the field, the summary counts them, nothing is saved', async () => {
    const form = page.getByRole('form', { name: 'Stack settings' });
    await form.waitFor({ timeout: 30_000 });
    await quiet();
    // Every module on, and a GPU method that needs a render node, so every field is on the page.
    await form.getByLabel('Hardware acceleration').selectOption('vaapi');
    for (const m of ['WireGuard fallback', 'Media automation', 'Nextcloud', 'Backups']) await form.getByRole('switch', { name: m }).check();
    await form.getByRole('button', { name: 'Add a media folder' }).click();

    /** Each field with the start of its message: the field's own name as the form labels it. */
    const fields: Array<[label: string, says: string]> = [
      ['Service data folder', 'Service data folder'],
      ['User id', 'User id'],
      ['Group id', 'Group id'],
      ['Time zone', 'Time zone'],
      ['Image registry', 'Image registry'],
      ['Admin email', 'Admin email'],
      ['Jellyfin host name', 'Jellyfin host name'],
      ['Nextcloud host name', 'Nextcloud host name'],
      ['Authentik host name', 'Authentik host name'],
      ['GPU render device', 'GPU render device'],
      ['GPU render group id', 'GPU render group id'],
      ['Jellyfin port', 'Jellyfin port'],
      ['Media folder 1', 'Media folder 1'],
      ['Nextcloud admin user', 'Nextcloud admin user'],
      ['Nextcloud port (fallback)', 'Nextcloud port'],
      ['Backup repository folder', 'Backup repository folder'],
      ['Backup time', 'Backup time'],
      ['Keep daily', 'Keep daily'],
      ['Keep weekly', 'Keep weekly'],
      ['Keep monthly', 'Keep monthly'],
      ['Warn after (hours without a good backup)', 'Warn after'],
      ['WireGuard port', 'WireGuard port'],
      ['Ingest folder', 'Ingest folder'],
    ];
    const folders = new Set(['Service data folder', 'Media folder 1', 'Backup repository folder', 'Ingest folder']);
    const numbers = new Set(['User id', 'Group id', 'GPU render group id', 'Jellyfin port', 'Nextcloud port (fallback)', 'Keep daily', 'Keep weekly', 'Keep monthly', 'Warn after (hours without a good backup)', 'WireGuard port']);
    /** One round of hostile values; a folder gets the hostile part after a relative or `..` start so it is refused. */
    const rounds: Array<[name: string, value: (label: string) => string]> = [
      ['$()', (l) => (folders.has(l) ? `srv/${sub('stack')}` : numbers.has(l) ? `8096${sub('stack')}` : sub('stack'))],
      ['backticks', (l) => (folders.has(l) ? `srv/${ticks('stack')}` : `1${ticks('stack')}`)],
      ['; rm', (l) => (folders.has(l) ? `/srv/m2/../../etc; ${semi('stack')}` : `1; rm -rf ~`)],
      ['quotes', (l) => (folders.has(l) ? `'/srv/m2'` : `"1" 'x'`)],
      ['line break', (l) => (folders.has(l) ? `/srv/m2\t${newline('stack')}` : newline('stack'))],
      ['10,000 characters', (l) => (folders.has(l) ? `/${LONG}` : numbers.has(l) ? '9'.repeat(10_000) : LONG)],
      ['right-to-left', (l) => (folders.has(l) ? `/srv/${RTL}2m` : numbers.has(l) ? `80${RTL}96` : `media${RTL}.example.com`)],
      ['zero-width', (l) => (folders.has(l) ? `/srv/m2${ZERO_WIDTH}` : numbers.has(l) ? `8096${ZERO_WIDTH}` : `media${ZERO_WIDTH}.example.com`)],
      ['../../etc', (l) => (numbers.has(l) ? '0x50' : '../../etc')],
    ];
    for (const [round, value] of rounds) {
      await refusedWithoutEffect(`stack settings, ${round}`, async () => {
        for (const [label] of fields) await form.getByLabel(label, { exact: true }).fill(value(label));
        await form.getByRole('button', { name: 'Save settings' }).click();
        const summary = form.getByRole('alert').first();
        await expect.poll(() => summary.textContent(), { message: round }).toMatch(/settings? needs? fixing before they can be saved\. Nothing was saved\./);
        const problems: string[] = [];
        for (const [label, says] of fields) {
          const input = form.getByLabel(label, { exact: true });
          if ((await input.getAttribute('aria-invalid')) !== 'true') {
            problems.push(`${label} = ${JSON.stringify(value(label)).slice(0, 30)}: accepted`);
            continue;
          }
          const { text } = await described(input);
          if (!text.startsWith(`${says}: `) || /Invalid input|expected (number|string)/.test(text)) problems.push(`${label}: ${text.slice(0, 120)}`);
        }
        expect(problems, round).toEqual([]);
        expect(await summary.textContent()).toContain(`${fields.length} settings need fixing`);
      });
      if (round === '$()' || round === 'right-to-left') await page.screenshot({ path: shot(`stack-settings-${round === '$()' ? 'subshell' : 'rtl'}`), fullPage: true });
    }
    const view = await invoke<{ saved: boolean }>(page, 'stack:settings', { profileId });
    expect(view.saved).toBe(false);
    expect(existsSync(path.join(dataDir, 'stacks', `${profileId}.json`))).toBe(false);
  }, 300_000);

  it('left nothing behind on the server: no canary, no container created or started', () => {
    expect(canaries()).toEqual([]);
    expect(containerEventsSince(startedAt)).toBe('');
  });
});
