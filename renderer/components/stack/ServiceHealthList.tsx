import { transcodingLabel, type ServiceHealth, type TranscodingCheck } from '../../../electron/contract/stack';

/** Docker's health in words and a badge class; '' means the service declares no health check. */
export const healthLabel = (h: string): { text: string; tone: 'pass' | 'warn' | 'fail' | 'info' } => {
  switch (h) {
    case 'healthy':
      return { text: 'Healthy', tone: 'pass' };
    case 'starting':
      return { text: 'Starting', tone: 'warn' };
    case 'unhealthy':
      return { text: 'Unhealthy', tone: 'fail' };
    case '':
      return { text: 'No health check', tone: 'info' };
    default:
      return { text: h, tone: 'info' };
  }
};

const stateTone = (s: string): 'pass' | 'warn' | 'fail' | 'info' =>
  s === 'running' ? 'pass' : s === 'exited' || s === 'dead' ? 'fail' : s === 'restarting' || s === 'created' ? 'warn' : 'info';

/** One row per service: state, health and image, as Docker reports them. */
export function ServiceHealthList({ label, services }: { label: string; services: readonly ServiceHealth[] }) {
  if (services.length === 0) return <p className="muted">No services reported yet.</p>;
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Service</th>
          <th scope="col">State</th>
          <th scope="col">Health</th>
          <th scope="col">Image</th>
        </tr>
      </thead>
      <tbody>
        {services.map((s) => {
          const h = healthLabel(s.health);
          return (
            <tr key={s.service}>
              <th scope="row">{s.service}</th>
              <td>
                <span className={`badge badge-${stateTone(s.state)}`}>{s.state || 'unknown'}</span>
              </td>
              <td>
                <span className={`badge badge-${h.tone}`}>{h.text}</span>
              </td>
              <td>
                <code>{s.image ?? '—'}</code>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const verdictTone: Record<TranscodingCheck['verdict'], 'pass' | 'warn' | 'info'> = { 'hardware-encoding': 'pass', 'decoding-only': 'warn', software: 'info' };

/** What Jellyfin transcodes with, as the test encode after install decided it, with the reason and FFmpeg's words. */
export function TranscodingNote({ check }: { check: TranscodingCheck | undefined }) {
  if (!check) return null;
  return (
    <p className="transcoding" role="status" aria-label="Jellyfin transcoding">
      Jellyfin transcoding: <span className={`badge badge-${verdictTone[check.verdict]}`}>{transcodingLabel[check.verdict]}</span> — {check.reason}
      {check.detail ? (
        <>
          {' '}
          FFmpeg said: <code>{check.detail}</code>
        </>
      ) : null}
    </p>
  );
}
