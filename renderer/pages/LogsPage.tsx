import { useCallback, useEffect, useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { LogsServices, ServiceRuntime } from '../../electron/contract/logs';
import type { ServerProfile } from '../../electron/contract/profiles';
import { EmptyState } from '../components/common/EmptyState';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { LogViewer } from '../components/logs/LogViewer';
import { CrashLoopNotice, ServiceRuntimePanel } from '../components/logs/ServiceRuntimePanel';
import { connectionNotice } from '../hooks/connection-state';
import { asShape, useCall, useEvent } from '../hooks/use-call';
import { pickProfile, useChosenServer } from '../hooks/use-chosen-server';
import { useConnection } from '../hooks/use-connection';
import { call } from '../m2';

/** `#/logs/<service>`: the service the page shows (reachable from the Dashboard's service list). */
const serviceFromHash = (): string | undefined => {
  const m = /^#\/logs\/([^/?#]+)/.exec(location.hash);
  try {
    return m?.[1] ? decodeURIComponent(m[1]) : undefined;
  } catch {
    return undefined;
  }
};

function useHashService(): string | undefined {
  const [service, setService] = useState(serviceFromHash);
  useEffect(() => {
    const on = () => setService(serviceFromHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return service;
}

const REFRESH_MS = 10_000;

/** The services of the live release, asked again every few seconds while the page is open. */
function useServices(profileId: string): { value?: LogsServices; error?: ErrorShape; reload: () => void; replace: (r: ServiceRuntime) => void } {
  const [value, setValue] = useState<LogsServices>();
  const [error, setError] = useState<ErrorShape>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    const load = (): void => {
      call('logs:services', { profileId }).then(
        (v) => live && (setValue(v), setError(undefined)),
        (err: unknown) => live && setError(asShape(err)),
      );
    };
    load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [profileId, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const replace = useCallback((r: ServiceRuntime) => setValue((v) => (v ? { ...v, services: v.services.map((s) => (s.service === r.service ? r : s)) } : v)), []);
  return { ...(value ? { value } : {}), ...(error ? { error } : {}), reload, replace };
}

function ServerLogs({ profileId }: { profileId: string }) {
  const chosen = useHashService();
  const { value, error, reload, replace } = useServices(profileId);
  // A restart, stop or start ends a followed log (Compose stops following a stopped container): it opens again after.
  const [actions, setActions] = useState(0);
  const changed = useCallback(
    (r: ServiceRuntime) => {
      replace(r);
      setActions((n) => n + 1);
    },
    [replace],
  );
  if (!value) {
    return error ? (
      <>
        <ErrorNotice error={error} />
        <button type="button" className="secondary" onClick={reload}>
          Try again
        </button>
      </>
    ) : (
      <p className="muted" role="status">
        Asking the server which services run…
      </p>
    );
  }
  if (value.releaseId === null) {
    return (
      <EmptyState title="Not installed yet">
        <p>
          The stack is not installed on this server. Install it from <a href="#/setup">Setup</a>; each service’s logs are then here.
        </p>
      </EmptyState>
    );
  }
  const service = value.services.find((s) => s.service === chosen) ?? value.services[0];
  const looping = value.services.filter((s) => s.crashLoop && s.service !== service?.service);
  return (
    <div className="logs-layout">
      <nav aria-label="Services" className="card logs-services">
        <ul>
          {value.services.map((s) => (
            <li key={s.service}>
              <a href={`#/logs/${encodeURIComponent(s.service)}`} aria-current={s.service === service?.service ? 'page' : undefined}>
                {s.service}
              </a>{' '}
              <span className={s.crashLoop ? 'badge badge-fail' : s.state === 'running' ? 'badge badge-pass' : 'badge badge-warn'}>{s.crashLoop ? 'restarting' : s.state}</span>
            </li>
          ))}
        </ul>
      </nav>
      <div className="logs-main">
        {error ? <ErrorNotice error={error} /> : null}
        {looping.map((s) => (
          <CrashLoopNotice key={s.service} runtime={s} />
        ))}
        {service ? (
          <>
            <h2>{service.service}</h2>
            <ServiceRuntimePanel key={`rt-${service.service}`} profileId={profileId} runtime={service} onChanged={changed} />
            <LogViewer key={`log-${service.service}`} profileId={profileId} service={service.service} epoch={actions} />
          </>
        ) : (
          <p className="muted">The live release declares no services.</p>
        )}
      </div>
    </div>
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
      {epoch ? <ServerLogs key={epoch} profileId={profileId} /> : null}
    </>
  );
}

/** Each service’s logs (live, searched, by time; secrets masked before they reach this page), and restart, stop, start. */
export function LogsPage() {
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
      <h1>Logs and services</h1>
      <p className="muted">
        Passwords and tokens the app keeps for this server are replaced by •••••••• before a line reaches this page. <a href="#/dashboard">Back to the Dashboard</a>
      </p>
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
