import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { WebSocket, WebSocketServer } from 'ws';
import { defineBenchmark } from './harness';
import { LogsOpenRequest, type LogStreamEvent } from '../../electron/contract/logs';
import { createEmitter } from '../../electron/core/ipc/dispatch';
import { silentLogger } from '../../electron/core/log';
import { LogsService } from '../../electron/core/logs/logs-service';
import { Secret } from '../../electron/core/secrets/secret';
import { composeGlobalArgs, type ComposeFiles } from '../../electron/core/stack/compose-commands';
import type { ServerMessage } from '../../electron/webhost/protocol';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureSshd } from '../../scripts/lab/sshd';
import { adminStack } from '../support/admin-stack';
import { connectToLab } from '../support/ssh';

/**
 * A log line from the server to the renderer: a container prints a line carrying its own clock (the lab's server is
 * this machine, so one clock), and the time is taken where a renderer would get it — after the app's stream
 * (`docker compose logs --follow` in one SSH channel, line-buffered and masked in core), the contract emitter, the
 * web host's event frame over a loopback WebSocket and JSON.parse. Baseline, same run, same SSH connection: what a
 * page without a stream would do, `docker logs --since` run once per request, back to back (its best case).
 */
const SAMPLES = 30;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * The kernel's uptime (centiseconds) as milliseconds: one clock for the container and this process (the lab server is
 * this machine, and busybox `date` has no sub-second format).
 */
const uptimeMs = (): number => Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
/** `lat <n> <uptime s>` → [n, uptime ms when the line was written]. */
const parseMarker = (text: string): [number, number] | null => {
  const m = /lat (\d+) (\d+\.\d+)/.exec(text);
  return m ? [Number(m[1]), Math.round(Number(m[2]) * 1000)] : null;
};

export default defineBenchmark({
  name: 'logs',
  rows: ['log line server → renderer (p95)'],
  async run() {
    await ensureDocker();
    await ensureStandInImages();
    const sshd = await ensureSshd();
    const project = `m2logsbench${process.pid}`;
    const server = adminStack('m2admin', `m2-logs-bench-${process.pid}`);
    const dir = server.root;
    const files: ComposeFiles = { project, projectDir: dir, dir, envFiles: ['env/app.env'] };
    const secret = randomBytes(18).toString('base64url');
    server.makeAdminFolders(path.join(dir, 'env'));
    const doc = {
      services: {
        // Prints whatever is written to the fifo at once (no polling in between).
        echoer: { image: 'redis:7.4-alpine', init: true, environment: { APP_SECRET: '${APP_SECRET}' }, entrypoint: ['sh', '-c', 'mkfifo /tmp/p; echo ready; while :; do cat /tmp/p; done'] },
      },
    };
    for (const [rel, content, mode] of [['compose.yaml', YAML.stringify(doc), 0o644], ['env/app.env', `APP_SECRET=${secret}\n`, 0o600]] as const) {
      writeFileSync(path.join(dir, rel), content);
      chmodSync(path.join(dir, rel), mode);
      chownSync(path.join(dir, rel), server.uid, server.gid);
    }
    const conn = await connectToLab(sshd);
    const compose = (...args: string[]) => conn.exec(['docker', 'compose', ...composeGlobalArgs(files), ...args], { timeoutMs: 180_000 });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const listening = new Promise<void>((r) => wss.once('listening', () => r()));
    try {
      const up = await compose('up', '--detach', '--wait', '--pull', 'never');
      if (up.code !== 0) throw new Error(`compose up failed: ${up.stderr}`);
      const container = (await exec('docker', ['ps', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim();
      const say = async (n: number): Promise<void> => {
        // The line's time is taken inside the container, just before it is written (10 ms resolution).
        const r = await exec('docker', ['exec', container, 'sh', '-c', 'echo "lat $1 $(cut -d" " -f1 /proc/uptime) password=$APP_SECRET" > /tmp/p', 'sh', String(n)]);
        if (r.code !== 0) throw new Error(`could not write a line: ${r.stderr}`);
      };

      // Ours: the stream, through the emitter and a WebSocket, as the web host carries it.
      await listening;
      const port = (wss.address() as { port: number }).port;
      const serverSide = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));
      const client = new WebSocket(`ws://127.0.0.1:${port}`);
      const ours = new Map<number, number>();
      let leaked = false;
      client.on('message', (data: Buffer) => {
        const at = uptimeMs();
        const text = data.toString('utf8');
        if (text.includes(secret)) leaked = true;
        const msg = JSON.parse(text) as ServerMessage;
        if (msg.t !== 'event' || msg.event !== 'logs:stream') return;
        const e = msg.payload as LogStreamEvent;
        if (e.kind !== 'lines') return;
        for (const l of e.lines) {
          const m = parseMarker(l.text);
          if (m && !ours.has(m[0])) ours.set(m[0], at - m[1]);
        }
      });
      const ws = await serverSide;
      const emit = createEmitter({ emit: (event, payload) => ws.send(JSON.stringify({ t: 'event', event, payload } satisfies ServerMessage)) }, silentLogger);
      const logs = new LogsService({
        target: async () => ({ conn, access: 'group', files, releaseId: 'bench', services: ['echoer'], secrets: [new Secret(secret)] }),
        emit: (e) => emit('logs:stream', e),
        log: silentLogger,
      });
      await logs.open(LogsOpenRequest.parse({ profileId: 'bench', streamId: 'bench-stream', service: 'echoer', follow: true, tail: 1 }));
      await sleep(1_000);
      for (let i = 0; i < SAMPLES; i++) {
        await say(i);
        await sleep(200 + Math.random() * 200);
      }
      await sleep(1_000);
      logs.close('bench', 'bench-stream');
      client.close();

      // Baseline: `docker logs` once per request over the same connection, back to back.
      const naive = new Map<number, number>();
      const perRequest: number[] = [];
      let stop = false;
      const since = String(Math.floor(Date.now() / 1000) - 1);
      const poller = (async () => {
        while (!stop) {
          const t0 = performance.now();
          const r = await conn.exec(['docker', 'logs', '--timestamps', '--since', since, container], { timeoutMs: 30_000 });
          perRequest.push(performance.now() - t0);
          const at = uptimeMs();
          for (const line of r.stdout.split('\n')) {
            const m = parseMarker(line);
            if (m && m[0] >= 1000 && !naive.has(m[0])) naive.set(m[0], at - m[1]);
          }
        }
      })();
      for (let i = 0; i < SAMPLES; i++) {
        await say(1000 + i);
        await sleep(200 + Math.random() * 200);
      }
      await sleep(1_500);
      stop = true;
      await poller;
      if (ours.size < SAMPLES * 0.9 || naive.size < SAMPLES * 0.9) throw new Error(`too few lines arrived: stream ${ours.size}, docker logs ${naive.size} of ${SAMPLES}`);
      if (leaked) throw new Error('the secret reached the renderer end in clear');
      const o = [...ours.values()];
      const n = [...naive.values()];
      return [
        {
          name: 'log line server → renderer (p95)',
          value: Math.round(pct(o, 95)),
          unit: 'ms',
          baseline: { name: '`docker logs --since` per request over the same SSH connection, back to back', value: Math.round(pct(n, 95)) },
          runs: o.map((x) => Math.round(x)),
          note: `p50 ${Math.round(pct(o, 50))} ms vs ${Math.round(pct(n, 50))} ms; one docker logs request takes ${Math.round(pct(perRequest, 50))} ms (median of ${perRequest.length}) and re-reads the whole range each time; every line carries a secret, masked in core (none reached the WebSocket in clear)`,
        },
      ];
    } finally {
      await new Promise<void>((r) => wss.close(() => r()));
      await compose('down', '--timeout', '1').catch(() => undefined);
      await conn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
});
