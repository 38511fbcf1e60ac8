import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { ServerHousehold } from '../components/household/ServerHousehold';
import { useChosenServer } from '../hooks/chosen-server';

/** The people of the household and their roles: who reaches which service. */
export function HouseholdPage() {
  const { profiles: state, list: profiles, profile, choose } = useChosenServer();
  return (
    <>
      <h1>Household</h1>
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
          <ServerHousehold key={profile.id} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
