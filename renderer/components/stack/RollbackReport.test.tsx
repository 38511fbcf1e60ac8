import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RollbackReport as Report } from '../../../electron/contract/stack';
import { RollbackReport } from './RollbackReport';

const report = (over: Partial<Report>): Report =>
  Report.parse({ failedService: 'jellyfin', reason: 'r', decidedBy: { kind: 'after-up', composeExitCode: 1 }, logTail: ['fatal: config is broken'], restoredRelease: '20261204T100000Z-aaaaaaaa', restored: true, ...over });

const text = (r: Report): string => renderToStaticMarkup(<RollbackReport report={r} attemptedRelease="20261204T100100Z-bbbbbbbb" warnings={[]} />).replace(/<[^>]+>/g, ' ');

describe('the rollback report', () => {
  it('says a crash was decided at once, and names what Docker saw', () => {
    const t = text(report({ decidedBy: { kind: 'certain-failure', service: 'jellyfin', evidence: 'restarting', exitCode: 3, restarts: 2 } }));
    expect(t).toContain('Install rolled back: jellyfin stopped as it started');
    expect(t).toContain('At once: jellyfin kept stopping and Docker was restarting it, so there was nothing to wait for.');
    expect(t).toContain('The previous release 20261204T100000Z-aaaaaaaa is running again.');
  });

  it('says an unhealthy service, a Compose timeout and a cancel in their own words', () => {
    expect(text(report({ decidedBy: { kind: 'certain-failure', service: 'jellyfin', evidence: 'unhealthy', exitCode: null, restarts: 0 } }))).toContain('jellyfin did not become healthy');
    expect(text(report({}))).toContain('When docker compose stopped waiting for the services.');
    expect(text(report({ failedService: null, decidedBy: { kind: 'cancelled' } }))).toContain('You cancelled the install.');
  });
});
