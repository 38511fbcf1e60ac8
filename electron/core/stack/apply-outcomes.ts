/**
 * How each server's last install ended, kept in the app's data folder (`<dataDir>/operations/<profile>.json`), so the
 * page can say it after a cut connection, a reload, a closed window or a restart of the app. No secrets live here.
 */
import { z } from 'zod';
import { ApplyOutcome, TranscodingCheck, type ApplyPhase, type ApplyResult } from '../../contract/stack';
import { AppError, toErrorShape } from '../errors';
import { ProfileJsonStore } from '../fs/json-store';

export const OutcomeFile = z.object({
  version: z.literal(1),
  install: ApplyOutcome.nullable().default(null),
  /** What the last install that configured Jellyfin found with its test encode: still true after a later rolled-back one. */
  transcoding: TranscodingCheck.optional(),
});

export const createOutcomeStore = (dir: string): ProfileJsonStore<typeof OutcomeFile> =>
  new ProfileJsonStore({ dir, schema: OutcomeFile, empty: () => OutcomeFile.parse({ version: 1 }), what: 'install outcomes' });

/** From this phase on, the server runs (or ran) the new release, and its guard brings the previous one back if the app goes away. */
const releaseStartedIn: ReadonlySet<ApplyPhase> = new Set<ApplyPhase>(['start', 'health', 'switch', 'rollback']);

/** The phase to keep for a running install: the one that says whether the release had started on the server. */
export const releaseStarted = (phase: ApplyPhase): boolean => releaseStartedIn.has(phase);

/** What the admin reads when an install did not finish because the connection or the app went away. */
export function interruptedMessage(cause: 'connection' | 'app', started: boolean): string {
  const what = cause === 'connection' ? 'Connection lost' : 'M2 Companion stopped during the install';
  return started
    ? `${what} — the server restored the previous release; run Install again.`
    : `${what} before the new release started — nothing was changed on the server; run Install again.`;
}

interface Running {
  readonly applyId: string;
  readonly startedAt: string;
}

/** The outcome of an install that threw: interrupted when the connection dropped meanwhile, failed with its cause otherwise. */
export function outcomeOfError(run: Running, err: unknown, opts: { connectionLost: boolean; phase: ApplyPhase; now: Date }): ApplyOutcome {
  const finishedAt = opts.now.toISOString();
  const code = err instanceof AppError ? err.code : 'internal';
  if (opts.connectionLost || code === 'ssh.disconnected') {
    const started = releaseStarted(opts.phase);
    return { kind: 'interrupted', ...run, finishedAt, cause: 'connection', releaseStarted: started, message: interruptedMessage('connection', started) };
  }
  return { kind: 'failed', ...run, finishedAt, error: toErrorShape(err) };
}

export const outcomeOfResult = (run: Running, result: ApplyResult, now: Date): ApplyOutcome => ({ kind: 'finished', ...run, finishedAt: now.toISOString(), result });

/**
 * A kept outcome as this app sees it: one still `running` that this app is not running stopped with the app (a quit, a
 * crash, a restart), and the server's guard finished it on its own.
 */
export function asSeenNow(outcome: ApplyOutcome | null, runningHere: boolean, now: Date): ApplyOutcome | null {
  if (!outcome || outcome.kind !== 'running' || runningHere) return outcome;
  const started = releaseStarted(outcome.phase);
  return {
    kind: 'interrupted',
    applyId: outcome.applyId,
    startedAt: outcome.startedAt,
    finishedAt: now.toISOString(),
    cause: 'app',
    releaseStarted: started,
    message: interruptedMessage('app', started),
  };
}
