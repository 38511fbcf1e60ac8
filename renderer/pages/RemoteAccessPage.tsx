import { useState } from 'react';
import { CloudflareManaged, CloudflareStep } from '../components/cloudflare/CloudflareStep';
import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { FallbackPanel } from '../components/fallback/FallbackPanel';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { useChosenServer } from '../hooks/chosen-server';

export function RemoteAccessPage() {
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { profiles: state, list: profiles, profile, choose: setChosen } = useChosenServer();
  const [generation, setGeneration] = useState(0);
  return (
    <>
      <h1>Remote access</h1>
      {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <EmptyState title="Not published yet">
          <p>Add your home server in <a href="#/setup">Setup</a> first. Then this page publishes it through a Cloudflare Tunnel protected by Cloudflare Access.</p>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={setChosen} />
          <CloudflareStep key={profile.id} profileId={profile.id} onPublished={() => setGeneration((g) => g + 1)} />
          <CloudflareManaged key={`${profile.id}#${generation}`} profileId={profile.id} />
          <FallbackPanel key={`fallback-${profile.id}`} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
