import { useState } from 'react';
import { ProfilePicker } from '../common/ProfilePicker';
import { ErrorNotice } from '../common/ErrorNotice';
import { SecretsList } from '../stack/SecretsList';
import { AccountsList, SecretRotations } from './AccountsList';
import { useCall } from '../../hooks/use-call';
import { useChosenServer } from '../../hooks/chosen-server';

/** The other secrets the stack generated, by name and masked (database passwords, keys): the services use them, people do not. */
function GeneratedSecrets({ profileId }: { profileId: string }) {
  const secrets = useCall('stack:secrets', { profileId });
  return <SecretsList state={secrets.state} />;
}

/** Settings → Secrets: each account's password (reveal, copy), the other generated secrets, and rotation, for the chosen server. */
export function SecretsSection() {
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { profiles: state, list: profiles, profile, choose: setChosen } = useChosenServer();
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
