/**
 * The status agent's producers (the docker events reader, one awk per stream, the ticker) all write short lines into
 * one FIFO that its main loop reads. A line must reach the FIFO in one write: two producers whose writes interleave
 * make lines the main loop cannot read, and a stream hands on a change only once, so a lost line is a change that is
 * never shown (after a reconnect, when every stream answers at once, a cloudflared change went unseen for good).
 */
import { spawn, execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentLine } from './agent-protocol';

const script = path.resolve('resources/status/m2-status-agent.sh');
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** Write-system-calls a running process has made so far (Linux /proc/PID/io). */
const writeCalls = (pid: number): number => Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);

describe('lines into the agent main loop', () => {
  it('a stream awk hands each change on in one write (mawk -W interactive writes print and its newline apart)', { timeout: 30_000 }, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-agent-queue-'));
    // The agent's own put() (the shared part of every stream awk), run as the agent runs it.
    const put = /\nput_awk='([\s\S]*?)'\n/.exec(readFileSync(script, 'utf8'))?.[1];
    expect(put).toContain('function put(');
    const interactive = (await promisify(execFile)('sh', ['-c', "awk -W interactive 'BEGIN { }' </dev/null >/dev/null 2>&1 && echo yes || :"])).stdout.trim() === 'yes';
    const awk = spawn('awk', [...(interactive ? ['-W', 'interactive'] : []), '-v', 'id=c0r', '-v', `out=${path.join(dir, 'v.c0r')}`, `${put ?? ''}\n{ put($0) }`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    awk.stdout.setEncoding('utf8');
    awk.stdout.on('data', (d: string) => (out += d));
    const lines = async (n: number): Promise<void> => {
      for (let t = 0; out.split('\n').length - 1 < n; t++) {
        if (t > 2_000) throw new Error(`awk wrote ${JSON.stringify(out)}, not ${n} lines`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      awk.stdin.write('ready 4\n');
      await lines(1);
      const before = writeCalls(awk.pid ?? 0);
      for (let i = 0; i < 10; i++) awk.stdin.write(`ready ${i}\n`);
      await lines(11);
      const per = (writeCalls(awk.pid ?? 0) - before) / 10;
      // One write of the fragment file, one of the line for the main loop.
      expect(per).toBe(2);
      expect(out.split('\n').slice(0, 3)).toEqual(['v c0r 1', 'v c0r 0', 'v c0r 1']);
    } finally {
      awk.stdin.end();
      awk.kill();
    }
  });

  it('a change a stream hands on while docker events is between the pieces of a line still reaches the app', { timeout: 45_000 }, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-agent-queue-'));
    const tool = (name: string, body: string): void => {
      writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    const mark = (f: string): string => path.join(dir, f);
    // docker: one running cloudflared; its events reader writes "ev " once the first answers are in, and the rest of
    // the line seconds later (docker events writes a line in pieces; a busy machine can stop it between them).
    tool('docker', `case "$1" in
    ps) echo c1 ;;
    inspect) echo 'cloudflared ,10.0.0.2, c1 {"id":"c1","name":"/m2-cloudflared-1","service":"cloudflared","oneoff":"False","image":"cloudflare/cloudflared:2026.8.2","state":"running","health":"healthy","restarts":0,"exitCode":0,"startedAt":"x","finishedAt":"y","oom":false}' ;;
    events) while [ ! -e '${mark('answered')}' ]; do sleep 0.05; done; sleep 0.5; printf 'ev '; : > '${mark('ev-partial')}'; sleep 2; printf 'start\\n'; sleep 30 ;;
    esac`);
    // curl 7.84+: /ready answers 4 connections, then 2 once docker events is mid-line; /metrics stays the same.
    tool('curl', `case "$*" in *--version*) exit 0 ;; *--next*) exit 0 ;; esac
for a; do url=$a; done
case "$url" in
  *'/ready#[1-'*)
    printf '{"status":200,"readyConnections":4}'; printf '\\n@@M2 200\\n' >&2
    : > '${mark('answered')}'
    while [ ! -e '${mark('ev-partial')}' ]; do sleep 0.05; done
    sleep 0.3
    while :; do printf '{"status":200,"readyConnections":2}'; printf '\\n@@M2 200\\n' >&2; sleep 0.2; done ;;
  *'/metrics#[1-'*) while :; do printf 'cloudflared_tunnel_ha_connections 4\\n'; printf '\\n@@M2 200\\n' >&2; sleep 0.2; done ;;
  *) exit 3 ;;
esac`);
    const { stdout } = await promisify(execFile)('sh', ['-c', `(echo; sleep 6) | dash "${script}" --project m2 --http curl --poll-ms 200`], {
      env: { PATH: `${dir}:/usr/bin:/bin` },
      timeout: 30_000,
    });
    const out = stdout.trim().split('\n');
    for (const l of out) expect(parseAgentLine(l), l).toMatchObject({ ok: true });
    const tunnels = out.filter((l) => l.includes('"t":"tunnel"')).map((l) => JSON.parse(l) as { replicas: Array<{ ready: string }> });
    expect(tunnels.at(-1)?.replicas[0]?.ready).toBe('{"status":200,"readyConnections":2}');
  });
});
