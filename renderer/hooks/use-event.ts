import { useEffect, useLayoutEffect, useRef } from 'react';
import type { EventName, EventPayload } from '../../electron/contract/contract';

/**
 * The one way a component follows a pushed event: subscribed once on mount, unsubscribed on unmount. The listener may
 * be a new function each render (no useCallback needed): each event reaches the latest one, so a filter on the current
 * server (`e.profileId === profileId`) always sees the current server, and nothing reaches a component that is gone.
 */
export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const latest = useRef(listener);
  // Before any effect of this render runs, so an effect declared after this hook (an ask that must follow the subscription) sees it.
  useLayoutEffect(() => {
    latest.current = listener;
  });
  useEffect(() => window.m2.on(event, (payload) => latest.current(payload)), [event]);
}
