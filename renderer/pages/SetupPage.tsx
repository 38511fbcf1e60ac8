import { useCallback, useState } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import type { ErrorShape } from '../../electron/contract/errors';
import { ProfileForm } from '../components/ProfileForm';
import { ErrorNotice } from '../components/ErrorNotice';
import { ServerStep } from '../components/ServerStep';
import { SshConfigImport } from '../components/SshConfigImport';
import { asShape, useCall, useEvent } from '../hooks/use-call';
import { call } from '../m2';

const STEPS = ['Server', 'Preflight', 'Domain & Cloudflare', 'Services & storage', 'Accounts', 'Review', 'Install', 'Done'] as const;

export function SetupPage() {
  const { state, reload } = useCall('profiles:list');
  const [pushed, setPushed] = useState<readonly ServerProfile[] | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  useEvent(
    'profiles:changed',
    useCallback((list: ServerProfile[]) => setPushed(list), []),
  );
  const profiles = pushed ?? (state.kind === 'ready' ? state.value : []);

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
      <ol className="steps" aria-label="Setup steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === 0 ? 'step' : undefined}>
            {s}
          </li>
        ))}
      </ol>
      <section aria-labelledby="server-step">
        <h2 id="server-step">1. Server</h2>
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
    </>
  );
}
