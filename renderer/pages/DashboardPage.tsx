import { lazy, Suspense, useCallback, useState } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import type { StatusSnapshot } from '../../electron/contract/status';
import { EmptyState } from '../components/common/EmptyState';
import { ServiceAddresses } from '../components/stack/ServiceAddresses';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { BackupPanel } from '../components/status/BackupPanel';
import { HostPanel } from '../components/status/HostPanel';
import { Panel } from '../components/status/Panel';
import { ServicesStatusTable } from '../components/status/ServicesStatusTable';
import { AgentNotice, OverallState, StatusCards } from '../components/status/StatusOverview';
import { TranscodesPanel } from '../components/status/TranscodesPanel';
import { OutagePanel } from '../components/status/OutagePanel';
import { TunnelPanel } from '../components/status/TunnelPanel';
import { useCall, useEvent } from '../hooks/use-call';
import { pickProfile, useChosenServer } from '../hooks/use-chosen-server';
import { connectionNotice } from '../hooks/connection-state';
import { useConnection } from '../hooks/use-connection';
import { useProfileCall } from '../hooks/use-profile-call';
import { useStatus } from '../hooks/use-status';
import type { ChartHistory } from '../hooks/status-state';

// Recharts is most of the dashboard's weight: it loads after the cards, which carry the state on their own.
const StatusCharts = lazy(() => import('../components/status/StatusCharts').then((m) => ({ default: m.StatusCharts })));

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
function ServerDashboard({ profileId }: { profileId: string }) {
  const installed = useProfileCall('stack:status', profileId);
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

/**
 * Follows the server's connection: says how it stands while it is not up, and asks the server again each time it comes
 * up (a connect from another page, a reconnect after a cut, a restarted app) — no "Try again" needed.
 */
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
      {epoch ? <ServerDashboard key={epoch} profileId={profileId} /> : null}
    </>
  );
}

export function DashboardPage() {
  const { state } = useCall('profiles:list');
  // The app's chosen server (kept by main, the same on every page and after a reload or restart).
  const { chosen, choose: setChosen } = useChosenServer();
  // A server saved in another window (or tab) appears here without a reload.
  const [pushed, setPushed] = useState<readonly ServerProfile[] | undefined>();
  useEvent(
    'profiles:changed',
    useCallback((list: ServerProfile[]) => setPushed(list), []),
  );
  const profiles: readonly ServerProfile[] = pushed ?? (state.kind === 'ready' ? state.value : []);
  const profile = pickProfile(profiles, chosen);
  return (
    <>
      <h1>Dashboard</h1>
      {state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {(pushed ?? (state.kind === 'ready' ? state.value : undefined))?.length === 0 ? (
        <EmptyState title="No servers saved yet">
          <p>Add your home server in <a href="#/setup">Setup</a> first. Once its stack is installed, this page shows at a glance:</p>
          <ul>
            <li>the Cloudflare tunnel: connections, edge locations, requests and errors;</li>
            <li>who is watching, and whether each stream is transcoded by the GPU, in software, or played directly;</li>
            <li>the last good backup, its age and size, and when the next one runs;</li>
            <li>every service's state, health and version, worst first.</li>
          </ul>
        </EmptyState>
      ) : null}
      {profile ? (
        <>
          <ProfilePicker profiles={profiles} value={profile.id} onChange={setChosen} />
          <ServiceAddresses key={`addresses-${profile.id}`} profile={profile} label="Service addresses" />
          <FollowedServer key={profile.id} profileId={profile.id} />
        </>
      ) : null}
    </>
  );
}
