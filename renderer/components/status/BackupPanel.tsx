import type { BackupStatus, DrillStatus } from '../../../electron/contract/status';
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
        {backup.drill ? (
          <>
            <dt>Restore drill</dt>
            <dd>
              <DrillFacts drill={backup.drill} />
            </dd>
          </>
        ) : null}
        <dt>Warn after</dt>
        <dd>
          {backup.maxAgeHours} h without a good backup{backup.drill ? `, ${backup.drill.warnAfterDays} days without a passing restore drill` : ''}
        </dd>
      </dl>
    </Panel>
  );
}

const daysText = (d: number): string => (d === 0 ? 'today' : d === 1 ? '1 day ago' : `${d} days ago`);

/** The last restore drill: when it passed, or why it failed; scheduled on the server or run from the app. */
function DrillFacts({ drill }: { drill: DrillStatus }) {
  const by = drill.trigger === 'schedule' ? ' (scheduled)' : drill.trigger === 'app' ? ' (run from the app)' : '';
  switch (drill.state) {
    case 'unknown':
      return <>not read yet</>;
    case 'none':
      return <>none yet: a backup that has never been restored is not called good</>;
    case 'unreadable':
      return <>the result on the server cannot be read</>;
    case 'passed':
      return (
        <>
          Passed {drill.passedDaysAgo === null ? '' : daysText(drill.passedDaysAgo)}
          {drill.lastAt ? `, ${formatTime(drill.lastAt)}` : ''}
          {by}
        </>
      );
    case 'failed':
      return (
        <>
          Failed{drill.lastAt ? `, ${formatTime(drill.lastAt)}` : ''}
          {by}
          {drill.reason ? <div className="hint">{drill.reason}</div> : null}
          <div className="hint">{drill.lastPassedAt && drill.passedDaysAgo !== null ? `Last drill passed ${daysText(drill.passedDaysAgo)}.` : 'No drill has passed yet.'}</div>
        </>
      );
    default: {
      const never: never = drill.state;
      return never;
    }
  }
}
