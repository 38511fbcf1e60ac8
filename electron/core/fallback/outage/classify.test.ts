import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutageState, type ProbeOutcome, type ProbeResult } from '../../../contract/fallback';
import type { TunnelApiStatus, TunnelStatus } from '../../../contract/status';
import { OutageHysteresis, ageInWords, combineOutage, type HysteresisRound } from './classify';

const NOW = new Date('2026-12-04T20:41:10.000Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const HOSTS = ['media.example.com', 'cloud.example.com', 'auth.example.com'];

const probe = (hostname: string, outcome: ProbeOutcome, atSecondsAgo = 1): ProbeResult => ({
  hostname,
  outcome,
  httpStatus: outcome === 'app' ? 200 : outcome === 'tunnel-error' ? 530 : outcome === 'origin-error' ? 502 : outcome === 'access-login' ? 302 : null,
  cfError: outcome === 'tunnel-error' ? 1033 : null,
  colo: ['app', 'tunnel-error', 'origin-error', 'access-login'].includes(outcome) ? 'FRA' : null,
  detail: outcome,
  latencyMs: 40,
  at: ago(atSecondsAgo),
});
const probes = (outcome: ProbeOutcome, atSecondsAgo = 1): ProbeResult[] => HOSTS.map((h) => probe(h, outcome, atSecondsAgo));

const tunnel = (connections: number | null, running = true): TunnelStatus => ({
  state: !running || connections === 0 ? 'down' : connections === null ? 'unknown' : 'healthy',
  reason: !running ? 'cloudflared is not running.' : 'x',
  evidence: [],
  connections,
  expectedConnections: 4,
  edgeLocations: connections ? ['ams01', 'fra08'] : [],
  requestsPerSecond: null,
  errorsPerSecond: null,
  replicas: [{ service: 'cloudflared', running, ready: running && (connections ?? 0) > 0, connections: running ? connections : null, edgeLocations: [], rttMs: null, version: null, totalRequests: null, requestErrors: null }],
  api: null,
});
const api = (status: TunnelApiStatus['status'], atSecondsAgo = 2): TunnelApiStatus => ({
  status,
  connectors: status === 'healthy' ? 1 : 0,
  connections: status === 'healthy' ? 4 : 0,
  colos: [],
  checkedAt: ago(atSecondsAgo),
});

describe('combineOutage decides one state from the angles', () => {
  it('the service answering through the edge with cloudflared connected is healthy', () => {
    const v = combineOutage({ probes: probes('app'), tunnel: tunnel(4), api: api('healthy'), serverReachable: true, now: NOW });
    expect(v.kind).toBe('healthy');
    expect(v.reason).toBe('3 of 3 hostnames answer through Cloudflare.');
    // Freshest first.
    expect(v.evidence).toEqual([
      'cloudflared on the server: 4 edge connections up (ams01, fra08) (just now).',
      'The server answers over SSH.',
      'Outside-in probes: 3 of 3: the service answered at FRA (1 s ago).',
      'Cloudflare API: tunnel healthy, 1 connector, 4 connections (2 s ago).',
    ]);
  });

  it('no answer from the edge for every hostname while the server answers is a Cloudflare outage', () => {
    for (const o of ['dns-failure', 'connect-failure', 'tls-failure', 'timeout'] as const) {
      const v = combineOutage({ probes: probes(o), tunnel: tunnel(4), api: null, serverReachable: true, now: NOW });
      expect(v.kind, o).toBe('cloudflare-outage');
      expect(v.reason).toBe('Cloudflare cannot be reached: 3 of 3 probes got no answer from its edge, while the server answers.');
    }
  });

  it('no answer from the edge nor from the server is not called a Cloudflare outage (this computer may be offline)', () => {
    expect(combineOutage({ probes: probes('connect-failure'), tunnel: null, api: null, serverReachable: false, now: NOW }).kind).toBe('unknown');
    expect(combineOutage({ probes: probes('timeout'), tunnel: null, api: null, serverReachable: null, now: NOW }).kind).toBe('unknown');
  });

  it('530/1033 from the edge while the server answers is a broken tunnel, with the evidence', () => {
    const v = combineOutage({ probes: probes('tunnel-error'), tunnel: tunnel(0, false), api: api('down'), serverReachable: true, now: NOW });
    expect(v.kind).toBe('tunnel-broken');
    expect(v.reason).toBe('The tunnel is broken: Cloudflare answers 3 of 3 hostnames with error 1033 (the tunnel is not connected), while the server answers.');
    expect(v.evidence).toContain('Outside-in probes: 3 of 3: 530 (error 1033) at FRA (1 s ago).');
    expect(v.evidence).toContain('cloudflared on the server: cloudflared is not running (just now).');
  });

  it('cloudflared down on a server that answers is a broken tunnel even before any probe (Access-only probes)', () => {
    expect(combineOutage({ probes: [], tunnel: tunnel(0), api: null, serverReachable: true, now: NOW }).kind).toBe('tunnel-broken');
    expect(combineOutage({ probes: probes('access-login'), tunnel: tunnel(0, false), api: null, serverReachable: true, now: NOW }).kind).toBe('tunnel-broken');
  });

  it('530 from the edge while the server does not answer is home offline', () => {
    const v = combineOutage({ probes: probes('tunnel-error'), tunnel: tunnel(4), tunnelAt: ago(40), api: api('down'), serverReachable: false, now: NOW });
    expect(v.kind).toBe('home-offline');
    expect(v.reason).toMatch(/^The home server is offline: .*error 1033.*does not answer over SSH\.$/);
  });

  it('an old cloudflared view of a server that stopped answering is told with its age and not counted', () => {
    const v = combineOutage({ probes: probes('tunnel-error'), tunnel: tunnel(4), tunnelAt: ago(40), api: null, serverReachable: false, now: NOW });
    expect(v.evidence).toContain('cloudflared on the server: 4 edge connections up (ams01, fra08) (40 s ago, not counted: the server does not answer or the view is old).');
  });

  it('stale evidence never outvotes fresh evidence', () => {
    // An API "down" of five minutes ago against fresh probes that reach the service.
    const v = combineOutage({ probes: probes('app'), tunnel: null, api: api('down', 300), serverReachable: true, now: NOW });
    expect(v.kind).toBe('healthy');
    expect(v.evidence).toContain('Cloudflare API: tunnel down, 0 connectors, 0 connections (5 min ago, not counted: old).');
    // Old 530s against a fresh round of unreachable edge: the fresh round decides.
    const mixed = [...probes('tunnel-error', 120).map((p) => ({ ...p, hostname: p.hostname })), ...probes('connect-failure', 1)];
    expect(combineOutage({ probes: mixed, tunnel: null, api: null, serverReachable: true, now: NOW }).kind).toBe('cloudflare-outage');
    // Only old probes and nothing else: not enough to say anything.
    const old = combineOutage({ probes: probes('connect-failure', 120), tunnel: null, api: null, serverReachable: true, now: NOW });
    expect(old.kind).toBe('unknown');
    expect(old.evidence).toContain('Older probes, not counted: 3 of 3: the edge could not be reached (2 min ago).');
  });

  it('Access’s login without the tunnel in view is not enough on its own', () => {
    expect(combineOutage({ probes: probes('access-login'), tunnel: null, api: null, serverReachable: true, now: NOW }).kind).toBe('unknown');
    expect(combineOutage({ probes: probes('access-login'), tunnel: tunnel(4), api: null, serverReachable: true, now: NOW }).kind).toBe('healthy');
    expect(combineOutage({ probes: [], tunnel: null, api: null, serverReachable: null, now: NOW }).kind).toBe('unknown');
  });

  it('a service that does not answer behind a connected tunnel is not an outage of the path, and says so', () => {
    const v = combineOutage({ probes: [probe(HOSTS[0] ?? '', 'origin-error'), probe(HOSTS[1] ?? '', 'app')], tunnel: tunnel(4), api: null, serverReachable: true, now: NOW });
    expect(v.kind).toBe('healthy');
    expect(v.reason).toBe('1 of 2 hostnames answer through Cloudflare; 1 service behind the tunnel does not answer (502).');
  });

  it('ages read as a person says them', () => {
    expect(ageInWords(ago(0.2), NOW)).toBe('just now');
    expect(ageInWords(ago(7), NOW)).toBe('7 s ago');
    expect(ageInWords(ago(180), NOW)).toBe('3 min ago');
    expect(ageInWords(null, NOW)).toBe('age not known');
  });
});

const round = (kind: HysteresisRound['kind']): HysteresisRound => ({ kind, reason: `${kind} reason.`, evidence: [`${kind} evidence.`], probes: [], serverReachable: true });

describe('OutageHysteresis', () => {
  it('a single failed round is not an outage; two in a row are, dated from the first', () => {
    const h = new OutageHysteresis({ confirmRounds: 2 });
    const t = (s: number): Date => new Date(NOW.getTime() + s * 1000);
    expect(h.next(round('healthy'), t(0)).kind).toBe('unknown');
    expect(h.next(round('healthy'), t(1.5)).kind).toBe('healthy');
    const one = h.next(round('tunnel-broken'), t(3));
    expect(one.kind).toBe('healthy');
    expect(one.evidence[0]).toBe('Checking again: the last round looked like tunnel broken (tunnel-broken reason).');
    expect(h.unsettled).toBe(true);
    const two = h.next(round('tunnel-broken'), t(4.5));
    expect(OutageState.parse(two)).toEqual(two);
    expect(two).toMatchObject({ kind: 'tunnel-broken', since: t(3).toISOString(), reason: 'tunnel-broken reason.', checkedAt: t(4.5).toISOString() });
    // Recovery needs the same agreement.
    expect(h.next(round('healthy'), t(6)).kind).toBe('tunnel-broken');
    expect(h.next(round('healthy'), t(7.5))).toMatchObject({ kind: 'healthy', since: t(6).toISOString() });
    expect(h.unsettled).toBe(false);
  });

  it('property: a probe alternating fail / ok never changes the state, whatever the kinds and the start', () => {
    const kinds = fc.constantFrom('tunnel-broken', 'cloudflare-outage', 'home-offline', 'unknown') as fc.Arbitrary<HysteresisRound['kind']>;
    fc.assert(
      fc.property(kinds, fc.boolean(), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 60 }), (bad, startBroken, confirm, pairs) => {
        const h = new OutageHysteresis({ confirmRounds: confirm });
        const start = startBroken ? bad : 'healthy';
        const t = (i: number): Date => new Date(NOW.getTime() + i * 1500);
        let i = 0;
        for (let k = 0; k < confirm; k++) h.next(round(start), t(i++));
        const settled = h.state;
        expect(settled?.kind).toBe(start);
        const other = startBroken ? 'healthy' : bad;
        for (let p = 0; p < pairs; p++) {
          expect(h.next(round(other), t(i++)).kind).toBe(start);
          expect(h.next(round(start), t(i++)).kind).toBe(start);
        }
        expect(h.state?.since).toBe(settled?.since);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 4_000 },
    );
  }, 60_000);
});
