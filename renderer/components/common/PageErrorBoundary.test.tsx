// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeM2, mount } from '../../test-support/fake-m2';
import { PageErrorBoundary } from './PageErrorBoundary';

/** A page that throws while rendering as long as `broken.now` says so. */
const broken = { now: true };
function DashboardStandIn() {
  if (broken.now) throw new Error('Cannot read properties of undefined (reading “tunnel”)');
  return <h1>Dashboard</h1>;
}

let unmount: (() => Promise<void>) | undefined;
afterEach(async () => {
  await unmount?.();
  unmount = undefined;
  vi.restoreAllMocks();
});

describe('PageErrorBoundary', () => {
  it('shows what failed and how to report it when a page throws while rendering, and Try again renders the page anew', async () => {
    // React reports the caught error on the console as well; keep the test output to what matters.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    broken.now = true;
    const m2 = new FakeM2({ 'app:log-location': () => ({ path: '/home/admin/.config/M2 Companion/logs/main.log' }) });
    const view = await mount(
      m2,
      <PageErrorBoundary page="Dashboard">
        <DashboardStandIn />
      </PageErrorBoundary>,
    );
    unmount = view.unmount;

    const alert = view.container.querySelector('[role="alert"]');
    expect(alert?.querySelector('h2')?.textContent).toBe('This page could not be shown');
    // What failed, in the error's own words, and which page.
    expect(alert?.querySelector('[data-testid="page-error-message"]')?.textContent).toBe('Cannot read properties of undefined (reading “tunnel”)');
    expect(alert?.textContent).toContain('the Dashboard page failed');
    // How to report it: the diagnostics archive, offered right there (Settings may be the page that failed).
    expect(alert?.textContent).toContain('Settings → Diagnostics');
    const exportButton = [...view.container.querySelectorAll('button')].find((b) => b.textContent === 'Export diagnostics…');
    expect(exportButton).toBeDefined();
    expect(view.container.querySelector('pre')?.textContent).toMatch(/^Error: Cannot read properties of undefined/);

    broken.now = false;
    const retry = [...view.container.querySelectorAll('button')].find((b) => b.textContent === 'Try again');
    await act(async () => retry?.click());
    expect(view.container.querySelector('[role="alert"]')).toBeNull();
    expect(view.container.querySelector('h1')?.textContent).toBe('Dashboard');
  });

  it('renders the page itself when nothing fails', async () => {
    broken.now = false;
    const view = await mount(
      new FakeM2(),
      <PageErrorBoundary page="Dashboard">
        <DashboardStandIn />
      </PageErrorBoundary>,
    );
    unmount = view.unmount;
    expect(view.container.innerHTML).toBe('<h1>Dashboard</h1>');
  });
});
