import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { FollowConnection } from '../components/common/FollowConnection';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { ServerBackups } from '../components/backups/ServerBackups';
import { useChosenServer } from '../hooks/chosen-server';

/** restic snapshots, the last and next run, back up now, restore from Nextcloud's data, and the restore drill. */
export function BackupsPage() {
  const { profiles: state, list: profiles, profile, choose } = useChosenServer();
  return (
    <>
      <h1>Backups</h1>
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
            {(epoch) => <ServerBackups key={epoch} profileId={profile.id} />}
          </FollowConnection>
        </>
      ) : null}
    </>
  );
}
