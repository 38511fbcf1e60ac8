import { memo, useId } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { HistorySeriesName } from '../../../electron/contract/status';
import { chartRows, hasData, HOUR_MS, latest, type ChartHistory } from '../../hooks/status-state';
import { formatNumber } from './format';

interface LineSpec {
  readonly key: HistorySeriesName;
  readonly name: string;
  readonly unit: string;
  readonly color: string;
  /** Dashed lines tell series apart without colour. */
  readonly dash?: string;
}

interface ChartSpec {
  readonly title: string;
  readonly lines: readonly LineSpec[];
  readonly percent?: boolean;
}

export const charts: readonly ChartSpec[] = [
  {
    title: 'Tunnel requests and errors per second',
    lines: [
      { key: 'tunnelRequestsPerSecond', name: 'Requests', unit: 'per second', color: '#2f5bd3' },
      { key: 'tunnelErrorsPerSecond', name: 'Errors', unit: 'per second', color: '#c62828', dash: '5 3' },
    ],
  },
  { title: 'Transcode frames per second', lines: [{ key: 'transcodeFps', name: 'All transcodes', unit: 'fps', color: '#2e7d32' }] },
  {
    title: 'GPU encoder and decoder load',
    percent: true,
    lines: [
      { key: 'gpuEncoder', name: 'Encoder', unit: '%', color: '#ef6c00' },
      { key: 'gpuDecoder', name: 'Decoder', unit: '%', color: '#6a1b9a', dash: '5 3' },
    ],
  },
];

const clock = (t: number): string => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function Chart({ spec, history, now }: { spec: ChartSpec; history: ChartHistory; now: number }) {
  const id = useId();
  const rows = chartRows(history.series, spec.lines.map((l) => l.key));
  const summary = spec.lines
    .map((l) => {
      const v = latest(history.series[l.key]);
      return `${l.name}: ${v === null ? 'no reading' : formatNumber(v, l.unit, 2)}`;
    })
    .join('; ');
  const empty = spec.lines.every((l) => !hasData(history.series[l.key]));
  // A line of one or two points is too short to see on an hour's axis: mark the points themselves.
  const dot = rows.length <= 2 ? { r: 3 } : false;
  return (
    <figure className="chart" aria-labelledby={`${id}-title`} aria-describedby={`${id}-summary`}>
      <figcaption id={`${id}-title`}>{spec.title}, last hour</figcaption>
      <p id={`${id}-summary`} className="chart-summary">
        {empty ? 'No data yet.' : `Latest — ${summary}.`}
      </p>
      {/* The chart repeats the summary for sighted readers; assistive tech gets the text above. */}
      <div aria-hidden="true">
        <ResponsiveContainer width="100%" height={160} initialDimension={{ width: 600, height: 160 }}>
          <LineChart data={rows} margin={{ top: 4, right: 12, bottom: 0, left: 0 }} accessibilityLayer={false}>
            <CartesianGrid strokeDasharray="3 3" stroke="#8884" />
            <XAxis dataKey="t" type="number" scale="time" domain={[now - HOUR_MS, now]} ticks={[60, 45, 30, 15, 0].map((m) => now - m * 60_000)} tickFormatter={clock} tick={{ fontSize: 11 }} />
            <YAxis width={40} tick={{ fontSize: 11 }} {...(spec.percent ? { domain: [0, 100] } : { allowDecimals: true })} />
            <Tooltip labelFormatter={(t) => clock(Number(t))} isAnimationActive={false} />
            <Legend />
            {spec.lines.map((l) => (
              <Line
                key={l.key}
                dataKey={l.key}
                name={l.name}
                stroke={l.color}
                strokeWidth={2}
                {...(l.dash ? { strokeDasharray: l.dash } : {})}
                dot={dot}
                type="monotone"
                connectNulls={false}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

/**
 * The last hour as charts, each with a title and a text summary of its latest values. Memoized: it draws again
 * only when a series changes or `now` moves to the next step, not on every snapshot.
 */
export const StatusCharts = memo(function StatusCharts({ history, now }: { history: ChartHistory; now: number }) {
  return (
    <div className="charts">
      {charts.map((c) => (
        <Chart key={c.title} spec={c} history={history} now={now} />
      ))}
    </div>
  );
});
