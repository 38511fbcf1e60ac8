import { useState } from 'react';
import type { BackupNowResult, BackupProgress, BackupsView, DrillResult } from '../../../electron/contract/backups';
import type { ErrorShape } from '../../../electron/contract/errors';
import { EmptyState } from '../common/EmptyState';
import { ErrorNotice } from '../common/ErrorNotice';
import { RestorePanel } from './RestorePanel';
import { daysAgo, formatBytes, formatTime } from './format';
import { asShape, useCall } from '../../hooks/use-call';
import { useEvent } from '../../hooks/use-event';
import { call } from '../../m2';

function DrillSummary({ view, now }: { view: BackupsView; now: Date }) {
  const last = view.lastDrill;
  if (!last) return <p aria-label="Restore drill">No restore drill yet: a backup that has never been restored is not called good.</p>;
  return (
    <div aria-label="Restore drill">
      <p>
        {view.lastPassedDrill ? <strong>Last drill passed {daysAgo(view.lastPassedDrill, now)}.</strong> : <strong>No drill has passed yet.</strong>}
      </p>
      {!last.passed ? (
        <div role="alert" className="notice notice-error">
          <strong>
            The last drill ({formatTime(last.at)}{last.trigger === 'schedule' ? ', scheduled on the server' : ''}) failed.
          </strong>
          <p>{last.reason}</p>
        </div>
      ) : (
        <p className="muted">
          {formatTime(last.at)}
          {last.trigger === 'schedule' ? ' (scheduled on the server, weekly after the backup)' : ''}: restored {last.filesRestored} of {last.filesExpected} files of snapshot {last.snapshotId?.slice(0, 8)}, repository check passed.
        </p>
      )}
    </div>
  );
}

/** One server's backups: runs, snapshots, back up now, the restore drill and restore. */
export function ServerBackups({ profileId }: { profileId: string }) {
  // The view stays on the page while it is asked again (after a run): an error then shows above it.
  const { value: view, error, refresh } = useCall('backups:view', { profileId });
  const [running, setRunning] = useState<'backup' | 'drill'>();
  const [progress, setProgress] = useState<BackupProgress>();
  const [outcome, setOutcome] = useState<BackupNowResult>();
  const [drill, setDrill] = useState<DrillResult>();
  const [actionError, setActionError] = useState<ErrorShape>();

  useEvent('backups:progress', (p) => p.profileId === profileId && setProgress(p));

  const start = (what: 'backup' | 'drill'): void => {
    setRunning(what);
    setProgress(undefined);
    setOutcome(undefined);
    setDrill(undefined);
    setActionError(undefined);
    const done = (): void => {
      setRunning(undefined);
      refresh();
    };
    if (what === 'backup') call('backups:run', { profileId }).then(setOutcome, (e: unknown) => setActionError(asShape(e))).finally(done);
    else call('backups:drill', { profileId }).then(setDrill, (e: unknown) => setActionError(asShape(e))).finally(done);
  };

  if (!view) {
    return error ? (
      <>
        <ErrorNotice error={error} />
        <button type="button" className="secondary" onClick={refresh}>
          Try again
        </button>
      </>
    ) : (
      <p className="muted" role="status">
        Asking the server for its snapshots…
      </p>
    );
  }
  if (!view.enabled) {
    return (
      <EmptyState title="Backups are off">
        <p>
          Turn them on in <a href="#/setup">Setup</a> → Services &amp; storage and install again.
        </p>
      </EmptyState>
    );
  }
  if (!view.installed) {
    return (
      <EmptyState title="Not installed yet">
        <p>
          Install the stack from <a href="#/setup">Setup</a>; its backup service then runs every day at {view.schedule.time}.
        </p>
      </EmptyState>
    );
  }
  const now = new Date();
  const latest = view.snapshots[0];
  return (
    <>
      {error ? <ErrorNotice error={error} /> : null}
      <section className="card" aria-labelledby="runs-heading">
        <h2 id="runs-heading">Runs</h2>
        <dl className="facts">
          <dt>Last run</dt>
          <dd aria-label="Last run">
            {view.lastRun ? (
              <>
                <span className={view.lastRun.result === 'success' ? 'badge badge-pass' : view.lastRun.result === 'partial' ? 'badge badge-warn' : 'badge badge-fail'}>{view.lastRun.result}</span> {formatTime(view.lastRun.finishedAt)} — {view.lastRun.message}
              </>
            ) : (
              'none yet'
            )}
          </dd>
          <dt>Next run</dt>
          <dd aria-label="Next run">
            {view.nextRun ? formatTime(view.nextRun) : '—'} (every day at {view.schedule.time}, {view.schedule.timezone})
          </dd>
          <dt>Repository</dt>
          <dd>{view.repository}</dd>
        </dl>
        <button type="button" onClick={() => start('backup')} disabled={running !== undefined || view.running}>
          {running === 'backup' || view.running ? 'Backing up…' : 'Back up now'}
        </button>{' '}
        <button type="button" className="secondary" onClick={() => start('drill')} disabled={running !== undefined || view.snapshots.length === 0}>
          {running === 'drill' ? 'Running the drill…' : 'Run a restore drill'}
        </button>
        {running && progress ? (
          <div role="status" aria-label="Progress">
            {progress.kind === 'status' ? (
              <>
                <progress max={1} value={progress.percent} aria-label="Backup progress" /> {Math.round(progress.percent * 100)}% — {progress.filesDone}
                {progress.totalFiles !== null ? ` of ${progress.totalFiles}` : ''} files, {formatBytes(progress.bytesDone)}
                {progress.totalBytes !== null ? ` of ${formatBytes(progress.totalBytes)}` : ''}
              </>
            ) : (
              progress.text
            )}
          </div>
        ) : null}
        {outcome ? (
          <div role="status" aria-label="Backup result" className={outcome.result === 'success' ? 'notice notice-ok' : 'notice notice-error'}>
            <strong>{outcome.message}</strong>
            {outcome.snapshotId ? <p>Snapshot {outcome.snapshotId.slice(0, 8)}.</p> : null}
          </div>
        ) : null}
        {drill ? (
          <div role="status" aria-label="Drill result" className={drill.passed ? 'notice notice-ok' : 'notice notice-error'}>
            <strong>{drill.passed ? 'The restore drill passed.' : 'The restore drill failed.'}</strong>
            <ul>
              {drill.checks.map((c) => (
                <li key={c.name}>
                  {c.passed ? '✓' : '✗'} {c.name}: {c.detail}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {actionError ? <ErrorNotice error={actionError} /> : null}
        <DrillSummary view={view} now={now} />
      </section>
      <section className="card" aria-labelledby="snapshots-heading">
        <h2 id="snapshots-heading">Snapshots</h2>
        {latest ? (
          <table className="table" aria-label="Snapshots">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Id</th>
                <th scope="col">Size</th>
                <th scope="col">Holds</th>
                <th scope="col">Tags</th>
              </tr>
            </thead>
            <tbody>
              {view.snapshots.map((s) => (
                <tr key={s.id}>
                  <td>{formatTime(s.time)}</td>
                  <td>
                    <code>{s.shortId}</code>
                  </td>
                  <td>{s.sizeBytes !== null ? `${formatBytes(s.sizeBytes)}${s.files !== null ? `, ${s.files} files` : ''}` : 'unknown'}</td>
                  <td>{s.paths.join(', ')}</td>
                  <td>{s.tags.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No snapshots yet. The first is made at {view.schedule.time}, or now with “Back up now”.</p>
        )}
      </section>
      <RestorePanel key={latest?.id ?? 'none'} profileId={profileId} snapshots={view.snapshots} restoreRoot={view.restoreRoot} />
    </>
  );
}
