// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerProfile } from '../../electron/contract/profiles';
import { App } from '../App';
import { FakeM2, mount, settle } from '../test-support/fake-m2';
import { ChosenServerProvider, useChosenServer } from './chosen-server';

const server = (id: string, name: string): ServerProfile => ({
  id,
  name,
  host: `${id}.lan`,
  port: 22,
  username: 'admin',
  auth: { kind: 'agent' },
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
});
const home = server('home', 'Home');
const cabin = server('cabin', 'Cabin');

/** Main as far as the chosen server goes: it keeps the choice; every other call waits forever (the pages ask a lot). */
function fakeMain(): FakeM2 {
  let chosen: string | null = 'home';
  return new FakeM2({
    'profiles:list': () => [home, cabin],
    'profiles:chosen': () => ({ profileId: chosen }),
    'profiles:choose': (input) => {
      chosen = (input as { profileId: string }).profileId;
      return { profileId: chosen };
    },
  });
}

/** The `<select>` a page labels `label`, as the admin (and the e2e tests) find it. */
function picker(container: HTMLElement, label: string): HTMLSelectElement | undefined {
  const l = [...container.querySelectorAll('label')].find((x) => x.textContent === label);
  return l ? (container.ownerDocument.getElementById(l.htmlFor) as HTMLSelectElement) : undefined;
}

const go = (hash: string): Promise<void> =>
  act(async () => {
    window.location.hash = hash;
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });

const select = (el: HTMLSelectElement, value: string): Promise<void> =>
  act(async () => {
    el.value = value;
    el.dispatchEvent(new Event('change', { bubbles: true }));
  });

let unmount: (() => Promise<void>) | undefined;
afterEach(async () => {
  await unmount?.();
  unmount = undefined;
  window.location.hash = '';
});

describe('the chosen server, one for the whole app', () => {
  it('a server chosen on one page is the one every other page shows, without asking main again', async () => {
    const m2 = fakeMain();
    window.location.hash = '#/services';
    let container: HTMLElement;
    ({ unmount, container } = await mount(m2, <App />));
    await settle();
    expect(picker(container, 'Server')?.value).toBe('home');

    await select(picker(container, 'Server')!, 'cabin');
    expect(m2.log.filter((c) => c.channel === 'profiles:choose')).toEqual([{ channel: 'profiles:choose', input: { profileId: 'cabin' } }]);

    for (const page of ['#/backups', '#/dashboard', '#/household', '#/remote', '#/settings', '#/logs', '#/recovery-kit']) {
      await go(page);
      await settle();
      expect(picker(container, 'Server')?.value, page).toBe('cabin');
    }
    await go('#/setup');
    await settle();
    expect(picker(container, 'Server to set up')?.value).toBe('cabin');
    // The choice is app state: main was asked once, when the app opened, and told once, when it changed.
    expect(m2.log.filter((c) => c.channel === 'profiles:chosen')).toHaveLength(1);
  });

  it('follows a choice and a new server pushed by main (another window), on the page that is open', async () => {
    const m2 = fakeMain();
    window.location.hash = '#/dashboard';
    let container: HTMLElement;
    ({ unmount, container } = await mount(m2, <App />));
    await settle();
    await m2.emit('profiles:chosen', { profileId: 'cabin' });
    expect(picker(container, 'Server')?.value).toBe('cabin');
    const attic = server('attic', 'Attic');
    await m2.emit('profiles:changed', [home, cabin, attic]);
    expect([...picker(container, 'Server')!.options].map((o) => o.value)).toEqual(['home', 'cabin', 'attic']);
    await go('#/services');
    await settle();
    expect(picker(container, 'Server')?.value).toBe('cabin');
  });

  it('shows no server until main has said which one is chosen', async () => {
    const m2 = new FakeM2({ 'profiles:list': () => [home, cabin] });
    const seen: (string | undefined)[] = [];
    function Page() {
      seen.push(useChosenServer().profile?.id);
      return null;
    }
    ({ unmount } = await mount(m2, <ChosenServerProvider><Page /></ChosenServerProvider>));
    await settle();
    expect(seen.every((id) => id === undefined)).toBe(true);
    await m2.callsOf('profiles:chosen')[0]!.answer({ profileId: 'cabin' });
    expect(seen.at(-1)).toBe('cabin');
  });
});
