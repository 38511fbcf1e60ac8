import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectionState } from '../../contract/server';
import { silentLogger } from '../log';
import { ProfileStore } from '../profiles/profile-store';
import { HostKeyStore } from '../ssh/host-keys';
import { createRememberedStore, passwordCannotResume } from './remembered-connections';
import { ServerService } from './server-service';

/**
 * A restarted app resumes the connections of its last run from the data folder. No server is needed to see what it
 * decides: the TCP dial is a seam that refuses, as a server that is still off does.
 */
describe('ServerService after a restart', () => {
  let dir: string;
  let profiles: ProfileStore;
  let states: Array<[string, ConnectionState]>;
  let dials: number;
  const services: ServerService[] = [];

  const service = (agent: string | null = '/run/agent.sock'): ServerService => {
    const s = new ServerService({
      profiles,
      hostKeys: new HostKeyStore(path.join(dir, 'known-hosts.json')),
      log: silentLogger,
      onState: (id, st) => states.push([id, st]),
      agentSocket: () => agent ?? undefined,
      homeDir: dir,
      keysDir: path.join(dir, 'keys'),
      remembered: createRememberedStore(path.join(dir, 'connections')),
      backoff: { baseMs: 5, maxMs: 20 },
      dialSocket: () => {
        dials++;
        return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      },
    });
    services.push(s);
    return s;
  };
  const remember = (id: string, reconnect: boolean) => createRememberedStore(path.join(dir, 'connections')).update(id, (v) => void (v.reconnect = reconnect));
  // Polls by wall time, not by a count of 10 ms naps: on a loaded machine the naps stretch and a count gives up early.
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!ok()) throw new Error(`never: ${what}`);
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-server-service-'));
    profiles = new ProfileStore(path.join(dir, 'profiles.json'));
    states = [];
    dials = 0;
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.closeAll()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('redials a server signed in with the agent that was connected, with bounded backoff, staying "reconnecting" between tries', async () => {
    const p = await profiles.save({ name: 'Home', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    await remember(p.id, true);
    const s = service();
    await s.resume();
    await until('three dials', () => dials >= 3);
    const mine = states.filter(([id]) => id === p.id).map(([, st]) => st);
    // Pages follow one state while it retries: never a flicker through 'connecting' or 'idle' between attempts.
    expect(new Set(mine.map((st) => st.kind))).toEqual(new Set(['reconnecting']));
    const retries = mine.filter((st): st is Extract<ConnectionState, { kind: 'reconnecting' }> => st.kind === 'reconnecting');
    expect(retries.map((r) => r.attempt).slice(0, 3)).toEqual([1, 2, 3]);
    for (const r of retries) expect(r.retryInMs).toBeLessThanOrEqual(20);
    expect(retries.at(-1)?.reason).toMatch(/Nothing accepts SSH connections at 127\.0\.0\.1:2222/);
    // Everything that talks to the server can already hold the connection and wait for it.
    expect(s.connection(p.id)).toBeDefined();
  });

  it('dials nothing once closed, even when close() lands while a redial is still reading the host keys', async () => {
    const p = await profiles.save({ name: 'Home', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    await remember(p.id, true);
    let reading!: () => void;
    const read = new Promise<void>((r) => (reading = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    class SlowHostKeys extends HostKeyStore {
      override async knownKeyTypes(host: string, port: number): Promise<string[]> {
        reading();
        await held;
        return super.knownKeyTypes(host, port);
      }
    }
    const s = new ServerService({
      profiles,
      hostKeys: new SlowHostKeys(path.join(dir, 'known-hosts.json')),
      log: silentLogger,
      onState: (id, st) => states.push([id, st]),
      agentSocket: () => '/run/agent.sock',
      homeDir: dir,
      keysDir: path.join(dir, 'keys'),
      remembered: createRememberedStore(path.join(dir, 'connections')),
      backoff: { baseMs: 1, maxMs: 1 },
      dialSocket: () => {
        dials++;
        return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      },
    });
    await s.resume();
    await read;
    await s.closeAll();
    release();
    await new Promise((r) => setTimeout(r, 100));
    expect(dials).toBe(0);
    expect(s.state(p.id)).toEqual({ kind: 'idle' });
  });

  it('says on the page that a password sign-in cannot come back by itself, and never dials it', async () => {
    const p = await profiles.save({ name: 'Pw', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'password' } });
    await remember(p.id, true);
    const s = service();
    await s.resume();
    expect(s.state(p.id)).toEqual({ kind: 'closed', reason: passwordCannotResume });
    expect(states).toEqual([[p.id, { kind: 'closed', reason: passwordCannotResume }]]);
    expect(s.states()).toEqual([{ profileId: p.id, state: { kind: 'closed', reason: passwordCannotResume } }]);
    expect(dials).toBe(0);
    expect(() => s.connection(p.id)).toThrow(/Not connected/);
  });

  it('says why when the sign-in cannot be prepared without the admin (no agent, a key that needs its passphrase)', async () => {
    const a = await profiles.save({ name: 'Agentless', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    const keyPath = path.join(dir, 'locked_key');
    writeFileSync(keyPath, 'not a key\n');
    const k = await profiles.save({ name: 'Keyed', host: '127.0.0.1', port: 2223, username: 'admin', auth: { kind: 'key', keyPath } });
    await remember(a.id, true);
    await remember(k.id, true);
    const s = service(null);
    await s.resume();
    expect(s.state(a.id)).toMatchObject({ kind: 'closed', reason: expect.stringMatching(/^M2 Companion could not reconnect by itself: No SSH agent is running/) as unknown });
    expect(s.state(k.id)).toMatchObject({ kind: 'closed', reason: expect.stringMatching(/not a private key .*Connect again in Setup\.$/) as unknown });
    expect(dials).toBe(0);
  });

  it('leaves alone servers that were not connected, or that the admin disconnected', async () => {
    const never = await profiles.save({ name: 'Never', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    const off = await profiles.save({ name: 'Off', host: '127.0.0.1', port: 2223, username: 'admin', auth: { kind: 'agent' } });
    await remember(off.id, true);
    await service().disconnect(off.id);
    const s = service();
    await s.resume();
    expect([s.state(never.id), s.state(off.id)]).toEqual([{ kind: 'idle' }, { kind: 'idle' }]);
    expect(dials).toBe(0);
  });

  it('a disconnect after the server’s memory was deleted (removing the server) does not write it back', async () => {
    const p = await profiles.save({ name: 'Gone', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    const store = createRememberedStore(path.join(dir, 'connections'));
    await remember(p.id, true);
    await expect(store.remove(p.id)).resolves.toBe(true);
    await service().disconnect(p.id);
    expect(existsSync(store.file(p.id))).toBe(false);
  });

  it('a damaged memory file reconnects nothing and is not overwritten by the resume', async () => {
    const p = await profiles.save({ name: 'Home', host: '127.0.0.1', port: 2222, username: 'admin', auth: { kind: 'agent' } });
    const store = createRememberedStore(path.join(dir, 'connections'));
    await remember(p.id, true);
    writeFileSync(store.file(p.id), '{ "version": 1, "reconnect": "yes" ');
    const s = service();
    await s.resume();
    expect(s.state(p.id)).toEqual({ kind: 'idle' });
    await expect(store.read(p.id)).rejects.toThrow(/damaged/);
  });
});
