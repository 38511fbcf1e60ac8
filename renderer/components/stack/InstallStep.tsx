import { useCallback, useEffect, useId, useRef, useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { ApplyOutcome, ApplyPhase, ApplyResult, ServiceHealth, StackProgress } from '../../../electron/contract/stack';
import { asShape } from '../../hooks/use-call';
import { useEvent } from '../../hooks/use-event';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { PullProgress, type PullState } from './PullProgress';
import { RollbackReport } from './RollbackReport';
import { ServiceHealthList, TranscodingNote } from './ServiceHealthList';

const PHASES: Record<ApplyPhase, string> = {
  prepare: 'Preparing the release',
  upload: 'Uploading the files',
  validate: 'Checking the files on the server',
  pull: 'Pulling images',
  start: 'Starting services',
  health: 'Waiting for the health checks',
  switch: 'Switching to the new release',
  configure: 'Configuring the services',
  rollback: 'Rolling back',
  done: 'Finished',
};

interface Live {
  applyId: string | undefined;
  phase: { phase: ApplyPhase; message: string } | undefined;
  pulls: PullState[];
  services: ServiceHealth[];
  warnings: string[];
}
// Bars appear as main reports images: only the images an apply needs are pulled or checked, so none is seeded from the plan.
const empty = (): Live => ({ applyId: undefined, phase: undefined, pulls: [], services: [], warnings: [] });

const upsert = <T,>(list: readonly T[], item: T, same: (a: T) => boolean): T[] => (list.some(same) ? list.map((x) => (same(x) ? item : x)) : [...list, item]);

/** Folds one pushed progress event into what the step shows. */
const fold = (live: Live, p: StackProgress): Live => {
  // One apply at a time per server: events of an apply started elsewhere (another window) are not mixed in.
  if (live.applyId !== undefined && p.applyId !== live.applyId) return live;
  const next = { ...live, applyId: p.applyId };
  switch (p.kind) {
    case 'phase':
      return { ...next, phase: { phase: p.phase, message: p.message } };
    case 'pull':
      return { ...next, pulls: upsert(next.pulls, { image: p.image, status: p.status, percent: p.percent, detail: p.detail }, (x) => x.image === p.image) };
    case 'service':
      return { ...next, services: upsert(next.services, p.health, (x) => x.service === p.health.service) };
    case 'warning':
      return next.warnings.includes(p.message) ? next : { ...next, warnings: [...next.warnings, p.message] };
    default: {
      const never: never = p;
      return never;
    }
  }
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The result of an apply that reached healthy: the release, how long it took, and each service's health. */
function Applied({ result }: { result: Extract<ApplyResult, { kind: 'applied' }> }) {
  const titleId = useId();
  const changed = result.services.filter((s) => s.action !== 'unchanged');
  const services = new Set(result.health.map((h) => h.service)).size;
  return (
    <section aria-labelledby={titleId} className="card applied">
      {result.nothingToChange ? (
        <>
          <h3 id={titleId}>Nothing to change: release {result.releaseId} is live</h3>
          <p>
            Nothing to change; all {services} {services === 1 ? 'service' : 'services'} healthy (checked in {seconds(result.durationMs)}). The server already runs
            exactly this release, so nothing was uploaded, started or restarted.
          </p>
        </>
      ) : (
        <>
          <h3 id={titleId}>Installed release {result.releaseId}</h3>
          <p>
            Every service is up, in {seconds(result.durationMs)}.{' '}
            {changed.length === 0 ? 'No service needed to restart.' : `${changed.length} ${changed.length === 1 ? 'service was' : 'services were'} created, recreated or removed.`}
          </p>
        </>
      )}
      <ServiceHealthList label="Service health after install" services={result.health} />
      <TranscodingNote check={result.transcoding} />
      {result.warnings.length > 0 ? (
        <ul className="warnings" aria-label="Install warnings">
          {result.warnings.map((w) => (
            <li key={w}>⚠ {w}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

const clock = (iso: string): string => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** An install's kept outcome, as main recorded it: what the page shows for an install it did not see end. */
export function KeptOutcome({ outcome }: { outcome: Exclude<ApplyOutcome, { kind: 'running' }> }) {
  switch (outcome.kind) {
    case 'finished':
      return outcome.result.kind === 'applied' ? (
        <Applied result={outcome.result} />
      ) : (
        <RollbackReport report={outcome.result.report} attemptedRelease={outcome.result.attemptedRelease} warnings={outcome.result.warnings} />
      );
    case 'failed':
      return <ErrorNotice error={outcome.error} />;
    case 'interrupted':
      return (
        <div role="alert" aria-label="Install interrupted" className="notice notice-error">
          <strong>{outcome.message}</strong>
          <p>
            The install started at {clock(outcome.startedAt)}; {outcome.cause === 'connection' ? 'the connection to the server' : 'M2 Companion'} went away
            before it ended. The Dashboard shows what runs now.
          </p>
        </div>
      );
    default: {
      const never: never = outcome;
      return never;
    }
  }
}

/**
 * The Install step: one button; while main applies, a bar per image and a row per service, updated
 * from `stack:progress` for this server; then the result, or the rollback report.
 */
export function InstallStep(props: {
  profileId: string;
  /** The last install as main kept it (undefined until known): shown when this page did not see it end. */
  kept?: ApplyOutcome | null | undefined;
  onStart?: () => void;
  onDone?: (r: ApplyResult) => void;
  onError?: (e: ErrorShape) => void;
}) {
  const { profileId, kept, onStart, onDone, onError } = props;
  const [live, setLive] = useState<Live>(empty);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const runningRef = useRef(false);
  const resultRef = useRef<HTMLDivElement>(null);
  /** An install main runs that this page did not start (it was reloaded, or started in another window). */
  const elsewhere = !running && kept?.kind === 'running';
  const followRef = useRef(false);
  useEffect(() => {
    followRef.current = elsewhere;
  }, [elsewhere]);

  useEvent(
    'stack:progress',
    useCallback(
      (p: StackProgress) => {
        if (p.profileId !== profileId || !(runningRef.current || followRef.current)) return;
        setLive((l) => fold(l, p));
      },
      [profileId],
    ),
  );

  const install = async () => {
    runningRef.current = true;
    setRunning(true);
    setResult(undefined);
    setError(undefined);
    setLive(empty());
    onStart?.();
    try {
      const r = await call('stack:apply', { profileId });
      setResult(r);
      onDone?.(r);
    } catch (err) {
      const shape = asShape(err);
      setError(shape);
      onError?.(shape);
    } finally {
      runningRef.current = false;
      setRunning(false);
      // The outcome can be far below the button on a long page: move focus (and the view) there.
      requestAnimationFrame(() => resultRef.current?.focus());
    }
  };

  const started = running || elsewhere || result !== undefined || live.phase !== undefined;
  const keptEnd = kept && kept.kind !== 'running' ? kept : undefined;
  // The kept outcome is the truth for an install this page did not see end: a reload, another window, a cut
  // connection, or the app itself restarting meanwhile (this page then only saw its link to the app drop).
  const showKept =
    !running && keptEnd !== undefined && ((result === undefined && error === undefined) || keptEnd.applyId === live.applyId || error?.code === 'ipc.disconnected');
  const phaseText = live.phase ? `${PHASES[live.phase.phase]}${live.phase.message ? ` — ${live.phase.message}` : ''}` : undefined;
  return (
    <div className="install">
      <button type="button" onClick={() => void install()} disabled={running || elsewhere}>
        {running || elsewhere ? 'Installing…' : 'Install'}
      </button>
      <p role="status" aria-label="Install phase" className="phase">
        {running
          ? (phaseText ?? 'Starting…')
          : elsewhere
            ? `An install started at ${kept?.kind === 'running' ? clock(kept.startedAt) : ''} is running${phaseText ? `: ${phaseText}` : ''}. Its outcome shows here when it ends.`
            : ''}
      </p>
      {started ? (
        <>
          <PullProgress pulls={live.pulls} />
          {running || elsewhere || (result?.kind !== 'applied' && live.services.length > 0) ? <ServiceHealthList label="Service health" services={live.services} /> : null}
          {running && live.warnings.length > 0 ? (
            <ul className="warnings" aria-label="Warnings so far">
              {live.warnings.map((w) => (
                <li key={w}>⚠ {w}</li>
              ))}
            </ul>
          ) : null}
        </>
      ) : null}
      <div ref={resultRef} tabIndex={-1} className="install-outcome">
        {showKept ? (
          <KeptOutcome outcome={keptEnd} />
        ) : (
          <>
            {error ? <ErrorNotice error={error} /> : null}
            {result?.kind === 'applied' ? <Applied result={result} /> : null}
            {result?.kind === 'rolled-back' ? <RollbackReport report={result.report} attemptedRelease={result.attemptedRelease} warnings={result.warnings} /> : null}
          </>
        )}
      </div>
    </div>
  );
}
