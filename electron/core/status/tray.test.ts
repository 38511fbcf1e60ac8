import type { FallbackView } from '../../contract/fallback';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { EventName, EventPayload } from '../../contract/contract';
import { StatusSnapshot, type Severity } from '../../contract/status';
import { AppError } from '../errors';
import { createLogger } from '../log';
import { parseAgentLine } from './agent-protocol';
import { StatusModel } from './status-model';
import { StatusTray, type TrayNotification } from './status-tray';
import { fixtureTarget } from './fixtures/target';
import type { StatusTarget } from './target';
import { TrayModel, trayIconPixels, trayIconPng, type TrayView } from './tray';

/** The recorded run's target, with only the data path that exists there. */
const target: StatusTarget = { ...fixtureTarget, dataPaths: fixtureTarget.dataPaths.slice(0, 1) };
const at = new Date('2026-11-25T19:30:00Z');

/** A snapshot built the product's way: a recorded agent run through the model, then a change on top. */
function snapshot(profileId: string, change?: (m: StatusModel) => void): StatusSnapshot {
  const m = new StatusModel(profileId, target, { now: at });
  for (const l of readFileSync(path.join(__dirname, 'fixtures', 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n')) {
    const p = parseAgentLine(l);
    if (p.ok) m.apply(p.line);
  }
  m.setAgent({ kind: 'running', since: at.toISOString(), http: 'curl' });
  change?.(m);
  return StatusSnapshot.parse(m.snapshot(at, 1));
}

const fx = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
/** cloudflared as recorded from the lab stand-in, at 4 and at 0 edge connections. */
const tunnelAt = (n: 0 | 4) => (m: StatusModel): void => {
  m.apply({ t: 'tunnel', replicas: [{ service: 'cloudflared', readyCode: n ? 200 : 503, ready: fx(`cloudflared-ready-${n}.json`).trim(), metricsCode: 200, metrics: fx(`cloudflared-metrics-${n}.txt`).trim().split('\n') }] });
};
const tunnelDown = tunnelAt(0);

describe('the tray view', () => {
  it('carries the worst state of all servers, worst first, with the reason in words', () => {
    const t = new TrayModel();
    expect(t.view()).toMatchObject({ severity: 'unknown', tooltip: 'M2 Companion: no server is watched yet.' });
    const good = snapshot('home', tunnelAt(4));
    expect(good.overall).toBe('ok');
    const v1 = t.update('home', 'Home server', good);
    expect(v1).toMatchObject({ severity: 'ok', tooltip: 'M2 Companion: Home server is working.' });

    const down = snapshot('cabin', tunnelDown);
    expect(down.overall).toBe('error');
    const v2 = t.update('cabin', 'Cabin', down);
    expect(v2?.severity).toBe('error');
    expect(v2?.lines.map((l) => l.profileId)).toEqual(['cabin', 'home']);
    expect(v2?.lines[0]?.reason).toMatch(/^Tunnel: /);
    expect(v2?.tooltip).toContain('Cabin: Tunnel: ');

    // The same snapshot again changes nothing the tray shows: no redraw.
    expect(t.update('cabin', 'Cabin', down)).toBeUndefined();
    // The bad server goes away: the tray is as good as the rest.
    expect(t.forget('cabin')?.severity).toBe('ok');
  });

  it('says "not connected" with the reason while the agent reconnects', () => {
    const t = new TrayModel();
    const v = t.update('home', 'Home', snapshot('home', (m) => m.setAgent({ kind: 'restarting', since: at.toISOString(), reason: 'the SSH connection was lost', retryInMs: 500 })));
    expect(v?.lines[0]).toMatchObject({ severity: 'unknown', reason: 'Not connected: the SSH connection was lost' });
  });
});

/** Decode our own PNG: signature, IHDR, and the pixels of one IDAT (filter 0 rows). */
function decodePng(png: Buffer): { width: number; height: number; px: Buffer } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    const type = png.toString('ascii', o + 4, o + 8);
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 6]);
    }
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    raw.copy(px, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  }
  return { width, height, px };
}

describe('the tray icon', () => {
  const sevs: Severity[] = ['ok', 'unknown', 'warning', 'error'];

  it('is a valid RGBA PNG of the asked size whose pixels are the drawn ones', () => {
    for (const s of sevs) {
      const { width, height, px } = decodePng(trayIconPng(s, 32));
      expect([width, height]).toEqual([32, 32]);
      expect(Buffer.compare(px, Buffer.from(trayIconPixels(s, 32)))).toBe(0);
    }
  });

  it('tells the states apart by shape, not colour alone: each has its own opaque outline', () => {
    const masks = sevs.map((s) => {
      const px = trayIconPixels(s, 32);
      return Array.from({ length: 32 * 32 }, (_, i) => ((px[i * 4 + 3] ?? 0) > 128 ? 1 : 0)).join('');
    });
    // ok and error share the disc, but their marks differ: compare the white mark too.
    const marks = sevs.map((s) => {
      const px = trayIconPixels(s, 32);
      return Array.from({ length: 32 * 32 }, (_, i) => ((px[i * 4 + 3] ?? 0) > 128 && (px[i * 4] ?? 0) > 200 && (px[i * 4 + 1] ?? 0) > 200 ? 1 : 0)).join('');
    });
    const sig = sevs.map((_, i) => `${masks[i]}|${marks[i]}`);
    expect(new Set(sig).size).toBe(4);
    // The ring is hollow: its centre is transparent; the others' centres are drawn.
    const centre = (s: Severity): number => trayIconPixels(s, 32)[(16 * 32 + 16) * 4 + 3] ?? 0;
    expect(centre('unknown')).toBe(0);
    expect(centre('error')).toBeGreaterThan(200);
    // Corners are transparent for every state.
    for (const s of sevs) expect(trayIconPixels(s, 32)[3]).toBe(0);
  });
});

describe('the status tray', () => {
  function harness(profiles: Array<{ id: string; name: string }>, withStack: string[]) {
    const watched: string[] = [];
    const released: string[] = [];
    const views: TrayView[] = [];
    const notes: TrayNotification[] = [];
    const tray = new StatusTray({
      status: {
        watch: async (id) => void watched.push(id),
        unsubscribe: (id) => void released.push(id),
      },
      profiles: async () => profiles,
      hasStack: async (id) => withStack.includes(id),
      onView: (v) => views.push(v),
      onNotify: (n) => notes.push(n),
      log: createLogger(() => undefined),
    });
    const emit = <E extends EventName>(e: E, p: EventPayload<E>): void => tray.event(e, p);
    return { tray, watched, released, views, notes, emit };
  }

  it('watches every server with a stack, once, and lets go of one whose stack is gone', async () => {
    const profiles = [
      { id: 'home', name: 'Home server' },
      { id: 'bare', name: 'Bare' },
    ];
    const withStack = ['home'];
    const h = harness(profiles, withStack);
    await h.tray.start();
    expect(h.watched).toEqual(['home']);
    expect(h.views[0]?.severity).toBe('unknown');
    await h.tray.sync();
    expect(h.watched).toEqual(['home']);

    withStack.push('bare');
    h.emit('stack:progress', { kind: 'phase', profileId: 'bare', applyId: 'a1', phase: 'done', message: 'Installed.' });
    await h.tray.sync();
    expect(h.watched).toEqual(['home', 'bare']);

    profiles.splice(0, 1);
    h.emit('profiles:changed', []);
    await h.tray.sync();
    expect(h.released).toEqual(['home']);
    h.tray.stop();
    expect(h.released).toEqual(['home', 'bare']);
  });

  it('draws the tray from status:update and names the server in notifications when there are several', async () => {
    const h = harness(
      [
        { id: 'home', name: 'Home server' },
        { id: 'cabin', name: 'Cabin' },
      ],
      ['home', 'cabin'],
    );
    await h.tray.start();
    h.emit('status:update', { profileId: 'cabin', snapshot: snapshot('cabin', tunnelDown) });
    expect(h.views.at(-1)).toMatchObject({ severity: 'error', lines: [expect.objectContaining({ label: 'Cabin' })] });
    const count = h.views.length;
    h.emit('status:update', { profileId: 'cabin', snapshot: snapshot('cabin', tunnelDown) });
    expect(h.views).toHaveLength(count);

    h.emit('status:notification', { profileId: 'cabin', id: 'n1', card: 'tunnel', severity: 'error', previous: 'ok', title: 'Tunnel down', body: 'No edge connections.', at: at.toISOString() });
    expect(h.notes).toEqual([{ profileId: 'cabin', title: 'Cabin: Tunnel down', body: 'No edge connections.', severity: 'error' }]);
    h.tray.stop();
    h.emit('status:notification', { profileId: 'cabin', id: 'n2', card: 'tunnel', severity: 'ok', previous: 'error', title: 'Tunnel back', body: '', at: at.toISOString() });
    expect(h.notes).toHaveLength(1);
  });
});

describe('the tray’s fallback switch', () => {
  const fallbackView = (profileId: string, ready: boolean, mode: FallbackView['mode']): FallbackView => ({
    profileId,
    ready,
    notReadyReason: ready ? null : 'Turn on WireGuard in Services.',
    settings: { autoSwitch: false, subnet: '10.13.13.0/24', endpointName: '', sshAddress: '', allowLan: false, lanCidr: '' },
    mode,
    endpoint: { name: null, lastKnownIp: null, lastKnownAt: null, port: 51820, warning: null, reachedFromOutside: null },
    serverAddress: '10.13.13.1',
    services: [],
    devices: [],
    laptop: { method: 'none', state: 'down', detail: '', sshOverWireguard: false },
    outage: null,
    lanWarning: null,
    unavailable: [],
  });

  it('offers the switch only for servers whose fallback is ready, and follows it on and off', async () => {
    const views: TrayView[] = [];
    const tray = new StatusTray({
      status: { watch: async () => undefined, unsubscribe: () => undefined },
      profiles: async () => [
        { id: 'home', name: 'Home server' },
        { id: 'cabin', name: 'Cabin' },
      ],
      hasStack: async () => true,
      fallback: async (id) => ({ ready: id === 'home', on: false }),
      onView: (v) => views.push(v),
      onNotify: () => undefined,
      log: createLogger(() => undefined),
    });
    await tray.start();
    await new Promise((r) => setTimeout(r, 0));
    tray.event('status:update', { profileId: 'home', snapshot: snapshot('home', tunnelAt(4)) });
    tray.event('status:update', { profileId: 'cabin', snapshot: snapshot('cabin', tunnelAt(4)) });
    const line = (id: string): TrayView['lines'][number] | undefined => views.at(-1)?.lines.find((l) => l.profileId === id);
    expect(line('home')?.fallback).toEqual({ on: false });
    expect(line('cabin')?.fallback).toBeUndefined();
    tray.event('fallback:changed', fallbackView('home', true, { kind: 'on', since: at.toISOString(), mapping: { kind: 'none' } }));
    expect(line('home')?.fallback).toEqual({ on: true });
    tray.event('fallback:changed', fallbackView('home', true, { kind: 'off', since: at.toISOString() }));
    expect(line('home')?.fallback).toEqual({ on: false });
    // A fallback that is no longer usable leaves the menu.
    tray.event('fallback:changed', fallbackView('home', false, { kind: 'off', since: null }));
    expect(line('home')?.fallback).toBeUndefined();
    tray.stop();
  });
});

describe('the status tray and connections', () => {
  it('shows a server that is not connected yet as such, and watches it once it connects', async () => {
    const watched: string[] = [];
    const views: TrayView[] = [];
    const connected = new Set<string>();
    const tray = new StatusTray({
      status: {
        watch: async (id) => {
          if (!connected.has(id)) throw new AppError('server.not-connected', 'Not connected to this server.');
          watched.push(id);
        },
        unsubscribe: () => undefined,
      },
      profiles: async () => [{ id: 'home', name: 'Home server' }],
      hasStack: async () => true,
      onView: (v) => views.push(v),
      onNotify: () => undefined,
      log: createLogger(() => undefined),
    });
    await tray.start();
    expect(watched).toEqual([]);
    expect(views.at(-1)?.lines).toEqual([{ profileId: 'home', label: 'Home server', severity: 'unknown', reason: 'Not connected: Not connected to this server.' }]);
    // An update for a server the tray does not watch (e.g. a page's own watch that ended) leaves no line behind.
    const count = views.length;
    tray.event('status:update', { profileId: 'home', snapshot: snapshot('home', tunnelDown) });
    expect(views).toHaveLength(count);

    connected.add('home');
    tray.event('server:state', { profileId: 'home', state: { kind: 'connected', since: at.toISOString() } });
    await tray.sync();
    expect(watched).toEqual(['home']);
    tray.event('status:update', { profileId: 'home', snapshot: snapshot('home', tunnelDown) });
    expect(views.at(-1)).toMatchObject({ severity: 'error', lines: [{ profileId: 'home', reason: expect.stringMatching(/^Tunnel: /) }] });
    // Connected again later (already watched): the status service moves the agent itself; no second watch.
    tray.event('server:state', { profileId: 'home', state: { kind: 'connected', since: at.toISOString() } });
    await tray.sync();
    expect(watched).toEqual(['home']);
  });
});
