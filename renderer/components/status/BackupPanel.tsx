import type { BackupStatus } from '../../../electron/contract/status';
import { formatAge, formatBytes, formatDuration, formatRelative, formatTime } from './format';
import { Panel } from './Panel';
import { SeverityBadge } from './SeverityBadge';

const resultText = { success: 'Succeeded', partial: 'Partly succeeded', failed: 'Failed', unknown: 'Unknown' } as const;

/** The last good backup, the last run's result and the next run. `now` is the snapshot's time (ms). */
export function BackupPanel({ backup, now }: { backup: BackupStatus; now: number }) {
  const { lastGood, lastRun } = backup;
  return (
    <Panel title="Backups">
      <p>
        <SeverityBadge severity={backup.severity} /> {backup.reason}
      </p>
      {backup.running ? <p role="status">A backup is running now.</p> : null}
      <dl className="facts">
        <dt>Last good</dt>
        <dd>
          {lastGood ? (
            <>
              {formatTime(lastGood.at)} ({formatAge(lastGood.ageHours)}), {formatBytes(lastGood.totalBytes)}, took {formatDuration(lastGood.durationSeconds)}
              {lastGood.snapshotId ? (
                <>
                  {' '}
                  · snapshot <code>{lastGood.snapshotId.slice(0, 8)}</code>
                </>
              ) : null}
            </>
          ) : (
            'none yet'
          )}
        </dd>
        <dt>Last run</dt>
        <dd>
          {lastRun ? (
            <>
              {resultText[lastRun.result]}
              {lastRun.finishedAt ? `, ${formatTime(lastRun.finishedAt)}` : ''}
              {lastRun.exitCode !== null && lastRun.result !== 'success' ? ` (exit code ${lastRun.exitCode})` : ''}
              {lastRun.bytesAdded !== null ? `, ${formatBytes(lastRun.bytesAdded)} added` : ''}
              {lastRun.message ? <div className="hint">{lastRun.message}</div> : null}
            </>
          ) : (
            'no run yet'
          )}
        </dd>
        <dt>Next run</dt>
        <dd>{backup.nextRun ? `${formatTime(backup.nextRun)} (${formatRelative(backup.nextRun, now)})` : 'not scheduled'}</dd>
        <dt>Warn after</dt>
        <dd>{backup.maxAgeHours} h without a good backup</dd>
      </dl>
    </Panel>
  );
}
