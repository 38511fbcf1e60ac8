import { DiagnosticsSection } from '../components/diagnostics/DiagnosticsSection';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { SecretsSection } from '../components/accounts/SecretsSection';
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
