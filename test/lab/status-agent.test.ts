import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNames, events as eventSchemas, type EventName } from '../../electron/contract/contract';
import type { StatusNotification, StatusSnapshot } from '../../electron/contract/status';
import { createDispatcher, createEmitter, type Handlers } from '../../electron/core/ipc/dispatch';
import { createLogger, type Logger } from '../../electron/core/log';
import { Secret } from '../../electron/core/secrets/secret';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { StatusService, type StatusServiceDeps } from '../../electron/core/status/status-service';
import { statusTargetFrom } from '../../electron/core/status/target';
import { ensureSshd, sshdConnectionCount, type LabSshd } from '../../scripts/lab/sshd';
import { waitFor } from '../../scripts/lab/process';
import { connectToLab, freshHostKeys } from '../support/ssh';
import { agentProcessCount, countConnectionsTo, startStatusStack, type StatusLabStack } from './status-support';

/**
 * Live status end to end against the lab: the real agent over the lab sshd (one SSH connection), the stand-in
 * stack changed through its control API, and every change observed as a contract event (validated by the real
 * emitter) within 2 s. The stack is this test's own Compose project on free subnets.
 */
const profileId = 'lab-status';
const agentScript = readFileSync(path.resolve('resources/status/m2-status-agent.sh'), 'utf8');

let sshd: LabSshd;
let stack: StatusLabStack;
let conn: SshConnection;
let counter: ReturnType<typeof countConnectionsTo>;
let logBefore = 0;
const logLines: string[] = [];
const log: Logger = createLogger((l) => logLines.push(l));
const updates: Array<{ at: number; snapshot: StatusSnapshot }> = [];
const notifications: StatusNotification[] = [];
let service: StatusService;
let dispatch: ReturnType<typeof createDispatcher>;

/** Wait for an update (after `since`) whose snapshot satisfies `pred`; resolves with its arrival time. */
async function nextUpdate(since: number, pred: (s: StatusSnapshot) => boolean, timeoutMs = 10_000): Promise<{ at: number; snapshot: StatusSnapshot }> {
  const t0 = Date.now();
  for (;;) {
    const hit = updates.find((u) => u.at >= since && pred(u.snapshot));
    if (hit) return hit;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no matching status:update within ${timeoutMs} ms; last: ${JSON.stringify(updates.at(-1)?.snapshot.cards)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function makeService(script: string, emit: ReturnType<typeof createEmitter>): StatusService {
  return new StatusService({
    connection: () => conn,
    target: () => Promise.resolve(statusTargetFrom(stack.settings, { project: stack.project })),
    jellyfinApiKey: () => Promise.resolve(new Secret(stack.apiKey)),
    resourcesDir: path.resolve('resources'),
    agentScript: script,
    log,
    onUpdate: (u) => emit('status:update', u),
    onNotification: (n) => emit('status:notification', n),
    notify: { settleMs: 300, repeatMs: 60_000 },
    backoff: { baseMs: 200, maxMs: 2_000 },
    historyStepMs: 1_000,
    lingerMs: 1_000,
  });
}

/** A second service on its own connection, for the tests of other users and modes (everything else as the stack's). */
function sideService(c: SshConnection, opts: Partial<StatusServiceDeps>): StatusService {
  return new StatusService({
    connection: () => c,
    target: () => Promise.resolve(statusTargetFrom(stack.settings, { project: stack.project })),
    jellyfinApiKey: () => Promise.resolve(new Secret(stack.apiKey)),
    resourcesDir: path.resolve('resources'),
    agentScript,
    log,
    onUpdate: () => undefined,
    onNotification: () => undefined,
    lingerMs: 500,
    ...opts,
  });
}

beforeAll(async () => {
  sshd = await ensureSshd();
  const admin = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${sshd.admin.name}:`))?.split(':') ?? [];
  stack = await startStatusStack('status', { uid: Number(admin[2]), gid: Number(admin[3]) });
  // First contact (confirming the host key takes a handshake of its own) happens before counting starts.
  const hostKeys = freshHostKeys();
  await (await connectToLab(sshd, sshd.admin, hostKeys)).close();
  counter = countConnectionsTo(sshd.port);
  logBefore = sshdConnectionCount(sshd.logPath);
  conn = await connectToLab(sshd, sshd.admin, hostKeys);
  const emit = createEmitter(
    {
      emit: (event: EventName, payload: unknown) => {
        if (event === 'status:update') updates.push({ at: Date.now(), snapshot: (payload as { snapshot: StatusSnapshot }).snapshot });
        if (event === 'status:notification') notifications.push(payload as StatusNotification);
      },
    },
    log,
  );
  service = makeService(agentScript, emit);
  const refuse = (): never => {
    throw new Error('not part of this test');
  };
  const handlers = {
    ...Object.fromEntries(callNames.map((c) => [c, refuse])),
    'status:subscribe': ({ profileId: id }: { profileId: string }) => service.subscribe(id),
    'status:unsubscribe': ({ profileId: id }: { profileId: string }) => {
      service.unsubscribe(id);
      return { unsubscribed: true } as const;
    },
    'status:history': ({ profileId: id }: { profileId: string }) => service.history(id),
  } as unknown as Handlers;
  dispatch = createDispatcher(handlers, { isTrustedSender: () => true, log });
}, 400_000);

afterAll(async () => {
  await service?.stopAll();
  await conn?.close();
  counter?.restore();
  await stack?.down();
}, 120_000);

const sender = { url: 'http://127.0.0.1/' };

/** Agents of this test's project on the server. */
async function agentProcesses(): Promise<number> {
  return agentProcessCount(conn, sshd.admin.name, stack.project);
}

describe('live status over one SSH connection', () => {
  let first: StatusSnapshot;

  it('answers status:subscribe with a complete first snapshot of the running stack', async () => {
    const t0 = performance.now();
    const r = await dispatch(sender, 'status:subscribe', { profileId });
    const ms = performance.now() - t0;
    expect(r.ok, JSON.stringify(r)).toBe(true);
    first = (r as { ok: true; value: StatusSnapshot }).value;
    expect(first.complete).toBe(true);
    expect(first.agent.kind).toBe('running');
    expect(first.services.map((s) => s.service).sort()).toEqual(['backup', 'cloudflared', 'jellyfin']);
    for (const s of first.services) expect(s, s.service).toMatchObject({ state: 'running', health: 'healthy', severity: 'ok' });
    expect(first.tunnel).toMatchObject({ state: 'healthy', connections: 4, expectedConnections: 4 });
    expect(first.tunnel.replicas[0]?.version).toBeTruthy();
    expect(first.tunnel.edgeLocations.length).toBeGreaterThan(0);
    expect(first.transcodes).toMatchObject({ available: true, streams: [] });
    // The backup service has written its status (no run yet): the card says so as an error.
    expect(first.backup.severity).toBe('error');
    expect(first.backup.reason).toMatch(/No backup has completed/);
    expect(first.host.memoryTotalBytes).toBeGreaterThan(0);
    expect(first.host.disks.every((d) => d.present && (d.availableBytes ?? 0) > 0)).toBe(true);
    expect(first.cards[0]?.id).toBe('backups');
    console.info(`first full snapshot after ${ms.toFixed(0)} ms (upload included)`);
  });

  it('shows two new transcodes, one hardware and one software, with their fps, within 2 s', async () => {
    const t0 = Date.now();
    await stack.labState('jellyfin', 8096, {
      sessions: [
        { kind: 'hardware', userName: 'alice', item: { Name: 'Big Buck Bunny', Type: 'Movie', RunTimeTicks: 6_000_000_000 } },
        { kind: 'software', userName: 'bob', item: { Name: 'Sintel', Type: 'Movie', RunTimeTicks: 8_880_000_000 } },
      ],
    });
    const u = await nextUpdate(t0, (s) => s.transcodes.counts.hardware === 1 && s.transcodes.counts.software === 1);
    expect(u.at - t0).toBeLessThan(2_000);
    const streams = u.snapshot.transcodes.streams;
    expect(streams.find((s) => s.user === 'alice')).toMatchObject({ kind: 'hardware', title: 'Big Buck Bunny', hwAccel: 'nvenc', fps: 87.4 });
    expect(streams.find((s) => s.user === 'bob')).toMatchObject({ kind: 'software', title: 'Sintel', hwAccel: null, fps: 31.2 });
    expect(u.snapshot.cards.find((c) => c.id === 'transcodes')?.reason).toBe('2 streams: 1 hardware, 1 software.');
  });

  it('reports the tunnel down within 2 s when cloudflared loses its edge connections, and notifies once', async () => {
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 0 });
    const u = await nextUpdate(t0, (s) => s.tunnel.state === 'down');
    expect(u.at - t0).toBeLessThan(2_000);
    expect(u.snapshot.tunnel.reason).toMatch(/no connection to Cloudflare/);
    expect(u.snapshot.cards[0]).toMatchObject({ id: 'tunnel', severity: 'error' });
    expect(u.snapshot.overall).toBe('error');
    await waitFor('a tunnel notification', () => notifications.some((n) => n.card === 'tunnel' && n.severity === 'error'), 5_000);
    expect(notifications.filter((n) => n.card === 'tunnel')).toHaveLength(1);
  });

  it('shows a finished backup within 2 s of the run, with its snapshot id — not called good before a restore drill passed', async () => {
    const once = await stack.backupOnce();
    expect(once.code, once.stderr).toBe(0);
    const t0 = Date.now();
    const u = await nextUpdate(t0 - 1_000, (s) => s.backup.lastRun?.result === 'success' && !s.backup.running);
    expect(u.at - t0).toBeLessThan(2_000);
    expect(u.snapshot.backup.severity).toBe('warning');
    expect(u.snapshot.backup.drill?.state).toBe('none');
    expect(u.snapshot.backup.lastGood?.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(u.snapshot.backup.nextRun).toMatch(/T03:30:00Z$/);
    expect(u.snapshot.cards.find((c) => c.id === 'backups')?.reason).toMatch(/^No restore drill has passed yet: a backup that has never been restored is not called good\. Last good backup/);
  }, 150_000);

  it('reports the scheduled restore drill the backup container ran: OK with “last drill passed today”', async () => {
    // The entry point the container's daily loop calls after a backup (no drill yet, so one is due).
    const r = await stack.compose(['exec', '--no-TTY', 'backup', '/bin/sh', '/m2/drill.sh', 'schedule'], 180_000);
    expect(r.code, r.stderr).toBe(0);
    const t0 = Date.now();
    // The agent reads the drill's result every 5 s.
    const u = await nextUpdate(t0 - 1_000, (s) => s.backup.drill?.state === 'passed', 15_000);
    expect(u.snapshot.backup).toMatchObject({ severity: 'ok', drill: { state: 'passed', passedDaysAgo: 0, trigger: 'schedule', warnAfterDays: 8 } });
    expect(u.snapshot.cards.find((c) => c.id === 'backups')?.reason).toMatch(/^Last good backup .*; last drill passed today\.$/);
  }, 200_000);

  it('shows a stopped container within 2 s, worst first with the reason in words', async () => {
    const t0 = Date.now();
    const r = await stack.compose(['stop', '--timeout', '1', 'jellyfin']);
    expect(r.code, r.stderr).toBe(0);
    const stopped = Date.now();
    const u = await nextUpdate(t0, (s) => s.services.find((x) => x.service === 'jellyfin')?.state === 'exited');
    expect(u.at - stopped).toBeLessThan(2_000);
    expect(u.snapshot.services[0]).toMatchObject({ service: 'jellyfin', severity: 'error' });
    expect(u.snapshot.cards.find((c) => c.id === 'services')?.reason).toMatch(/^jellyfin: Stopped \(exit code \d+\)/);
    expect(u.snapshot.transcodes.available).toBe(false);
    const start = await stack.compose(['start', 'jellyfin']);
    expect(start.code, start.stderr).toBe(0);
    await nextUpdate(Date.now(), (s) => s.services.find((x) => x.service === 'jellyfin')?.state === 'running');
  });

  it('serves the last hour of history through status:history', async () => {
    await new Promise((r) => setTimeout(r, 1_200));
    const r = await dispatch(sender, 'status:history', { profileId });
    expect(r.ok).toBe(true);
    const h = (r as { ok: true; value: { stepSeconds: number; series: Record<string, Array<{ t: number; v: number | null }>> } }).value;
    expect(h.stepSeconds).toBe(1);
    expect(h.series.transcodeFps?.some((p) => p.v !== null && p.v > 100)).toBe(true);
    expect(eventSchemas['status:update']).toBeDefined();
  });

  it('carried all of it over exactly one TCP connection to sshd', () => {
    expect(counter.localPorts).toHaveLength(1);
    const log2 = readFileSync(sshd.logPath, 'utf8');
    expect(log2).toContain(`Connection from 127.0.0.1 port ${counter.localPorts[0]}`);
    expect(sshdConnectionCount(sshd.logPath)).toBeGreaterThan(logBefore);
  });

  it('drops malformed agent lines and keeps the stream going', async () => {
    // The same agent, with three bad lines after its first full snapshot: not JSON, a wrong type, a wrong shape.
    const noisy = agentScript.replace(
      `printf '{"t":"ready"}\\n'`,
      `printf '{"t":"ready"}\\n'; printf 'this is {not json\\n'; printf '{"t":"host","cpu":"nope"}\\n'; printf '%s\\n' '{"t":"tunnel","replicas":[{"service":1}]}'`,
    );
    expect(noisy).not.toBe(agentScript);
    const seen: StatusSnapshot[] = [];
    const noisyService = makeService(noisy, (e, p) => {
      if (e === 'status:update') seen.push((p as { snapshot: StatusSnapshot }).snapshot);
    });
    const snap = await noisyService.subscribe('lab-noisy');
    expect(snap.complete).toBe(true);
    await waitFor('the bad lines to be dropped', () => (noisyService.agentStats('lab-noisy')?.dropped ?? 0) >= 3, 5_000);
    expect(logLines.filter((l) => l.includes('dropped an invalid status agent line')).length).toBeGreaterThanOrEqual(3);
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 4 });
    await waitFor('the stream to carry a later change', () => seen.some((s) => s.tunnel.state === 'healthy' && s.tunnel.connections === 4), 5_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(noisyService.agentStats('lab-noisy')).toMatchObject({ starts: 1, running: true });
    await noisyService.stopAll();
  });

  it('comes back by itself after the SSH connection is cut, and the stream resumes', { timeout: 120_000 }, async () => {
    const before = service.agentStats(profileId)?.starts ?? 0;
    const portsBefore = counter.localPorts.length;
    await stack.labState('cloudflared', 2000, { connections: 4 });
    // Kill this connection's own sshd session process (an exec's shell's parent): the TCP connection drops.
    await conn.exec(['sh', '-c', 'kill -9 $PPID']).catch(() => undefined);
    await waitFor('the agent to run again on the new connection', () => (service.agentStats(profileId)?.starts ?? 0) > before && service.agentStats(profileId)?.running === true, 20_000);
    await nextUpdate(Date.now() - 500, (s) => s.agent.kind === 'running' && s.complete, 20_000);
    // The stream resumes: a change after the reconnect arrives. (Right after a start every stream answers at once: a
    // line of theirs that met another producer's in the agent's FIFO was lost, and this change with it for good; see
    // agent-queue.test.ts.) How fast a change arrives is the steady-state test's (and the bench's) question; here the
    // budget leaves headroom for a loaded CI machine, where the first seconds of a new agent compete with the rest of
    // the suite (a clean-clone run once saw nothing within 10 s).
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 2 });
    const u = await nextUpdate(t0, (s) => s.tunnel.state === 'degraded', 15_000);
    expect(u.snapshot.tunnel.reason).toBe('2 of 4 edge connections are up.');
    // The agent of the cut connection saw its stdin end and stopped: one agent for this project remains.
    await waitFor('one agent process', async () => (await agentProcesses()) === 1, 10_000);
    expect(counter.localPorts).toHaveLength(portsBefore + 1);
  });

  it('stops the agent on the server when the last subscriber leaves', async () => {
    const r = await dispatch(sender, 'status:unsubscribe', { profileId });
    expect(r).toEqual({ ok: true, value: { unsubscribed: true } });
    await waitFor('no agent process', async () => (await agentProcesses()) === 0, 10_000);
  });
});

describe('a user outside the docker group', () => {
  it('reaches Docker through sudo -n by itself, with no flag from a preflight', async () => {
    const groups = (await conn.exec(['id', '-nG', sshd.sudoUser.name])).stdout.split(/\s+/);
    expect(groups).not.toContain('docker');
    const sudoConn = await connectToLab(sshd, sshd.sudoUser, freshHostKeys());
    const seen: StatusSnapshot[] = [];
    const sudoService = sideService(sudoConn, {
      // As after an app restart: no preflight has said "sudo", so the target does not either.
      target: () => Promise.resolve(statusTargetFrom(stack.settings, { project: stack.project, sudo: false })),
      onUpdate: (u) => void seen.push(u.snapshot),
    });
    try {
      const first = await sudoService.subscribe('lab-status-sudo');
      expect(first.complete).toBe(true);
      expect(Object.fromEntries(first.services.map((s) => [s.service, s.state]))).toMatchObject({ jellyfin: 'running', cloudflared: 'running', backup: 'running' });
      // docker events through sudo too: a stopped container shows.
      const t0 = Date.now();
      const r = await stack.compose(['stop', '--timeout', '1', 'cloudflared']);
      expect(r.code, r.stderr).toBe(0);
      await waitFor('cloudflared stopped, seen through sudo', () => seen.some((s) => s.services.find((x) => x.service === 'cloudflared')?.state === 'exited'), 5_000);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect((await stack.compose(['start', 'cloudflared'])).code).toBe(0);
    } finally {
      await sudoService.stopAll();
      await sudoConn.close();
    }
  }, 60_000);
});

describe('a server without curl 7.84', () => {
  for (const http of ['wget', 'docker'] as const) {
    it(`through ${http === 'wget' ? 'GNU wget' : 'docker exec into Jellyfin'}: the tunnel, the services and Jellyfin's sessions (with its key) still show`, async () => {
      const c = await connectToLab(sshd, sshd.admin, freshHostKeys());
      const seen: StatusSnapshot[] = [];
      const svc = sideService(c, { http, onUpdate: (u) => void seen.push(u.snapshot) });

      const user = `${http}-viewer`;
      try {
        await stack.labState('jellyfin', 8096, { sessions: [{ kind: 'software', userName: user }] });
        const first = await svc.subscribe(`lab-status-${http}`);
        expect(first.complete).toBe(true);
        expect(first.agent).toMatchObject({ kind: 'running', http });
        expect(first.tunnel.connections).not.toBeNull();
        expect(first.services.find((s) => s.service === 'jellyfin')?.state).toBe('running');
        await waitFor(`the session through ${http}`, () => seen.some((s) => s.transcodes.available && s.transcodes.streams.some((x) => x.user === user && x.kind === 'software')), 5_000);
      } finally {
        await svc.stopAll();
        await c.close();
      }
    }, 60_000);
  }
});

describe('an agent whose main shell dies', () => {
  it('leaves nothing running on the server: its stdin watcher ends the whole process group', async () => {
    const c = await connectToLab(sshd, sshd.admin, freshHostKeys());
    // No restart while this test looks: the killed agent stays the only one.
    const svc = sideService(c, { backoff: { baseMs: 120_000, maxMs: 120_000 } });
    const group = async (pg: string): Promise<string[]> => (await conn.exec(['ps', '-o', 'pid=,args=', '-g', pg])).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    try {
      expect((await svc.subscribe('lab-status-kill')).complete).toBe(true);
      const ps = await conn.exec(['ps', '-o', 'pid=,pgid=,args=', '-u', sshd.admin.name]);
      const mains = ps.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[0] === f[1] && f.slice(2).join(' ').includes(`m2-status-agent.sh --project ${stack.project} `));
      expect(mains).toHaveLength(1);
      const pg = mains[0]?.[0] ?? '';
      // The agent's readers and loops: curl streams, awk, docker events, the ticker.
      expect((await group(pg)).length).toBeGreaterThan(4);
      await conn.exec(['kill', '-9', pg]);
      // Its channel ends (the app closes it, as after a stale agent): stdin's end reaches the watcher.
      await svc.stopAll();
      await c.close();
      await waitFor('the agent group to end', async () => (await group(pg)).length === 0, 10_000);
    } finally {
      await svc.stopAll();
      await c.close();
    }
  }, 60_000);
});
