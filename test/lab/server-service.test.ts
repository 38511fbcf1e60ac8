import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCoreServices, createHandlers } from '../../electron/core/services';
import { createDispatcher } from '../../electron/core/ipc/dispatch';
import { createLogger, type LogLine } from '../../electron/core/log';
import type { EventName } from '../../electron/contract/channels';
import { MemorySecretStore } from '../../electron/core/secrets/keychain';

const lab = inject('lab');

describe('connecting through the contract, as the renderer does (lab sshd)', () => {
  let dataDir: string;
  const lines: LogLine[] = [];
  const events: [EventName, unknown][] = [];
  const vault = new MemorySecretStore();
  let services: ReturnType<typeof createCoreServices>;
  let call: (channel: string, payload?: unknown) => Promise<unknown>;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-server-service-'));
    services = createCoreServices(
      {
        dataDir,
        appInfo: { name: 'M2 Companion', version: '0', platform: 'linux', arch: 'x64', host: 'web' },
        log: createLogger((l) => lines.push(JSON.parse(l) as LogLine)),
        userKnownHosts: [],
        vault,
      },
      (event, payload) => void events.push([event, payload]),
    );
    const dispatch = createDispatcher(createHandlers(services), { isTrustedSender: () => true, log: createLogger(() => {}) });
    call = async (channel, payload) => {
      const r = await dispatch({ url: 'test' }, channel, payload);
      if (!r.ok) throw Object.assign(new Error(r.error.userMessage), r.error);
      return r.value;
    };
  });
  afterAll(async () => {
    await services.servers.closeAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('password on first contact only: installs a generated key and switches the profile to it', async () => {
    const password = readFileSync(lab.ssh.passwordUser.passwordFile, 'utf8').trim();
    const profile = (await call('profiles:save', {
      name: 'Password first',
      host: lab.ssh.host,
      port: lab.ssh.port,
      username: lab.ssh.passwordUser.name,
      auth: { kind: 'password' },
    })) as { id: string };
    await expect(call('server:connect', { profileId: profile.id })).rejects.toMatchObject({ code: 'ssh.auth-failed', field: 'password' });
    const first = (await call('server:connect', { profileId: profile.id, password })) as { kind: string; fingerprint: string };
    expect(first).toMatchObject({ kind: 'confirm-host-key', fingerprint: lab.ssh.hostKeyFingerprint });
    expect(await call('server:connect', { profileId: profile.id, password, acceptFingerprint: first.fingerprint })).toMatchObject({ kind: 'connected' });

    const installed = (await call('server:install-key', { profileId: profile.id })) as { keyPath: string; installed: string };
    expect(installed.installed).toBe('added');
    expect(statSync(installed.keyPath).mode & 0o777).toBe(0o600);
    const [saved] = (await call('profiles:list')) as { auth: { kind: string; keyPath?: string } }[];
    expect(saved?.auth).toEqual({ kind: 'key', keyPath: installed.keyPath });

    // From now on: the key, no password.
    await call('server:disconnect', { profileId: profile.id });
    expect(await call('server:connect', { profileId: profile.id })).toMatchObject({ kind: 'connected' });
    expect(await call('server:state', { profileId: profile.id })).toMatchObject({ kind: 'connected' });
    expect(events.some(([e, p]) => e === 'server:state' && (p as { state: { kind: string } }).state.kind === 'connected')).toBe(true);

    // The password never reached a log line, the profile file or an event.
    const everything = JSON.stringify([lines, events]) + readFileSync(path.join(dataDir, 'profiles.json'), 'utf8');
    expect(everything).not.toContain(password);

    // Clean up the key we installed on the lab server.
    await services.servers.connection(profile.id).exec(['sh', '-c', ': > "$HOME/.ssh/authorized_keys"']);
  });

  it('preflight runs on the one connection of a profile, and refuses when not connected', async () => {
    const profile = (await call('profiles:save', {
      name: 'Admin',
      host: lab.ssh.host,
      port: lab.ssh.port,
      username: lab.ssh.admin.name,
      auth: { kind: 'key', keyPath: lab.ssh.admin.keyPath },
    })) as { id: string };
    await expect(call('preflight:run', { profileId: profile.id, dataPaths: ['/tmp'] })).rejects.toMatchObject({ code: 'server.not-connected' });
    const first = (await call('server:connect', { profileId: profile.id })) as { kind: string; fingerprint: string };
    if (first.kind === 'confirm-host-key') {
      expect(await call('server:connect', { profileId: profile.id, acceptFingerprint: first.fingerprint })).toMatchObject({ kind: 'connected' });
    } else expect(first.kind).toBe('connected');
    const report = (await call('preflight:run', { profileId: profile.id, dataPaths: ['/tmp'] })) as { dockerAccess: { kind: string } };
    expect(report.dockerAccess).toEqual({ kind: 'group' });
    await expect(call('preflight:run', { profileId: profile.id, dataPaths: ['relative/path'] })).rejects.toMatchObject({ code: 'ipc.invalid' });
  });
});
