import { useId, useState } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import { CloudflareManaged, CloudflareStep } from '../components/CloudflareStep';
import { EmptyState } from '../components/EmptyState';
import { ErrorNotice } from '../components/ErrorNotice';
import { useCall } from '../hooks/use-call';

export function RemoteAccessPage() {
  const id = useId();
  const { state } = useCall('profiles:list');
  const [chosen, setChosen] = useState<string | undefined>();
  const [generation, setGeneration] = useState(0);
  const profiles: readonly ServerProfile[] = state.kind === 'ready' ? state.value : [];
  const profile = profiles.find((p) => p.id === chosen) ?? profiles[0];
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
          <div className="form inline-form">
            <label htmlFor={`${id}-server`}>Server</label>
            <select id={`${id}-server`} value={profile.id} onChange={(e) => setChosen(e.target.value)}>
              {profiles.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.username}@{p.host})
                </option>
              ))}
            </select>
          </div>
          <CloudflareStep key={profile.id} profileId={profile.id} onPublished={() => setGeneration((g) => g + 1)} />
          <CloudflareManaged key={`${profile.id}#${generation}`} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
