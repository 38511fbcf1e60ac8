import { ErrorNotice } from '../components/ErrorNotice';
import { useCall } from '../hooks/use-call';

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
      <section className="card" aria-labelledby="secrets">
        <h2 id="secrets">Secrets</h2>
        <p className="muted">
          Your Cloudflare token and every password the app generates will be kept in this computer&apos;s keychain, never in files or logs. This
          section will let you review and rotate them.
        </p>
      </section>
    </>
  );
}
