import { describe, expect, it } from 'vitest';
import { StackSettings, type ApplyResult } from '../../contract/stack';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { Unreachable, type HttpGet } from './registry';
import { UpdateService, type UpdatesFile } from './update-service';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

function harness(opts: { applyResult?: ApplyResult; tags?: string[]; reachable?: boolean; backupFails?: boolean; applyThrows?: boolean } = {}) {
  const calls: string[] = [];
  let saved = StackSettings.parse({ imageRegistry: '127.0.0.1:5055', modules: { mediaAutomation: { enabled: false }, wireguard: { enabled: false } } });
  let file: UpdatesFile = { versions: [], history: [], lastCheck: null, pending: null, notified: null };
  let now = new Date('2026-12-05T06:00:00Z');
  let applied: StackSettings | undefined;
  const get: HttpGet = async (url, o) => {
    if (opts.reachable === false) throw new Unreachable('no connection from the server');
    calls.push(`${o.method} ${url.pathname}`);
    if (url.pathname.endsWith('/tags/list')) return { status: 200, headers: {}, body: JSON.stringify({ tags: opts.tags ?? ['10.11.11', '10.11.12', '11.0.0'] }) };
    if (url.pathname.endsWith('/manifests/10.11.12')) return { status: 200, headers: { 'docker-content-digest': DIGEST }, body: '' };
    return { status: 404, headers: {}, body: '' };
  };
  const live: ApplyResult = { kind: 'applied', releaseId: 'r2', services: [], health: [], warnings: [], durationMs: 1 };
  const svc = new UpdateService({
    settings: async () => saved,
    saveSettings: async (_p, s) => {
      calls.push('save');
      saved = s;
    },
    http: () => ({ get, close: async () => undefined }),
    running: async () => [{ service: 'jellyfin', state: 'running', health: 'healthy', containerId: 'x', image: '127.0.0.1:5055/jellyfin/jellyfin:10.11.11' }],
    backup: async () => {
      calls.push('backup');
      if (opts.backupFails) throw new AppError('backups.failed', 'restic could not lock the repository');
      return { snapshotId: 'abcdef0123456789' };
    },
    apply: async (_p, s) => {
      calls.push(`apply ${s.imageOverrides.jellyfin ?? '-'}`);
      applied = s;
      if (opts.applyThrows) throw new AppError('stack.image-missing', '127.0.0.1:5055/jellyfin/jellyfin:10.11.12 could not be downloaded and is not on the server (needed by jellyfin).');
      return opts.applyResult ?? live;
    },
    store: {
      read: async () => structuredClone(file),
      update: async (_p, change) => {
        const next = structuredClone(file);
        change(next);
        file = next;
        return file;
      },
    },
    emit: () => undefined,
    log: silentLogger,
    now: () => now,
  });
  return {
    svc,
    calls,
    file: () => file,
    saved: () => saved,
    applied: () => applied,
    later: (h: number) => (now = new Date(now.getTime() + h * 3_600_000)),
    /** The admin saves other settings while the update runs (before its install ends). */
    saveWhileRunning: async (patch: Partial<StackSettings>) => {
      saved = { ...saved, ...patch };
    },
  };
}

const rolledBack: ApplyResult = {
  kind: 'rolled-back',
  attemptedRelease: 'r2',
  report: { failedService: 'jellyfin', reason: 'jellyfin did not become healthy.', decidedBy: { kind: 'after-up', composeExitCode: 1 }, logTail: [], restoredRelease: 'r1', restored: true },
  warnings: [],
  durationMs: 1,
};

describe('update service', () => {
  it('checks the registry the server uses, by each image’s policy', async () => {
    const h = harness();
    const check = await h.svc.check('home');
    const jf = check.images.find((i) => i.key === 'jellyfin');
    expect(jf).toMatchObject({ current: '10.11.11', candidates: [{ tag: '10.11.12', level: 'patch' }], services: ['jellyfin'], registry: '127.0.0.1:5055' });
    expect(h.file().lastCheck?.available).toBeGreaterThan(0);
  });

  it('an unreachable registry: the check names it and nothing is kept; an update does not start', async () => {
    const h = harness({ reachable: false });
    await expect(h.svc.check('home')).rejects.toThrow(/could not reach the image registry 127.0.0.1:5055/);
    await expect(h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }])).rejects.toThrow(/127.0.0.1:5055/);
    expect(h.calls).toEqual([]);
    expect(h.file()).toEqual({ versions: [], history: [], lastCheck: null, pending: null, notified: null });
  });

  it('updates: registry check, backup, install of the new tag, then the settings and the versions table', async () => {
    const h = harness();
    const r = await h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]);
    expect(r.outcome).toBe('updated');
    expect(h.calls).toEqual(['HEAD /v2/jellyfin/jellyfin/manifests/10.11.12', 'backup', 'apply 10.11.12', 'save']);
    expect(h.saved().imageOverrides).toEqual({ jellyfin: '10.11.12' });
    expect(h.file().versions).toEqual([{ key: 'jellyfin', tag: '10.11.12', digest: DIGEST, since: expect.any(String) as string, from: '10.11.11' }]);
    expect(h.file().pending).toBeNull();
    expect(h.file().history).toHaveLength(1);
  });

  it('a rolled-back update keeps the settings; its retry reuses the record and the backup', async () => {
    const h = harness({ applyResult: rolledBack });
    const first = await h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]);
    expect(first.outcome).toBe('rolled-back');
    expect(first.record.message).toMatch(/did not become healthy\. The previous versions run again/);
    expect(h.saved().imageOverrides).toEqual({});
    const second = await h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]);
    expect(second.record.id).toBe(first.record.id);
    expect(second.record.attempts).toBe(2);
    expect(second.backup).toMatchObject({ snapshotId: 'abcdef0123456789', reused: true });
    expect(h.calls.filter((c) => c === 'backup')).toHaveLength(1);
    expect(h.file().history).toHaveLength(1);
    expect(h.file().versions).toEqual([]);
  });

  it('a failed backup stops the update before anything is installed', async () => {
    const h = harness({ backupFails: true });
    const err = await h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('updates.backup-failed');
    expect((err as AppError).userMessage).toMatch(/restic could not lock/);
    expect(h.calls.some((c) => c.startsWith('apply'))).toBe(false);
  });

  it('an install that stops before starting (image not downloadable) is recorded as failed, settings unchanged', async () => {
    const h = harness({ applyThrows: true });
    const err = await h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('updates.registry-unreachable');
    expect((err as AppError).userMessage).toMatch(/could not be downloaded from the image registry 127.0.0.1:5055 .*Nothing was changed: jellyfin 10.11.11 still runs\./);
    expect(h.file().history[0]).toMatchObject({ outcome: 'failed', message: (err as AppError).userMessage });
    expect(h.saved().imageOverrides).toEqual({});
  });

  it('a tag the registry does not hold stops before the backup', async () => {
    const h = harness();
    await expect(h.svc.apply('home', [{ key: 'jellyfin', tag: '10.11.13' }])).rejects.toThrow(/127.0.0.1:5055 has no jellyfin\/jellyfin:10.11.13/);
    expect(h.calls).toEqual(['HEAD /v2/jellyfin/jellyfin/manifests/10.11.13']);
  });

  it('the daily check tells each new set of updates once, and not before a day has passed', async () => {
    const h = harness();
    const first = await h.svc.dailyCheck('home');
    expect(first).toEqual({ title: 'An update is available', body: 'jellyfin 10.11.12. Open Services → Updates to read what changes and to update.' });
    h.later(2);
    expect(await h.svc.dailyCheck('home')).toBeNull();
    h.later(23);
    expect(await h.svc.dailyCheck('home')).toBeNull();
    expect(h.calls.filter((c) => c.endsWith('/tags/list')).length).toBeGreaterThan(3);
    const quiet = harness({ reachable: false });
    expect(await quiet.svc.dailyCheck('home')).toBeNull();
  });

  it('keeps a setting saved while the update ran, writing only the updated tag', async () => {
    const h = harness();
    const { svc } = h;
    const run = svc.apply('home', [{ key: 'jellyfin', tag: '10.11.12' }]);
    await h.saveWhileRunning({ timezone: 'Europe/Berlin' });
    await run;
    expect(h.saved()).toMatchObject({ timezone: 'Europe/Berlin', imageOverrides: { jellyfin: '10.11.12' } });
  });
});
