// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ErrorShape } from '../../electron/contract/errors';
import { FakeM2, mount, settle } from '../test-support/fake-m2';
import { useCall, type Call } from './use-call';
import { useEvent } from './use-event';

type Seen = Call<unknown>;

/** Renders what the hook gives, each render recorded, so a test can say what the page showed. */
function Probe({ profileId, everyMs, seen }: { profileId: string | null; everyMs?: number; seen: Seen[] }) {
  const c = useCall('stack:status', profileId === null ? null : { profileId }, everyMs ? { everyMs } : undefined) as Seen;
  seen.push(c);
  return null;
}

const last = (seen: Seen[]): Seen => seen[seen.length - 1]!;
/** Runs what a click would (a refresh, a replace) as React does: its updates applied before the test looks. */
const user = (f: () => void): Promise<void> => act(async () => f());
const away: ErrorShape = { code: 'ipc.disconnected', userMessage: 'The app is not answering.', hint: 'Try again.' };

let unmount: (() => Promise<void>) | undefined;
afterEach(async () => {
  await unmount?.();
  unmount = undefined;
});

describe('useCall', () => {
  it('is loading until main answers, then shows the value', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    ({ unmount } = await mount(m2, <Probe profileId="home" seen={seen} />));
    expect(last(seen).state).toEqual({ kind: 'loading' });
    expect(m2.calls.map((c) => [c.channel, c.input])).toEqual([['stack:status', { profileId: 'home' }]]);
    await m2.calls[0]!.answer({ currentRelease: 'r1' });
    expect(last(seen).state).toEqual({ kind: 'ready', value: { currentRelease: 'r1' } });
    expect(last(seen).value).toEqual({ currentRelease: 'r1' });
  });

  it('shows a failed call as its error shape', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    ({ unmount } = await mount(m2, <Probe profileId="home" seen={seen} />));
    await m2.calls[0]!.fail(away);
    expect(last(seen).state).toEqual({ kind: 'failed', error: away });
    expect(last(seen).error).toEqual(away);
    expect(last(seen).value).toBeUndefined();
  });

  it('refresh asks again: loading, the last value kept meanwhile and after a failed refresh, the error cleared by the next answer', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    ({ unmount } = await mount(m2, <Probe profileId="home" seen={seen} />));
    await m2.calls[0]!.answer('one');
    await settle();
    await user(() => last(seen).refresh());
    expect(m2.calls).toHaveLength(2);
    expect(last(seen).state).toEqual({ kind: 'loading' });
    expect(last(seen).value).toBe('one');
    await m2.calls[1]!.fail(away);
    expect(last(seen).state).toEqual({ kind: 'failed', error: away });
    expect(last(seen).value).toBe('one');
    await user(() => last(seen).refresh());
    await m2.calls[2]!.answer('two');
    expect(last(seen).state).toEqual({ kind: 'ready', value: 'two' });
    expect(last(seen).error).toBeUndefined();
  });

  it('never shows the answer for the previous input: one that comes after the input changed is dropped', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    const view = await mount(m2, <Probe profileId="home" seen={seen} />);
    unmount = view.unmount;
    await view.render(<Probe profileId="cabin" seen={seen} />);
    expect(m2.calls.map((c) => c.input)).toEqual([{ profileId: 'home' }, { profileId: 'cabin' }]);
    // The slow answer for the first server comes last-but-one: it must not show under the second.
    await m2.calls[0]!.answer('home status');
    expect(last(seen).state).toEqual({ kind: 'loading' });
    expect(last(seen).value).toBeUndefined();
    await m2.calls[1]!.answer('cabin status');
    expect(last(seen).state).toEqual({ kind: 'ready', value: 'cabin status' });
    // Back to the first: its old answer is not shown while it is asked again.
    await view.render(<Probe profileId="home" seen={seen} />);
    expect(last(seen).state).toEqual({ kind: 'loading' });
    expect(last(seen).value).toBeUndefined();
  });

  it('an answer that comes after the component left changes nothing, and polling stops on leave', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    const view = await mount(m2, <Probe profileId="home" everyMs={20} seen={seen} />);
    await vi.waitFor(() => expect(m2.calls.length).toBeGreaterThan(1), { timeout: 20_000, interval: 10 });
    const asked = m2.calls.length;
    const renders = seen.length;
    await view.unmount();
    for (const c of m2.calls) await c.answer('late');
    await new Promise((r) => setTimeout(r, 120));
    expect(m2.calls).toHaveLength(asked);
    expect(seen).toHaveLength(renders);
  });

  it('asks nothing while the input is null, and nothing again for an equal input in a new object', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    const view = await mount(m2, <Probe profileId={null} seen={seen} />);
    unmount = view.unmount;
    expect(m2.calls).toHaveLength(0);
    expect(last(seen).state).toEqual({ kind: 'loading' });
    await view.render(<Probe profileId="home" seen={seen} />);
    await view.render(<Probe profileId="home" seen={seen} />);
    expect(m2.calls).toHaveLength(1);
  });

  it('replace shows a value without asking; an updater changes the latest value of this input', async () => {
    const m2 = new FakeM2();
    const seen: Seen[] = [];
    ({ unmount } = await mount(m2, <Probe profileId="home" seen={seen} />));
    // Nothing known yet: an updater has nothing to change.
    await user(() => last(seen).replace((n) => (n as number) + 1));
    expect(last(seen).state).toEqual({ kind: 'loading' });
    await m2.calls[0]!.answer(1);
    await user(() => last(seen).replace((n) => (n as number) + 1));
    expect(last(seen).state).toEqual({ kind: 'ready', value: 2 });
    await user(() => last(seen).replace(10));
    expect(last(seen).state).toEqual({ kind: 'ready', value: 10 });
    expect(m2.calls).toHaveLength(1);
  });
});

describe('useEvent', () => {
  function Follower({ profileId, got }: { profileId: string; got: string[] }) {
    // A new listener each render, no useCallback: the event must reach the current one.
    useEvent('setup:changed', (e) => (e.profileId === profileId ? got.push(profileId) : undefined));
    return null;
  }

  it('subscribes once, reaches the latest listener, and unsubscribes on leave', async () => {
    const m2 = new FakeM2();
    const got: string[] = [];
    const view = await mount(m2, <Follower profileId="home" got={got} />);
    await m2.emit('setup:changed', { profileId: 'home' });
    await view.render(<Follower profileId="cabin" got={got} />);
    expect(m2.listenerCount('setup:changed')).toBe(1);
    await m2.emit('setup:changed', { profileId: 'home' });
    await m2.emit('setup:changed', { profileId: 'cabin' });
    expect(got).toEqual(['home', 'cabin']);
    await view.unmount();
    expect(m2.listenerCount('setup:changed')).toBe(0);
    await m2.emit('setup:changed', { profileId: 'cabin' });
    expect(got).toEqual(['home', 'cabin']);
  });
});
