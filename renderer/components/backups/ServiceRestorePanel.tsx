import { useCallback, useEffect, useState } from 'react';
import type { SnapshotSummary } from '../../../electron/contract/backups';
import type { ErrorShape } from '../../../electron/contract/errors';
import { restorableServiceTitle, type PutBackResult, type RestorableService, type ServiceRestorePlan, type ServiceRestoreResult, type UnfinishedRestore } from '../../../electron/contract/restores';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { Field } from '../common/Field';
import { formatBytes, formatTime } from './format';

const SERVICES: RestorableService[] = ['nextcloud', 'authentik', 'jellyfin'];

/**
 * "Restore whole service": the plan first (what the snapshot holds, what stops, the free space, each step), then a
 * confirmation, then the restore; a failure says whether the data from before is back. A restore that stopped
 * half-way (the app or the connection went away) is listed with "Put back the data from before".
 */
export function ServiceRestorePanel({ profileId, snapshots }: { profileId: string; snapshots: readonly SnapshotSummary[] }) {
  const [service, setService] = useState<RestorableService>('nextcloud');
  const [snapshotId, setSnapshotId] = useState(snapshots[0]?.id ?? '');
  const [plan, setPlan] = useState<ServiceRestorePlan>();
  const [confirmed, setConfirmed] = useState(false);
  const [busy, setBusy] = useState<'plan' | 'restore' | 'put-back'>();
  const [error, setError] = useState<ErrorShape>();
  const [result, setResult] = useState<ServiceRestoreResult>();
  const [unfinished, setUnfinished] = useState<UnfinishedRestore[]>([]);
  const [putBack, setPutBack] = useState<PutBackResult>();

  const look = useCallback(() => {
    call('backups:unfinished', { profileId }).then(
      (u) => setUnfinished(u.unfinished),
      () => setUnfinished([]),
    );
  }, [profileId]);
  useEffect(look, [look]);

  const reset = (): void => {
    setPlan(undefined);
    setConfirmed(false);
    setResult(undefined);
    setError(undefined);
  };
  const showPlan = (): void => {
    reset();
    setBusy('plan');
    call('backups:service-plan', { profileId, snapshotId, service }).then(setPlan, (e: unknown) => setError(asShape(e))).finally(() => setBusy(undefined));
  };
  const restore = (): void => {
    if (!plan) return;
    setError(undefined);
    setBusy('restore');
    call('backups:restore-service', { profileId, snapshotId: plan.snapshotId, service: plan.service, confirmed: true })
      .then(
        (r) => {
          setResult(r);
          setPlan(undefined);
        },
        (e: unknown) => setError(asShape(e)),
      )
      .finally(() => {
        setBusy(undefined);
        setConfirmed(false);
        look();
      });
  };
  const undo = (s: RestorableService): void => {
    setBusy('put-back');
    setPutBack(undefined);
    setError(undefined);
    call('backups:put-back', { profileId, service: s }).then(setPutBack, (e: unknown) => setError(asShape(e))).finally(() => {
      setBusy(undefined);
      look();
    });
  };

  // With a restore cut half-way the backup container may be stopped and list no snapshot: the way back still shows.
  if (snapshots.length === 0 && unfinished.length === 0 && !putBack) return null;
  const title = restorableServiceTitle[service];
  return (
    <section className="card" aria-labelledby="service-restore-heading">
      <h2 id="service-restore-heading">Restore a whole service</h2>
      <p className="muted">Its folder and database go back to how the snapshot has them. You see the plan first; the service is stopped while it is restored.</p>
      {unfinished.map((u) => (
        <div key={u.service} role="alert" className="notice notice-error" aria-label={`Unfinished restore of ${restorableServiceTitle[u.service]}`}>
          <strong>
            A restore of {restorableServiceTitle[u.service]} (snapshot {u.snapshotId.slice(0, 8)}, started {u.startedAt === 'unknown' ? 'at an unknown time' : formatTime(u.startedAt)}) did not finish.
          </strong>
          <p>Its data from before is kept on the server: {u.keptAside.join(', ')}.</p>
          <button type="button" onClick={() => undo(u.service)} disabled={busy !== undefined}>
            {busy === 'put-back' ? 'Putting back…' : 'Put back the data from before'}
          </button>
        </div>
      ))}
      {putBack ? (
        <div role="status" className={putBack.healthy ? 'notice notice-ok' : 'notice notice-error'} aria-label="Put back result">
          {putBack.detail}
        </div>
      ) : null}
      {snapshots.length > 0 ? (
        <>
          <Field id="service-restore-service" label="Service" errors={error?.field === 'service' ? [error.userMessage] : undefined}>
            {(aria) => (
              <select
                {...aria}
                value={service}
                onChange={(e) => {
                  setService(e.target.value as RestorableService);
                  reset();
                }}
              >
                {SERVICES.map((s) => (
                  <option key={s} value={s}>
                    {restorableServiceTitle[s]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="service-restore-snapshot" label="From snapshot" errors={error?.field === 'snapshotId' ? [error.userMessage] : undefined}>
            {(aria) => (
              <select
                {...aria}
                value={snapshotId}
                onChange={(e) => {
                  setSnapshotId(e.target.value);
                  reset();
                }}
              >
                {snapshots.map((s) => (
                  <option key={s.id} value={s.id}>
                    {formatTime(s.time)} ({s.shortId})
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button type="button" className="secondary" onClick={showPlan} disabled={busy !== undefined}>
            {busy === 'plan' ? 'Reading the snapshot…' : `Show the plan for ${title}`}
          </button>
          {plan ? (
            <div aria-label="Restore plan" role="region" className="notice notice-warn">
              <p>
                <strong>
                  Restore {restorableServiceTitle[plan.service]} from snapshot {plan.snapshotId.slice(0, 8)} of {formatTime(plan.snapshotTime)}
                </strong>
              </p>
              <ol>
                {plan.steps.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ol>
              <p>
                Replaced: {plan.folders.map((f) => `${f.serverPath} (${f.files} files, ${formatBytes(f.bytes)})`).join(', ')}
                {plan.database ? `; the ${plan.database.name} database (dump ${formatBytes(plan.database.dumpBytes)})` : ''}.
              </p>
              <p className={plan.space.enough ? '' : 'field-error'}>Free space: {plan.space.words}</p>
              {plan.space.enough ? (
                <>
                  <label>
                    <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} /> I understand that {plan.stops.join(', ')} stop while {restorableServiceTitle[plan.service]} is restored, and that its current data is replaced by the snapshot’s.
                  </label>
                  <p>
                    <button type="button" onClick={restore} disabled={!confirmed || busy !== undefined}>
                      {busy === 'restore' ? `Restoring ${restorableServiceTitle[plan.service]}…` : `Restore ${restorableServiceTitle[plan.service]} now`}
                    </button>
                  </p>
                </>
              ) : null}
            </div>
          ) : null}
        </>
      ) : null}
      {error && error.field !== 'service' && error.field !== 'snapshotId' ? <ErrorNotice error={error} /> : null}
      {result ? (
        <div role="status" className="notice notice-ok" aria-label="Service restore result">
          <strong>{restorableServiceTitle[result.service]} is restored from snapshot {result.snapshotId.slice(0, 8)} and healthy.</strong>
          <ul>
            {result.steps.map((s) => (
              <li key={s.name}>
                {s.name}: {s.detail}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
