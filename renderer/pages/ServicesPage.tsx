import { useEffect, useRef } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import { EmptyState } from '../components/common/EmptyState';
import { ServiceAddresses } from '../components/stack/ServiceAddresses';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { PinnedImages } from '../components/stack/PinnedImages';
import { SecretsList } from '../components/stack/SecretsList';
import { ServiceHealthList, TranscodingNote } from '../components/stack/ServiceHealthList';
import { StackSettingsForm } from '../components/stack/StackSettingsForm';
import { UpdatesPanel } from '../components/stack/UpdatesPanel';
import { useCall } from '../hooks/use-call';
import { pickProfile, useChosenServer } from '../hooks/use-chosen-server';
import { useProfileCall } from '../hooks/use-profile-call';
import { useConnection } from '../hooks/use-connection';
import { useLastApply } from '../hooks/use-last-apply';
import { KeptOutcome } from '../components/stack/InstallStep';

/** How the last install ended, as the app kept it (a cut connection or a restart of the app included). */
function LastInstall({ profileId }: { profileId: string }) {
  const kept = useLastApply(profileId);
  if (!kept) return null;
  if (kept.kind === 'running') {
    return (
      <p role="status" aria-label="Last install" className="muted">
        An install is running on this server; its outcome shows here when it ends.
      </p>
    );
  }
  if (kept.kind === 'finished' && kept.result.kind === 'applied') {
    return (
      <p aria-label="Last install" className="muted">
        Last install: release {kept.result.releaseId}, {new Date(kept.finishedAt).toLocaleString()}.
      </p>
    );
  }
  return (
    <div aria-label="Last install">
      <KeptOutcome outcome={kept} />
    </div>
  );
}

/** What runs on the server now, from `stack:status`, asked again each time the connection comes up. */
function ServiceState({ profileId }: { profileId: string }) {
  const { state, reload } = useProfileCall('stack:status', profileId);
  const { epoch } = useConnection(profileId);
  const seen = useRef(epoch);
  useEffect(() => {
    if (epoch !== undefined && seen.current !== epoch) reload();
    seen.current = epoch;
  }, [epoch, reload]);
  return (
    <>
      <div className="row">
        <p className="muted">{state.kind === 'ready' && state.value.currentRelease ? `Live release ${state.value.currentRelease}.` : ' '}</p>
        <button type="button" className="secondary" onClick={reload}>
          Refresh state
        </button>
      </div>
      {state.kind === 'loading' ? <p className="muted">Asking the server…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && state.value.currentRelease === null ? <p className="muted">Not installed yet: review and install the stack from Setup.</p> : null}
      {state.kind === 'ready' && state.value.currentRelease !== null ? <ServiceHealthList label="Service state" services={state.value.services} /> : null}
      {state.kind === 'ready' && state.value.currentRelease !== null ? <TranscodingNote check={state.value.transcoding} /> : null}
      <LastInstall profileId={profileId} />
    </>
  );
}

/** Settings, pinned images, live state and secrets of one server's stack. */
function StackPanel({ profileId }: { profileId: string }) {
  const settings = useProfileCall('stack:settings', profileId);
  const secrets = useProfileCall('stack:secrets', profileId);
  return (
    <>
      <section className="card" aria-labelledby="svc-settings">
        <h2 id="svc-settings">Modules and settings</h2>
        {settings.state.kind === 'loading' ? <p className="muted">Loading settings…</p> : null}
        {settings.state.kind === 'failed' ? <ErrorNotice error={settings.state.error} /> : null}
        {settings.state.kind === 'ready' ? <StackSettingsForm profileId={profileId} view={settings.state.value} onSaved={settings.replace} /> : null}
      </section>
      <section className="card" aria-labelledby="svc-state">
        <h2 id="svc-state">Service state</h2>
        <ServiceState profileId={profileId} />
      </section>
      <section className="card" aria-labelledby="svc-images">
        <h2 id="svc-images">Pinned versions</h2>
        <p className="muted">Every image is pinned to one version; an update is a change of this table, reviewed before it is installed.</p>
        {settings.state.kind === 'ready' ? <PinnedImages images={settings.state.value.images} settings={settings.state.value.settings} /> : null}
      </section>
      <section className="card" aria-labelledby="svc-updates">
        <h2 id="svc-updates">Updates</h2>
        {settings.state.kind === 'ready' && settings.state.value.saved ? (
          <UpdatesPanel profileId={profileId} backupOn={settings.state.value.settings.modules.backup.enabled} />
        ) : (
          <p className="muted">Save and install the stack first; then this checks for newer versions.</p>
        )}
      </section>
      <section className="card" aria-labelledby="svc-secrets">
        <h2 id="svc-secrets">Generated secrets</h2>
        <SecretsList state={secrets.state} />
      </section>
    </>
  );
}

export function ServicesPage() {
  const { state } = useCall('profiles:list');
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { chosen, choose: setChosen } = useChosenServer();
  const profiles: readonly ServerProfile[] = state.kind === 'ready' ? state.value : [];
  const profile = pickProfile(profiles, chosen);
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
          <ProfilePicker profiles={profiles} value={profile.id} onChange={setChosen} />
          <ServiceAddresses key={`addresses-${profile.id}`} profile={profile} label="Service addresses" />
          <StackPanel key={profile.id} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
