// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import type { ErrorShape } from '../../electron/contract/errors';
import { FakeM2, mount } from '../test-support/fake-m2';
import type { StatusState } from './status-state';
import { useStatus } from './use-status';

function Probe({ profileId, seen }: { profileId: string; seen: StatusState[] }) {
  seen.push(useStatus(profileId).state);
  return null;
}

const away: ErrorShape = { code: 'ipc.disconnected', userMessage: 'The app is not answering.' };

describe('useStatus on the subscription hook', () => {
  it('listens before it subscribes, and unsubscribes what it subscribed, and its listener, on leave', async () => {
    const m2 = new FakeM2();
    const seen: StatusState[] = [];
    const view = await mount(m2, <Probe profileId="home" seen={seen} />);
    const [subscribe] = m2.callsOf('status:subscribe');
    expect(subscribe?.input).toEqual({ profileId: 'home' });
    // Listening already when main is asked: an update pushed before the answer is not lost.
    expect(m2.listenerCount('status:update')).toBe(1);
    // An answer that is another server's snapshot is not shown under this one (the reducer keeps its server's only).
    await subscribe!.answer({ profileId: 'cabin', seq: 1 });
    expect(seen.at(-1)?.kind).toBe('loading');
    expect(m2.callsOf('status:history')).toHaveLength(1);
    await view.unmount();
    expect(m2.listenerCount('status:update')).toBe(0);
    expect(m2.log.filter((c) => c.channel === 'status:unsubscribe')).toEqual([{ channel: 'status:unsubscribe', input: { profileId: 'home' } }]);
  });

  it('a failed subscribe shows its error and is not unsubscribed', async () => {
    const m2 = new FakeM2();
    const seen: StatusState[] = [];
    const view = await mount(m2, <Probe profileId="home" seen={seen} />);
    await m2.callsOf('status:subscribe')[0]!.fail(away);
    expect(seen.at(-1)).toMatchObject({ kind: 'failed', error: away });
    await view.unmount();
    expect(m2.log.map((c) => c.channel)).not.toContain('status:unsubscribe');
  });
});
