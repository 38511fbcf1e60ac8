import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineBenchmark, type BenchRow } from './harness';
import type { StatusSnapshot } from '../../electron/contract/status';
import { silentLogger } from '../../electron/core/log';
import { Secret } from '../../electron/core/secrets/secret';
import { StatusService } from '../../electron/core/status/status-service';
import { statusTargetFrom } from '../../electron/core/status/target';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab, freshHostKeys } from '../support/ssh';
import { startStatusStack } from '../lab/status-support';

/**
 * Lost connection → live status flowing again, against the lab: the sshd process serving the app's one SSH connection
 * is killed (a cut), and a change is made on the server at once (cloudflared's connection count through its stand-in);
 * the figure is the time from the kill until a status update carries that change — which only a status agent started
 * again on the reconnected connection can report. The connection redials by itself (backoff 0.5 s doubling, full
 * jitter, capped at 30 s) and live status moves onto it; nothing is retried by hand.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ppidOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

export default defineBenchmark({
  name: 'reconnect',
  async run() {
    const sshd = await ensureSshd();
    const pw = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${sshd.admin.name}:`))?.split(':') ?? [];
    const stack = await startStatusStack('reconnect', { uid: Number(pw[2]), gid: Number(pw[3]) });
    const hostKeys = freshHostKeys();
    const rows: BenchRow[] = [];
    try {
      const conn = await connectToLab(sshd, sshd.admin, hostKeys);
      let updates: Array<{ at: number; s: StatusSnapshot }> = [];
      const svc = new StatusService({
        connection: () => conn,
        target: () => Promise.resolve(statusTargetFrom(stack.settings, { project: stack.project })),
        jellyfinApiKey: () => Promise.resolve(new Secret(stack.apiKey)),
        resourcesDir: path.resolve('resources'),
        log: silentLogger,
        onUpdate: (u) => updates.push({ at: performance.now(), s: u.snapshot }),
        onNotification: () => undefined,
      });
      conn.on('state', (s) => {
        if (s.kind === 'connected') void svc.follow('bench');
      });
      await svc.subscribe('bench');
      const runs: number[] = [];
      const attempts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const want = i % 2 === 0 ? 3 : 4;
        await sleep(1_000);
        const agentPid = Number((await conn.exec(['sh', '-c', `pgrep -o -f "m2-status-agent.sh --project ${stack.project} "`])).stdout.trim());
        const session = ppidOf(agentPid);
        let tries = 0;
        const counting = (s: { kind: string; attempt?: number }): void => {
          if (s.kind === 'reconnecting') tries = Math.max(tries, s.attempt ?? 0);
        };
        conn.on('state', counting);
        updates = [];
        const t0 = performance.now();
        process.kill(session, 'SIGKILL');
        await stack.labState('cloudflared', 2000, { connections: want });
        for (;;) {
          const hit = updates.find((u) => u.s.tunnel.connections === want && u.s.agent.kind === 'running');
          if (hit) {
            runs.push(hit.at - t0);
            break;
          }
          if (performance.now() - t0 > 60_000) throw new Error('live status did not flow again within 60 s');
          await sleep(5);
        }
        conn.off('state', counting);
        attempts.push(tries);
      }
      rows.push({
        name: 'lost connection → live status flowing again (median of 5)',
        value: Math.round(pct(runs, 50)),
        runs: runs.map(Math.round),
        unit: 'ms',
        note: `each run: the sshd serving the connection killed, a change made at once, until an update shows it; max ${Math.round(Math.max(...runs))} ms; reconnect attempts per run ${attempts.join(', ')}; nothing retried by hand`,
      });
      await svc.stopAll();
      await conn.close();
    } finally {
      await stack.down();
    }
    return rows;
  },
});
