import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../ipc/dispatch';
import { MemorySecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { createCoreServices, createHandlers } from '../services';
import { createAppLog, RedactingSecretStore } from './app-log';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function readTree(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('app:export-diagnostics through the contract (the web host wiring)', () => {
  it('writes the archive into the data folder with no value the keychain holds, even ones this run never read', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-diag-contract-'));
    dirs.push(dataDir);
    const appLog = createAppLog({ dir: path.join(dataDir, 'logs'), echo: false });
    const inner = new MemorySecretStore();
    const vault = new RedactingSecretStore(inner, appLog.redactor);
    const services = createCoreServices(
      {
        dataDir,
        appInfo: { name: 'M2 Companion', version: '1.2.3', platform: 'linux', arch: 'x64', host: 'web' },
        log: appLog.log,
        userKnownHosts: [],
        vault,
        appLog: { redactor: appLog.redactor, path: appLog.file.path, files: appLog.file.files },
      },
      () => {},
    );
    const dispatch = createDispatcher(createHandlers(services), { isTrustedSender: () => true, log: appLog.log });
    const call = async (channel: string, payload?: unknown): Promise<unknown> => {
      const r = await dispatch({ url: 'test' }, channel as never, payload);
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      return r.value;
    };
    const profile = (await call('profiles:save', { name: 'Home', host: '192.0.2.10', port: 22, username: 'admin', auth: { kind: 'agent' } })) as { id: string };
    const secrets = ['Pa55 w0rd with spaces', 'dbpass-"quoted"-\\-∂', 'short1'];
    // Written straight to the keychain (as a previous run did), never read in this run.
    for (const [i, s] of secrets.entries()) await inner.set(profile.id, `secret-${i}`, new Secret(s));
    // …and in the log from a previous run, before the app knew them.
    mkdirSync(path.dirname(appLog.file.path), { recursive: true });
    appendFileSync(appLog.file.path, `${JSON.stringify({ level: 'error', message: `stderr: ${secrets.join(' | ')}` })}\n`);

    expect(await call('app:log-location')).toEqual({ path: path.join(dataDir, 'logs', 'main.log'), folder: path.join(dataDir, 'logs') });
    expect(await call('app:show-log')).toEqual({ path: path.join(dataDir, 'logs', 'main.log'), shown: false });
    const exported = (await call('app:export-diagnostics')) as { saved: boolean; path: string; files: string[] };
    expect(exported.saved).toBe(true);
    expect(path.dirname(exported.path)).toBe(path.join(dataDir, 'diagnostics'));
    expect(statSync(exported.path).size).toBeGreaterThan(0);

    const out = path.join(dataDir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', exported.path, '-C', out]);
    const all = readTree(out);
    for (const s of secrets) expect(all).not.toContain(s);
    expect(all).toContain('[REDACTED] | [REDACTED] | [REDACTED]');
    expect(exported.files).toEqual(['about.json', 'log/main.log', `servers/${profile.id}/preflight.json`, `servers/${profile.id}/compose.json`]);
    expect(readFileSync(path.join(out, 'servers', profile.id, 'compose.json'), 'utf8')).toContain('Not connected to this server.');
    await services.servers.closeAll();
  }, 60_000);
});
