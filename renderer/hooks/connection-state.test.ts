import { describe, expect, it } from 'vitest';
import type { ConnectionState } from '../../electron/contract/server';
import { connectionNotice, followConnection, unknownConnection, type FollowedConnection } from './connection-state';

const follow = (...states: ConnectionState[]): FollowedConnection => states.reduce(followConnection, unknownConnection);
const up = (since: string): ConnectionState => ({ kind: 'connected', since });
const away: ConnectionState = { kind: 'reconnecting', attempt: 2, retryInMs: 4_200, reason: 'the connection closed' };

describe('a page following a server’s connection', () => {
  it('asks the server again each time the connection comes up, and only then', () => {
    expect(follow({ kind: 'idle' }).epoch).toBeUndefined();
    // Connected from another page while this one was open: the page has something to show at once.
    expect(follow({ kind: 'idle' }, { kind: 'connecting', attempt: 1 }, up('t1')).epoch).toBe('t1');
    // Lost and back by itself: the epoch holds through the reconnect (the page keeps what it shows), then moves on.
    expect(follow(up('t1'), away).epoch).toBe('t1');
    expect(follow(up('t1'), away, up('t2')).epoch).toBe('t2');
    // A restarted app pushes the same server connected anew: a new epoch, so live status is asked for again.
    expect(follow(up('t1'), up('t3')).epoch).toBe('t3');
  });

  it('stops showing the server’s data once the connection is closed or idle', () => {
    expect(follow(up('t1'), { kind: 'closed' })).toEqual({ state: { kind: 'closed' }, epoch: undefined });
    expect(follow(up('t1'), { kind: 'idle' }).epoch).toBeUndefined();
  });

  it('says the connection’s state in words, with the retry it is waiting for and why it gave up', () => {
    expect(connectionNotice(up('t1'))).toBeNull();
    expect(connectionNotice(undefined)).toBe('Checking the connection to the server…');
    expect(connectionNotice(away)).toBe('Connection lost — reconnecting by itself (attempt 2, next try in 4 s). This page follows when it is back.');
    expect(connectionNotice({ ...away, retryInMs: 300 })).toMatch(/next try in under a second/);
    expect(connectionNotice({ kind: 'idle' })).toBe('Not connected to this server. Connect to it in Setup; this page follows by itself.');
    expect(connectionNotice({ kind: 'closed', reason: 'This server signs in with a password…' })).toBe('This server signs in with a password…');
    expect(connectionNotice({ kind: 'closed' })).toMatch(/^Disconnected from this server/);
  });
});
