import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, EventPayload } from '../../electron/contract/contract';
import { createEmitter } from '../../electron/core/ipc/dispatch';
import { createLogger } from '../../electron/core/log';
import { Secret } from '../../electron/core/secrets/secret';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { StatusService } from '../../electron/core/status/status-service';
import { StatusTray, type TrayNotification } from '../../electron/core/status/status-tray';
import { statusTargetFrom } from '../../electron/core/status/target';
import type { TrayView } from '../../electron/core/status/tray';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { waitFor } from '../../scripts/lab/process';
import { connectToLab, freshHostKeys } from '../support/ssh';
import { agentProcessCount, startStatusStack, type StatusLabStack } from './status-support';

/**
 * The tray without a window: core's StatusTray (what Electron main draws) watching a server through the real
 * status service and agent over the lab sshd, fed by the same tapped contract events the windows get. No
 * status:subscribe is made: `watch` alone keeps the agent running.
 */
const profileId = 'lab-tray';
let sshd: LabSshd;
let stack: StatusLabStack;
let conn: SshConnection;
let service: StatusService;
let tray: StatusTray;
/** Data paths added to the settings later, as a settings change and an apply would. */
let extraPaths: Array<{ label: string; path: string }> = [];
const views: Array<{ at: number; view: TrayView }> = [];
const notes: Array<{ at: number; n: TrayNotification }> = [];

async function nextView(since: number, pred: (v: TrayView) => boolean, timeoutMs = 10_000): Promise<{ at: number; view: TrayView }> {
  const t0 = Date.now();
  for (;;) {
    const hit = views.find((v) => v.at >= since && pred(v.view));
    if (hit) return hit;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no matching tray view within ${timeoutMs} ms; last: ${JSON.stringify(views.at(-1)?.view)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const agents = (): Promise<number> => agentProcessCount(conn, sshd.admin.name, stack.project);

beforeAll(async () => {
  sshd = await ensureSshd();
  const admin = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${sshd.admin.name}:`))?.split(':') ?? [];
  stack = await startStatusStack('tray', { uid: Number(admin[2]), gid: Number(admin[3]) });
  // A first backup, so the server starts out well and the tunnel's change is what the tray shows.
  const once = await stack.backupOnce();
  if (once.code !== 0) throw new Error(`the first backup failed: ${once.stderr}`);
  // And a restore drill that passed: a backup never restored is only a warning, and the tray is to start at 'ok'.
  const drill = await stack.compose(['exec', '--no-TTY', 'backup', '/bin/sh', '/m2/drill.sh', 'schedule'], 180_000);
  if (drill.code !== 0) throw new Error(`the first restore drill failed: ${drill.stderr}`);
  conn = await connectToLab(sshd, sshd.admin, freshHostKeys());
  const log = createLogger(() => undefined);
  const tap: { tray?: StatusTray } = {};
  // As Electron main does: the emitter validates each event against the contract, then the tray sees it.
  const emit = createEmitter({ emit: (event: EventName, payload: unknown) => tap.tray?.event(event, payload as EventPayload<typeof event>) }, log);
  service = new StatusService({
    connection: () => conn,
    target: () => {
      const t = statusTargetFrom(stack.settings, { project: stack.project });
      return Promise.resolve({ ...t, dataPaths: [...t.dataPaths, ...extraPaths] });
    },
    jellyfinApiKey: () => Promise.resolve(new Secret(stack.apiKey)),
    resourcesDir: path.resolve('resources'),
    log,
    onUpdate: (u) => emit('status:update', u),
    onNotification: (n) => emit('status:notification', n),
    // Short windows so the recovery notification comes within the test (the product uses 5 s and 5 min).
    notify: { settleMs: 300, repeatMs: 1_500 },
    lingerMs: 500,
    historyStepMs: 1_000,
  });
  tray = new StatusTray({
    status: service,
    profiles: async () => [
      { id: profileId, name: 'Home server' },
      { id: 'no-stack', name: 'Not set up' },
    ],
    hasStack: async (id) => id === profileId,
    onView: (view) => views.push({ at: Date.now(), view }),
    onNotify: (n) => notes.push({ at: Date.now(), n }),
    log,
  });
  tap.tray = tray;
  await tray.start();
}, 400_000);

afterAll(async () => {
  tray?.stop();
  await service?.stopAll();
  await conn?.close();
  await stack?.down();
}, 120_000);

describe('the tray, with no window open', () => {
  it('starts unknown, then shows the server from its first snapshot without any subscribe', async () => {
    expect(views[0]?.view).toMatchObject({ severity: 'unknown', lines: [] });
    const v = await nextView(0, (x) => x.severity === 'ok');
    expect(v.view).toMatchObject({ tooltip: 'M2 Companion: Home server is working.', lines: [{ profileId, label: 'Home server', reason: 'Everything is working.' }] });
    // Only the server with a stack is watched.
    expect(v.view.lines.map((l) => l.profileId)).toEqual([profileId]);
    expect(await agents()).toBe(1);
  });

  it('turns to a problem within 2 s when the tunnel goes down, and notifies once with the reason', async () => {
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 0 });
    const v = await nextView(t0, (x) => x.severity === 'error' && (x.lines[0]?.reason ?? '').startsWith('Tunnel: '));
    expect(v.at - t0).toBeLessThan(2_000);
    expect(v.view.tooltip).toContain('Home server: Tunnel: ');
    await waitFor('a tunnel notification', () => notes.some((x) => x.n.severity === 'error'), 5_000);
    expect(notes.filter((x) => x.n.severity === 'error')).toHaveLength(1);
    // One watched server: the title is the card's own, without the server's name in front.
    expect(notes.find((x) => x.n.severity === 'error')?.n).toMatchObject({ profileId, body: expect.stringMatching(/\S/) });
  });

  it('comes back when the tunnel does, and says so', async () => {
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 4 });
    const v = await nextView(t0, (x) => x.severity === 'ok');
    expect(v.at - t0).toBeLessThan(2_000);
    await waitFor('a recovery notification', () => notes.some((x) => x.at >= t0 && x.n.severity !== 'error'), 5_000);
  });

  it('watches anew after an apply: the new settings show, subscribers and the hour of history are kept, and seq only rises', async () => {
    const before = service.snapshot(profileId);
    expect(before?.host.disks.map((d) => d.label)).not.toContain('Photos');
    const historyBefore = service.history(profileId).series.transcodeFps?.length ?? 0;
    expect(historyBefore).toBeGreaterThan(0);
    extraPaths = [{ label: 'Photos', path: '/tmp' }];
    const t0 = Date.now();
    await service.refresh(profileId);
    // The agent measured the new path (a size is only known once it reported), in a snapshot numbered after the old ones.
    await waitFor('the new path measured', () => service.snapshot(profileId)?.host.disks.some((d) => d.label === 'Photos' && d.sizeBytes !== null) === true, 10_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(service.snapshot(profileId)?.seq ?? 0).toBeGreaterThan(before?.seq ?? Infinity);
    expect(service.history(profileId).series.transcodeFps?.length ?? 0).toBeGreaterThanOrEqual(historyBefore);
    // The tray's watch was carried over: well past the linger time, one agent still runs.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await agents()).toBe(1);
    expect(views.at(-1)?.view.severity).toBe('ok');
  });

  it('follows the server onto a new connection (disconnect and connect): one agent, the tray still watching', async () => {
    const old = conn;
    const before = service.snapshot(profileId);
    conn = await connectToLab(sshd, sshd.admin, freshHostKeys());
    await service.follow(profileId);
    await old.close();
    await waitFor('the agent on the new connection', async () => service.agentStats(profileId)?.running === true && (await agents()) === 1, 10_000);
    const t0 = Date.now();
    await stack.labState('cloudflared', 2000, { connections: 0 });
    const v = await nextView(t0, (x) => x.severity === 'error');
    expect(v.at - t0).toBeLessThan(2_000);
    expect(service.snapshot(profileId)?.seq ?? 0).toBeGreaterThan(before?.seq ?? Infinity);
    await stack.labState('cloudflared', 2000, { connections: 4 });
    await nextView(Date.now(), (x) => x.severity === 'ok');
    // The tray's hold came along: past the linger time the agent still runs.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await agents()).toBe(1);
  });

  it('stops the agent on the server when the tray stops (quit)', async () => {
    tray.stop();
    await service.stopAll();
    await waitFor('the agent to end', async () => (await agents()) === 0, 10_000);
  });
});
