import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { FollowConnection } from '../components/common/FollowConnection';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { ServerLogs } from '../components/logs/ServerLogs';
import { useChosenServer } from '../hooks/chosen-server';

/** Each service’s logs (live, searched, by time; secrets masked before they reach this page), and restart, stop, start. */
export function LogsPage() {
  const { profiles: state, list: profiles, profile, choose } = useChosenServer();
  return (
    <>
      <h1>Logs and services</h1>
      <p className="muted">
        Passwords and tokens the app keeps for this server are replaced by •••••••• before a line reaches this page. <a href="#/dashboard">Back to the Dashboard</a>
      </p>
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <EmptyState title="No servers saved yet">
          <p>
            Add your home server in <a href="#/setup">Setup</a> first.
          </p>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={choose} />
          <FollowConnection key={profile.id} profileId={profile.id}>
            {(epoch) => <ServerLogs key={epoch} profileId={profile.id} />}
          </FollowConnection>
        </>
      ) : null}
    </>
  );
}
