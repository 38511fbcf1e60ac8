import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PreflightReport } from '../../contract/preflight';
import type { SetupProgress, SetupStepId } from '../../contract/setup';
import type { ApplyOutcome } from '../../contract/stack';
import { createPreflightStore, type KeptPreflight, type PreflightStore } from '../preflight/preflight-store';
import { AppError } from '../errors';
import { deriveSetupProgress, PREFLIGHT_FRESH_MS, SetupProgressService, type SetupFacts } from './setup-progress';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const HOUR = 60 * 60 * 1000;
const KEY = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const OTHER_KEY = 'SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const profile = { id: 'home', name: 'Home server', host: '192.168.1.20', port: 22 };

const report = (statuses: Array<'pass' | 'warn' | 'fail'> = ['pass', 'pass', 'pass']): PreflightReport => ({
  checks: statuses.map((status, i) => ({ id: (['os', 'docker-engine', 'compose', 'gpu'] as const)[i] ?? 'clock', title: ['Operating system', 'Docker Engine', 'Docker Compose', 'GPU'][i] ?? 'Clock', status, found: 'as found' })),
  dockerAccess: { kind: 'group' },
  gpu: { kind: 'none' },
  startedAt: NOW.toISOString(),
  durationMs: 1200,
});

const kept = (over: Partial<KeptPreflight> = {}): KeptPreflight => ({
  at: new Date(NOW.getTime() - HOUR).toISOString(),
  host: profile.host,
  port: profile.port,
  hostKeys: [KEY],
  dataPaths: ['/srv/m2'],
  report: report(),
  ...over,
});

const applied: ApplyOutcome = {
  kind: 'finished',
  applyId: 'a1',
  startedAt: '2026-12-04T11:00:00.000Z',
  finishedAt: '2026-12-04T11:05:00.000Z',
  result: { kind: 'applied', releaseId: 'r-20261204', services: [], health: [], warnings: [], durationMs: 300_000 },
};

const facts = (over: Partial<SetupFacts> = {}): SetupFacts => ({
  profile,
  hostKeys: [{ fingerprint: KEY, addedAt: '2026-12-04T10:00:00.000Z' }],
  preflight: null,
  published: [],
  settings: { saved: false, at: null },
  accounts: { total: 3, withPassword: 0 },
  install: null,
  ...over,
});

const stepOf = (p: SetupProgress, id: SetupStepId) => {
  const s = p.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

describe('deriveSetupProgress', () => {
  it('lists the eight steps in order, and a server never connected starts at Server', () => {
    const p = deriveSetupProgress(facts({ hostKeys: [] }), NOW);
    expect(p.steps.map((s) => s.id)).toEqual(['server', 'preflight', 'cloudflare', 'services', 'accounts', 'review', 'install', 'done']);
    expect(p.steps.every((s) => s.status === 'todo')).toBe(true);
    expect(p.current).toBe('server');
    expect(stepOf(p, 'server').result).toMatch(/Connect to Home server and confirm its host key/);
  });

  it('a confirmed host key marks Server done and makes Preflight the step to work on, not a later one', () => {
    const p = deriveSetupProgress(facts(), NOW);
    expect(stepOf(p, 'server')).toMatchObject({ status: 'done', at: '2026-12-04T10:00:00.000Z' });
    expect(stepOf(p, 'server').result).toContain(KEY);
    expect(p.current).toBe('preflight');
  });

  it('a preflight of an hour ago is done with its time and result, and Domain & Cloudflare comes next', () => {
    const p = deriveSetupProgress(facts({ preflight: kept({ report: report(['pass', 'warn', 'pass']) }) }), NOW);
    expect(stepOf(p, 'preflight')).toEqual({ id: 'preflight', status: 'done', at: '2026-12-04T11:00:00.000Z', result: '2 checks passed, 1 warning.' });
    expect(p.current).toBe('cloudflare');
  });

  it('a preflight older than a day is stale and says to run it again', () => {
    const old = kept({ at: new Date(NOW.getTime() - PREFLIGHT_FRESH_MS - 1000).toISOString() });
    const p = deriveSetupProgress(facts({ preflight: old, settings: { saved: true, at: null } }), NOW);
    expect(stepOf(p, 'preflight')).toMatchObject({ status: 'stale', at: old.at });
    expect(stepOf(p, 'preflight').result).toMatch(/more than a day ago.*Run it again/);
    // Stale goes first, even with later steps done.
    expect(p.current).toBe('preflight');
    // Just under a day is still fresh.
    const fresh = kept({ at: new Date(NOW.getTime() - PREFLIGHT_FRESH_MS + 1000).toISOString() });
    expect(stepOf(deriveSetupProgress(facts({ preflight: fresh }), NOW), 'preflight').status).toBe('done');
  });

  it('a preflight run under another host key is stale: the server may be another machine', () => {
    const p = deriveSetupProgress(facts({ hostKeys: [{ fingerprint: OTHER_KEY, addedAt: null }], preflight: kept() }), NOW);
    expect(stepOf(p, 'preflight').status).toBe('stale');
    expect(stepOf(p, 'preflight').result).toMatch(/host key changed/);
    expect(p.current).toBe('preflight');
  });

  it('a preflight of the server’s old address is stale and names both addresses', () => {
    const p = deriveSetupProgress(facts({ profile: { ...profile, host: '192.168.1.30', port: 2222 }, preflight: kept() }), NOW);
    expect(stepOf(p, 'preflight').status).toBe('stale');
    expect(stepOf(p, 'preflight').result).toBe('It checked 192.168.1.20; the server’s address is now 192.168.1.30:2222. Run it again.');
  });

  it('a preflight with failed checks has run: its result names them and says to fix them before installing', () => {
    const p = deriveSetupProgress(facts({ preflight: kept({ report: report(['pass', 'fail', 'fail']) }) }), NOW);
    expect(stepOf(p, 'preflight')).toMatchObject({
      status: 'done',
      result: '2 checks failed (Docker Engine, Docker Compose): fix them before installing, then run the checks again.',
    });
    expect(p.current).toBe('cloudflare');
  });

  it('an update that was rolled back leaves the stack installed with the release before it', () => {
    const rolledBackUpdate: ApplyOutcome = {
      ...applied,
      result: {
        kind: 'rolled-back',
        attemptedRelease: 'r2',
        report: { failedService: 'jellyfin', reason: 'unhealthy', decidedBy: { kind: 'certain-failure', service: 'jellyfin', evidence: 'unhealthy', exitCode: null, restarts: 0 }, logTail: [], restoredRelease: 'r1', restored: true },
        warnings: [],
        durationMs: 1,
      },
    };
    const p = deriveSetupProgress(facts({ preflight: kept(), settings: { saved: true, at: null }, install: rolledBackUpdate }), NOW);
    expect(stepOf(p, 'install')).toMatchObject({ status: 'done', result: 'The last update was rolled back; release r1 runs.' });
    expect(p.current).toBe('done');
  });

  it('saved services pass over Cloudflare (it can wait) and the accounts (Review makes their passwords): Review is next', () => {
    const p = deriveSetupProgress(facts({ preflight: kept(), settings: { saved: true, at: '2026-12-04T11:30:00.000Z' } }), NOW);
    expect(stepOf(p, 'services')).toMatchObject({ status: 'done', at: '2026-12-04T11:30:00.000Z' });
    expect(stepOf(p, 'cloudflare')).toMatchObject({ status: 'todo', result: 'Not published yet. You can do it now or after the install.' });
    expect(stepOf(p, 'accounts')).toMatchObject({ status: 'todo', result: 'Passwords are made when you review the install.' });
    expect(p.current).toBe('review');
    const reviewed = deriveSetupProgress(facts({ preflight: kept(), settings: { saved: true, at: null }, accounts: { total: 3, withPassword: 3 } }), NOW);
    expect(stepOf(reviewed, 'accounts')).toMatchObject({ status: 'done', result: '3 accounts, passwords kept in this computer’s keychain.' });
  });

  it('an install that is running makes Install the step, and a finished one is Done with the release', () => {
    const base = { preflight: kept(), settings: { saved: true, at: null }, accounts: { total: 3, withPassword: 3 } };
    const running = deriveSetupProgress(facts({ ...base, install: { kind: 'running', applyId: 'a1', startedAt: '2026-12-04T11:00:00.000Z', phase: 'pull' } }), NOW);
    expect(stepOf(running, 'review').status).toBe('done');
    expect(running.current).toBe('install');
    const done = deriveSetupProgress(facts({ ...base, install: applied }), NOW);
    expect(stepOf(done, 'install')).toMatchObject({ status: 'done', at: '2026-12-04T11:05:00.000Z', result: 'Release r-20261204 installed; every service came up.' });
    expect(stepOf(done, 'done').status).toBe('done');
    // Cloudflare not published does not hold a finished install back from Done.
    expect(done.current).toBe('done');
  });

  it('a first install that was rolled back or interrupted is still to do and says why', () => {
    const base = { preflight: kept(), settings: { saved: true, at: null } };
    const rolledBack: ApplyOutcome = {
      kind: 'finished',
      applyId: 'a2',
      startedAt: '2026-12-04T11:00:00.000Z',
      finishedAt: '2026-12-04T11:05:00.000Z',
      result: {
        kind: 'rolled-back',
        attemptedRelease: 'r1',
        report: { failedService: 'jellyfin', reason: 'jellyfin did not become healthy', decidedBy: { kind: 'certain-failure', service: 'jellyfin', evidence: 'unhealthy', exitCode: null, restarts: 0 }, logTail: [], restoredRelease: null, restored: false },
        warnings: [],
        durationMs: 1,
      },
    };
    const p = deriveSetupProgress(facts({ ...base, install: rolledBack }), NOW);
    expect(stepOf(p, 'install')).toMatchObject({ status: 'todo', result: 'The install was rolled back: jellyfin did not become healthy' });
    expect(p.current).toBe('install');
    const cut: ApplyOutcome = { kind: 'interrupted', applyId: 'a', startedAt: 'x', finishedAt: 'y', cause: 'app', releaseStarted: false, message: 'M2 Companion stopped…' };
    expect(stepOf(deriveSetupProgress(facts({ ...base, install: cut }), NOW), 'install')).toMatchObject({ status: 'todo', result: 'M2 Companion stopped…' });
  });
});

describe('SetupProgressService', () => {
  let dir: string;
  let store: PreflightStore;
  let now: Date;
  let keys: string[];
  let host: string;
  const service = (): SetupProgressService =>
    new SetupProgressService({
      profile: async (id) => (id === profile.id ? { ...profile, host } : undefined),
      hostKeys: async () => keys.map((fingerprint) => ({ fingerprint, addedAt: null })),
      preflight: store,
      published: async () => [],
      settingsSavedAt: async () => undefined,
      accounts: async () => {
        throw new AppError('secrets.unavailable', 'No keychain on this computer.');
      },
      lastApply: async () => null,
      now: () => now,
    });

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-setup-progress-'));
    store = createPreflightStore(dir);
    now = NOW;
    keys = [KEY];
    host = profile.host;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a preflight in the data folder: a new service (a restarted app) reads it done, and stale 24 h later', async () => {
    await service().keepPreflight(profile.id, report(), ['/srv/m2']);
    const again = await service().progress(profile.id);
    expect(stepOf(again, 'preflight')).toEqual({ id: 'preflight', status: 'done', at: NOW.toISOString(), result: 'All 3 checks passed.' });
    expect(again.current).toBe('cloudflare');
    expect((await createPreflightStore(dir).read(profile.id)).last).toMatchObject({ host: profile.host, port: 22, hostKeys: [KEY], dataPaths: ['/srv/m2'] });

    now = new Date(NOW.getTime() + PREFLIGHT_FRESH_MS + 1);
    const later = await service().progress(profile.id);
    expect(stepOf(later, 'preflight').status).toBe('stale');
    expect(later.current).toBe('preflight');
  });

  it('a host key changed after the preflight makes it stale', async () => {
    await service().keepPreflight(profile.id, report(), ['/srv/m2']);
    keys = [OTHER_KEY];
    expect(stepOf(await service().progress(profile.id), 'preflight').status).toBe('stale');
  });

  it('a keychain that cannot answer leaves Accounts to do with its reason, not a failed page', async () => {
    const p = await service().progress(profile.id);
    expect(stepOf(p, 'accounts')).toMatchObject({ status: 'todo', result: 'No keychain on this computer.' });
  });

  it('a server that is no longer saved is refused with a message that names it', async () => {
    await expect(service().progress('gone')).rejects.toMatchObject({ code: 'profile.not-found' });
  });
});
