import { useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { ServiceAction, StackPlan } from '../../../electron/contract/stack';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { FileDiff } from './FileDiff';
import { moduleTitle } from '../../../electron/contract/stack-modules';

const ACTION: Record<ServiceAction, { text: string; tone: 'pass' | 'warn' | 'fail' | 'info' }> = {
  create: { text: 'Create', tone: 'pass' },
  recreate: { text: 'Recreate', tone: 'warn' },
  remove: { text: 'Remove', tone: 'fail' },
  unchanged: { text: 'Unchanged', tone: 'info' },
};

/** What an install would change, as planned by main: nothing is changed on the server by looking. */
export function PlanView({ plan }: { plan: StackPlan }) {
  const changedFiles = plan.files.filter((f) => f.status !== 'unchanged');
  const unchangedFiles = plan.files.filter((f) => f.status === 'unchanged');
  const counts = plan.services.reduce<Record<ServiceAction, number>>((acc, s) => ({ ...acc, [s.action]: acc[s.action] + 1 }), {
    create: 0,
    recreate: 0,
    remove: 0,
    unchanged: 0,
  });
  return (
    <div className="plan">
      {plan.noop ? (
        <p role="status" className="notice notice-ok">
          <strong>Nothing will change.</strong> The server already runs exactly these settings; installing again would restart nothing.
        </p>
      ) : (
        <p role="status" className="notice">
          {plan.currentRelease ? 'An update of the live release' : 'A first install'}: {counts.create} to create, {counts.recreate} to recreate, {counts.remove} to
          remove, {counts.unchanged} unchanged; {changedFiles.length} {changedFiles.length === 1 ? 'file' : 'files'} to write.
        </p>
      )}
      <p className="muted">
        {plan.currentRelease ? (
          <>
            Live release on the server: <code>{plan.currentRelease}</code>
          </>
        ) : (
          'Nothing is installed on this server yet.'
        )}
      </p>
      {plan.warnings.length > 0 ? (
        <ul className="warnings" aria-label="Warnings">
          {plan.warnings.map((w) => (
            <li key={w}>⚠ {w}</li>
          ))}
        </ul>
      ) : null}

      <h3>Services</h3>
      <table className="table" aria-label="Service changes">
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Module</th>
            <th scope="col">Action</th>
            <th scope="col">Why</th>
            <th scope="col">Image</th>
          </tr>
        </thead>
        <tbody>
          {plan.services.map((s) => (
            <tr key={s.service}>
              <th scope="row">{s.service}</th>
              <td>{s.module ? moduleTitle(s.module) : '—'}</td>
              <td>
                <span className={`badge badge-${ACTION[s.action].tone}`}>{ACTION[s.action].text}</span>
              </td>
              <td>{s.reason}</td>
              <td>
                <code>{s.image ?? '—'}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      {plan.images.length > 0 ? (
        <>
          <h3>Images</h3>
          <ul className="plain" aria-label="Images">
            {plan.images.map((i) => (
              <li key={i.ref}>
                <code>{i.ref}</code> — {i.present ? 'already on the server' : 'will be pulled'}
              </li>
            ))}
          </ul>
        </>
      ) : null}

      <h3>Files</h3>
      <p className="muted">Secret values are never shown: they appear as •••••••• and are written to the server as files only you can read (mode 0600).</p>
      <ul className="files" aria-label="Files">
        {[...changedFiles, ...unchangedFiles].map((f) => (
          <FileDiff key={f.path} file={f} />
        ))}
      </ul>
    </div>
  );
}

/** The Review step: asks main for the plan and shows it; run it again at any time. */
export function ReviewStep({ profileId, onPlanned }: { profileId: string; onPlanned?: (plan: StackPlan) => void }) {
  const [plan, setPlan] = useState<StackPlan | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);

  const review = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const p = await call('stack:plan', { profileId });
      setPlan(p);
      onPlanned?.(p);
    } catch (err) {
      setPlan(undefined);
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <div className="actions-inline">
        <button type="button" onClick={() => void review()} disabled={busy}>
          Review changes
        </button>
        {busy ? (
          <span className="muted" role="status">
            Comparing with the server…
          </span>
        ) : null}
      </div>
      {error ? <ErrorNotice error={error} /> : null}
      {plan ? <PlanView plan={plan} /> : null}
    </div>
  );
}
