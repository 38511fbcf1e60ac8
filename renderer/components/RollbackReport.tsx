import { useId } from 'react';
import type { RollbackReport as Report } from '../../electron/contract/stack';

/** What failed during an apply, its last log lines (secrets masked by main), and what runs now. */
export function RollbackReport({ report, attemptedRelease, warnings }: { report: Report; attemptedRelease: string; warnings: readonly string[] }) {
  const titleId = useId();
  const what = report.failedService ? `${report.failedService} did not become healthy` : 'A step of the install failed';
  return (
    <section role="alert" aria-labelledby={titleId} className="card rollback">
      <h3 id={titleId}>Install rolled back: {what}</h3>
      <dl className="facts">
        <dt>Failed service</dt>
        <dd data-testid="rollback-failed-service">{report.failedService ?? 'none (a step failed before the services started)'}</dd>
        <dt>Reason</dt>
        <dd>{report.reason}</dd>
        <dt>Attempted</dt>
        <dd>
          release <code>{attemptedRelease}</code>
        </dd>
        <dt>Running now</dt>
        <dd data-testid="rollback-restored">
          {report.restored
            ? report.restoredRelease
              ? `The previous release ${report.restoredRelease} is running again.`
              : 'Nothing was installed before: the new containers were removed and the server is as it was.'
            : 'The previous release could not be brought back. Check the server, then install again.'}
        </dd>
      </dl>
      {report.logTail.length > 0 ? (
        <>
          <h4>Last log lines{report.failedService ? ` of ${report.failedService}` : ''}</h4>
          <pre className="log" tabIndex={0} aria-label={`Last log lines${report.failedService ? ` of ${report.failedService}` : ''}`}>
            {report.logTail.join('\n')}
          </pre>
        </>
      ) : null}
      {warnings.length > 0 ? (
        <ul aria-label="Warnings">
          {warnings.map((w) => (
            <li key={w}>⚠ {w}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
