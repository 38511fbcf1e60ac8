import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { ServiceRuntime } from '../../../electron/contract/logs';
import { ConfirmActionDialog } from './ConfirmActionDialog';
import { CrashLoopNotice } from './ServiceRuntimePanel';

const runtime = (over: Partial<ServiceRuntime>): ServiceRuntime => ({
  service: 'nextcloud',
  state: 'restarting',
  health: '',
  containers: 1,
  restartCount: 7,
  startedAt: '2026-12-05T02:09:58Z',
  exitCode: 1,
  crashLoop: { restarts: 7, lastLines: ['db: password •••••••• refused', 'giving up'] },
  ...over,
});
const text = (html: string): string => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();

describe('a crash loop and a confirmation in words', () => {
  it('says a service keeps restarting, how often, its exit code and its last lines, as an alert', () => {
    const html = renderToStaticMarkup(<CrashLoopNotice runtime={runtime({})} />);
    expect(html).toContain('role="alert"');
    expect(html).toContain('aria-label="nextcloud keeps restarting"');
    expect(text(html)).toContain('nextcloud keeps restarting — Docker has restarted it 7 times, last exit code 1.');
    expect(text(html)).toContain('db: password •••••••• refused giving up');
  });

  it('says nothing for a service that is not looping, and that a looping one printed nothing', () => {
    expect(renderToStaticMarkup(<CrashLoopNotice runtime={runtime({ crashLoop: null })} />)).toBe('');
    expect(text(renderToStaticMarkup(<CrashLoopNotice runtime={runtime({ crashLoop: { restarts: 1, lastLines: [] } })} />))).toContain('restarted it 1 time, last exit code 1. Its last lines say why: It printed nothing before it stopped.');
  });

  it('asks before a stop in a modal dialog named after the service, with Cancel', () => {
    const html = renderToStaticMarkup(<ConfirmActionDialog service="jellyfin" action="stop" onConfirm={() => {}} onCancel={() => {}} />);
    // A native <dialog> (opened with showModal() once mounted: modal, the page behind inert), named by its title.
    expect(html).toMatch(/^<dialog aria-labelledby="svc-action-title" aria-describedby="svc-action-desc"/);
    expect(text(html)).toMatch(/^Stop jellyfin\? It stays stopped until you start it again .* Stop jellyfin Cancel$/);
  });
});
