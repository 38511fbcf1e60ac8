import { useCallback, useEffect, useState } from 'react';
import type { SetupProgress } from '../../electron/contract/setup';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ServerStateEvent } from '../../electron/contract/server';
import { call } from '../m2';
import { asShape, useEvent } from './use-call';

/**
 * One server's setup progress as main derives it from what it kept: asked when the page opens, and again whenever main
 * says something it depends on changed (`setup:changed`) or the connection changed.
 */
export function useSetupProgress(profileId: string | undefined): { progress: SetupProgress | undefined; error: ErrorShape | undefined; reload: () => void } {
  const [generation, setGeneration] = useState(0);
  const [answer, setAnswer] = useState<{ profileId: string; progress?: SetupProgress; error?: ErrorShape } | undefined>();
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  useEffect(() => {
    if (!profileId) return;
    let live = true;
    call('setup:progress', { profileId }).then(
      (progress) => live && setAnswer({ profileId, progress }),
      (err: unknown) => live && setAnswer({ profileId, error: asShape(err) }),
    );
    return () => {
      live = false;
    };
  }, [profileId, generation]);
  useEvent(
    'setup:changed',
    useCallback((e: { profileId: string }) => (e.profileId === profileId ? reload() : undefined), [profileId, reload]),
  );
  useEvent(
    'server:state',
    useCallback((e: ServerStateEvent) => (e.profileId === profileId && e.state.kind === 'connected' ? reload() : undefined), [profileId, reload]),
  );
  const mine = answer?.profileId === profileId ? answer : undefined;
  return { progress: mine?.progress, error: mine?.error, reload };
}
