import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { UpdateApplyResult, UpdateCheck } from '../../../electron/contract/updates';
import { AvailableUpdates, ConfirmUpdateDialog, UpdateOutcome, VersionsTable } from './UpdatesPanel';

const text = (el: React.ReactElement): string => renderToStaticMarkup(el).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

const jellyfin = {
  key: 'jellyfin',
  module: 'jellyfin',
  repository: '127.0.0.1:5055/jellyfin/jellyfin',
  registry: '127.0.0.1:5055',
  policy: 'minor',
  current: '10.11.11',
  candidates: [
    { tag: '10.12.0', level: 'minor' },
    { tag: '10.11.12', level: 'patch' },
  ],
  services: ['jellyfin'],
  releaseNotes: 'https://github.com/jellyfin/jellyfin/releases',
  warning: null,
  error: null,
} as const satisfies UpdateCheck['images'][number];

const check: UpdateCheck = {
  profileId: 'home',
  checkedAt: '2026-12-05T06:00:00.000Z',
  available: 1,
  images: [jellyfin, { ...jellyfin, key: 'redis', module: 'nextcloud', repository: 'redis', registry: 'Docker Hub', candidates: [], services: [], error: 'The server could not reach the image registry Docker Hub.' }],
};

describe('the updates panel', () => {
  it('lists an update with what changes, its release notes and its Update button; a registry not reached is named', () => {
    const html = renderToStaticMarkup(<AvailableUpdates check={check} busy={false} onUpdate={() => undefined} />);
    const t = html.replace(/<[^>]+>/g, ' ');
    expect(t).toContain('1 of 2 images have a newer version');
    expect(t).toContain('new features; settings and data stay compatible');
    expect(t).toContain('used by jellyfin');
    expect(t).toContain('The server could not reach the image registry Docker Hub. (redis)');
    expect(html).toContain('href="https://github.com/jellyfin/jellyfin/releases"');
    expect(html).toMatch(/<button[^>]*>Update jellyfin<\/button>/);
  });

  it('asks before updating, saying the backup, what restarts and the rollback; a major warns', () => {
    const t = text(<ConfirmUpdateDialog chosen={{ image: jellyfin, tag: '10.12.0' }} backupOn onConfirm={() => undefined} onCancel={() => undefined} />);
    expect(t).toContain('Update jellyfin 10.11.11 → 10.12.0?');
    expect(t).toContain('A backup is taken first.');
    expect(t).toContain('Only jellyfin is restarted with it; the other services are not touched.');
    expect(t).toContain('the previous version is brought back by itself');
    const major = { ...jellyfin, candidates: [{ tag: '11.0.0', level: 'major' as const }], warning: 'jellyfin 11.0.0 is a new major version (from 10.11.11): read its release notes.' };
    expect(text(<ConfirmUpdateDialog chosen={{ image: major, tag: '11.0.0' }} backupOn={false} onConfirm={() => undefined} onCancel={() => undefined} />)).toContain('is a new major version');
  });

  it('says how it ended: updated with the backup, or rolled back with the report', () => {
    const record = { id: 'a1', at: '2026-12-05T06:01:00.000Z', changes: [{ key: 'jellyfin', from: '10.11.11', to: '10.11.12', level: 'patch' as const }], outcome: 'updated' as const, message: 'jellyfin 10.11.11 → 10.11.12: release r2 is live and healthy.', backupSnapshot: 'abcdef0123', releaseId: 'r2', attempts: 1 };
    const ok: UpdateApplyResult = { outcome: 'updated', record, backup: { snapshotId: 'abcdef0123', reused: false, note: null }, apply: { kind: 'applied', releaseId: 'r2', services: [], health: [], warnings: [], durationMs: 1 } };
    expect(text(<UpdateOutcome result={ok} />)).toContain('Updated: jellyfin 10.11.11 → 10.11.12: release r2 is live and healthy. Backup abcdef01 was taken first.');
    const back: UpdateApplyResult = {
      ...ok,
      outcome: 'rolled-back',
      record: { ...record, outcome: 'rolled-back' },
      apply: { kind: 'rolled-back', attemptedRelease: 'r2', warnings: [], durationMs: 1, report: { failedService: 'jellyfin', reason: 'jellyfin did not become healthy.', decidedBy: { kind: 'after-up', composeExitCode: 1 }, logTail: [], restoredRelease: 'r1', restored: true } },
    };
    expect(text(<UpdateOutcome result={back} />)).toContain('The previous release r1 is running again.');
    expect(text(<VersionsTable view={{ versions: [{ key: 'jellyfin', tag: '10.11.12', digest: null, since: record.at, from: '10.11.11' }], history: [record], lastCheck: null }} />)).toMatch(/jellyfin 10\.11\.12 .* 10\.11\.11 .*updated/);
  });
});
