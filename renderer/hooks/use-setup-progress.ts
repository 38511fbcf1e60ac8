import type { SetupProgress } from '../../electron/contract/setup';
import type { ErrorShape } from '../../electron/contract/errors';
import { useCall } from './use-call';
import { useEvent } from './use-event';

/**
 * One server's setup progress as main derives it from what it kept: asked when the page opens, and again whenever main
 * says something it depends on changed (`setup:changed`) or the connection changed. The last progress stays shown while
 * it is asked again; a failed ask shows none.
 */
export function useSetupProgress(profileId: string | undefined): { progress: SetupProgress | undefined; error: ErrorShape | undefined; reload: () => void } {
  const { value, error, refresh } = useCall('setup:progress', profileId ? { profileId } : null);
  useEvent('setup:changed', (e) => (e.profileId === profileId ? refresh() : undefined));
  useEvent('server:state', (e) => (e.profileId === profileId && e.state.kind === 'connected' ? refresh() : undefined));
  return { progress: error ? undefined : value, error, reload: refresh };
}
