import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { FollowConnection } from '../components/common/FollowConnection';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { ServiceAddresses } from '../components/stack/ServiceAddresses';
import { ServerDashboard } from '../components/status/ServerDashboard';
import { useChosenServer } from '../hooks/chosen-server';

export function DashboardPage() {
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { profiles: state, list: profiles, profile, choose } = useChosenServer();
  return (
    <>
      <h1>Dashboard</h1>
      {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <EmptyState title="No servers saved yet">
          <p>Add your home server in <a href="#/setup">Setup</a> first. Once its stack is installed, this page shows at a glance:</p>
          <ul>
            <li>the Cloudflare tunnel: connections, edge locations, requests and errors;</li>
            <li>who is watching, and whether each stream is transcoded by the GPU, in software, or played directly;</li>
            <li>the last good backup, its age and size, and when the next one runs;</li>
            <li>every service's state, health and version, worst first.</li>
          </ul>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={choose} />
          <ServiceAddresses key={`addresses-${profile.id}`} profile={profile} label="Service addresses" />
          {/* Asked again each time the connection comes up: live status then starts on the connection that is up. */}
          <FollowConnection key={profile.id} profileId={profile.id}>
            {(epoch) => <ServerDashboard key={epoch} profileId={profile.id} />}
          </FollowConnection>
        </>
      ) : null}
    </>
  );
}
