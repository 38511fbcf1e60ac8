import { lazy, Suspense } from 'react';
import type { StatusSnapshot } from '../../../electron/contract/status';
import { EmptyState } from '../common/EmptyState';
import { ErrorNotice } from '../common/ErrorNotice';
import { BackupPanel } from './BackupPanel';
import { HostPanel } from './HostPanel';
import { Panel } from './Panel';
import { ServicesStatusTable } from './ServicesStatusTable';
import { AgentNotice, OverallState, StatusCards } from './StatusOverview';
import { TranscodesPanel } from './TranscodesPanel';
import { OutagePanel } from './OutagePanel';
import { TunnelPanel } from './TunnelPanel';
import { useCall } from '../../hooks/use-call';
import { useStatus } from '../../hooks/use-status';
import type { ChartHistory } from '../../hooks/status-state';

// Recharts is most of the dashboard's weight: it loads after the cards, which carry the state on their own.
const StatusCharts = lazy(() => import('./StatusCharts').then((m) => ({ default: m.StatusCharts })));

function LiveView({ snapshot, history }: { snapshot: StatusSnapshot; history: ChartHistory }) {
  const now = Date.parse(snapshot.at);
  return (
    <>
      <AgentNotice agent={snapshot.agent} />
      <OverallState snapshot={snapshot} />
      <StatusCards cards={snapshot.cards} />
      <Panel title="Last hour">
        <Suspense fallback={<p className="muted">Loading charts…</p>}>
          <StatusCharts history={history} now={Math.ceil(now / history.stepMs) * history.stepMs} />
        </Suspense>
      </Panel>
      <OutagePanel outage={snapshot.outage} />
      <TunnelPanel tunnel={snapshot.tunnel} />
      <TranscodesPanel transcodes={snapshot.transcodes} />
      <BackupPanel backup={snapshot.backup} now={now} />
      <ServicesStatusTable services={snapshot.services} />
      <HostPanel host={snapshot.host} />
    </>
  );
}

/** Live status of one server while the page is open. */
function LiveStatus({ profileId }: { profileId: string }) {
  const { state, retry } = useStatus(profileId);
  switch (state.kind) {
    case 'loading':
      return (
        <p className="muted" role="status">
          Starting live status on the server…
        </p>
      );
    case 'failed':
      return (
        <>
          <ErrorNotice error={state.error} />
          <p>
            Connect to the server in <a href="#/setup">Setup</a> if it is not connected, then{' '}
            <button type="button" className="secondary" onClick={retry}>
              Try again
            </button>
          </p>
        </>
      );
    case 'live':
      return <LiveView snapshot={state.snapshot} history={state.history} />;
    default: {
      const never: never = state;
      return never;
    }
  }
}

/**
 * Shows live status once the stack is known to be installed. Asking first costs one call, but never starts a
 * status agent on a server without the stack (an agent started then would watch the settings of before the install).
 */
export function ServerDashboard({ profileId }: { profileId: string }) {
  const installed = useCall('stack:status', { profileId });
  if (installed.state.kind === 'loading') {
    return (
      <p className="muted" role="status">
        Asking the server what is installed…
      </p>
    );
  }
  if (installed.state.kind === 'ready' && installed.state.value.currentRelease === null) {
    return (
      <EmptyState title="Not installed yet">
        <p>
          The stack is not installed on this server. Review and install it from <a href="#/setup">Setup</a>; this page then shows the tunnel, who is
          watching, the last backup and every service, live.
        </p>
      </EmptyState>
    );
  }
  // Installed, or the question failed (e.g. not connected): live status then says what is wrong in its own words.
  return <LiveStatus profileId={profileId} />;
}

