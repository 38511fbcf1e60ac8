import type { TunnelStatus } from '../../../electron/contract/status';
import { formatNumber, formatTime, tunnelLook } from './format';
import { Panel } from './Panel';
import { Badge } from './SeverityBadge';

/** The Cloudflare tunnel: the merged state, why, the facts behind it, and what the Cloudflare API says. */
export function TunnelPanel({ tunnel }: { tunnel: TunnelStatus }) {
  return (
    <Panel title="Tunnel">
      <p>
        <Badge look={tunnelLook(tunnel.state)} /> {tunnel.reason}
      </p>
      <dl className="facts">
        <dt>Connections</dt>
        <dd>
          {tunnel.connections ?? '—'} of {tunnel.expectedConnections}
        </dd>
        <dt>Edge locations</dt>
        <dd>{tunnel.edgeLocations.length ? tunnel.edgeLocations.join(', ') : 'none'}</dd>
        <dt>Requests</dt>
        <dd>{formatNumber(tunnel.requestsPerSecond, 'per second', 2)}</dd>
        <dt>Errors</dt>
        <dd>{formatNumber(tunnel.errorsPerSecond, 'per second', 2)}</dd>
      </dl>
      {tunnel.evidence.length ? (
        <>
          <h3>Evidence</h3>
          <ul aria-label="Tunnel evidence">
            {tunnel.evidence.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </>
      ) : null}
      {tunnel.replicas.length ? (
        <table className="table" aria-label="cloudflared replicas">
          <thead>
            <tr>
              <th scope="col">Replica</th>
              <th scope="col">Running</th>
              <th scope="col">Ready</th>
              <th scope="col">Connections</th>
              <th scope="col">Edge</th>
              <th scope="col">RTT</th>
              <th scope="col">Version</th>
            </tr>
          </thead>
          <tbody>
            {tunnel.replicas.map((r) => (
              <tr key={r.service}>
                <th scope="row">{r.service}</th>
                <td>{r.running ? 'yes' : 'no'}</td>
                <td>{r.ready === null ? '—' : r.ready ? 'yes' : 'no'}</td>
                <td>{r.connections ?? '—'}</td>
                <td>{r.edgeLocations.join(', ') || '—'}</td>
                <td>{formatNumber(r.rttMs, 'ms', 0)}</td>
                <td>{r.version ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {tunnel.api ? (
        <>
          <h3>What Cloudflare says</h3>
          <dl className="facts" aria-label="Cloudflare API view">
            <dt>Status</dt>
            <dd>{tunnel.api.status}</dd>
            <dt>Connectors</dt>
            <dd>{tunnel.api.connectors}</dd>
            <dt>Connections</dt>
            <dd>{tunnel.api.connections}</dd>
            <dt>Data centres</dt>
            <dd>{tunnel.api.colos.join(', ') || 'none'}</dd>
            <dt>Checked</dt>
            <dd>{formatTime(tunnel.api.checkedAt)}</dd>
          </dl>
        </>
      ) : null}
    </Panel>
  );
}
