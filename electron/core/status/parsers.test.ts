import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TunnelReplica } from '../../contract/status';
import type { AgentContainer } from './agent-protocol';
import { DEFAULT_MAX_AGE_HOURS, BackupStatusFile, evaluateBackup, latestSnapshot } from './backup';
import { cpuPercent, gpusFrom, parseIntelGpuTop, parseNvidiaLine } from './host';
import { parseProm, parsePromLine, sumOf } from './prometheus';
import { imageVersion, serviceStatuses } from './service-status';
import { classifySession, streamsFromSessions } from './transcodes';
import { mergeTunnel, replicaFromAgent } from './tunnel';

const fixture = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const lines = (text: string): string[] => text.split('\n');

describe('the Prometheus text parser', () => {
  it('reads the recorded cloudflared metrics: gauges, counters and labelled series', () => {
    const s = parseProm(lines(fixture('cloudflared-metrics-4.txt')));
    expect(sumOf(s, 'cloudflared_tunnel_ha_connections')).toBe(4);
    expect(sumOf(s, 'cloudflared_tunnel_total_requests')).toBe(123);
    expect(sumOf(s, 'cloudflared_tunnel_request_errors')).toBe(3);
    expect(s.filter((x) => x.name === 'cloudflared_tunnel_server_locations').map((x) => x.labels.edge_location)).toEqual(['fra08', 'ams01', 'fra10', 'ams08']);
    expect(s.find((x) => x.name === 'build_info')?.labels).toEqual({ goversion: 'go1.24.6', revision: '2026.8.2-standin', type: '', version: '2026.8.2' });
    expect(sumOf(s, 'no_such_metric')).toBeNull();
  });

  it('handles escapes, timestamps, special values and skips what is not a sample', () => {
    expect(parsePromLine('m{a="x\\"y\\\\z\\nw",b="c"} 1.5e3 1700000000000')).toEqual({ name: 'm', labels: { a: 'x"y\\z\nw', b: 'c' }, value: 1500 });
    expect(parsePromLine('m +Inf')?.value).toBe(Infinity);
    expect(Number.isNaN(parsePromLine('m NaN')?.value)).toBe(true);
    expect(parsePromLine('# HELP m help')).toBeUndefined();
    expect(parsePromLine('m{a="unterminated} 1')).toBeUndefined();
    expect(parsePromLine('m twelve')).toBeUndefined();
    expect(parsePromLine('')).toBeUndefined();
  });

  it('never throws on any input', { timeout: 60_000 }, () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void parseProm(s.split('\n'))));
  });
});

const container = (service: string, over: Partial<AgentContainer> = {}): AgentContainer => ({
  id: `${service}-id`,
  name: `/m2-${service}-1`,
  service,
  oneoff: 'False',
  image: `example/${service}:1.2.3`,
  state: 'running',
  health: 'healthy',
  restarts: 0,
  exitCode: 0,
  startedAt: '2026-11-25T10:00:00Z',
  finishedAt: '0001-01-01T00:00:00Z',
  oom: false,
  ...over,
});

const replica = (metrics: string, ready: string, code = 200): TunnelReplica => ({
  ...replicaFromAgent({ service: 'cloudflared', readyCode: code, ready, metricsCode: 200, metrics: lines(metrics) }),
  running: true,
});

describe('cloudflared replicas and the merged tunnel state', () => {
  it('reads connections, colos, RTT and version from the recorded /ready and /metrics', () => {
    const r = replica(fixture('cloudflared-metrics-4.txt'), fixture('cloudflared-ready-4.json'));
    expect(r).toMatchObject({ ready: true, connections: 4, edgeLocations: ['ams01', 'ams08', 'fra08', 'fra10'], version: '2026.8.2', totalRequests: 123, requestErrors: 3 });
    expect(r.rttMs).toBeGreaterThan(0);
  });

  it('takes the connection count from /ready, which the agent reads more often than /metrics', () => {
    const r = replica(fixture('cloudflared-metrics-4.txt'), '{"status":200,"readyConnections":2,"connectorId":"x"}');
    expect(r).toMatchObject({ ready: true, connections: 2, edgeLocations: ['ams01', 'fra08'] });
    expect(replica(fixture('cloudflared-metrics-4.txt'), 'not json')).toMatchObject({ ready: true, connections: 4 });
  });

  it('counts no colos and no readiness when every connection dropped (the colo gauge keeps its last value)', () => {
    const [code, body] = fixture('cloudflared-ready-0.json').split('\n');
    const r = replica(fixture('cloudflared-metrics-0.txt'), body ?? '', Number(code));
    expect(r).toMatchObject({ ready: false, connections: 0, edgeLocations: [] });
  });

  it('is healthy with all connections, degraded with some, down with none or no running connector', () => {
    const healthy = replica(fixture('cloudflared-metrics-4.txt'), fixture('cloudflared-ready-4.json'));
    const base = { configured: ['cloudflared'], containers: [container('cloudflared')], api: null };
    expect(mergeTunnel({ ...base, replicas: [healthy] })).toMatchObject({ state: 'healthy', reason: '4 edge connections up.', connections: 4, expected: 4 });
    expect(mergeTunnel({ ...base, replicas: [{ ...healthy, connections: 2 }] })).toMatchObject({ state: 'degraded', reason: '2 of 4 edge connections are up.' });
    expect(mergeTunnel({ ...base, replicas: [{ ...healthy, connections: 0, ready: false }] })).toMatchObject({ state: 'down' });
    const stopped = mergeTunnel({ ...base, containers: [container('cloudflared', { state: 'exited', exitCode: 1 })], replicas: [{ ...healthy, running: false }] });
    expect(stopped).toMatchObject({ state: 'down', reason: 'cloudflared is not running.' });
    expect(stopped.evidence).toContain('cloudflared: container exited (exit 1).');
    expect(mergeTunnel({ ...base, replicas: [{ ...healthy, connections: null }] })).toMatchObject({ state: 'unknown' });
    expect(mergeTunnel({ configured: [], containers: [], replicas: [], api: null })).toMatchObject({ state: 'unknown' });
  });

  it('with two replicas, one stopped is degraded', () => {
    const r = replica(fixture('cloudflared-metrics-4.txt'), fixture('cloudflared-ready-4.json'));
    const v = mergeTunnel({
      configured: ['cloudflared', 'cloudflared-2'],
      containers: [container('cloudflared'), container('cloudflared-2', { state: 'exited' })],
      replicas: [r, { ...r, service: 'cloudflared-2', running: false }],
      api: null,
    });
    expect(v).toMatchObject({ state: 'degraded', reason: '4 of 8 edge connections are up.' });
  });

  it('merges the Cloudflare API’s view as evidence and where the server cannot see', () => {
    const r = replica(fixture('cloudflared-metrics-4.txt'), fixture('cloudflared-ready-4.json'));
    const base = { configured: ['cloudflared'], containers: [container('cloudflared')] };
    const api = (status: 'healthy' | 'degraded' | 'down' | 'inactive', connections = 4) => ({ status, connectors: 1, connections, colos: ['fra08'], checkedAt: '2026-11-25T10:00:00Z' });
    expect(mergeTunnel({ ...base, replicas: [r], api: api('healthy') })).toMatchObject({ state: 'healthy' });
    expect(mergeTunnel({ ...base, replicas: [r], api: api('down', 0) })).toMatchObject({ state: 'degraded', reason: 'The server has edge connections, but Cloudflare reports the tunnel down.' });
    expect(mergeTunnel({ ...base, replicas: [{ ...r, connections: null }], api: api('healthy') })).toMatchObject({ state: 'healthy' });
    expect(mergeTunnel({ ...base, replicas: [{ ...r, connections: 0 }], api: api('healthy') }).state).toBe('degraded');
    expect(mergeTunnel({ ...base, replicas: [r], api: api('degraded') }).evidence.at(-1)).toBe('Cloudflare reports the tunnel degraded with 1 connector and 4 connections.');
  });

  it('never lets an API view read before the server’s own view changed outvote it: told with its age, not counted', () => {
    const r = replica(fixture('cloudflared-metrics-4.txt'), fixture('cloudflared-ready-4.json'));
    const stopped = { configured: ['cloudflared'], containers: [container('cloudflared', { state: 'exited', exitCode: 0 })], replicas: [{ ...r, running: false }] };
    const healthyApi = { status: 'healthy' as const, connectors: 1, connections: 4, colos: ['fra08'], checkedAt: '2026-11-25T10:00:00Z' };
    const now = new Date('2026-11-25T10:00:40Z');
    // cloudflared stopped 10 s ago; Cloudflare's API was read 40 s ago, while it still ran.
    const v = mergeTunnel({ ...stopped, api: healthyApi, now, localSince: '2026-11-25T10:00:30Z' });
    expect(v).toMatchObject({ state: 'down', reason: 'cloudflared is not running.' });
    expect(v.evidence.at(-1)).toBe('Cloudflare reports the tunnel healthy with 1 connector and 4 connections (40 s ago, before the server’s view last changed: not counted).');
    // Read after the change, the same API view is evidence the server cannot have: another connector elsewhere.
    const after = mergeTunnel({ ...stopped, api: { ...healthyApi, checkedAt: '2026-11-25T10:00:35Z' }, now, localSince: '2026-11-25T10:00:30Z' });
    expect(after).toMatchObject({ state: 'degraded', reason: 'cloudflared is not running. Cloudflare still sees 4 connections from another connector.' });
    expect(after.evidence.at(-1)).toBe('Cloudflare reports the tunnel healthy with 1 connector and 4 connections (5 s ago).');
  });
});

describe('Jellyfin sessions', () => {
  it('classifies the recorded stand-in sessions and leaves out devices that play nothing', () => {
    const streams = streamsFromSessions(JSON.parse(fixture('jellyfin-sessions-standin.json')));
    expect(streams?.map((s) => [s.user, s.kind, s.playMethod, s.hwAccel, s.fps])).toEqual(
      expect.arrayContaining([
        ['alice', 'hardware', 'Transcode', 'nvenc', 87.4],
        ['bob', 'software', 'Transcode', null, 31.2],
        ['carol', 'direct', 'DirectStream', null, 24],
        ['dave', 'direct', 'DirectPlay', null, null],
      ]),
    );
    expect(streams).toHaveLength(4);
    expect(streams?.find((s) => s.user === 'carol')).toMatchObject({ title: 'Some Show – Pilot', detail: 'Remux: video copied, audio converted.', reasons: ['ContainerNotSupported', 'AudioCodecNotSupported'] });
    expect(streams?.find((s) => s.user === 'dave')?.paused).toBe(true);
  });

  it('classifies the stack-facts example by the rule: hardware ⇔ transcode, video not direct, acceleration set', () => {
    const example = { PlayState: { PositionTicks: 1234500000, IsPaused: false, PlayMethod: 'Transcode' }, NowPlayingItem: { Name: 'Movie', RunTimeTicks: 72000000000 }, TranscodingInfo: { IsVideoDirect: false, HardwareAccelerationType: 'nvenc', Framerate: 87.4 } };
    expect(classifySession(example).kind).toBe('hardware');
    expect(classifySession({ ...example, TranscodingInfo: { ...example.TranscodingInfo, HardwareAccelerationType: 'none' } }).kind).toBe('software');
    expect(classifySession({ ...example, TranscodingInfo: { IsVideoDirect: false } }).kind).toBe('software');
    expect(classifySession({ ...example, TranscodingInfo: { IsVideoDirect: true, HardwareAccelerationType: 'vaapi' } }).kind).toBe('direct');
    expect(classifySession({ PlayState: { PlayMethod: 'DirectPlay' } }).kind).toBe('direct');
    expect(classifySession({ ...example, TranscodingInfo: { IsVideoDirect: false, HardwareAccelerationType: 'qsv' } }).detail).toBe('Intel QSV hardware transcode.');
    expect(streamsFromSessions([example])?.[0]?.progress).toBe(1.7);
  });

  it('answers undefined for a body that is not a list, and skips malformed entries', () => {
    expect(streamsFromSessions({ error: 'x' })).toBeUndefined();
    expect(streamsFromSessions([null, 3, { NowPlayingItem: 'nope' }])).toEqual([]);
  });
});

describe('backups', () => {
  const now = new Date('2026-11-25T20:00:00Z');
  const file = (name: string): BackupStatusFile => BackupStatusFile.parse(JSON.parse(fixture(name)));
  const evalFile = (f: Parameters<typeof evaluateBackup>[0]['file'], at = now, snapshot: Parameters<typeof evaluateBackup>[0]['snapshot'] = null) =>
    evaluateBackup({ enabled: true, file: f, snapshot, now: at, maxAgeHours: DEFAULT_MAX_AGE_HOURS });

  it('is an error before the first run and when the status file is missing', () => {
    expect(evalFile(file('backup-status-before-first-run.json'))).toMatchObject({ severity: 'error', reason: 'No backup has completed yet.' });
    expect(evalFile('missing').severity).toBe('error');
    expect(evalFile('invalid').severity).toBe('error');
  });

  it('is ok after the recorded successful run, then a warning once older than 26 h', () => {
    const ok = evalFile(file('backup-status-success.json'));
    expect(ok).toMatchObject({ severity: 'ok', lastRun: { result: 'success', durationSeconds: 4 }, nextRun: '2026-11-26T03:30:00Z' });
    expect(ok.lastGood?.ageHours).toBeCloseTo(0.56, 1);
    const old = evalFile(file('backup-status-success.json'), new Date('2026-11-27T00:00:00Z'));
    expect(old).toMatchObject({ severity: 'warning', reason: 'The last good backup is 29 h old (more than 26 h).' });
  });

  it('is an error when the last run failed, a warning when it was partial', () => {
    const f = file('backup-status-success.json');
    const failed = evalFile({ ...f, lastRun: { ...f.lastRun, result: 'failed', exitCode: 1, message: 'restic backup failed (exit 1): repository is locked' } });
    expect(failed.severity).toBe('error');
    expect(failed.reason).toMatch(/failed .*repository is locked/);
    expect(evalFile({ ...f, lastRun: { ...f.lastRun, result: 'partial', message: 'Database dumps failed: nextcloud.' } })).toMatchObject({ severity: 'warning' });
  });

  it('finds the newest snapshot in restic’s recorded JSON, and takes it when newer than the status file', () => {
    const snap = latestSnapshot(JSON.parse(fixture('restic-snapshots.json')));
    expect(snap?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(latestSnapshot([{ group_key: {}, snapshots: [{ id: 'a', time: '2026-01-01T00:00:00Z' }, { id: 'b', time: '2026-02-01T00:00:00Z' }] }])?.id).toBe('b');
    expect(latestSnapshot('nope')).toBeNull();
    const v = evalFile(file('backup-status-before-first-run.json'), now, snap);
    expect(v.severity).toBe('ok');
    expect(v.lastGood?.snapshotId).toBe(snap?.id);
  });
});

describe('host, GPU and services', () => {
  it('parses nvidia-smi query lines, with [N/A] and [Not Supported] as nulls', () => {
    const [a, b] = lines(fixture('nvidia-smi-query.csv'));
    expect(parseNvidiaLine(a ?? '')).toEqual({ index: 0, name: 'NVIDIA H100 80GB HBM3', vendor: 'nvidia', utilization: 37, encoder: 12, decoder: 8, encoderSessions: 2, encoderFps: 87, memoryUsedMb: 1523, memoryTotalMb: 81559 });
    expect(parseNvidiaLine(b ?? '')).toMatchObject({ utilization: null, encoder: null, decoder: null, encoderSessions: 0 });
    expect(parseNvidiaLine('garbage')).toBeUndefined();
    expect(gpusFrom([], [42])).toEqual([expect.objectContaining({ vendor: 'amd', utilization: 42 })]);
  });

  it('reads an intel_gpu_top -J sample: the busiest engine as utilization, the Video engine as encoder load', () => {
    // intel-gpu-top-J-old.txt has the shape of an intel_gpu_top without engine classes (per-instance names such as
    // "Video/1", no "clients"), as igt-gpu-tools' tools/intel_gpu_top.c json_* printers write it: valid JSON.
    const [old] = JSON.parse(fixture('intel-gpu-top-J-old.txt')) as unknown[];
    expect(parseIntelGpuTop(JSON.stringify(old), 0)).toEqual({
      index: 0,
      name: 'Intel GPU 0',
      vendor: 'intel',
      utilization: 50,
      encoder: 50,
      decoder: null,
      encoderSessions: null,
      encoderFps: null,
      memoryUsedMb: null,
      memoryTotalMb: null,
    });
    expect(parseIntelGpuTop('{"engines":{"Render/3D":{"busy":"12.5","unit":"%"},"Video":{"busy":140}}}', 1)).toMatchObject({ index: 1, utilization: 100, encoder: 100 });
    expect(parseIntelGpuTop('{"engines":{"Render/3D":{"busy":7}}}', 0)).toMatchObject({ utilization: 7, encoder: null });
    for (const bad of ['', 'not json', '[]', '{"engines":null}', '{"engines":{"Video":{"busy":"n/a"}}}', '{"period":{}}']) expect(parseIntelGpuTop(bad, 0)).toBeUndefined();
    expect(gpusFrom([], [], [JSON.stringify(old), 'garbage'])).toEqual([expect.objectContaining({ vendor: 'intel', index: 0, encoder: 50 })]);
  });

  it('computes CPU busy percent between two /proc/stat samples', () => {
    expect(cpuPercent(undefined, [1, 0, 1, 8, 0, 0, 0, 0])).toBeNull();
    expect(cpuPercent([100, 0, 100, 800, 0, 0, 0, 0], [150, 0, 150, 900, 0, 0, 0, 0])).toBe(50);
    expect(cpuPercent([100, 0, 100, 800, 0, 0, 0, 0], [100, 0, 100, 800, 0, 0, 0, 0])).toBeNull();
  });

  it('gives each service a severity and a reason, worst first, and names missing ones', () => {
    const s = serviceStatuses(
      [container('jellyfin'), container('backup', { state: 'exited', exitCode: 137, oom: true }), container('cloudflared', { health: 'unhealthy' }), container('x', { oneoff: 'True' })],
      ['jellyfin', 'backup', 'cloudflared', 'wireguard'],
    );
    expect(s.map((x) => [x.service, x.severity, x.reason])).toEqual([
      ['backup', 'error', 'Stopped: killed for using too much memory.'],
      ['cloudflared', 'error', 'Running but failing its health check.'],
      ['wireguard', 'error', 'No container: the service is not deployed.'],
      ['jellyfin', 'ok', 'Running and healthy.'],
    ]);
    expect(imageVersion('jellyfin/jellyfin:10.11.11')).toBe('10.11.11');
    expect(imageVersion('localhost:5000/app@sha256:abc')).toBe('latest');
    expect(imageVersion('ghcr.io/x/y:2.0@sha256:abc')).toBe('2.0');
  });
});
