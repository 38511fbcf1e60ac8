import { useState } from 'react';
import type { ServiceAction, ServiceRuntime } from '../../../electron/contract/logs';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { ConfirmActionDialog } from './ConfirmActionDialog';
import { localTime } from './log-buffer';

/** A crash loop in words, with the lines the service printed before it died (masked in core). */
export function CrashLoopNotice({ runtime }: { runtime: ServiceRuntime }) {
  if (!runtime.crashLoop) return null;
  return (
    <div role="alert" aria-label={`${runtime.service} keeps restarting`} className="notice notice-error">
      <strong>
        {runtime.service} keeps restarting — Docker has restarted it {runtime.crashLoop.restarts} {runtime.crashLoop.restarts === 1 ? 'time' : 'times'}
        {runtime.exitCode !== null ? `, last exit code ${runtime.exitCode}` : ''}.
      </strong>
      <p>Its last lines say why:</p>
      {runtime.crashLoop.lastLines.length ? (
        <pre className="log-excerpt" aria-label={`Last lines of ${runtime.service}`}>
          {runtime.crashLoop.lastLines.join('\n')}
        </pre>
      ) : (
        <p className="muted">It printed nothing before it stopped.</p>
      )}
    </div>
  );
}

/** State, restarts and the three actions of one service; each asks first, then shows what Docker says after. */
export function ServiceRuntimePanel(props: { profileId: string; runtime: ServiceRuntime; onChanged: (r: ServiceRuntime) => void }) {
  const { runtime } = props;
  const [asking, setAsking] = useState<ServiceAction | null>(null);
  const [busy, setBusy] = useState<ServiceAction | null>(null);
  const [error, setError] = useState<ErrorShape | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const run = (action: ServiceAction): void => {
    setAsking(null);
    setBusy(action);
    setError(null);
    setDone(null);
    call('logs:service-action', { profileId: props.profileId, service: runtime.service, action, confirmed: true }).then(
      (r) => {
        setBusy(null);
        setDone(`${r.service}: ${action === 'restart' ? 'restarted' : action === 'stop' ? 'stopped' : 'started'} in ${(r.durationMs / 1000).toFixed(1)} s — now ${r.runtime.state}.`);
        props.onChanged(r.runtime);
      },
      (err: unknown) => {
        setBusy(null);
        setError(asShape(err));
      },
    );
  };
  const running = runtime.state === 'running' || runtime.state === 'restarting';
  return (
    <section className="card" aria-label={`Service ${runtime.service}`}>
      <dl className="facts">
        <dt>State</dt>
        <dd>{runtime.state}</dd>
        <dt>Health</dt>
        <dd>{runtime.state === 'running' ? runtime.health || '—' : '—'}</dd>
        <dt>Restarts</dt>
        <dd>{runtime.restartCount}</dd>
        <dt>Started</dt>
        <dd>{runtime.startedAt ? localTime(runtime.startedAt) : '—'}</dd>
      </dl>
      <CrashLoopNotice runtime={runtime} />
      <div className="actions">
        <button type="button" disabled={busy !== null || runtime.state === 'missing'} onClick={() => setAsking('restart')}>
          {busy === 'restart' ? 'Restarting…' : 'Restart'}
        </button>
        <button type="button" className="secondary" disabled={busy !== null || !running} onClick={() => setAsking('stop')}>
          {busy === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
        <button type="button" className="secondary" disabled={busy !== null || running || runtime.state === 'missing'} onClick={() => setAsking('start')}>
          {busy === 'start' ? 'Starting…' : 'Start'}
        </button>
      </div>
      {done ? (
        <p role="status" className="muted">
          {done}
        </p>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
      {asking ? <ConfirmActionDialog service={runtime.service} action={asking} onConfirm={() => run(asking)} onCancel={() => setAsking(null)} /> : null}
    </section>
  );
}
