import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../../electron/contract/stack';
import { KeptOutcome } from './InstallStep';

const text = (result: ApplyResult): string =>
  renderToStaticMarkup(<KeptOutcome outcome={{ kind: 'finished', applyId: 'a', startedAt: '2026-12-05T02:00:00Z', finishedAt: '2026-12-05T02:00:01Z', result }} />)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ');

const applied = (over: Partial<Extract<ApplyResult, { kind: 'applied' }>> = {}): ApplyResult => ({
  kind: 'applied',
  releaseId: '20261205T020000Z-dddddddd',
  services: [
    { service: 'jellyfin', module: 'jellyfin', action: 'unchanged', reason: 'no change', image: 'jellyfin/jellyfin:10.11.11' },
    { service: 'redis', module: 'nextcloud', action: 'create', reason: 'exited; will be started', image: 'redis:7' },
  ],
  health: [
    { service: 'jellyfin', state: 'running', health: 'healthy', containerId: 'abc', image: 'jellyfin/jellyfin:10.11.11' },
    { service: 'redis', state: 'running', health: 'healthy', containerId: 'def', image: 'redis:7' },
  ],
  warnings: [],
  durationMs: 412,
  ...over,
});

describe('an install’s result on the Install and Done steps', () => {
  it('says when there was nothing to change, and that nothing was started', () => {
    const t = text(applied({ nothingToChange: true, services: [] }));
    expect(t).toContain('Nothing to change: release 20261205T020000Z-dddddddd is live');
    expect(t).toContain('Nothing to change; all 2 services healthy (checked in 0.4 s).');
    expect(t).toContain('nothing was uploaded, started or restarted');
    expect(t).not.toContain('Installed release');
  });

  it('a full apply says what it did', () => {
    const t = text(applied());
    expect(t).toContain('Installed release 20261205T020000Z-dddddddd');
    expect(t).toContain('1 service was created, recreated or removed.');
    expect(t).not.toContain('Nothing to change');
  });
});
