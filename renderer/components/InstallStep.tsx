import { useCallback, useId, useRef, useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ApplyPhase, ApplyResult, ServiceHealth, StackProgress } from '../../electron/contract/stack';
import { asShape, useEvent } from '../hooks/use-call';
import { call } from '../m2';
import { ErrorNotice } from './ErrorNotice';
import { PullProgress, type PullState } from './PullProgress';
import { RollbackReport } from './RollbackReport';
import { ServiceHealthList } from './ServiceHealthList';

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
  return (
    <section aria-labelledby={titleId} className="card applied">
      <h3 id={titleId}>Installed release {result.releaseId}</h3>
      <p>
        Every service is up, in {seconds(result.durationMs)}.{' '}
        {changed.length === 0 ? 'No service needed to restart.' : `${changed.length} ${changed.length === 1 ? 'service was' : 'services were'} created, recreated or removed.`}
      </p>
      <ServiceHealthList label="Service health after install" services={result.health} />
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

/**
 * The Install step: one button; while main applies, a bar per image and a row per service, updated
 * from `stack:progress` for this server; then the result, or the rollback report.
 */
export function InstallStep(props: { profileId: string; onStart?: () => void; onDone?: (r: ApplyResult) => void; onError?: (e: ErrorShape) => void }) {
  const { profileId, onStart, onDone, onError } = props;
  const [live, setLive] = useState<Live>(empty);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const runningRef = useRef(false);
  const resultRef = useRef<HTMLDivElement>(null);

  useEvent(
    'stack:progress',
    useCallback(
      (p: StackProgress) => {
        if (p.profileId !== profileId || !runningRef.current) return;
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

  const started = running || result !== undefined || live.phase !== undefined;
  return (
    <div className="install">
      <button type="button" onClick={() => void install()} disabled={running}>
        {running ? 'Installing…' : 'Install'}
      </button>
      <p role="status" aria-label="Install phase" className="phase">
        {running ? (live.phase ? `${PHASES[live.phase.phase]}${live.phase.message ? ` — ${live.phase.message}` : ''}` : 'Starting…') : ''}
      </p>
      {started ? (
        <>
          <PullProgress pulls={live.pulls} />
          {running || (result?.kind !== 'applied' && live.services.length > 0) ? <ServiceHealthList label="Service health" services={live.services} /> : null}
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
        {error ? <ErrorNotice error={error} /> : null}
        {result?.kind === 'applied' ? <Applied result={result} /> : null}
        {result?.kind === 'rolled-back' ? <RollbackReport report={result.report} attemptedRelease={result.attemptedRelease} warnings={result.warnings} /> : null}
      </div>
    </div>
  );
}
