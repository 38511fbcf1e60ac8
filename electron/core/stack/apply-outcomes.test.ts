import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplyOutcome } from '../../contract/stack';
import { AppError } from '../errors';
import { asSeenNow, createOutcomeStore, interruptedMessage, outcomeOfError, outcomeOfResult } from './apply-outcomes';

const run = { applyId: 'a1b2c3', startedAt: '2026-12-04T10:00:00.000Z' };
const now = new Date('2026-12-04T10:02:00.000Z');
const lostWhileStarting = new AppError(
  'stack.apply-failed',
  'The connection to the server was lost while the release was starting. The server brings the previous release back by itself.',
);

describe('the outcome of an install', () => {
  it('a connection lost once the release started says the server restored the previous release and to run Install again', () => {
    const o = outcomeOfError(run, lostWhileStarting, { connectionLost: true, phase: 'start', now });
    expect(o).toEqual({
      kind: 'interrupted',
      ...run,
      finishedAt: now.toISOString(),
      cause: 'connection',
      releaseStarted: true,
      message: 'Connection lost — the server restored the previous release; run Install again.',
    });
  });

  it('a connection lost while pulling says nothing changed on the server', () => {
    const o = outcomeOfError(run, new AppError('ssh.disconnected', 'The connection closed while docker ran.'), { connectionLost: false, phase: 'pull', now });
    expect(o).toMatchObject({ kind: 'interrupted', cause: 'connection', releaseStarted: false, message: interruptedMessage('connection', false) });
    expect(interruptedMessage('connection', false)).toBe('Connection lost before the new release started — nothing was changed on the server; run Install again.');
  });

  it('any other failure keeps its cause in the admin’s words, and nothing internal', () => {
    const disk = new AppError('stack.port-taken', 'Port 8096 on the server is taken by another program.', { hint: 'Choose another port for Jellyfin, then run Install again.' });
    expect(outcomeOfError(run, disk, { connectionLost: false, phase: 'validate', now })).toEqual({
      kind: 'failed',
      ...run,
      finishedAt: now.toISOString(),
      error: { code: 'stack.port-taken', userMessage: 'Port 8096 on the server is taken by another program.', hint: 'Choose another port for Jellyfin, then run Install again.' },
    });
    const odd = outcomeOfError(run, new TypeError('x is undefined at /home/admin/secret'), { connectionLost: false, phase: 'prepare', now });
    expect(odd).toMatchObject({ kind: 'failed', error: { code: 'internal' } });
    expect(JSON.stringify(odd)).not.toContain('/home/admin/secret');
  });

  it('one found running by an app that is not running it was stopped with the app; one running here still runs', () => {
    const running: ApplyOutcome = { kind: 'running', ...run, phase: 'health' };
    expect(asSeenNow(running, true, now)).toBe(running);
    expect(asSeenNow(running, false, now)).toEqual({
      kind: 'interrupted',
      ...run,
      finishedAt: now.toISOString(),
      cause: 'app',
      releaseStarted: true,
      message: 'M2 Companion stopped during the install — the server restored the previous release; run Install again.',
    });
    expect(asSeenNow({ kind: 'running', ...run, phase: 'upload' }, false, now)).toMatchObject({ releaseStarted: false, message: interruptedMessage('app', false) });
    const done = outcomeOfResult(run, { kind: 'applied', releaseId: 'r1', services: [], health: [], warnings: [], durationMs: 1200 }, now);
    expect(asSeenNow(done, false, now)).toBe(done);
    expect(asSeenNow(null, false, now)).toBeNull();
  });

  describe('kept in the data folder', () => {
    let dir: string | undefined;
    afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('reads back what was kept, 0600, and refuses (never overwrites) a damaged file', async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'm2-outcomes-'));
      const store = createOutcomeStore(dir);
      await expect(store.read('home')).resolves.toEqual({ version: 1, install: null });
      const kept = outcomeOfError(run, lostWhileStarting, { connectionLost: true, phase: 'health', now });
      await store.update('home', (v) => void (v.install = kept));
      await expect(createOutcomeStore(dir).read('home')).resolves.toEqual({ version: 1, install: kept });
      const { statSync } = await import('node:fs');
      expect(statSync(store.file('home')).mode & 0o777).toBe(0o600);
      writeFileSync(store.file('home'), '{"version":1,"install":{"kind":"exploded"}}');
      await expect(store.read('home')).rejects.toThrow(/install outcomes of "home" are damaged/);
    });
  });
});
