import { useState } from 'react';
import type { DiagnosticsExport } from '../../../electron/contract/app';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape, useCall } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';

type Action = { kind: 'idle' } | { kind: 'busy' } | { kind: 'exported'; value: DiagnosticsExport } | { kind: 'shown'; shown: boolean } | { kind: 'failed'; error: ErrorShape };

/** Settings → Diagnostics: where the log is, open its folder, and one archive to send when asking for help. */
export function DiagnosticsSection({ desktop }: { desktop: boolean }) {
  const { state } = useCall('app:log-location');
  const [action, setAction] = useState<Action>({ kind: 'idle' });
  const run = (f: () => Promise<Action>): void => {
    setAction({ kind: 'busy' });
    f().then(setAction, (err: unknown) => setAction({ kind: 'failed', error: asShape(err) }));
  };
  return (
    <section className="card" aria-labelledby="diagnostics">
      <h2 id="diagnostics">Diagnostics</h2>
      <p className="muted">
        The app writes what it does to a log file on this computer, with passwords, keys and tokens removed. When something fails, the log has the details;
        Export diagnostics puts it in one file you can send to whoever helps you, with the app&apos;s version, each server&apos;s last check and what
        Compose runs. Nothing is sent by the app.
      </p>
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' ? (
        <dl className="facts">
          <dt>Log file</dt>
          <dd data-testid="log-path">
            <code>{state.value.path}</code>
          </dd>
        </dl>
      ) : null}
      <p>
        {desktop ? (
          <button type="button" disabled={action.kind === 'busy'} onClick={() => run(async () => ({ kind: 'shown', shown: (await call('app:show-log')).shown }))}>
            Show the log file
          </button>
        ) : null}{' '}
        <button type="button" disabled={action.kind === 'busy'} onClick={() => run(async () => ({ kind: 'exported', value: await call('app:export-diagnostics') }))}>
          Export diagnostics…
        </button>
      </p>
      <div role="status">
        {action.kind === 'busy' ? <p className="muted">Working…</p> : null}
        {action.kind === 'exported' && action.value.saved ? (
          <p data-testid="diagnostics-saved">
            Saved to <code>{action.value.path}</code>. Send this file when you ask for help; it holds no passwords or keys.
          </p>
        ) : null}
        {action.kind === 'exported' && !action.value.saved ? <p className="muted">Nothing was saved.</p> : null}
        {action.kind === 'shown' && !action.shown ? <p className="muted">Open the folder above in your file manager.</p> : null}
      </div>
      {action.kind === 'failed' ? <ErrorNotice error={action.error} /> : null}
    </section>
  );
}
