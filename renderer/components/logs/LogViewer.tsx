import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { ErrorNotice } from '../common/ErrorNotice';
import { fromLocalInput, localTime, MAX_VIEW_LINES, sincePresets } from './log-buffer';
import { useLogStream, type LogQuery, type StreamState } from './use-log-stream';

const endWords: Record<Extract<StreamState, { kind: 'ended' }>['reason'], string> = {
  finished: 'All lines of the range are shown.',
  closed: 'Stopped.',
  replaced: 'Closed to make room for another log view.',
  failed: 'Reading the logs failed.',
  disconnected: 'The connection to the server closed.',
};

function StreamStatus({ state, count, dropped, follow }: { state: StreamState; count: number; dropped: number; follow: boolean }) {
  const lines = `${count} ${count === 1 ? 'line' : 'lines'}${dropped ? ` (the oldest ${dropped} no longer shown; the view keeps ${MAX_VIEW_LINES})` : ''}`;
  switch (state.kind) {
    case 'opening':
      return <span>Reading the logs on the server…</span>;
    case 'open':
      return <span>{follow ? `Following — ${lines}; new lines appear as they come.` : `Reading — ${lines}.`}</span>;
    case 'ended':
      return (
        <span>
          {lines}. {state.message ?? endWords[state.reason]}
        </span>
      );
    case 'failed':
      return <span>Could not read the logs.</span>;
    default: {
      const never: never = state;
      return never;
    }
  }
}

/** One service's log with its toolbar: search, a time range, follow and how many lines to start with. */
export function LogViewer({ profileId, service, epoch = 0 }: { profileId: string; service: string; /** Changes after a restart, stop or start: the stream opens again. */ epoch?: number }) {
  const [follow, setFollow] = useState(true);
  const [preset, setPreset] = useState<string>('');
  const [fromLocal, setFromLocal] = useState('');
  const [toLocal, setToLocal] = useState('');
  const [searchText, setSearchText] = useState('');
  const [search, setSearch] = useState('');
  const [tail, setTail] = useState(500);
  const [generation, setGeneration] = useState(0);
  // The search is sent once typing pauses, so each key does not open a new stream on the server.
  useEffect(() => {
    const t = setTimeout(() => setSearch(searchText), 350);
    return () => clearTimeout(t);
  }, [searchText]);
  const since = preset === 'custom' ? fromLocalInput(fromLocal) : preset || undefined;
  const until = follow ? undefined : fromLocalInput(toLocal);
  const q: LogQuery = { follow, since, until, search, tail };
  const { buffer, state } = useLogStream(profileId, service, q, generation * 1_000 + epoch);
  const listRef = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && follow && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [buffer, follow]);
  return (
    <section className="card" aria-label={`Logs of ${service}`}>
      <form className="log-toolbar" role="search" aria-label="Filter the log" onSubmit={(e) => (e.preventDefault(), setSearch(searchText))}>
        <label>
          Search
          <input type="search" value={searchText} maxLength={200} onChange={(e) => setSearchText(e.target.value)} placeholder="Text in a line" />
        </label>
        <label>
          From
          <select value={preset} onChange={(e) => setPreset(e.target.value)}>
            {sincePresets.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {preset === 'custom' ? (
          <label>
            From time
            <input type="datetime-local" step={1} value={fromLocal} onChange={(e) => setFromLocal(e.target.value)} />
          </label>
        ) : null}
        <label>
          To
          <input type="datetime-local" step={1} value={toLocal} disabled={follow} onChange={(e) => setToLocal(e.target.value)} aria-describedby="log-to-note" />
        </label>
        <label>
          Lines
          <select value={tail} onChange={(e) => setTail(Number(e.target.value))}>
            {[100, 500, 2000, 5000].map((n) => (
              <option key={n} value={n}>
                last {n}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <button type="button" className="secondary" onClick={() => setGeneration((g) => g + 1)}>
          Reload
        </button>
        <span id="log-to-note" className="muted small">
          {follow ? 'Turn Follow off to read up to a time.' : 'Leave To empty for up to now.'}
        </span>
      </form>
      <p role="status" aria-label="Log stream" className="muted">
        <StreamStatus state={state} count={buffer.lines.length} dropped={buffer.dropped} follow={follow} />
        {state.kind === 'ended' && state.reason === 'finished' && follow ? ' The container stopped, so its log ends here; it follows again after a start or Reload.' : null}
      </p>
      {state.kind === 'failed' ? <ErrorNotice error={state.error} /> : null}
      {state.kind === 'ended' && (state.reason === 'failed' || state.reason === 'disconnected') ? (
        <p>
          <button type="button" className="secondary" onClick={() => setGeneration((g) => g + 1)}>
            Open the logs again
          </button>
        </p>
      ) : null}
      <ol
        ref={listRef}
        className="log-lines"
        aria-label={`Log lines of ${service}`}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {buffer.lines.map((l) => (
          <li key={l.seq} className={l.stream === 'stderr' ? 'log-line log-stderr' : 'log-line'}>
            {l.ts ? <time dateTime={l.ts}>{localTime(l.ts)}</time> : null}
            <span className="log-text">{l.text}</span>
          </li>
        ))}
      </ol>
      {buffer.lines.length === 0 && (state.kind === 'ended' || state.kind === 'open') ? (
        <p className="muted">{search ? `No line contains “${search}”.` : 'No lines in this range yet.'}</p>
      ) : null}
    </section>
  );
}
