import { useCallback, useEffect, useState } from 'react';
import type { ChosenServer } from '../../electron/contract/setup';
import { call } from '../m2';
import { useEvent } from './use-call';

/**
 * The server every per-server page works on: app state kept by main (it survives reloads and restarts, and every window
 * follows a change). `chosen` is undefined until main has answered, so a page never acts on a guess in between.
 */
export function useChosenServer(): { chosen: string | null | undefined; choose: (profileId: string) => void } {
  const [chosen, setChosen] = useState<string | null | undefined>();
  useEffect(() => {
    let live = true;
    call('profiles:chosen').then(
      (c) => live && setChosen((now) => (now === undefined ? c.profileId : now)),
      () => live && setChosen((now) => (now === undefined ? null : now)),
    );
    return () => {
      live = false;
    };
  }, []);
  useEvent(
    'profiles:chosen',
    useCallback((c: ChosenServer) => setChosen(c.profileId), []),
  );
  const choose = useCallback((profileId: string) => {
    setChosen(profileId);
    call('profiles:choose', { profileId }).catch(() => undefined);
  }, []);
  return { chosen, choose };
}

/** The profile a page shows: the chosen one when it is among them, else the first; none until the choice is known. */
export function pickProfile<P extends { readonly id: string }>(profiles: readonly P[], chosen: string | null | undefined): P | undefined {
  if (chosen === undefined) return undefined;
  return profiles.find((p) => p.id === chosen) ?? profiles[0];
}
