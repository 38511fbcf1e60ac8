import { describe, expect, it } from 'vitest';
import { StatusSnapshot, historySeries, historyValuesOf, type StatusHistory } from '../../electron/contract/status';
import { appendSnapshot, chartRows, emptySeries, hasData, initialStatus, latest, mergeHistory, statusReducer, type StatusState } from './status-state';

const T0 = Date.parse('2026-01-01T12:00:00Z');

/** A valid snapshot (checked against the contract's schema) with the given seq and time. */
function snap(seq: number, atMs: number, over: { fps?: number[]; rps?: number | null; encoder?: number; profileId?: string; available?: boolean } = {}): StatusSnapshot {
  return StatusSnapshot.parse({
    profileId: over.profileId ?? 'p1',
    at: new Date(atMs).toISOString(),
    seq,
    complete: true,
    agent: { kind: 'running', since: new Date(T0).toISOString(), http: 'curl' },
    overall: 'ok',
    cards: [{ id: 'tunnel', title: 'Tunnel', severity: 'ok', reason: 'All 4 edge connections are up.' }],
    tunnel: {
      state: 'healthy',
      reason: 'All 4 edge connections are up.',
      evidence: [],
      connections: 4,
      expectedConnections: 4,
      edgeLocations: ['fra08'],
      requestsPerSecond: over.rps === undefined ? 2 : over.rps,
      errorsPerSecond: 0,
      replicas: [],
      api: null,
    },
    transcodes: {
      available: over.available ?? true,
      reason: '',
      streams: [
        ...(over.fps ?? []).map((fps, i) => ({
          id: `s${i}`,
          user: 'u',
          client: 'c',
          device: 'd',
          title: 't',
          playMethod: 'Transcode',
          kind: i % 2 ? 'software' : 'hardware',
          detail: '',
          hwAccel: null,
          videoCodec: 'h264',
          audioCodec: null,
          fps,
          bitrate: null,
          reasons: [],
          progress: 10,
          paused: false,
        })),
        { id: 'direct', user: 'd', client: 'c', device: 'd', title: 't', playMethod: 'DirectPlay', kind: 'direct', detail: '', hwAccel: null, videoCodec: null, audioCodec: null, fps: 500, bitrate: null, reasons: [], progress: 1, paused: false },
      ],
      counts: { hardware: 1, software: 1, direct: 1 },
    },
    backup: { severity: 'ok', reason: '', running: false, lastRun: null, lastGood: null, nextRun: null, maxAgeHours: 26 },
    services: [],
    host: {
      cpuPercent: 5,
      cpus: 4,
      memoryTotalBytes: 1,
      memoryAvailableBytes: 1,
      memoryUsedPercent: 0,
      load: [],
      uptimeSeconds: 1,
      disks: [],
      gpus:
        over.encoder === undefined
          ? []
          : [{ index: 0, name: 'GPU', vendor: 'nvidia', utilization: 50, encoder: over.encoder, decoder: 10, encoderSessions: 1, encoderFps: 30, memoryUsedMb: 1, memoryTotalMb: 2 }],
    },
  });
}

const fetched = (points: Partial<Record<(typeof historySeries)[number], Array<{ t: number; v: number | null }>>>, stepSeconds = 5): StatusHistory => ({
  profileId: 'p1',
  stepSeconds,
  series: { ...Object.fromEntries(historySeries.map((s) => [s, []])), ...points } as StatusHistory['series'],
});

describe('chart values from a snapshot', () => {
  it('sums the fps of transcoding streams only, and takes the first GPU’s encoder and decoder', () => {
    const v = historyValuesOf(snap(1, T0, { fps: [87.5, 31.25], encoder: 40 }));
    expect(v).toEqual({ tunnelRequestsPerSecond: 2, tunnelErrorsPerSecond: 0, transcodeFps: 118.75, gpuEncoder: 40, gpuDecoder: 10, gpuUtilization: 50 });
    expect(historyValuesOf(snap(1, T0, { available: false })).transcodeFps).toBeNull();
    expect(historyValuesOf(snap(1, T0)).gpuEncoder).toBeNull();
  });
});

describe('appending snapshots to the series', () => {
  it('aligns to the step, replaces the newest step’s value, and adds a new step after it', () => {
    let h = { stepMs: 5_000, series: emptySeries() };
    h = appendSnapshot(h, snap(1, T0 + 1_000, { fps: [10] }));
    h = appendSnapshot(h, snap(2, T0 + 4_000, { fps: [20] }));
    expect(h.series.transcodeFps).toEqual([{ t: T0, v: 20 }]);
    h = appendSnapshot(h, snap(3, T0 + 6_000, { fps: [30] }));
    expect(h.series.transcodeFps).toEqual([
      { t: T0, v: 20 },
      { t: T0 + 5_000, v: 30 },
    ]);
  });

  it('returns the same history when a snapshot changes no chart value, so charts need not redraw', () => {
    const h = appendSnapshot({ stepMs: 5_000, series: emptySeries() }, snap(1, T0, { fps: [10] }));
    expect(appendSnapshot(h, snap(2, T0 + 1_000, { fps: [10] }))).toBe(h);
    expect(appendSnapshot(h, snap(3, T0 + 1_000, { fps: [11] }))).not.toBe(h);
  });

  it('keeps only the last hour and never goes back in time', () => {
    let h = { stepMs: 60_000, series: emptySeries() };
    for (let i = 0; i <= 90; i++) h = appendSnapshot(h, snap(i, T0 + i * 60_000, { rps: i }));
    const rps = h.series.tunnelRequestsPerSecond;
    expect(rps[0]).toEqual({ t: T0 + 30 * 60_000, v: 30 });
    expect(rps.at(-1)).toEqual({ t: T0 + 90 * 60_000, v: 90 });
    expect(rps).toHaveLength(61);
    const older = appendSnapshot(h, snap(91, T0, { rps: 999 }));
    expect(older.series.tunnelRequestsPerSecond).toBe(rps);
  });
});

describe('merging main’s history with local points', () => {
  it('keeps main’s points and adds only the local points newer than main’s last, at main’s step', () => {
    let local = { stepMs: 5_000, series: emptySeries() };
    local = appendSnapshot(local, snap(1, T0 + 2_000, { rps: 7 }));
    local = appendSnapshot(local, snap(2, T0 + 12_000, { rps: 8 }));
    const m = mergeHistory(
      fetched(
        {
          tunnelRequestsPerSecond: [
            { t: T0 - 2_000, v: 1 },
            { t: T0, v: 2 },
          ],
        },
        2,
      ),
      local,
    );
    expect(m.stepMs).toBe(2_000);
    expect(m.series.tunnelRequestsPerSecond).toEqual([
      { t: T0 - 2_000, v: 1 },
      { t: T0, v: 7 },
      { t: T0 + 10_000, v: 8 },
    ]);
  });
});

describe('chart rows and latest values', () => {
  it('joins series by time, oldest first, leaving a gap where a series has no point', () => {
    const s = { ...emptySeries(), gpuEncoder: [{ t: 2, v: 5 }, { t: 1, v: 4 }], gpuDecoder: [{ t: 2, v: 9 }] };
    expect(chartRows(s, ['gpuEncoder', 'gpuDecoder'])).toEqual([
      { t: 1, gpuEncoder: 4 },
      { t: 2, gpuEncoder: 5, gpuDecoder: 9 },
    ]);
    // The newest step decides: a series that stopped reporting says so rather than repeating an old value.
    expect(latest([{ t: 1, v: 3 }, { t: 2, v: null }])).toBeNull();
    expect(latest([{ t: 1, v: null }, { t: 2, v: 4 }])).toBe(4);
    expect(latest([])).toBeNull();
    expect(hasData([{ t: 1, v: 3 }, { t: 2, v: null }])).toBe(true);
    expect(hasData([{ t: 1, v: null }])).toBe(false);
  });
});

describe('the live status reducer', () => {
  const live = (s: StatusState): StatusSnapshot => {
    if (s.kind !== 'live') throw new Error(`not live: ${s.kind}`);
    return s.snapshot;
  };

  it('keeps the snapshot with the highest seq, whatever order they arrive in', () => {
    let s = initialStatus('p1');
    s = statusReducer(s, { type: 'snapshot', snapshot: snap(5, T0) });
    s = statusReducer(s, { type: 'snapshot', snapshot: snap(3, T0 + 1) });
    expect(live(s).seq).toBe(5);
    s = statusReducer(s, { type: 'snapshot', snapshot: snap(5, T0 + 2, { rps: 99 }) });
    expect(live(s).tunnel.requestsPerSecond).toBe(2);
    s = statusReducer(s, { type: 'snapshot', snapshot: snap(6, T0 + 3) });
    expect(live(s).seq).toBe(6);
  });

  it('ignores snapshots and history of another server', () => {
    const s0 = initialStatus('p1');
    expect(statusReducer(s0, { type: 'snapshot', snapshot: snap(1, T0, { profileId: 'p2' }) })).toBe(s0);
    expect(statusReducer(s0, { type: 'history', history: { ...fetched({}), profileId: 'p2' } })).toBe(s0);
  });

  it('shows an error only while it has nothing live, and history marks itself loaded', () => {
    const err = { code: 'server.not-connected' as const, userMessage: 'Not connected.' };
    const failed = statusReducer(initialStatus('p1'), { type: 'failed', error: err });
    expect(failed.kind).toBe('failed');
    const l = statusReducer(initialStatus('p1'), { type: 'snapshot', snapshot: snap(1, T0) });
    expect(statusReducer(l, { type: 'failed', error: err })).toBe(l);
    const h = statusReducer(l, { type: 'history', history: fetched({ transcodeFps: [{ t: T0 - 5_000, v: 12 }] }) });
    expect(h.historyLoaded).toBe(true);
    expect(h.history.series.transcodeFps[0]).toEqual({ t: T0 - 5_000, v: 12 });
    expect(statusReducer(h, { type: 'reset', profileId: 'p2' })).toEqual(initialStatus('p2'));
  });
});
