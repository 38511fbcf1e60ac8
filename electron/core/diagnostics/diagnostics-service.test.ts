import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemorySecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { createAppLog, RedactingSecretStore } from './app-log';
import { DiagnosticsService, type DiagnosticsDeps } from './diagnostics-service';
import { tar } from './tar';

const APP = { name: 'M2 Companion', version: '9.8.7', platform: 'linux', arch: 'x64', host: 'web' } as const;
// Values the keychain holds for the known server: none of them is token-shaped, so only the keychain can name them.
const SECRETS = {
  'restic-password': 'correct horse battery staple',
  'db-password': 'pg!"quoted\\back$(whoami)',
  'jellyfin-admin': 'Jelly-Fish-2026-ünïcödé',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'm2-diag-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

async function extract(archive: string): Promise<Map<string, string>> {
  const out = path.join(dir, 'extracted');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xzf', archive, '-C', out]);
  const files = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else files.set(path.relative(out, p), await readFile(p, 'utf8'));
    }
  };
  await walk(out);
  return files;
}

async function setUp(extra: Partial<DiagnosticsDeps> = {}) {
  const appLog = createAppLog({ dir: path.join(dir, 'logs'), echo: false });
  const inner = new MemorySecretStore();
  for (const [name, value] of Object.entries(SECRETS)) await inner.set('home', name, new Secret(value));
  const vault = new RedactingSecretStore(inner, appLog.redactor);
  const service = new DiagnosticsService({
    app: APP,
    log: appLog.log,
    redactor: appLog.redactor,
    logPath: appLog.file.path,
    logFiles: appLog.file.files,
    profiles: async () => [{ id: 'home', name: 'Home server' }],
    learnSecrets: (ids) => vault.learnAll(ids),
    lastPreflight: async () => ({ at: '2026-12-05T03:00:00Z', report: { docker: { installed: true, note: `password ${SECRETS['db-password']}` } } }),
    composeState: async () => ({ services: [{ name: 'restic', env: `RESTIC_PASSWORD=${SECRETS['restic-password']}` }] }),
    chooseTarget: async (name) => path.join(dir, 'out', name),
    now: () => new Date('2026-12-04T03:30:00Z'),
    ...extra,
  });
  return { appLog, vault, service };
}

describe('DiagnosticsService', () => {
  it('exports one .tar.gz holding the version, platform, log, last preflight and Compose state, with no known secret value in it', async () => {
    const { appLog, vault, service } = await setUp();
    // A value read through the keychain is redacted from then on, at the source.
    const read = await vault.get('home', 'jellyfin-admin');
    appLog.log.error('jellyfin refused', { stderr: `bad password ${read?.reveal() ?? ''}`, secret: read });
    // Lines written before the app knew a value (a previous run's) are redacted on the way out.
    appendFileSync(appLog.file.path, `${JSON.stringify({ level: 'warn', message: `restic said ${SECRETS['restic-password']} / ${SECRETS['db-password']}` })}\n`);
    appendFileSync(appLog.file.oldPath, `old run: PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk= ${SECRETS['db-password']}\n`);

    const result = await service.export();
    expect(result.saved).toBe(true);
    const archive = result.path ?? '';
    expect(path.basename(archive)).toBe('m2-companion-diagnostics-2026-12-04-03-30-00.tar.gz');
    expect((await stat(archive)).mode & 0o777).toBe(0o600);

    const files = await extract(archive);
    expect([...files.keys()].sort()).toEqual(['about.json', 'log/main.log', 'log/main.old.log', 'servers/home/compose.json', 'servers/home/preflight.json']);
    const all = [...files.values()].join('\n');
    for (const value of Object.values(SECRETS)) {
      expect(all).not.toContain(value);
      expect(all).not.toContain(JSON.stringify(value).slice(1, -1));
    }
    expect(all).not.toContain('yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=');
    // The facts are there.
    const about = JSON.parse(files.get('about.json') ?? '{}') as Record<string, unknown>;
    expect(about).toMatchObject({ app: APP, log: appLog.file.path, servers: [{ id: 'home', name: 'Home server' }], notes: [] });
    expect(files.get('log/main.log')).toContain('jellyfin refused');
    expect(files.get('log/main.log')).toContain('[REDACTED]');
    expect(JSON.parse(files.get('servers/home/preflight.json') ?? '{}')).toMatchObject({ report: { docker: { installed: true } } });
    expect(files.get('servers/home/compose.json')).toContain('"name": "restic"');
    // The export itself is in the log, without any value either.
    const logNow = await readFile(appLog.file.path, 'utf8');
    const exportLine = logNow.trim().split('\n').at(-1) ?? '';
    expect(exportLine).toContain('diagnostics exported');
    for (const value of Object.values(SECRETS)) expect(exportLine).not.toContain(value);
  });

  it('says a server that does not answer within the timeout as unavailable, and a missing preflight and log as such', async () => {
    const { service } = await setUp({ composeState: () => new Promise(() => {}), composeTimeoutMs: 50, lastPreflight: async () => null, logFiles: [path.join(dir, 'nowhere.log')] });
    const files = await extract((await service.export()).path ?? '');
    expect(JSON.parse(files.get('servers/home/compose.json') ?? '{}')).toEqual({ unavailable: 'no answer within 0.05 s' });
    expect(JSON.parse(files.get('servers/home/preflight.json') ?? '{}')).toEqual({ none: 'No preflight has run for this server.' });
    expect(files.has('log/main.log')).toBe(false);
  });

  it('writes nothing when the save dialog is cancelled; a folder it cannot write says what to do', async () => {
    const { service } = await setUp({ chooseTarget: async () => undefined });
    expect(await service.export()).toEqual({ saved: false });
    await writeFile(path.join(dir, 'a-file'), 'not a folder');
    const blocked = await setUp({ chooseTarget: async () => path.join(dir, 'a-file', 'x.tar.gz') });
    await expect(blocked.service.export()).rejects.toMatchObject({ code: 'diagnostics.write-failed', hint: expect.stringContaining('Choose a folder') as unknown });
  });

  it('shows the log in the folder where the shell can, and only says where otherwise', async () => {
    const shown: string[] = [];
    const desktop = (await setUp({ showItemInFolder: (f) => shown.push(f) })).service;
    expect(desktop.showLog()).toEqual({ path: path.join(dir, 'logs', 'main.log'), shown: true });
    expect(shown).toEqual([path.join(dir, 'logs', 'main.log')]);
    const web = (await setUp()).service;
    expect(web.showLog().shown).toBe(false);
    expect(web.logLocation()).toEqual({ path: path.join(dir, 'logs', 'main.log'), folder: path.join(dir, 'logs') });
  });
});

describe('tar', () => {
  it('writes archives the system tar reads, and refuses names that escape', () => {
    const raw = tar([
      { name: 'a.txt', content: 'hello' },
      { name: 'd/b.bin', content: Buffer.alloc(513, 7) },
    ]);
    expect(raw.length % 512).toBe(0);
    const listed = execFileSync('tar', ['-tvf', '-'], { input: raw }).toString();
    expect(listed).toMatch(/a\.txt/);
    expect(listed).toMatch(/513 .*d\/b\.bin/);
    expect(() => tar([{ name: '../evil', content: '' }])).toThrow(/bad tar entry/);
    expect(() => tar([{ name: '/etc/passwd', content: '' }])).toThrow(/bad tar entry/);
  });
});
