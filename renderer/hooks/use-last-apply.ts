import { useCallback, useEffect, useState } from 'react';
import type { ApplyOutcome, ApplyOutcomeEvent } from '../../electron/contract/stack';
import { call } from '../m2';
import { useEvent } from './use-call';
import { useConnection } from './use-connection';

/**
 * How the server's last install ended, as main keeps it: asked when the page opens and each time the connection comes
 * up again (the app may have restarted meanwhile), then followed from `stack:outcome`. undefined until known.
 */
export function useLastApply(profileId: string): ApplyOutcome | null | undefined {
  const { epoch } = useConnection(profileId);
  const [kept, setKept] = useState<{ profileId: string; outcome: ApplyOutcome | null } | undefined>();
  useEffect(() => {
    let live = true;
    call('stack:last-apply', { profileId }).then(
      (outcome) => live && setKept({ profileId, outcome }),
      () => undefined, // the app is away: the next connection (or the pushed event) tells
    );
    return () => {
      live = false;
    };
  }, [profileId, epoch]);
  useEvent(
    'stack:outcome',
    useCallback((e: ApplyOutcomeEvent) => (e.profileId === profileId ? setKept({ profileId, outcome: e.outcome }) : undefined), [profileId]),
  );
  return kept?.profileId === profileId ? kept.outcome : undefined;
}
