import type { HostStatus } from '../../../electron/contract/status';
import { formatBytes, formatDuration, formatNumber } from './format';
import { Panel } from './Panel';

/** The server itself: CPU, memory, free space per data path, GPUs. */
export function HostPanel({ host }: { host: HostStatus }) {
  return (
    <Panel title="Host">
      <dl className="facts">
        <dt>CPU</dt>
        <dd>
          {formatNumber(host.cpuPercent, '%')} of {host.cpus} {host.cpus === 1 ? 'core' : 'cores'}
          {host.load.length ? ` · load ${host.load.map((l) => l.toFixed(2)).join(' ')}` : ''}
        </dd>
        <dt>Memory</dt>
        <dd>
          {formatNumber(host.memoryUsedPercent, '%')} used · {formatBytes(host.memoryAvailableBytes)} free of {formatBytes(host.memoryTotalBytes)}
        </dd>
        <dt>Up for</dt>
        <dd>{formatDuration(host.uptimeSeconds)}</dd>
      </dl>
      {host.disks.length ? (
        <table className="table" aria-label="Free space">
          <thead>
            <tr>
              <th scope="col">Data</th>
              <th scope="col">Path</th>
              <th scope="col">Free</th>
              <th scope="col">Size</th>
              <th scope="col">Used</th>
            </tr>
          </thead>
          <tbody>
            {host.disks.map((d) => (
              <tr key={d.path}>
                <th scope="row">{d.label}</th>
                <td>
                  <code>{d.path}</code>
                </td>
                <td>{d.present ? formatBytes(d.availableBytes) : 'missing'}</td>
                <td>{formatBytes(d.sizeBytes)}</td>
                <td>{formatNumber(d.usedPercent, '%', 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {host.gpus.length ? (
        <table className="table" aria-label="GPUs">
          <thead>
            <tr>
              <th scope="col">GPU</th>
              <th scope="col">Load</th>
              <th scope="col">Encoder</th>
              <th scope="col">Decoder</th>
              <th scope="col">Encode sessions</th>
              <th scope="col">Memory</th>
            </tr>
          </thead>
          <tbody>
            {host.gpus.map((g) => (
              <tr key={`${g.vendor}-${g.index}`}>
                <th scope="row">
                  {g.name} <span className="hint">({g.vendor})</span>
                </th>
                <td>{formatNumber(g.utilization, '%', 0)}</td>
                <td>{formatNumber(g.encoder, '%', 0)}</td>
                <td>{formatNumber(g.decoder, '%', 0)}</td>
                <td>
                  {g.encoderSessions ?? '—'}
                  {g.encoderFps !== null ? ` at ${formatNumber(g.encoderFps, 'fps')}` : ''}
                </td>
                <td>
                  {g.memoryUsedMb ?? '—'} / {g.memoryTotalMb ?? '—'} MB
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">No GPU reported.</p>
      )}
    </Panel>
  );
}
