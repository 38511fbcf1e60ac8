import { describe, expect, it } from 'vitest';
import { SenderSubscriptions } from './subscriptions';

describe('subscriptions per window', () => {
  it('gives back what a closed window still held, and nothing it had already given back', () => {
    const released: string[] = [];
    const subs = new SenderSubscriptions<object>((id) => released.push(id));
    const a = {};
    const b = {};
    subs.observe(a, 'status:subscribe', { profileId: 'home' }, true);
    subs.observe(a, 'status:subscribe', { profileId: 'home' }, true);
    subs.observe(a, 'status:subscribe', { profileId: 'cabin' }, true);
    subs.observe(a, 'status:unsubscribe', { profileId: 'cabin' }, true);
    subs.observe(a, 'status:subscribe', { profileId: 'nope' }, false); // failed: holds nothing
    subs.observe(a, 'stack:status', { profileId: 'home' }, true); // other calls: nothing
    subs.observe(b, 'status:subscribe', { profileId: 'home' }, true);
    expect(Object.fromEntries(subs.held(a))).toEqual({ home: 2 });

    subs.release(a);
    expect(released).toEqual(['home', 'home']);
    subs.release(a);
    expect(released).toHaveLength(2);
    expect(Object.fromEntries(subs.held(b))).toEqual({ home: 1 });
    // An unsubscribe without a subscribe never goes below nothing.
    subs.observe(b, 'status:unsubscribe', { profileId: 'home' }, true);
    subs.observe(b, 'status:unsubscribe', { profileId: 'home' }, true);
    subs.release(b);
    expect(released).toHaveLength(2);
  });

  it('gives back at once a subscribe answered after its window closed, and lets no window give back what it does not hold', () => {
    const released: string[] = [];
    const subs = new SenderSubscriptions<object>((id) => released.push(id));
    const tab = {};
    subs.release(tab); // the tab closed while status:subscribe was still waiting for the first snapshot
    subs.observe(tab, 'status:subscribe', { profileId: 'home' }, true);
    expect(released).toEqual(['home']);
    expect(subs.held(tab).size).toBe(0);

    const other = {};
    expect(subs.admits(other, 'status:unsubscribe', { profileId: 'home' })).toBe(false);
    expect(subs.admits(other, 'status:subscribe', { profileId: 'home' })).toBe(true);
    subs.observe(other, 'status:subscribe', { profileId: 'home' }, true);
    expect(subs.admits(other, 'status:unsubscribe', { profileId: 'home' })).toBe(true);
    // A page replaced in the same window (a reload) gives back what it held, and the window may subscribe again.
    subs.release(other, { final: false });
    expect(released).toEqual(['home', 'home']);
    subs.observe(other, 'status:subscribe', { profileId: 'home' }, true);
    expect(Object.fromEntries(subs.held(other))).toEqual({ home: 1 });
  });
});

