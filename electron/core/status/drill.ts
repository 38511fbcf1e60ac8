/**
 * The restore drill in live status: the `drill.json` the drill script leaves on the server (scheduled or run from
 * the app), read by the status agent, folded into the Backups card. A backup that has never been restored is not
 * called good: the card warns when no drill passed within DRILL_WARN_AFTER_DAYS (a weekly drill and a day's slack)
 * and is an error when the last drill failed — a failed drill notifies once, through the card's transition.
 */
import type { BackupStatus, DrillStatus, Severity } from '../../contract/status';
import { severityRank } from '../../contract/status';
import { parseDrillFile, toDrillResult } from '../backups/drill-result';
import { DRILL_WARN_AFTER_DAYS } from '../backups/drill-script';

/** null: the agent has not said yet (or runs without a drill file); the rest from its `drill` line. */
export type DrillState = null | 'missing' | 'invalid' | { readonly at: string; readonly passed: boolean; readonly reason: string | null; readonly lastPassedAt: string | null; readonly trigger: 'app' | 'schedule' };

/** The agent's `drill` line → the state (a file that is not the script's is "invalid", never trusted). */
export function drillStateOf(present: boolean, text: string): DrillState {
  if (!present) return 'missing';
  const f = parseDrillFile(text);
  if (!f) return 'invalid';
  const r = toDrillResult(f);
  return { at: r.at, passed: r.passed, reason: r.reason === null ? null : r.reason.slice(0, 600), lastPassedAt: f.lastPassedAt, trigger: f.trigger };
}

const DAY_MS = 86_400_000;

/** Whole days between `at` and now (0 today), or null when `at` is no time. */
export function daysSince(at: string | null, now: Date): number | null {
  const t = at ? Date.parse(at) : NaN;
  return Number.isFinite(t) ? Math.max(0, Math.floor((now.getTime() - t) / DAY_MS)) : null;
}

export const agoText = (days: number): string => (days === 0 ? 'today' : days === 1 ? '1 day ago' : `${days} days ago`);

/** The drill's own verdict: its severity, its words, and what the Backups panel shows. */
export function evaluateDrill(state: DrillState, now: Date, warnAfterDays = DRILL_WARN_AFTER_DAYS): { severity: Severity; reason: string; drill: DrillStatus } {
  const base: DrillStatus = { state: 'unknown', lastAt: null, lastPassedAt: null, passedDaysAgo: null, reason: null, trigger: null, warnAfterDays };
  if (state === null) return { severity: 'unknown', reason: '', drill: base };
  if (state === 'missing') {
    return { severity: 'warning', reason: 'No restore drill has passed yet: a backup that has never been restored is not called good.', drill: { ...base, state: 'none' } };
  }
  if (state === 'invalid') return { severity: 'warning', reason: 'The restore drill’s result on the server cannot be read: run a drill from the Backups page.', drill: { ...base, state: 'unreadable' } };
  const lastPassedAt = state.passed ? state.at : state.lastPassedAt;
  const days = daysSince(lastPassedAt, now);
  const drill: DrillStatus = { ...base, state: state.passed ? 'passed' : 'failed', lastAt: state.at, lastPassedAt, passedDaysAgo: days, reason: state.reason, trigger: state.trigger };
  const passedWords = days === null ? 'No restore drill has passed yet.' : `The last drill that passed was ${agoText(days)}.`;
  if (!state.passed) {
    return { severity: 'error', reason: `The last restore drill failed (${state.at.slice(0, 16).replace('T', ' ')} UTC): ${state.reason ?? 'no reason given'} ${passedWords}`, drill };
  }
  if (days === null || days >= warnAfterDays) {
    return { severity: 'warning', reason: `The last restore drill passed ${days === null ? 'at an unknown time' : agoText(days)}: none in the last ${warnAfterDays} days.`, drill };
  }
  return { severity: 'ok', reason: `last drill passed ${agoText(days)}.`, drill };
}

/**
 * The Backups card with the drill in it. The backup's own trouble speaks first; the drill is judged only once a
 * backup exists (before that, "no backup yet" says it all) and only once the agent said something about it.
 */
export function withDrill(backup: BackupStatus, state: DrillState, now: Date, warnAfterDays = DRILL_WARN_AFTER_DAYS): BackupStatus {
  const v = evaluateDrill(state, now, warnAfterDays);
  const out: BackupStatus = { ...backup, drill: v.drill };
  if (v.severity === 'unknown' || !backup.lastGood || backup.severity === 'unknown') return out;
  if (v.severity === 'ok') {
    return backup.severity === 'ok' ? { ...out, reason: `${backup.reason.replace(/\.$/, '')}; ${v.reason}` } : out;
  }
  const severity = severityRank[v.severity] > severityRank[backup.severity] ? v.severity : backup.severity;
  // The worse one first; an OK backup's words come after the drill's.
  const reason = backup.severity === 'ok' || severityRank[v.severity] > severityRank[backup.severity] ? `${v.reason} ${backup.reason}` : `${backup.reason} ${v.reason}`;
  return { ...out, severity, reason };
}
