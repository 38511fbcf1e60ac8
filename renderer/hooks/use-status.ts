import { useCallback, useEffect, useReducer, useState } from 'react';
import { call } from '../m2';
import { asShape } from './use-call';
import { useEvent } from './use-event';
import { initialStatus, statusReducer, type StatusState } from './status-state';

/**
 * Live status of one server for as long as the component is mounted: listens to `status:update` first (so
 * nothing pushed between the answer and the listener is lost), subscribes, fetches the last hour once, and
 * unsubscribes on unmount or when the profile changes. The series then grow from each pushed snapshot.
 */
export function useStatus(profileId: string): { state: StatusState; retry: () => void } {
  const [state, dispatch] = useReducer(statusReducer, profileId, initialStatus);
  const [generation, setGeneration] = useState(0);
  // Subscribed before the effect below asks (effects run in order); the reducer keeps only the snapshots of the server it was reset to.
  useEvent('status:update', (u) => (u.profileId === profileId ? dispatch({ type: 'snapshot', snapshot: u.snapshot }) : undefined));
  useEffect(() => {
    let live = true;
    dispatch({ type: 'reset', profileId });
    // Unsubscribe only what this effect subscribed, even when it unmounts before the answer comes.
    const subscribed = call('status:subscribe', { profileId }).then(
      (snapshot) => {
        if (live) dispatch({ type: 'snapshot', snapshot });
        return true;
      },
      (err: unknown) => {
        if (live) dispatch({ type: 'failed', error: asShape(err) });
        return false;
      },
    );
    void subscribed.then((ok) =>
      ok && live
        ? call('status:history', { profileId }).then(
            (history) => live && dispatch({ type: 'history', history }),
            () => undefined, // the charts fill from live updates instead
          )
        : undefined,
    );
    return () => {
      live = false;
      void subscribed.then((ok) => (ok ? call('status:unsubscribe', { profileId }).catch(() => undefined) : undefined));
    };
  }, [profileId, generation]);
  const retry = useCallback(() => setGeneration((g) => g + 1), []);
  return { state, retry };
}
