import type { ServiceStatus } from '../../../electron/contract/status';
import { healthLabel } from '../stack/ServiceHealthList';
import { Panel } from './Panel';
import { SeverityBadge } from './SeverityBadge';

/** Every container of the stack, worst first as main sorts them, each with its reason in words and a link to its logs. */
export function ServicesStatusTable({ services }: { services: readonly ServiceStatus[] }) {
  return (
    <Panel title="Services">
      {services.length === 0 ? (
        <p className="muted">No containers reported yet.</p>
      ) : (
        <table className="table" aria-label="Services status">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
              <th scope="col">State</th>
              <th scope="col">Health</th>
              <th scope="col">Restarts</th>
              <th scope="col">Version</th>
              <th scope="col">Reason</th>
              <th scope="col">Logs</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={s.service}>
                <th scope="row">{s.service}</th>
                <td>
                  <SeverityBadge severity={s.severity} />
                </td>
                <td>{s.state || 'unknown'}</td>
                <td>{s.health === null ? '—' : healthLabel(s.health).text}</td>
                <td>{s.restarts}</td>
                <td>
                  <code title={s.image}>{s.version || '—'}</code>
                </td>
                <td>{s.reason}</td>
                <td>
                  <a href={`#/logs/${encodeURIComponent(s.service)}`} aria-label={`Logs and actions of ${s.service}`}>
                    Logs
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
