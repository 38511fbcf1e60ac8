import type { OutageKind, OutageState, ProbeResult } from '../../../electron/contract/fallback';
import { formatTime, type SeverityLook } from './format';
import { Panel } from './Panel';
import { Badge } from './SeverityBadge';

/** The outage state in a word and an icon (never colour alone). */
export function outageLook(k: OutageKind): SeverityLook {
  switch (k) {
    case 'healthy':
      return { text: 'Reachable from the internet', icon: '✓', tone: 'pass' };
    case 'tunnel-broken':
      return { text: 'Tunnel broken', icon: '✕', tone: 'fail' };
    case 'cloudflare-outage':
      return { text: 'Cloudflare outage', icon: '✕', tone: 'fail' };
    case 'home-offline':
      return { text: 'Home offline', icon: '✕', tone: 'fail' };
    case 'unknown':
      return { text: 'Not known yet', icon: '?', tone: 'info' };
    default: {
      const never: never = k;
      return never;
    }
  }
}

const probeText = (p: ProbeResult): string =>
  `${p.httpStatus === null ? 'no answer' : `HTTP ${p.httpStatus}`}${p.cfError ? `, error ${p.cfError}` : ''}${p.colo ? ` at ${p.colo}` : ''}${p.latencyMs === null ? '' : `, ${Math.round(p.latencyMs)} ms`}`;

/**
 * The path from the internet to the server, decided from cloudflared's view, the Cloudflare API, an outside-in
 * probe of each published hostname, and whether the server answers: the state, why, and each angle in words.
 */
export function OutagePanel({ outage }: { outage: OutageState | null }) {
  if (!outage) return null;
  return (
    <Panel title="From the internet">
      <p>
        <Badge look={outageLook(outage.kind)} /> {outage.reason}
      </p>
      <dl className="facts">
        <dt>Since</dt>
        <dd>{formatTime(outage.since)}</dd>
        <dt>Last checked</dt>
        <dd>{formatTime(outage.checkedAt)}</dd>
        <dt>Server answers</dt>
        <dd>{outage.serverReachable === null ? 'not known' : outage.serverReachable ? 'yes' : 'no'}</dd>
      </dl>
      {outage.evidence.length ? (
        <>
          <h3>Evidence</h3>
          <ul aria-label="Outage evidence">
            {outage.evidence.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </>
      ) : null}
      {outage.probes.length ? (
        <table className="table" aria-label="Outside-in probes">
          <thead>
            <tr>
              <th scope="col">Hostname</th>
              <th scope="col">Outcome</th>
              <th scope="col">Answer</th>
            </tr>
          </thead>
          <tbody>
            {outage.probes.map((p) => (
              <tr key={p.hostname}>
                <th scope="row">{p.hostname}</th>
                <td>{p.detail}</td>
                <td>{probeText(p)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Panel>
  );
}
