import { useId } from 'react';
import type { RollbackReport as Report } from '../../../electron/contract/stack';

/** What failed during an apply, its last log lines (secrets masked by main), and what runs now. */
export function RollbackReport({ report, attemptedRelease, warnings }: { report: Report; attemptedRelease: string; warnings: readonly string[] }) {
  const titleId = useId();
  const d = report.decidedBy;
  const crashed = d.kind === 'certain-failure' && d.evidence !== 'unhealthy';
  const what = report.failedService ? `${report.failedService} ${crashed ? 'stopped as it started' : 'did not become healthy'}` : 'A step of the install failed';
  return (
    <section role="alert" aria-labelledby={titleId} className="card rollback">
      <h3 id={titleId}>Install rolled back: {what}</h3>
      <dl className="facts">
        <dt>Failed service</dt>
        <dd data-testid="rollback-failed-service">{report.failedService ?? 'none (a step failed before the services started)'}</dd>
        <dt>Reason</dt>
        <dd>{report.reason}</dd>
        <dt>Decided</dt>
        <dd data-testid="rollback-decided">{decidedInWords(d)}</dd>
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

/** How the rollback was decided, for the admin: whether anything was waited out. */
function decidedInWords(d: Report['decidedBy']): string {
  switch (d.kind) {
    case 'certain-failure':
      return d.evidence === 'unhealthy'
        ? `When Docker reported ${d.service} unhealthy.`
        : `At once: ${d.service} ${d.evidence === 'exited' ? 'had exited' : 'kept stopping and Docker was restarting it'}, so there was nothing to wait for.`;
    case 'after-up':
      return 'When docker compose stopped waiting for the services.';
    case 'cancelled':
      return 'You cancelled the install.';
    case 'server':
      return 'The server rolled back by itself.';
    default: {
      const never: never = d;
      return String(never);
    }
  }
}
