import { useCallback, useEffect, useState } from 'react';
import type { BackupNowResult, BackupProgress, BackupsView, DrillResult } from '../../electron/contract/backups';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ServerProfile } from '../../electron/contract/profiles';
import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { RestorePanel } from '../components/backups/RestorePanel';
import { daysAgo, formatBytes, formatTime } from '../components/backups/format';
import { connectionNotice } from '../hooks/connection-state';
import { asShape, useCall, useEvent } from '../hooks/use-call';
import { pickProfile, useChosenServer } from '../hooks/use-chosen-server';
import { useConnection } from '../hooks/use-connection';
import { call } from '../m2';

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
          <strong>The last drill ({formatTime(last.at)}) failed.</strong>
          <p>{last.reason}</p>
        </div>
      ) : (
        <p className="muted">
          {formatTime(last.at)}: restored {last.filesRestored} of {last.filesExpected} files of snapshot {last.snapshotId?.slice(0, 8)}, repository check passed.
        </p>
      )}
    </div>
  );
}

function ServerBackups({ profileId }: { profileId: string }) {
  const [view, setView] = useState<BackupsView>();
  const [error, setError] = useState<ErrorShape>();
  const [generation, setGeneration] = useState(0);
  const [running, setRunning] = useState<'backup' | 'drill'>();
  const [progress, setProgress] = useState<BackupProgress>();
  const [outcome, setOutcome] = useState<BackupNowResult>();
  const [drill, setDrill] = useState<DrillResult>();
  const [actionError, setActionError] = useState<ErrorShape>();

  useEffect(() => {
    let live = true;
    call('backups:view', { profileId }).then(
      (v) => live && (setView(v), setError(undefined)),
      (err: unknown) => live && setError(asShape(err)),
    );
    return () => {
      live = false;
    };
  }, [profileId, generation]);
  useEvent(
    'backups:progress',
    useCallback((p: BackupProgress) => p.profileId === profileId && setProgress(p), [profileId]),
  );

  const start = (what: 'backup' | 'drill'): void => {
    setRunning(what);
    setProgress(undefined);
    setOutcome(undefined);
    setDrill(undefined);
    setActionError(undefined);
    const done = (): void => {
      setRunning(undefined);
      setGeneration((g) => g + 1);
    };
    if (what === 'backup') call('backups:run', { profileId }).then(setOutcome, (e: unknown) => setActionError(asShape(e))).finally(done);
    else call('backups:drill', { profileId }).then(setDrill, (e: unknown) => setActionError(asShape(e))).finally(done);
  };

  if (!view) {
    return error ? (
      <>
        <ErrorNotice error={error} />
        <button type="button" className="secondary" onClick={() => setGeneration((g) => g + 1)}>
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

function FollowedServer({ profileId }: { profileId: string }) {
  const { state, epoch } = useConnection(profileId);
  const notice = connectionNotice(state);
  return (
    <>
      {notice ? (
        <p role="status" aria-label="Connection" className={state?.kind === 'reconnecting' || state?.kind === 'closed' ? 'notice notice-warning' : 'muted'}>
          {notice}
          {state?.kind === 'idle' || state?.kind === 'closed' ? (
            <>
              {' '}
              <a href="#/setup">Open Setup</a>
            </>
          ) : null}
        </p>
      ) : null}
      {epoch ? <ServerBackups key={epoch} profileId={profileId} /> : null}
    </>
  );
}

/** restic snapshots, the last and next run, back up now, restore from Nextcloud's data, and the restore drill. */
export function BackupsPage() {
  const { state } = useCall('profiles:list');
  const { chosen, choose } = useChosenServer();
  const [pushed, setPushed] = useState<readonly ServerProfile[] | undefined>();
  useEvent(
    'profiles:changed',
    useCallback((list: ServerProfile[]) => setPushed(list), []),
  );
  const profiles: readonly ServerProfile[] = pushed ?? (state.kind === 'ready' ? state.value : []);
  const profile = pickProfile(profiles, chosen);
  return (
    <>
      <h1>Backups</h1>
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ready' && profiles.length === 0 ? (
        <EmptyState title="No servers saved yet">
          <p>
            Add your home server in <a href="#/setup">Setup</a> first.
          </p>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={choose} />
          <FollowedServer key={profile.id} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
