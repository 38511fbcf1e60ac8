import { useCallback, useEffect, useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { LogsServices, ServiceRuntime } from '../../../electron/contract/logs';
import { EmptyState } from '../common/EmptyState';
import { ErrorNotice } from '../common/ErrorNotice';
import { LogViewer } from './LogViewer';
import { CrashLoopNotice, ServiceRuntimePanel } from './ServiceRuntimePanel';
import { useCall } from '../../hooks/use-call';

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

/** The services of the live release, asked again every few seconds while the page is open (what was known stays meanwhile). */
function useServices(profileId: string): { value?: LogsServices; error?: ErrorShape; reload: () => void; replace: (r: ServiceRuntime) => void } {
  const { value, error, refresh, replace: replaceAll } = useCall('logs:services', { profileId }, { everyMs: REFRESH_MS });
  const replace = useCallback((r: ServiceRuntime) => replaceAll((v) => ({ ...v, services: v.services.map((s) => (s.service === r.service ? r : s)) })), [replaceAll]);
  return { ...(value ? { value } : {}), ...(error ? { error } : {}), reload: refresh, replace };
}

/** One server's services, their logs, and restart, stop, start. */
export function ServerLogs({ profileId }: { profileId: string }) {
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
