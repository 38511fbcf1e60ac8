import type { TranscodesStatus } from '../../../electron/contract/status';
import { formatNumber, streamKindText } from './format';
import { Panel } from './Panel';
import { Badge } from './SeverityBadge';

const kindTone = { hardware: 'pass', software: 'warn', direct: 'info' } as const;
const kindIcon = { hardware: '⚡', software: '⚙', direct: '▶' } as const;

/** Who is watching, and whether the GPU, the CPU, or nobody transcodes each stream. */
export function TranscodesPanel({ transcodes }: { transcodes: TranscodesStatus }) {
  const { counts } = transcodes;
  return (
    <Panel title="Transcodes">
      {!transcodes.available ? <p>{transcodes.reason}</p> : null}
      {transcodes.available && transcodes.streams.length === 0 ? <p className="muted">Nobody is watching right now.</p> : null}
      {transcodes.streams.length ? (
        <>
          <p>
            {counts.hardware} hardware, {counts.software} software, {counts.direct} direct.
          </p>
          <table className="table" aria-label="Streams">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Title</th>
                <th scope="col">Kind</th>
                <th scope="col">Codec</th>
                <th scope="col">FPS</th>
                <th scope="col">Reasons</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {transcodes.streams.map((s) => (
                <tr key={s.id}>
                  <th scope="row">{s.user}</th>
                  <td>
                    {s.title}
                    <div className="hint">
                      {s.client} on {s.device}
                      {s.paused ? ' · paused' : ''}
                    </div>
                  </td>
                  <td>
                    <Badge look={{ text: streamKindText(s.kind), icon: kindIcon[s.kind], tone: kindTone[s.kind] }} />
                    <div className="hint">{s.detail}</div>
                  </td>
                  <td>{[s.videoCodec, s.audioCodec].filter(Boolean).join(' / ') || '—'}</td>
                  <td>{formatNumber(s.fps)}</td>
                  <td>{s.reasons.length ? s.reasons.join(', ') : '—'}</td>
                  <td>
                    {s.progress === null ? (
                      '—'
                    ) : (
                      <>
                        <progress max={100} value={s.progress} aria-label={`Progress of ${s.title} for ${s.user}`} /> {formatNumber(s.progress, '%', 0)}
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </Panel>
  );
}
