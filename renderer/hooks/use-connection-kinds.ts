import { useEffect, useState } from 'react';
import type { ConnectionState } from '../../electron/contract/server';
import { useEvent } from './use-event';

/**
 * How each of several servers' connections stands (by profile id), for a list of servers: followed from `server:state`
 * (subscribed first), and asked once for each server not heard of yet, so servers connected before the page opened
 * (another page, a reload) show as they are.
 */
export function useConnectionKinds(profileIds: readonly string[]): Readonly<Record<string, ConnectionState['kind']>> {
  const [kinds, setKinds] = useState<Readonly<Record<string, ConnectionState['kind']>>>({});
  useEvent('server:state', (e) => setKinds((c) => ({ ...c, [e.profileId]: e.state.kind })));
  const ids = profileIds.join(',');
  useEffect(() => {
    let live = true;
    for (const id of ids ? ids.split(',') : []) {
      window.m2.invoke('server:state', { profileId: id }).then(
        (r) => live && r.ok && setKinds((c) => (c[id] ? c : { ...c, [id]: r.value.kind })),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
  }, [ids]);
  return kinds;
}
