import { useCallback, useEffect, useId, useState } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ConnectionState, ServerStateEvent } from '../../electron/contract/server';
import type { ApplyResult, StackPlan, StackSettings } from '../../electron/contract/stack';
import { AccountsList } from '../components/accounts/AccountsList';
import { ProfileForm } from '../components/setup/ProfileForm';
import { CloudflareStep } from '../components/cloudflare/CloudflareStep';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { InstallStep } from '../components/stack/InstallStep';
import { ReviewStep } from '../components/stack/ReviewStep';
import { SecretsList } from '../components/stack/SecretsList';
import { ServerStep } from '../components/setup/ServerStep';
import { stepHeading } from '../components/setup/setup-step-heading';
import { NextSteps } from '../components/setup/NextSteps';
import { ServiceAddresses } from '../components/stack/ServiceAddresses';
import { SshConfigImport } from '../components/setup/SshConfigImport';
import { StackSettingsForm } from '../components/stack/StackSettingsForm';
import { asShape, useCall, useEvent } from '../hooks/use-call';
import { useProfileCall } from '../hooks/use-profile-call';
import { useLastApply } from '../hooks/use-last-apply';
import { useChosenServer } from '../hooks/use-chosen-server';
import { useSetupProgress } from '../hooks/use-setup-progress';
import { setupStepIds, setupStepTitles, type SetupProgress, type SetupStepId } from '../../electron/contract/setup';
import { call } from '../m2';

const statusWords = { done: 'Done', stale: 'Stale', todo: 'To do' } as const;

/**
 * What each step of one server's setup came to, as main kept it: finished steps with when and their result, a stale
 * one with why and a way to run it again, and what is left.
 */
function SetupProgressList({ progress, connected }: { progress: SetupProgress; connected: boolean }) {
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const runPreflightAgain = async () => {
    setBusy(true);
    setError(undefined);
    try {
      // Main says setup:changed once it is kept; the list follows from there.
      await call('preflight:run', { profileId: progress.profileId, dataPaths: progress.preflightDataPaths });
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ul className="step-results" aria-label="Setup progress">
        {progress.steps.map((s) => (
          <li key={s.id} data-status={s.status} data-current={s.id === progress.current ? 'true' : undefined}>
            <strong>{setupStepTitles[s.id]}</strong> <span className="step-status">{s.status === 'done' ? '✓ ' : ''}{statusWords[s.status]}</span>
            {s.at ? (
              <>
                {' · '}
                <time dateTime={s.at}>{new Date(s.at).toLocaleString()}</time>
              </>
            ) : null}
            {' — '}
            <span className="step-result">{s.result}</span>
            {s.status === 'stale' && s.id === 'preflight' ? (
              <>
                {' '}
                <button type="button" className="secondary" onClick={() => void runPreflightAgain()} disabled={busy || !connected || progress.preflightDataPaths.length === 0}>
                  {busy ? 'Running preflight…' : 'Run again'}
                </button>
                {!connected ? <span className="muted"> (connect to the server first)</span> : null}
              </>
            ) : null}
          </li>
        ))}
      </ul>
      {error ? <ErrorNotice error={error} /> : null}
    </>
  );
}

/** Where the household reaches each service once the stack runs. */
function DoneStep({ profile, settings, profileId }: { profile: ServerProfile; settings: StackSettings; profileId: string }) {
  const secrets = useProfileCall('stack:secrets', profileId);
  const cloudflare = useProfileCall('cloudflare:view', profileId);
  const published = cloudflare.state.kind === 'ready' ? cloudflare.state.value.managed.filter((m) => m.kind === 'dns-record').map((m) => m.name) : [];
  return (
    <>
      <ServiceAddresses profile={profile} />
      <p className="muted">
        The https addresses answer once the Cloudflare tunnel publishes them. Watch everything on the <a href="#/dashboard">Dashboard</a>, change modules
        on the <a href="#/services">Services</a> page. The passwords below were generated for you and stay in this computer’s keychain.
      </p>
      <h3>What next</h3>
      <NextSteps settings={settings} published={published} />
      <SecretsList state={secrets.state} />
    </>
  );
}

/** Services & storage → Review → Install → Done for one connected server. */
function StackSetup({ profile }: { profile: ServerProfile }) {
  const settings = useProfileCall('stack:settings', profile.id);
  const [plan, setPlan] = useState<StackPlan | undefined>();
  const [reviewKey, setReviewKey] = useState(0);
  const [installing, setInstalling] = useState(false);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const lastApply = useLastApply(profile.id);
  // An install that is running, or did not end well, keeps the Install step on the page (after a reload too) until the next one.
  const lastApplyToSay = lastApply && !(lastApply.kind === 'finished' && lastApply.result.kind === 'applied') ? lastApply : undefined;

  const view = settings.state.kind === 'ready' ? settings.state.value : undefined;
  // Installed: by the install on this page, or (after a reload or a restart) by the last one main kept.
  const installed = !installing && (result ? result.kind === 'applied' : lastApply?.kind === 'finished' && lastApply.result.kind === 'applied');

  return (
    <>
      <section aria-labelledby="cloudflare-step">
        <h2 id="cloudflare-step">{stepHeading('cloudflare')}</h2>
        <p className="muted">
          How the household reaches {profile.name} from outside: a Cloudflare Tunnel behind Cloudflare Access, set up with an API token kept in
          this computer’s keychain. You can do it now or after the install; cloudflared joins the stack once the tunnel exists.
        </p>
        <details className="card">
          <summary>Set up the Cloudflare token, zone and host names</summary>
          <CloudflareStep profileId={profile.id} />
        </details>
      </section>
      <section aria-labelledby="stack-settings-step">
        <h2 id="stack-settings-step">{stepHeading('services')}</h2>
        <p className="muted">
          Which modules run on {profile.name}, where their data lives, and how Jellyfin uses the GPU. Saving changes nothing on the server: the next
          step shows exactly what an install would do.
        </p>
        {settings.state.kind === 'loading' ? <p className="muted">Loading settings…</p> : null}
        {settings.state.kind === 'failed' ? <ErrorNotice error={settings.state.error} /> : null}
        {view ? (
          <div className="card">
            <StackSettingsForm
              profileId={profile.id}
              view={view}
              onSaved={(v) => {
                settings.replace(v);
                // A plan of the old settings is stale: the admin reviews again before installing.
                setPlan(undefined);
                setResult(undefined);
                setReviewKey((k) => k + 1);
              }}
            />
          </div>
        ) : null}
      </section>
      {view?.saved ? (
        <section aria-labelledby="stack-accounts-step">
          <h2 id="stack-accounts-step">{stepHeading('accounts')}</h2>
          <p className="muted">
            The accounts the stack creates, with passwords the app generates and keeps in this computer’s keychain. Reveal or copy one when you sign
            in; Settings → Secrets lists them again later.
          </p>
          {/* Passwords are generated by Review and by the install: the list is read again after each. */}
          <AccountsList key={`${reviewKey}:${plan ? 'planned' : ''}:${result?.kind ?? ''}`} profileId={profile.id} />
        </section>
      ) : null}
      {view?.saved ? (
        <section aria-labelledby="stack-review-step">
          <h2 id="stack-review-step">{stepHeading('review')}</h2>
          <p className="muted">The exact files that will be written and the services that will change, compared with what runs on the server now.</p>
          <ReviewStep key={reviewKey} profileId={profile.id} onPlanned={setPlan} />
        </section>
      ) : null}
      {view?.saved ? (
        <section aria-labelledby="stack-install-step">
          <h2 id="stack-install-step">{stepHeading('install')}</h2>
          <p className="muted">
            Uploads a new release, pulls the images, starts the services and waits until each is healthy. If one is not, the previous release is
            brought back by itself.
          </p>
          {/* The step is always on the page, so the numbers run on; it acts on a reviewed plan only. */}
          {plan || result || lastApplyToSay ? (
            <InstallStep
              profileId={profile.id}
              kept={lastApply}
              onStart={() => {
                setInstalling(true);
                setResult(undefined);
              }}
              onError={() => setInstalling(false)}
              onDone={(r) => {
                setInstalling(false);
                setResult(r);
                if (r.kind === 'applied') {
                  setPlan(undefined);
                  setReviewKey((k) => k + 1);
                }
              }}
            />
          ) : (
            <p>
              {installed
                ? 'Installed: the stack runs on this server. After a change in Services & storage, review it above and install again here.'
                : 'Review the plan above first: Install runs exactly what you reviewed.'}
            </p>
          )}
        </section>
      ) : null}
      {view && installed ? (
        <section aria-labelledby="stack-done-step">
          <h2 id="stack-done-step">{stepHeading('done')}</h2>
          <DoneStep profile={profile} settings={view.settings} profileId={profile.id} />
        </section>
      ) : null}
    </>
  );
}

export function SetupPage() {
  const pickId = useId();
  const { state, reload } = useCall('profiles:list');
  const [pushed, setPushed] = useState<readonly ServerProfile[] | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [connections, setConnections] = useState<Readonly<Record<string, ConnectionState['kind']>>>({});
  // The server being set up is the app's chosen server, the same one every other page works on.
  const { chosen, choose } = useChosenServer();
  useEvent(
    'profiles:changed',
    useCallback((list: ServerProfile[]) => setPushed(list), []),
  );
  useEvent(
    'server:state',
    useCallback((e: ServerStateEvent) => setConnections((c) => ({ ...c, [e.profileId]: e.state.kind })), []),
  );
  const profiles = pushed ?? (state.kind === 'ready' ? state.value : []);

  // Servers connected before this page opened (another page, a reload) continue where they were.
  const profileIds = profiles.map((p) => p.id).join(',');
  useEffect(() => {
    let live = true;
    for (const id of profileIds ? profileIds.split(',') : []) {
      window.m2.invoke('server:state', { profileId: id }).then(
        (r) => live && r.ok && setConnections((c) => (c[id] ? c : { ...c, [id]: r.value.kind })),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
  }, [profileIds]);

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
      reload();
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
        {state.kind === 'loading' && !pushed ? <p className="muted">Loading saved servers…</p> : null}
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
