import { useEffect, useReducer } from 'react';
import type { ConnectionState } from '../../electron/contract/server';
import { followConnection, unknownConnection, type FollowedConnection } from './connection-state';

type Action = { readonly type: 'reset' } | { readonly type: 'state'; readonly state: ConnectionState };

const reducer = (prev: FollowedConnection, a: Action): FollowedConnection => (a.type === 'reset' ? unknownConnection : followConnection(prev, a.state));

/**
 * One server's connection, followed for as long as the component is mounted: the pushed `server:state` events (listened
 * to first, so nothing between the answer and the listener is lost), and its state asked once.
 */
export function useConnection(profileId: string): FollowedConnection {
  const [followed, dispatch] = useReducer(reducer, unknownConnection);
  useEffect(() => {
    let live = true;
    let pushed = false;
    dispatch({ type: 'reset' });
    const off = window.m2.on('server:state', (e) => {
      if (!live || e.profileId !== profileId) return;
      pushed = true;
      dispatch({ type: 'state', state: e.state });
    });
    window.m2.invoke('server:state', { profileId }).then(
      (r) => live && !pushed && r.ok && dispatch({ type: 'state', state: r.value }),
      () => undefined,
    );
    return () => {
      live = false;
      off();
    };
  }, [profileId]);
  return followed;
}
