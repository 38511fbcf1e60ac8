import type { ReactNode } from 'react';
import { connectionNotice } from '../../hooks/connection-state';
import { useConnection } from '../../hooks/use-connection';

/**
 * Follows a server's connection: says how it stands while it is not up, and renders `children` with the connection's
 * epoch once it is — keyed by it, the page asks the server again each time the connection comes up (a connect from
 * another page, a reconnect after a cut, a restarted app), with no "Try again" needed.
 */
export function FollowConnection({ profileId, children }: { profileId: string; children: (epoch: string) => ReactNode }) {
  const { state, epoch } = useConnection(profileId);
  const notice = connectionNotice(state);
  return (
    <>
      {notice ? (
        <p role="status" aria-label="Connection" className={state?.kind === 'reconnecting' || state?.kind === 'closed' ? 'notice notice-warning' : 'muted'}>
          {notice}
          {state?.kind === 'idle' || state?.kind === 'closed' ? (
            <>
              {' '}
              <a href="#/setup">Open Setup</a>
            </>
          ) : null}
        </p>
      ) : null}
      {epoch ? children(epoch) : null}
    </>
  );
}
