import { useCallback, useEffect, useState } from 'react';
import type { CallOutput } from '../../electron/contract/contract';
import { call } from '../m2';
import { asShape, type CallState } from './use-call';

/** Calls that take only `{ profileId }` and read server state for one profile. */
export type ProfileCall = 'stack:settings' | 'stack:status' | 'stack:secrets' | 'accounts:list' | 'cloudflare:view';

/**
 * Loads a per-profile call whenever the profile changes, with a reload. The state is keyed by
 * profile and generation, so a slow answer for another profile never shows under this one.
 */
export function useProfileCall<C extends ProfileCall>(
  channel: C,
  profileId: string,
): { state: CallState<CallOutput<C>>; reload: () => void; replace: (value: CallOutput<C>) => void } {
  const [generation, setGeneration] = useState(0);
  const key = `${profileId}#${generation}`;
  const [result, setResult] = useState<{ key: string; state: CallState<CallOutput<C>> } | undefined>();
  useEffect(() => {
    let live = true;
    (call as (c: C, input: { profileId: string }) => Promise<CallOutput<C>>)(channel, { profileId }).then(
      (value) => live && setResult({ key, state: { kind: 'ready', value } }),
      (err: unknown) => live && setResult({ key, state: { kind: 'failed', error: asShape(err) } }),
    );
    return () => {
      live = false;
    };
  }, [channel, profileId, key]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  /** Shows a fresher value the page already has (e.g. what a save returned) without another call. */
  const replace = useCallback((value: CallOutput<C>) => setResult({ key, state: { kind: 'ready', value } }), [key]);
  const state: CallState<CallOutput<C>> = result?.key === key ? result.state : { kind: 'loading' };
  return { state, reload, replace };
}
