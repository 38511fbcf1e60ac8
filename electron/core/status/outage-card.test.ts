import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OutageState } from '../../contract/fallback';
import { StatusSnapshot } from '../../contract/status';
import { parseAgentLine } from './agent-protocol';
import { NotificationGate } from './notifications';
import { StatusModel } from './status-model';
import { fixtureTarget } from './fixtures/target';
import { TrayModel } from './tray';

const at = new Date('2026-12-04T20:41:00Z');
const target = { ...fixtureTarget, dataPaths: fixtureTarget.dataPaths.slice(0, 1) };

/** The recorded agent run through the product's model, with an outage state on top. */
function snapshot(outage: OutageState | null, agent: 'running' | 'restarting' = 'running'): StatusSnapshot {
  const m = new StatusModel('home', target, { now: at });
  for (const l of readFileSync(path.join(__dirname, 'fixtures', 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n')) {
    const p = parseAgentLine(l);
    if (p.ok) m.apply(p.line);
  }
  // cloudflared as recorded from the lab stand-in with its 4 edge connections: the tunnel card is ok on its own.
  const fx = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8').trim();
  m.apply({ t: 'tunnel', replicas: [{ service: 'cloudflared', readyCode: 200, ready: fx('cloudflared-ready-4.json'), metricsCode: 200, metrics: fx('cloudflared-metrics-4.txt').split('\n') }] });
  m.setAgent(agent === 'running' ? { kind: 'running', since: at.toISOString(), http: 'curl' } : { kind: 'restarting', since: at.toISOString(), reason: 'connection lost', retryInMs: 1000 });
  m.setOutage(outage);
  return StatusSnapshot.parse(m.snapshot(at, 1));
}

const outage = (kind: OutageState['kind'], reason: string): OutageState => ({
  kind,
  since: at.toISOString(),
  reason,
  evidence: ['Outside-in probes: 1 of 1: the edge could not be reached (1 s ago).', 'The server answers over SSH.'],
  probes: [],
  serverReachable: kind !== 'home-offline',
  checkedAt: at.toISOString(),
});

describe('the outage on the status snapshot', () => {
  it('a snapshot carries the outage state, and a healthy one leaves the tunnel card as it was', () => {
    const none = snapshot(null);
    expect(none.outage).toBeNull();
    const healthy = snapshot(outage('healthy', '1 of 1 hostnames answer through Cloudflare.'));
    expect(healthy.outage?.kind).toBe('healthy');
    expect(healthy.cards.find((c) => c.id === 'tunnel')).toEqual(none.cards.find((c) => c.id === 'tunnel'));
  });

  it('a Cloudflare outage makes the tunnel card an error whose reason says it first, and the tray says so', () => {
    const snap = snapshot(outage('cloudflare-outage', 'Cloudflare cannot be reached: 1 of 1 probes got no answer from its edge, while the server answers.'));
    expect(snap.cards[0]).toMatchObject({ id: 'tunnel', severity: 'error' });
    // The snapshot does not know the fallback, so its words promise none.
    expect(snap.cards[0]?.reason).toBe('Cloudflare is down. Cloudflare cannot be reached: 1 of 1 probes got no answer from its edge, while the server answers.');
    expect(snap.overall).toBe('error');
    const tray = new TrayModel();
    expect(tray.update('home', 'Home', snap)?.lines[0]).toMatchObject({ severity: 'error', reason: 'Cloudflare is down' });
  });

  it('the tray names the fallback only as it is: usable, on, or not at all', () => {
    const snap = snapshot(outage('cloudflare-outage', 'Cloudflare cannot be reached.'));
    const tray = new TrayModel();
    tray.update('home', 'Home', snap);
    // The switch becomes usable after the snapshot arrived: the line's words follow without a new snapshot.
    expect(tray.fallback('home', { ready: true, on: false })?.lines[0]).toMatchObject({ reason: 'Cloudflare is down — the fallback can be turned on', fallback: { on: false } });
    expect(tray.fallback('home', { ready: true, on: true })?.lines[0]).toMatchObject({ reason: 'Cloudflare is down — the fallback is on', fallback: { on: true } });
    // A server whose stack has no WireGuard: no switch, and no promise of one.
    const line = tray.fallback('home', { ready: false, on: false })?.lines[0];
    expect(line?.reason).toBe('Cloudflare is down');
    expect(line?.fallback).toBeUndefined();
  });

  it('home offline is shown on the tunnel card and the tray even while the agent is away', () => {
    // Its reason opens with the headline's words, so they are not said twice.
    const snap = snapshot(outage('home-offline', 'The home server is offline: …'), 'restarting');
    expect(snap.cards.find((c) => c.id === 'tunnel')).toMatchObject({ severity: 'error', reason: 'The home server is offline: …' });
    expect(new TrayModel().update('home', 'Home', snap)?.lines[0]).toMatchObject({ severity: 'error', reason: 'The home server is offline' });
  });

  it('one incident is one notification: a reason that changes while the card stays in error tells nobody again', () => {
    const told: string[] = [];
    let now = 0;
    const timers: Array<{ at: number; fn: () => void }> = [];
    const gate = new NotificationGate((t) => told.push(`${t.card}:${t.severity}`), {
      settleMs: 1_000,
      repeatMs: 300_000,
      clock: {
        now: () => now,
        setTimeout: (fn: () => void, ms: number) => {
          const t = { at: now + ms, fn };
          timers.push(t);
          return t;
        },
        clearTimeout: (t: unknown) => {
          const i = timers.indexOf(t as (typeof timers)[number]);
          if (i >= 0) timers.splice(i, 1);
        },
      },
    });
    const advance = (ms: number): void => {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= now) {
          timers.splice(timers.indexOf(t), 1);
          t.fn();
        }
      }
    };
    gate.observe(snapshot(outage('healthy', 'fine.')).cards);
    for (const reason of ['Cloudflare answers 1 of 1 hostnames with error 1033.', 'cloudflared on the server reports no connection.', 'Cloudflare answers 1 of 1 hostnames with error 1033 (again).']) {
      gate.observe(snapshot(outage('tunnel-broken', reason)).cards);
      advance(1_500);
    }
    expect(told).toEqual(['tunnel:error']);
  });

  it('cloudflared stopped from a healthy start: the minute-old API view that still saw its connections does not outvote the server', () => {
    const m = new StatusModel('home', target, { now: at });
    const lines = readFileSync(path.join(__dirname, 'fixtures', 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n');
    for (const l of lines) {
      const p = parseAgentLine(l);
      if (p.ok) m.apply(p.line);
    }
    const fx = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8').trim();
    m.apply({ t: 'tunnel', replicas: [{ service: 'cloudflared', readyCode: 200, ready: fx('cloudflared-ready-4.json'), metricsCode: 200, metrics: fx('cloudflared-metrics-4.txt').split('\n') }] });
    m.setAgent({ kind: 'running', since: at.toISOString(), http: 'curl' });
    // Cloudflare's API, read once a minute, saw the tunnel healthy just before.
    m.setApi({ status: 'healthy', connectors: 1, connections: 4, colos: ['LAB'], checkedAt: at.toISOString() });
    const tunnelCard = (s: StatusSnapshot) => s.cards.find((c) => c.id === 'tunnel');
    expect(tunnelCard(m.snapshot(new Date(at.getTime() + 1_000), 1))?.severity).toBe('ok');
    // Then `docker stop`: the agent's next containers line says cloudflared exited.
    const containers = lines.map((l) => parseAgentLine(l)).find((p) => p.ok && p.line.t === 'containers');
    if (!containers?.ok || containers.line.t !== 'containers') throw new Error('fixture has no containers line');
    m.apply({ ...containers.line, list: containers.line.list.map((c) => (c.service === 'cloudflared' ? { ...c, state: 'exited', exitCode: 0 } : c)) });
    const snap = m.snapshot(new Date(at.getTime() + 30_000), 2);
    expect(tunnelCard(snap)).toMatchObject({ severity: 'error', reason: 'cloudflared is not running.' });
    expect(snap.tunnel.evidence.at(-1)).toMatch(/^Cloudflare reports the tunnel healthy with 1 connector and 4 connections \(30 s ago, before the server’s view last changed: not counted\)\.$/);
  });
});
