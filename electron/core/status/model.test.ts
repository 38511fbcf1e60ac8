import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StatusSnapshot, type StatusCard } from '../../contract/status';
import { LineSplitter, parseAgentLine } from './agent-protocol';
import { sortWorstFirst } from './cards';
import { Ring, StatusHistoryStore } from './history';
import { NotificationGate, type Clock, type Transition } from './notifications';
import { gpusFrom } from './host';
import { StatusModel } from './status-model';
import { fixtureTarget } from './fixtures/target';
import { StackSettings } from '../../contract/stack';
import { statusTargetFrom } from './target';

const fixture = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const target = fixtureTarget;

describe('the backup age the admin chose', () => {
  it('comes from the stack settings (26 h by default) and decides when an old backup is a warning', () => {
    expect(statusTargetFrom(StackSettings.parse({})).backup.maxAgeHours).toBe(26);
    const strict = statusTargetFrom(StackSettings.parse({ modules: { backup: { warnAfterHours: 2 } } }));
    expect(strict.backup.maxAgeHours).toBe(2);
    // The recorded run's last good backup, three hours later: fine under 26 h, a warning under 2 h.
    const later = new Date('2026-11-25T22:30:00Z');
    const verdict = (t: typeof fixtureTarget) => {
      const m = new StatusModel('home', t, { now: later });
      for (const l of readFileSync(path.join(__dirname, 'fixtures', 'agent-first-snapshot.ndjson'), 'utf8').trim().split('\n')) {
        const p = parseAgentLine(l);
        if (p.ok) m.apply(p.line);
      }
      return m.snapshot(later, 1).backup;
    };
    expect(verdict({ ...fixtureTarget, backup: { ...fixtureTarget.backup, maxAgeHours: 26 } })).toMatchObject({ severity: 'ok', maxAgeHours: 26 });
    expect(verdict({ ...fixtureTarget, backup: { ...fixtureTarget.backup, maxAgeHours: 2 } })).toMatchObject({ severity: 'warning', maxAgeHours: 2, reason: expect.stringContaining('more than 2 h') });
  });

  it('refuses an age outside 2..720 hours with a message that names the field', () => {
    const r = StackSettings.safeParse({ modules: { backup: { warnAfterHours: 1 } } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('Warn after: use at least 2 hours.');
    expect(StackSettings.safeParse({ modules: { backup: { warnAfterHours: 721 } } }).error?.issues[0]?.message).toBe('Warn after: use at most 720 hours (30 days).');
  });
});

describe('agent lines', () => {
  it('accepts every line of a recorded agent run: the first snapshot, then changes only', () => {
    const text = fixture('agent-first-snapshot.ndjson').trim().split('\n');
    expect(text.map((l) => parseAgentLine(l).ok)).toEqual(text.map(() => true));
    const kinds = text.map((l) => (JSON.parse(l) as { t: string }).t);
    expect(kinds.slice(0, 9)).toEqual(['hello', 'containers', 'tunnel', 'jellyfin', 'backup', 'gpu', 'host', 'disk', 'ready']);
    // Then only changes: restic's snapshot, and the sessions while their positions advance.
    expect(new Set(kinds.slice(9))).toEqual(new Set(['snapshots', 'jellyfin']));
  });

  it('drops what is not a known line with a reason, and never throws on any text', { timeout: 60_000 }, () => {
    expect(parseAgentLine('this is {not json')).toEqual({ ok: false, reason: 'not JSON (17 characters)' });
    expect(parseAgentLine('{"t":"host","cpu":"nope"}')).toMatchObject({ ok: false });
    expect(parseAgentLine('{"t":"launch-missiles"}')).toMatchObject({ ok: false });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => typeof parseAgentLine(s).ok === 'boolean'));
  });

  it('splits a stream into lines across any chunking, and drops an oversized line whole', { timeout: 60_000 }, () => {
    const text = 'a\nbb\n\nccc\n';
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 4 }), (cuts) => {
        const out: string[] = [];
        const sp = new LineSplitter((l) => out.push(l), () => undefined);
        const points = [...new Set([0, ...cuts.sort((a, b) => a - b), text.length])];
        for (let i = 1; i < points.length; i++) sp.push(text.slice(points[i - 1], points[i]));
        expect(out).toEqual(['a', 'bb', 'ccc']);
      }),
    );
    const out: string[] = [];
    let over = 0;
    const sp = new LineSplitter((l) => out.push(l), () => over++, 10);
    sp.push('x'.repeat(8));
    sp.push('y'.repeat(8));
    sp.push('zz\nok\n');
    expect(out).toEqual(['ok']);
    expect(over).toBe(1);
  });
});

describe('the status model', () => {
  it('builds a complete snapshot from the recorded agent output, valid against the contract', () => {
    const m = new StatusModel('home', target, { now: new Date('2026-11-25T19:30:00Z') });
    for (const l of fixture('agent-first-snapshot.ndjson').trim().split('\n')) {
      const p = parseAgentLine(l);
      if (p.ok) m.apply(p.line);
    }
    m.setAgent({ kind: 'running', since: '2026-11-25T19:30:00Z', http: 'curl' });
    const s = m.snapshot(new Date('2026-11-25T19:30:00Z'), 1);
    expect(StatusSnapshot.safeParse(s).success).toBe(true);
    expect(s.complete).toBe(true);
    expect(s.tunnel).toMatchObject({ state: 'down', connections: 0 });
    expect(s.transcodes.counts).toEqual({ hardware: 1, software: 1, direct: 2 });
    expect(s.backup).toMatchObject({ severity: 'ok', lastRun: { result: 'success' } });
    expect(s.host.disks).toEqual([expect.objectContaining({ label: 'Data', present: true }), expect.objectContaining({ label: 'Media', present: false })]);
    expect(s.cards.map((c) => c.id)).toEqual(['tunnel', 'host', 'services', 'backups', 'transcodes']);
    expect(s.cards.find((c) => c.id === 'host')?.reason).toBe('Media (/nonexistent-m2) does not exist.');
    expect(s.overall).toBe('error');
  });

  it('says why every card is unknown while the agent is not running', () => {
    const m = new StatusModel('home', target);
    m.setAgent({ kind: 'restarting', since: '2026-11-25T19:30:00Z', reason: 'the SSH connection was lost', retryInMs: 500 });
    const s = m.snapshot(new Date(), 2);
    expect(new Set(s.cards.map((c) => c.severity))).toEqual(new Set(['unknown']));
    expect(s.cards[0]?.reason).toBe('Reconnecting to the server: the SSH connection was lost');
  });

  it('measures request and error rates between history steps from the counters', () => {
    const m = new StatusModel('home', target);
    const tunnel = (req: number, err: number) =>
      m.apply({ t: 'tunnel', replicas: [{ service: 'cloudflared', readyCode: 200, ready: '{}', metricsCode: 200, metrics: [`cloudflared_tunnel_total_requests ${req}`, `cloudflared_tunnel_request_errors ${err}`] }] });
    tunnel(100, 1);
    expect(m.sampleRates(0)).toEqual({ requests: null, errors: null });
    tunnel(150, 6);
    expect(m.sampleRates(5_000)).toEqual({ requests: 10, errors: 1 });
    expect(m.sampleRates(10_000)).toEqual({ requests: 0, errors: 0 });
    tunnel(3, 0);
    expect(m.sampleRates(15_000)).toEqual({ requests: 0, errors: 0 });
  });
});

describe('history', () => {
  it('keeps a bounded ring, one value per step, oldest dropped', () => {
    const r = new Ring(3);
    for (let i = 0; i < 5; i++) r.put(i * 10, i);
    r.put(40, 44);
    r.put(30, 99);
    expect(r.points()).toEqual([
      { t: 20, v: 2 },
      { t: 30, v: 3 },
      { t: 40, v: 44 },
    ]);
    const h = new StatusHistoryStore(5_000, 60_000);
    for (let t = 0; t < 600_000; t += 1_000) h.record(t, { transcodeFps: t / 1000, gpuEncoder: null });
    const s = h.series(600_000);
    expect(s.transcodeFps.length).toBeLessThanOrEqual(13);
    expect(s.transcodeFps.at(-1)).toEqual({ t: 595_000, v: 599 });
    expect(s.gpuEncoder.at(-1)?.v).toBeNull();
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

describe('debounced notifications', () => {
  const card = (severity: StatusCard['severity'], reason = 'why'): StatusCard => ({ id: 'tunnel', title: 'Tunnel', severity, reason });
  let gate: NotificationGate | undefined;
  afterEach(() => gate?.dispose());

  it('tells once about a change that holds, and nothing about a blip', () => {
    const clock = new FakeClock();
    const sent: Transition[] = [];
    gate = new NotificationGate((t) => sent.push(t), { settleMs: 5_000, repeatMs: 300_000, clock });
    gate.observe([card('ok')]);
    gate.observe([card('error', 'down')]);
    clock.advance(2_000);
    gate.observe([card('ok')]);
    clock.advance(10_000);
    expect(sent).toEqual([]);
    gate.observe([card('error', 'down')]);
    clock.advance(5_000);
    expect(sent).toEqual([{ card: 'tunnel', severity: 'error', previous: 'ok', title: 'Tunnel has a problem', reason: 'down' }]);
  });

  it('turns a check flapping for ten minutes into one notification per window, ending with the settled state', () => {
    const clock = new FakeClock();
    const sent: Transition[] = [];
    gate = new NotificationGate((t) => sent.push(t), { settleMs: 5_000, repeatMs: 300_000, clock });
    gate.observe([card('ok')]);
    for (let i = 0; i < 60; i++) {
      gate.observe([card(i % 2 === 0 ? 'error' : 'ok')]);
      clock.advance(10_000);
    }
    gate.observe([card('ok')]);
    clock.advance(600_000);
    expect(sent.length).toBeLessThanOrEqual(4);
    expect(sent.at(-1)?.severity).toBe('ok');
  });

  it('never notifies about unknown, and does not start from it', () => {
    const clock = new FakeClock();
    const sent: Transition[] = [];
    gate = new NotificationGate((t) => sent.push(t), { settleMs: 1_000, repeatMs: 1_000, clock });
    gate.observe([card('unknown')]);
    gate.observe([card('error')]);
    clock.advance(5_000);
    gate.observe([card('unknown')]);
    clock.advance(5_000);
    expect(sent).toEqual([]);
  });

  it('tells a stopped cloudflared and the tunnel going down as one incident, cause first, and its recovery once', () => {
    const clock = new FakeClock();
    const sent: Transition[] = [];
    gate = new NotificationGate((t) => sent.push(t), { settleMs: 5_000, repeatMs: 300_000, clock });
    const services = (severity: StatusCard['severity'], reason: string): StatusCard => ({ id: 'services', title: 'Services', severity, reason });
    gate.observe([card('ok', 'healthy'), services('ok', 'All 3 services are running.')]);
    // The container stops first; the edge notices the tunnel is gone a moment later.
    gate.observe([card('ok', 'healthy'), services('error', 'cloudflared: Stopped (exit code 0).')]);
    clock.advance(1_500);
    gate.observe([card('error', 'The tunnel is broken: error 1033.'), services('error', 'cloudflared: Stopped (exit code 0).')]);
    clock.advance(30_000);
    expect(sent).toEqual([{ card: 'tunnel', severity: 'error', previous: 'ok', title: 'Tunnel has a problem', reason: 'cloudflared: Stopped (exit code 0). The tunnel is broken: error 1033.' }]);
    // Back: one message too.
    gate.observe([card('error', 'The tunnel is broken: error 1033.'), services('ok', 'All 3 services are running.')]);
    clock.advance(2_000);
    gate.observe([card('ok', 'healthy'), services('ok', 'All 3 services are running.')]);
    // (A card tells at most once per repeat window, so the recovery comes when the window ends.)
    clock.advance(300_000);
    expect(sent.map((t) => [t.card, t.severity])).toEqual([
      ['tunnel', 'error'],
      ['tunnel', 'ok'],
    ]);
  });

  it('still tells about a stopped cloudflared when the tunnel stays up, and about another service on its own', () => {
    const clock = new FakeClock();
    const sent: Transition[] = [];
    gate = new NotificationGate((t) => sent.push(t), { settleMs: 5_000, repeatMs: 300_000, clock });
    const services = (severity: StatusCard['severity'], reason: string): StatusCard => ({ id: 'services', title: 'Services', severity, reason });
    gate.observe([card('ok'), services('ok', 'All 3 services are running.')]);
    // A second replica stopped: the tunnel keeps running on the other, so the stop is its own news (a period later).
    gate.observe([card('ok'), services('error', 'cloudflared-2: Stopped (exit code 0).')]);
    clock.advance(5_000);
    expect(sent).toEqual([]);
    clock.advance(5_000);
    expect(sent.map((t) => [t.card, t.reason])).toEqual([['services', 'cloudflared-2: Stopped (exit code 0).']]);
    gate.observe([card('ok'), services('warning', 'jellyfin: Restarting.')]);
    clock.advance(300_000);
    expect(sent.map((t) => [t.card, t.severity])).toEqual([
      ['services', 'error'],
      ['services', 'warning'],
    ]);
  });

  it('sorts cards worst first, in a fixed order among equals', () => {
    expect(sortWorstFirst([card('ok'), { id: 'backups', title: 'Backups', severity: 'warning', reason: '' }, { id: 'host', title: 'Server', severity: 'ok', reason: '' }]).map((c) => c.id)).toEqual(['backups', 'tunnel', 'host']);
  });
});

describe('the agent script', () => {
  const run = promisify(execFile);
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A folder of fake tools first on PATH; docker: one running cloudflared and jellyfin, and events that say nothing. */
  const fakeTools = (): ((name: string, body: string) => void) => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-agent-unit-'));
    const tool = (name: string, body: string): void => {
      writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    tool('docker', `case "$1" in
    ps) echo c1; echo c2 ;;
    inspect) echo 'cloudflared ,10.0.0.2, c1 {"id":"c1","name":"/m2-cloudflared-1","service":"cloudflared","oneoff":"False","image":"cloudflare/cloudflared:2026.8.2","state":"running","health":"healthy","restarts":0,"exitCode":0,"startedAt":"x","finishedAt":"y","oom":false}'
      echo 'jellyfin ,10.0.0.3, c2 {"id":"c2","name":"/m2-jellyfin-1","service":"jellyfin","oneoff":"False","image":"jellyfin/jellyfin:10.11.11","state":"running","health":"healthy","restarts":0,"exitCode":0,"startedAt":"x","finishedAt":"y","oom":false}' ;;
    events) sleep 30 ;;
    esac`);
    return tool;
  };

  it('writes only valid lines under dash, whatever quotes, backslashes and control bytes the services send (one curl per tick)', async () => {
    const tool = fakeTools();
    // A curl before 7.84 (no --rate), so the agent samples with one curl per tick; its answers are hostile bodies
    // with the delimiters curl -w would print.
    tool('curl', `case "$*" in *--rate*) exit 2 ;; esac
printf '{"status":200,"readyConnections":4}'; printf '\\n@@M2 cf-ready cloudflared 200\\n'
printf 'cloudflared_tunnel_ha_connections 4\\nbuild_info{version="2026\\\\\\\\x\\\\"q\\\\"\\t\\001"} 1\\n'; printf '\\n@@M2 cf-metrics cloudflared 200\\n'
printf '[{"NowPlayingItem":{"Name":"A \\\\"quoted\\\\" \\\\\\\\ back\\\\u00e9 ✓"},"PlayState":{"PlayMethod":"DirectPlay"}}]\\r\\n'; printf '\\n@@M2 jf jellyfin 200\\n'`);
    // df -P for two paths, the first on a device whose name has a space (a FUSE or network mount can).
    tool('df', `printf 'Filesystem 1024-blocks Used Available Capacity Mounted on\\nnas:/media share 1000 400 600 40%% /mnt/a b\\n/dev/sda1 2000 200 1800 10%% /\\n'`);
    const script = path.resolve('resources/status/m2-status-agent.sh');
    // A window wide enough for the first tick on a busy machine (the tools answer at once).
    const { stdout } = await run('sh', ['-c', `(echo 0123456789abcdef0123456789abcdef; sleep 5) | dash "${script}" --project m2 --http curl --path /tmp --path /`], { env: { PATH: `${dir}:/usr/bin:/bin` }, timeout: 30_000 });
    const out = stdout.trim().split('\n');
    for (const l of out) expect(parseAgentLine(l), l).toMatchObject({ ok: true });
    const tunnel = JSON.parse(out.find((l) => l.includes('"t":"tunnel"')) ?? '{}') as { replicas: Array<{ metrics: string[] }> };
    expect(tunnel.replicas[0]?.metrics).toEqual(['cloudflared_tunnel_ha_connections 4', 'build_info{version="2026\\\\x\\"q\\" "} 1']);
    const jf = JSON.parse(out.find((l) => l.includes('"t":"jellyfin"')) ?? '{}') as { body: string; configured: boolean };
    expect(jf.configured).toBe(true);
    expect(JSON.parse(jf.body)[0].NowPlayingItem.Name).toBe('A "quoted" \\ backé ✓');
    // Each path keeps its own numbers even when a device name has a space.
    const disk = JSON.parse(out.find((l) => l.includes('"t":"disk"')) ?? '{}') as { paths: unknown[] };
    expect(disk.paths).toEqual([
      { i: 0, sizeKb: 1000, usedKb: 400, availKb: 600 },
      { i: 1, sizeKb: 2000, usedKb: 200, availKb: 1800 },
    ]);
  }, 45_000);

  it('streams each endpoint through one long-lived curl, and GPU samples from nvidia-smi -lms and intel_gpu_top -J', async () => {
    const tool = fakeTools();
    // curl 7.84+: the one-shot first sample answers nothing here; each stream (the URL, with its #[1-N] glob, is the
    // last argument) answers like the services, body on stdout and the -w marker on stderr; the tunnel drops from
    // four connections to two after the second answer. The Jellyfin stream must carry the key file, never the key.
    tool('curl', `case "$*" in *--version*) exit 0 ;; *--next*) exit 0 ;; esac
for a; do url=$a; done
case "$*" in *0123456789abcdef*) echo 'the key is in argv' >&2; exit 9 ;; esac
i=0
while [ $i -lt 6 ]; do
  i=$((i + 1)); n=4; [ $i -gt 2 ] && n=2
  case "$url" in
    *'/ready#[1-'*) printf '{"status":200,"readyConnections":%s}' $n ;;
    *'/metrics#[1-'*) printf '# HELP x\\ncloudflared_tunnel_ha_connections %s\\ngo_goroutines 12\\n' $n ;;
    *'/Sessions?activeWithinSeconds=960#[1-'*) case "$*" in *'-H @'*jf-header*) printf '[{"UserName":"a\\\\"b"}]' ;; *) printf 'no key file' ;; esac ;;
    *) exit 3 ;;
  esac
  printf '\\n@@M2 200\\n' >&2
  sleep 0.2
done
sleep 30`);
    tool('nvidia-smi', `case "$*" in
*-lms*) for i in 1 2 3; do echo "0, NVIDIA T400, 1$i, 2$i, 3, 1, 30, 100, 2000"; echo "1, NVIDIA T400, 5, 6, 7, 0, 0, 100, 2000"; sleep 0.2; done; sleep 30 ;;
*) echo "0, NVIDIA T400, 10, 20, 3, 1, 30, 100, 2000"; echo "1, NVIDIA T400, 5, 6, 7, 0, 0, 100, 2000" ;;
esac`);
    tool('intel_gpu_top', `case "$*" in "-J -s 2000") cat '${path.join(__dirname, 'fixtures', 'intel-gpu-top-J.txt')}'; sleep 30 ;; *) exit 1 ;; esac`);
    const script = path.resolve('resources/status/m2-status-agent.sh');
    // The agent runs for a fixed window, then its stdin closes: wide enough for every answer (the tools need about
    // 1.5 s) on a machine busy with other work, which slowed the first lines past a 3 s window in CI.
    const { stdout } = await run('sh', ['-c', `(echo 0123456789abcdef0123456789abcdef; sleep 8) | dash "${script}" --project m2 --http curl --poll-ms 200 --intel-gpu on --path /`], {
      env: { PATH: `${dir}:/usr/bin:/bin` },
      timeout: 30_000,
    });
    const out = stdout.trim().split('\n');
    for (const l of out) expect(parseAgentLine(l), l).toMatchObject({ ok: true });
    expect(JSON.parse(out[0] ?? '{}')).toMatchObject({ t: 'hello', http: 'curl', caps: { nvidia: true, intel: true } });
    const of = <T,>(t: string): T[] => out.filter((l) => l.includes(`"t":"${t}"`)).map((l) => JSON.parse(l) as T);

    type Tunnel = { replicas: Array<{ service: string; readyCode: number; ready: string; metricsCode: number; metrics: string[] }> };
    const tunnels = of<Tunnel>('tunnel').filter((t) => t.replicas.length > 0);
    expect(tunnels[0]?.replicas).toEqual([{ service: 'cloudflared', readyCode: 200, ready: '{"status":200,"readyConnections":4}', metricsCode: 200, metrics: ['cloudflared_tunnel_ha_connections 4'] }]);
    expect(tunnels.at(-1)?.replicas).toEqual([{ service: 'cloudflared', readyCode: 200, ready: '{"status":200,"readyConnections":2}', metricsCode: 200, metrics: ['cloudflared_tunnel_ha_connections 2'] }]);
    // Only changes: six answers of each endpoint, at most one line per change of either.
    expect(tunnels.length).toBeLessThanOrEqual(3);

    const jf = of<{ configured: boolean; code: number; body: string }>('jellyfin').at(-1);
    expect(jf).toEqual({ t: 'jellyfin', configured: true, code: 200, body: '[{"UserName":"a\\"b"}]' });

    const gpu = of<{ nvidia: string[]; amdBusy: number[]; intel: string[] }>('gpu').at(-1);
    expect(gpu?.nvidia).toEqual(['0, NVIDIA T400, 13, 23, 3, 1, 30, 100, 2000', '1, NVIDIA T400, 5, 6, 7, 0, 0, 100, 2000']);
    expect(gpu?.intel).toHaveLength(1);
    // The last of the fixture's two samples, its "clients" (with a quote and a brace in a process name) left out.
    expect(JSON.parse(gpu?.intel[0] ?? '')).not.toHaveProperty('clients');
    expect(gpusFrom(gpu?.nvidia ?? [], gpu?.amdBusy ?? [], gpu?.intel ?? [])).toEqual([
      expect.objectContaining({ vendor: 'nvidia', index: 0, utilization: 13, encoder: 23 }),
      expect.objectContaining({ vendor: 'nvidia', index: 1, utilization: 5 }),
      expect.objectContaining({ vendor: 'intel', index: 0, utilization: 63.3, encoder: 63.3, decoder: null }),
    ]);
  }, 45_000);
});
