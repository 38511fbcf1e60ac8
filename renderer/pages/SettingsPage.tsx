import type { ServerProfile } from '../../electron/contract/profiles';
import { useState } from 'react';
import { AccountsList, SecretRotations } from '../components/accounts/AccountsList';
import { DiagnosticsSection } from '../components/diagnostics/DiagnosticsSection';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { SecretsList } from '../components/stack/SecretsList';
import { useCall } from '../hooks/use-call';
import { pickProfile, useChosenServer } from '../hooks/use-chosen-server';
import { useProfileCall } from '../hooks/use-profile-call';

/** The other secrets the stack generated, by name and masked (database passwords, keys): the services use them, people do not. */
function GeneratedSecrets({ profileId }: { profileId: string }) {
  const secrets = useProfileCall('stack:secrets', profileId);
  return <SecretsList state={secrets.state} />;
}

function SecretsSection() {
  const { state } = useCall('profiles:list');
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { chosen, choose: setChosen } = useChosenServer();
  const profiles: readonly ServerProfile[] = state.kind === 'ready' ? state.value : [];
  const profile = pickProfile(profiles, chosen);
  // A rotation changes what Reveal gives: the list is loaded again, with nothing revealed.
  const [rotations, setRotations] = useState(0);
  return (
    <section className="card" aria-labelledby="secrets">
      <h2 id="secrets">Secrets</h2>
      <p className="muted">
        Your Cloudflare token and every password the app generates are kept in this computer&apos;s keychain, never in files or logs. Reveal or copy
        an account&apos;s password here when you sign in to a service.
      </p>
      {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <p className="muted">
          No servers saved yet: add your home server in <a href="#/setup">Setup</a>.
        </p>
      ) : null}
      {profile ? (
        <div key={profile.id}>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={setChosen} />
          <h3>Accounts</h3>
          <AccountsList key={rotations} profileId={profile.id} />
          <h3>Generated for the services</h3>
          <GeneratedSecrets profileId={profile.id} />
          <h3>Rotation</h3>
          <p className="muted">
            A new value for a secret the app generated, set on the server where the service can take it safely. The plan says what restarts before anything
            runs. The old value stays in the keychain until the new one is proven to work, and is put back if any step fails.
          </p>
          <SecretRotations profileId={profile.id} onRotated={() => setRotations((n) => n + 1)} />
        </div>
      ) : null}
    </section>
  );
}

export function SettingsPage() {
  const { state } = useCall('app:info');
  return (
    <>
      <h1>Settings</h1>
      <section className="card" aria-labelledby="about">
        <h2 id="about">About</h2>
        {state.kind === 'loading' ? <p className="muted">Loading…</p> : null}
        {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
        {state.kind === 'ready' ? (
          <dl className="facts">
            <dt>App</dt>
            <dd>{state.value.name}</dd>
            <dt>Version</dt>
            <dd data-testid="app-version">{state.value.version}</dd>
            <dt>Platform</dt>
            <dd>
              {state.value.platform} ({state.value.arch})
            </dd>
            <dt>Running in</dt>
            <dd>{state.value.host === 'electron' ? 'the desktop app' : 'the development web host'}</dd>
          </dl>
        ) : null}
      </section>
      <SecretsSection />
      <DiagnosticsSection desktop={state.kind === 'ready' && state.value.host === 'electron'} />
      <section className="card" aria-labelledby="recovery-kit">
        <h2 id="recovery-kit">Household recovery kit</h2>
        <p className="muted">
          One printable page to keep on paper: the server&apos;s address and host key, each service&apos;s address, where every secret is kept (never the
          secret itself), how to restore from the backup and how the household connects while Cloudflare is down.
        </p>
        <p>
          <a href="#/recovery-kit">Open the household recovery kit</a>
        </p>
      </section>
    </>
  );
}
