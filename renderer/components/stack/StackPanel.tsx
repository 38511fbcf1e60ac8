import { useEffect, useRef } from 'react';
import { ErrorNotice } from '../common/ErrorNotice';
import { KeptOutcome } from './InstallStep';
import { PinnedImages } from './PinnedImages';
import { SecretsList } from './SecretsList';
import { ServiceHealthList, TranscodingNote } from './ServiceHealthList';
import { StackSettingsForm } from './StackSettingsForm';
import { UpdatesPanel } from './UpdatesPanel';
import { useCall } from '../../hooks/use-call';
import { useConnection } from '../../hooks/use-connection';
import { useLastApply } from '../../hooks/use-last-apply';

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
  const { state, refresh } = useCall('stack:status', { profileId });
  const { epoch } = useConnection(profileId);
  const seen = useRef(epoch);
  useEffect(() => {
    if (epoch !== undefined && seen.current !== epoch) refresh();
    seen.current = epoch;
  }, [epoch, refresh]);
  return (
    <>
      <div className="row">
        <p className="muted">{state.kind === 'ready' && state.value.currentRelease ? `Live release ${state.value.currentRelease}.` : ' '}</p>
        <button type="button" className="secondary" onClick={refresh}>
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
export function StackPanel({ profileId }: { profileId: string }) {
  const settings = useCall('stack:settings', { profileId });
  const secrets = useCall('stack:secrets', { profileId });
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
