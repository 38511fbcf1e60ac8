import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { ServiceAddresses } from '../components/stack/ServiceAddresses';
import { StackPanel } from '../components/stack/StackPanel';
import { useChosenServer } from '../hooks/chosen-server';

export function ServicesPage() {
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { profiles: state, list: profiles, profile, choose } = useChosenServer();
  return (
    <>
      <h1>Services</h1>
      {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <EmptyState title="No servers saved yet">
          <p>
            Add your home server in <a href="#/setup">Setup</a> first. Then this page turns modules on and off — Jellyfin, Nextcloud, Authentik,
            cloudflared, backups, the WireGuard fallback — shows their pinned versions and state, and the secrets the app keeps for them.
          </p>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={choose} />
          <ServiceAddresses key={`addresses-${profile.id}`} profile={profile} label="Service addresses" />
          <StackPanel key={profile.id} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
