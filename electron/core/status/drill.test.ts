import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatusSnapshot, type StatusCard } from '../../contract/status';
import { parseAgentLine } from './agent-protocol';
import { evaluateDrill, drillStateOf, withDrill, type DrillState } from './drill';
import { fixtureTarget } from './fixtures/target';
import { NotificationGate, type Clock, type Transition } from './notifications';
import { StatusModel } from './status-model';
import { agentArgs, statusTargetFrom } from './target';
import { StackSettings } from '../../contract/stack';

/**
 * The restore drill in live status: the drill script's result file as the agent passes it on, the Backups card's
 * rule (warn after 8 days without a passing drill, error when the last drill failed), and one notification for a
 * failed drill.
 */
const now = new Date('2026-12-05T12:00:00Z');
const file = (over: Record<string, unknown>): string =>
  JSON.stringify({
    version: 1, trigger: 'schedule', startedAt: '2026-12-05T03:40:00Z', finishedAt: '2026-12-05T03:41:00Z', durationSeconds: 60, passed: true, failed: null,
    snapshotId: 'a'.repeat(64), snapshotTime: '2026-12-05T03:30:00Z', snapshotsCode: 0, checkCode: 0, subset: '5%', listCode: 0, filesExpected: 3, footprintBytes: 16384,
    freeKb: 1048576 * 20, mount: '/', neededBytes: 1073759846, headroomPercent: 10, headroomBytes: 1073741824, restoreCode: 0, filesRestored: 3, dumps: 1, badDumps: 0,
    badDumpNames: null, said: null, lastPassedAt: '2026-12-05T03:41:00Z', ...over,
  });
const passedAt = (iso: string): DrillState => drillStateOf(true, file({ finishedAt: iso, lastPassedAt: iso }));
const damaged = file({ passed: false, failed: 'check', checkCode: 1, said: 'pack dac96e8e: unexpected file size: got 1500179, expected 3000359\nFatal: repository contains errors', finishedAt: '2026-12-05T03:41:00Z', lastPassedAt: '2026-11-28T03:41:00Z' });

describe('the drill’s verdict on the Backups card', () => {
  it('is OK within 8 days of a passing drill, a warning after (or with none ever), an error when the last one failed', () => {
    expect(evaluateDrill(passedAt('2026-12-05T03:41:00Z'), now)).toMatchObject({ severity: 'ok', reason: 'last drill passed today.', drill: { state: 'passed', passedDaysAgo: 0, warnAfterDays: 8, trigger: 'schedule' } });
    expect(evaluateDrill(passedAt('2026-11-28T11:00:00Z'), now)).toMatchObject({ severity: 'ok', reason: 'last drill passed 7 days ago.' });
    expect(evaluateDrill(passedAt('2026-11-27T11:00:00Z'), now)).toMatchObject({ severity: 'warning', reason: 'The last restore drill passed 8 days ago: none in the last 8 days.' });
    expect(evaluateDrill('missing', now)).toMatchObject({ severity: 'warning', reason: 'No restore drill has passed yet: a backup that has never been restored is not called good.', drill: { state: 'none' } });
    expect(evaluateDrill('invalid', now)).toMatchObject({ severity: 'warning', drill: { state: 'unreadable' } });
    const failed = evaluateDrill(drillStateOf(true, damaged), now);
    expect(failed.severity).toBe('error');
    expect(failed.reason).toBe(
      'The last restore drill failed (2026-12-05 03:41 UTC): Repository check: restic check found errors: pack dac96e8e: unexpected file size: got 1500179, expected 3000359 Fatal: repository contains errors The last drill that passed was 7 days ago.',
    );
    expect(failed.drill).toMatchObject({ state: 'failed', lastPassedAt: '2026-11-28T03:41:00Z', passedDaysAgo: 7 });
    // Not read yet: no verdict at all (the agent says within its first lines).
    expect(evaluateDrill(null, now).severity).toBe('unknown');
  });

  it('folds into the backup’s own verdict: the backup’s trouble first, the drill judged only once a backup exists', () => {
    const ok = { severity: 'ok' as const, reason: 'Last good backup 8 h ago.', running: false, lastRun: null, lastGood: { at: '2026-12-05T03:31:00Z', ageHours: 8, snapshotId: null, totalBytes: null, durationSeconds: null }, nextRun: null, maxAgeHours: 26 };
    expect(withDrill(ok, passedAt('2026-12-04T03:41:00Z'), now)).toMatchObject({ severity: 'ok', reason: 'Last good backup 8 h ago; last drill passed 1 day ago.' });
    expect(withDrill(ok, 'missing', now)).toMatchObject({ severity: 'warning', reason: 'No restore drill has passed yet: a backup that has never been restored is not called good. Last good backup 8 h ago.' });
    expect(withDrill(ok, drillStateOf(true, damaged), now).severity).toBe('error');
    const old = { ...ok, severity: 'warning' as const, reason: 'The last good backup is 3 days old (more than 26 h).' };
    expect(withDrill(old, 'missing', now)).toMatchObject({ severity: 'warning', reason: 'The last good backup is 3 days old (more than 26 h). No restore drill has passed yet: a backup that has never been restored is not called good.' });
    const none = { ...ok, severity: 'error' as const, reason: 'No backup has completed yet.', lastGood: null };
    expect(withDrill(none, 'missing', now)).toMatchObject({ severity: 'error', reason: 'No backup has completed yet.', drill: { state: 'none' } });
    expect(withDrill(ok, null, now)).toMatchObject({ severity: 'ok', reason: 'Last good backup 8 h ago.' });
  });

  it('takes nothing from a result file that is not the drill script’s: broken, hostile, huge, or lying about its fields', () => {
    for (const text of ['', 'not json', '{}', '[1]', file({ version: 2 }), file({ snapshotId: '$(reboot)' }), file({ failed: 'rm -rf /' }), file({ said: 'x'.repeat(9_000) }), file({ filesExpected: -1 }), file({ finishedAt: '2026-12-05\n<b>' }), `${file({})}x`, 'x'.repeat(70_000)]) {
      expect(drillStateOf(true, text), text.slice(0, 80)).toBe('invalid');
    }
    expect(drillStateOf(false, '')).toBe('missing');
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const st = drillStateOf(true, s);
        expect(st === 'invalid' || (typeof st === 'object' && st !== null)).toBe(true);
      }),
      { numRuns: 300 },
    );
    // A reason as long as the file allows is cut for the card.
    const long = drillStateOf(true, file({ passed: false, failed: 'restore', said: Array.from({ length: 10 }, () => 'e'.repeat(300)).join('\n') }));
    expect(typeof long === 'object' && long !== null ? (long.reason ?? '').length : 0).toBeLessThanOrEqual(600);
  });
});

class FakeClock implements Clock {
  t = 0;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#id;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

describe('a drill in live status, from the agent’s lines to one notification', () => {
  it('asks the agent to read drill.json beside the backup status file', () => {
    const t = statusTargetFrom(StackSettings.parse({ dataRoot: '/srv/m2' }));
    const args = agentArgs(t);
    expect(args.slice(args.indexOf('--drill-status'), args.indexOf('--drill-status') + 2)).toEqual(['--drill-status', '/srv/m2/backup/status/drill.json']);
    expect(agentArgs(statusTargetFrom(StackSettings.parse({ modules: { backup: { enabled: false } } })))).not.toContain('--drill-status');
  });

  it('a passing drill keeps the card OK, a failed one makes it an error and notifies once, however often the card is read', () => {
    const at = new Date('2026-11-25T22:30:00Z');
    const m = new StatusModel('home', fixtureTarget, { now: at });
    for (const l of readFileSync(path.join(__dirname, 'fixtures', 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n')) {
      const p = parseAgentLine(l);
      if (p.ok) m.apply(p.line);
    }
    const line = (present: boolean, result: string) => {
      const p = parseAgentLine(JSON.stringify({ t: 'drill', present, result }));
      if (!p.ok) throw new Error(p.reason);
      return p.line;
    };
    m.setAgent({ kind: 'running', since: at.toISOString(), http: 'curl' });
    m.apply(line(true, file({ finishedAt: '2026-11-25T20:00:00Z', lastPassedAt: '2026-11-25T20:00:00Z' })));
    const before = m.snapshot(at, 1);
    expect(StatusSnapshot.safeParse(before).error?.issues).toBeUndefined();
    expect(before.backup).toMatchObject({ severity: 'ok', drill: { state: 'passed', passedDaysAgo: 0 } });
    expect(before.cards.find((c) => c.id === 'backups')?.reason).toMatch(/^Last good backup 3 h ago; last drill passed today\.$/);

    const clock = new FakeClock();
    const sent: Transition[] = [];
    const gate = new NotificationGate((t) => sent.push(t), { settleMs: 5_000, repeatMs: 300_000, clock });
    const backupsCard = (s: ReturnType<StatusModel['snapshot']>): StatusCard[] => s.cards.filter((c) => c.id === 'backups');
    gate.observe(backupsCard(before));
    m.apply(line(true, file({ passed: false, failed: 'check', checkCode: 1, said: 'pack dac96e8e: unexpected file size\nFatal: repository contains errors', finishedAt: '2026-11-25T21:00:00Z', lastPassedAt: '2026-11-25T20:00:00Z' })));
    for (let i = 0; i < 40; i++) {
      gate.observe(backupsCard(m.snapshot(new Date(at.getTime() + i * 60_000), i + 2)));
      clock.advance(60_000);
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ card: 'backups', severity: 'error', previous: 'ok', title: 'Backups has a problem' });
    expect(sent[0]?.reason).toMatch(/^The last restore drill failed \(2026-11-25 21:00 UTC\): Repository check: restic check found errors: pack dac96e8e: unexpected file size/);
    gate.dispose();
  });
});
