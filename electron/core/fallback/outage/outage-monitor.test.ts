import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutageState } from '../../../contract/fallback';
import type { StatusSnapshot } from '../../../contract/status';
import { Secret } from '../../secrets/secret';
import { parseAgentLine } from '../../status/agent-protocol';
import { fixtureTarget } from '../../status/fixtures/target';
import { StatusModel } from '../../status/status-model';
import { OutageMonitor } from './outage-monitor';

/** A loopback edge whose answer the test flips: the service, 530/1033, or nothing listening. */
let mode: 'app' | 'tunnel' = 'app';
let server: http.Server;
let port = 0;
const sockets = new Set<Socket>();
const seenTokens: Array<string | undefined> = [];

beforeEach(async () => {
  mode = 'app';
  seenTokens.length = 0;
  server = http.createServer((req, res) => {
    seenTokens.push(req.headers['cf-access-client-id'] as string | undefined);
    if (mode === 'tunnel') {
      res.writeHead(530, { server: 'cloudflare', 'cf-ray': '0123456789abcdef-LAB' });
      return res.end('error code: 1033');
    }
    res.writeHead(200, { server: 'cloudflare', 'cf-ray': '0123456789abcdef-LAB' });
    res.end('ok');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const waitFor = async (what: string, check: () => boolean, ms: number): Promise<number> => {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
};

/** Live status's snapshot built the product's way (a recorded agent run), with cloudflared at 4 or 0 connections. */
function statusSnapshot(connections: 0 | 4): StatusSnapshot {
  const fixtures = path.join(__dirname, '..', '..', 'status', 'fixtures');
  const m = new StatusModel('home', { ...fixtureTarget, dataPaths: fixtureTarget.dataPaths.slice(0, 1) });
  for (const l of readFileSync(path.join(fixtures, 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n')) {
    const p = parseAgentLine(l);
    if (p.ok) m.apply(p.line);
  }
  const fx = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8').trim();
  m.apply({ t: 'tunnel', replicas: [{ service: 'cloudflared', readyCode: connections ? 200 : 503, ready: fx(`cloudflared-ready-${connections}.json`), metricsCode: 200, metrics: fx(`cloudflared-metrics-${connections}.txt`).split('\n') }] });
  m.setAgent({ kind: 'running', since: new Date().toISOString(), http: 'curl' });
  return m.snapshot(new Date(), 1);
}

function monitor(changes: Array<[string, OutageState]>, server: { reachable: boolean | null } = { reachable: true }, intervalMs = 400): OutageMonitor {
  return new OutageMonitor({
    hostnames: async () => ['media.example.com', 'cloud.example.com'],
    serviceToken: async () => ({ id: 'client.access', secret: new Secret('probe-secret-value-0123456789abcdef') }),
    snapshot: () => undefined,
    serverReachable: () => server.reachable,
    onChange: (id, s) => changes.push([id, s]),
    intervalMs,
    fastIntervalMs: 100,
    probeTimeoutMs: 300,
    probe: { connect: { host: '127.0.0.1', port, tls: false } },
  });
}

describe('OutageMonitor', () => {
  it('settles on healthy, confirms a broken tunnel after agreeing rounds, tells each change once, and recovers', async () => {
    const changes: Array<[string, OutageState]> = [];
    const m = monitor(changes);
    try {
      m.watch('home');
      m.watch('home'); // a second watch changes nothing
      await waitFor('healthy', () => m.state('home')?.kind === 'healthy', 3_000);
      expect(seenTokens.every((t) => t === 'client.access')).toBe(true);
      mode = 'tunnel';
      const took = await waitFor('tunnel-broken', () => m.state('home')?.kind === 'tunnel-broken', 3_000);
      // At most one slow interval to notice, then fast rounds to confirm.
      expect(took).toBeLessThan(400 + 2 * 100 + 500);
      expect(m.state('home')?.reason).toMatch(/error 1033/);
      mode = 'app';
      await waitFor('healthy again', () => m.state('home')?.kind === 'healthy', 3_000);
      const kinds = changes.map(([, s]) => s.kind);
      // unknown (checking) → healthy → tunnel-broken → healthy, each told once.
      expect(kinds.filter((k, i) => k !== kinds[i - 1])).toEqual(['unknown', 'healthy', 'tunnel-broken', 'healthy']);
      expect(kinds.filter((k) => k === 'tunnel-broken')).toHaveLength(1);
      expect(JSON.stringify(changes)).not.toContain('probe-secret-value');
    } finally {
      m.stop();
    }
  });

  it('an edge that refuses connections while the server answers is a Cloudflare outage', async () => {
    const changes: Array<[string, OutageState]> = [];
    const m = monitor(changes);
    try {
      m.watch('home');
      await waitFor('healthy', () => m.state('home')?.kind === 'healthy', 3_000);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await waitFor('cloudflare-outage', () => m.state('home')?.kind === 'cloudflare-outage', 3_000);
      expect(m.state('home')?.probes.every((p) => p.outcome === 'connect-failure')).toBe(true);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    } finally {
      m.stop();
    }
  });

  it('one failed round between good ones changes nothing', async () => {
    const changes: Array<[string, OutageState]> = [];
    const m = monitor(changes);
    try {
      m.watch('home');
      await waitFor('healthy', () => m.state('home')?.kind === 'healthy', 3_000);
      const rounds = m.rounds('home');
      mode = 'tunnel';
      await waitFor('one round', () => m.rounds('home') >= rounds + 1, 2_000);
      mode = 'app';
      await waitFor('three more rounds', () => m.rounds('home') >= rounds + 4, 4_000);
      expect(changes.map(([, s]) => s.kind)).not.toContain('tunnel-broken');
      expect(m.state('home')?.kind).toBe('healthy');
      m.unwatch('home');
      expect(m.state('home')).toBeNull();
    } finally {
      m.stop();
    }
  });

  it('a change in cloudflared’s own view checks at once and keeps checking fast, instead of waiting for the next slow round', async () => {
    const changes: Array<[string, OutageState]> = [];
    const m = monitor(changes, { reachable: true }, 60_000);
    try {
      m.watch('home');
      await waitFor('first round', () => m.rounds('home') >= 1, 3_000);
      m.observe(statusSnapshot(4));
      // Unsettled at first, so the confirming round comes fast.
      await waitFor('healthy', () => m.state('home')?.kind === 'healthy', 3_000);
      mode = 'tunnel';
      const t0 = Date.now();
      m.observe(statusSnapshot(0));
      await waitFor('tunnel-broken', () => m.state('home')?.kind === 'tunnel-broken', 3_000);
      // Without the nudge the next round would come a minute later.
      expect(Date.now() - t0).toBeLessThan(1_500);
    } finally {
      m.stop();
    }
  });
});
