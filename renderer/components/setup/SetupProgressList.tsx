import { useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import { setupStepTitles, type SetupProgress } from '../../../electron/contract/setup';
import { ErrorNotice } from '../common/ErrorNotice';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';

const statusWords = { done: 'Done', stale: 'Stale', todo: 'To do' } as const;

/**
 * What each step of one server's setup came to, as main kept it: finished steps with when and their result, a stale
 * one with why and a way to run it again, and what is left.
 */
export function SetupProgressList({ progress, connected }: { progress: SetupProgress; connected: boolean }) {
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const runPreflightAgain = async () => {
    setBusy(true);
    setError(undefined);
    try {
      // Main says setup:changed once it is kept; the list follows from there.
      await call('preflight:run', { profileId: progress.profileId, dataPaths: progress.preflightDataPaths });
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ul className="step-results" aria-label="Setup progress">
        {progress.steps.map((s) => (
          <li key={s.id} data-status={s.status} data-current={s.id === progress.current ? 'true' : undefined}>
            <strong>{setupStepTitles[s.id]}</strong> <span className="step-status">{s.status === 'done' ? '✓ ' : ''}{statusWords[s.status]}</span>
            {s.at ? (
              <>
                {' · '}
                <time dateTime={s.at}>{new Date(s.at).toLocaleString()}</time>
              </>
            ) : null}
            {' — '}
            <span className="step-result">{s.result}</span>
            {s.status === 'stale' && s.id === 'preflight' ? (
              <>
                {' '}
                <button type="button" className="secondary" onClick={() => void runPreflightAgain()} disabled={busy || !connected || progress.preflightDataPaths.length === 0}>
                  {busy ? 'Running preflight…' : 'Run again'}
                </button>
                {!connected ? <span className="muted"> (connect to the server first)</span> : null}
              </>
            ) : null}
          </li>
        ))}
      </ul>
      {error ? <ErrorNotice error={error} /> : null}
    </>
  );
}
