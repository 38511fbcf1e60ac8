import { useEffect, useId, useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import { setupStepIds, setupStepTitles, type SetupStepId } from '../../electron/contract/setup';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfileForm } from '../components/setup/ProfileForm';
import { ServerStep } from '../components/setup/ServerStep';
import { SetupProgressList } from '../components/setup/SetupProgressList';
import { SshConfigImport } from '../components/setup/SshConfigImport';
import { StackSetup } from '../components/setup/StackSetup';
import { stepHeading } from '../components/setup/setup-step-heading';
import { useChosenServer } from '../hooks/chosen-server';
import { asShape } from '../hooks/use-call';
import { useConnectionKinds } from '../hooks/use-connection-kinds';
import { useSetupProgress } from '../hooks/use-setup-progress';
import { call } from '../m2';

export function SetupPage() {
  const pickId = useId();
  // The server being set up is the app's chosen server, the same one every other page works on.
  const { profiles: state, list: profiles, chosen, choose, refresh } = useChosenServer();
  const [error, setError] = useState<ErrorShape | undefined>();
  // Servers connected before this page opened (another page, a reload) continue where they were.
  const connections = useConnectionKinds(profiles.map((p) => p.id));

  // A server whose connection dropped stays set up here while it reconnects: an install under way keeps its step and outcome.
  const connected = profiles.filter((p) => connections[p.id] === 'connected' || connections[p.id] === 'reconnecting');
  // The chosen server (kept by main); before any choice, the first connected one, else the first saved one.
  const active = chosen === undefined ? undefined : (profiles.find((p) => p.id === chosen) ?? connected[0] ?? profiles[0]);
  const activeConnected = active !== undefined && connected.some((p) => p.id === active.id);
  // Before any choice, the first server connected here becomes the chosen one, so the other pages show (and act on) it too.
  useEffect(() => {
    if (chosen === null && active && activeConnected) choose(active.id);
  }, [chosen, active, activeConnected, choose]);
  const { progress } = useSetupProgress(active?.id);
  const current: SetupStepId = active && progress?.profileId === active.id ? progress.current : 'server';
  const statusOf = (id: SetupStepId) => (active && progress?.profileId === active.id ? progress.steps.find((s) => s.id === id)?.status : undefined) ?? 'todo';

  const remove = async (id: string) => {
    setError(undefined);
    try {
      await call('profiles:remove', { id });
    } catch (err) {
      setError(asShape(err));
      refresh();
    }
  };

  return (
    <>
      <h1>Setup</h1>
      <p className="lead">A guided first-time setup. Quit at any step and you will come back to it; running a step twice changes nothing twice.</p>
      {active && profiles.length > 1 ? (
        <div className="form inline-form">
          <label htmlFor={`${pickId}-server`}>Server to set up</label>
          <select id={`${pickId}-server`} value={active.id} onChange={(e) => choose(e.target.value)}>
            {profiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {/* ✓ and "stale" are drawn from data-status; each step's text stays its name. */}
      <ol className="steps" aria-label="Setup steps">
        {setupStepIds.map((id) => (
          <li key={id} data-status={statusOf(id)} aria-current={id === current ? 'step' : undefined}>
            {setupStepTitles[id]}
          </li>
        ))}
      </ol>
      {active && progress?.profileId === active.id ? <SetupProgressList progress={progress} connected={activeConnected} /> : null}
      <section aria-labelledby="server-step">
        <h2 id="server-step">{stepHeading('server')}</h2>
        <p className="muted">
          The computer at home that will run your services. Next, the app connects over SSH, shows the host key fingerprint for you to confirm,
          and checks Docker, Compose, disk space and the GPU.
        </p>
        {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
        {error ? <ErrorNotice error={error} /> : null}
        {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
        {state.kind !== 'loading' && profiles.length === 0 ? <p className="muted">No servers saved yet. Add your home server below.</p> : null}
        <div role="list" aria-label="Saved servers">
          {profiles.map((p) => (
            <div role="listitem" key={`${p.id}:${p.updatedAt}`}>
              <ServerStep profile={p} onRemove={(id) => void remove(id)} />
            </div>
          ))}
        </div>
        <ProfileForm onSaved={() => undefined} />
        <SshConfigImport />
      </section>
      {active && activeConnected ? (
        <StackSetup key={active.id} profile={active} />
      ) : active ? (
        <p className="muted">Connect to {active.name} above to continue its setup: choose its services and install them.</p>
      ) : null}
    </>
  );
}
