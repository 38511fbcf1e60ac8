import type { ApplyOutcome } from '../../electron/contract/stack';
import { useCall } from './use-call';
import { useEvent } from './use-event';
import { useConnection } from './use-connection';

/**
 * How the server's last install ended, as main keeps it: asked when the page opens and each time the connection comes
 * up again (the app may have restarted meanwhile), then followed from `stack:outcome`. undefined until known; a failed
 * ask keeps what was known (the app is away: the next connection, or the pushed event, tells).
 */
export function useLastApply(profileId: string): ApplyOutcome | null | undefined {
  const { epoch } = useConnection(profileId);
  const { value, replace } = useCall('stack:last-apply', { profileId }, { refreshOn: epoch });
  useEvent('stack:outcome', (e) => (e.profileId === profileId ? replace(e.outcome) : undefined));
  return value;
}
