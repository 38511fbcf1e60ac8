/**
 * The status agent reads what a service pushes and holds back what only moves: cloudflared's log line about an edge
 * connection makes its /ready be read at once (its poll is only a safety net), and a playing session's progress
 * alone goes to the app at most every 10 s while a session that starts, ends or pauses goes at once. Run under dash
 * with fake tools first on PATH, as the agent's other script tests do.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** Fake tools in a fresh folder; docker knows one running cloudflared (c1) and one Jellyfin (c2). */
function tools(extraDocker: (mark: (f: string) => string) => string): { tool: (name: string, body: string) => void; mark: (f: string) => string } {
  dir = mkdtempSync(path.join(os.tmpdir(), 'm2-agent-push-'));
  const mark = (f: string): string => path.join(dir, f);
  const tool = (name: string, body: string): void => {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  };
  tool('docker', `case "$1" in
    ps) echo c1; echo c2 ;;
    inspect) echo 'cloudflared ,10.0.0.2, c1 {"id":"c1","name":"/m2-cloudflared-1","service":"cloudflared","oneoff":"False","image":"cloudflare/cloudflared:2026.8.2","state":"running","health":"healthy","restarts":0,"exitCode":0,"startedAt":"x","finishedAt":"y","oom":false}'
      echo 'jellyfin ,10.0.0.3, c2 {"id":"c2","name":"/m2-jellyfin-1","service":"jellyfin","oneoff":"False","image":"jellyfin/jellyfin:10.11.11","state":"running","health":"healthy","restarts":0,"exitCode":0,"startedAt":"x","finishedAt":"y","oom":false}' ;;
    events) sleep 30 ;;
    ${extraDocker(mark)}
    esac`);
  return { tool, mark };
}

async function runAgent(seconds: number, args: readonly string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)('sh', ['-c', `(echo 0123456789abcdef0123456789abcdef; sleep ${seconds}) | dash "${script}" --project m2 --http curl ${args.join(' ')}`], {
    env: { PATH: `${dir}:/usr/bin:/bin` },
    timeout: 30_000,
  });
  const out = stdout.trim().split('\n');
  for (const l of out) expect(parseAgentLine(l), l).toMatchObject({ ok: true });
  return out;
}

describe('what the status agent is told rather than asks', () => {
  it('reads /ready at once when cloudflared logs an edge connection going, not at its next poll', { timeout: 45_000 }, async () => {
    // cloudflared's log (docker logs -f c1): a second in, the edge drops two connections and says so, as cloudflared
    // does (one line per connection, with connIndex=). Each curl of /ready answers what the edge holds when it
    // starts, then never again (as if the next poll were minutes away): only a read made anew sees the change.
    const { tool, mark } = tools((mark) => `logs) [ "$*" = "logs -f --tail 0 c1" ] || exit 1
      sleep 1; echo 2 > '${mark('edge')}'
      echo '2026-12-05T06:00:00Z ERR Connection terminated error="lab: edge connection dropped" connIndex=2' >&2
      echo '2026-12-05T06:00:00Z ERR Connection terminated error="lab: edge connection dropped" connIndex=3' >&2
      sleep 30 ;;`);
    writeFileSync(mark('edge'), '4\n');
    tool('curl', `case "$*" in *--version*) exit 0 ;; *--next*) exit 0 ;; *file://*) exit 3 ;; esac
for a; do url=$a; done
case "$url" in
  *'/ready#[1-'*) read n < '${mark('edge')}'; printf '{"status":200,"readyConnections":%s}' "$n"; printf '\\n@@M2 200\\n' >&2 ;;
  *'/metrics#[1-'*) printf 'cloudflared_tunnel_ha_connections 4\\n'; printf '\\n@@M2 200\\n' >&2 ;;
  *'/Sessions'*) printf '[]'; printf '\\n@@M2 200\\n' >&2 ;;
esac
exec sleep 30`);
    const out = await runAgent(5, ['--poll-ms', '500']);
    // (The one-shot first sample answers nothing here: its lines have no replica.)
    const ready = out
      .filter((l) => l.includes('"t":"tunnel"'))
      .flatMap((l) => (JSON.parse(l) as { replicas: Array<{ ready: string }> }).replicas.map((r) => r.ready));
    expect(ready[0]).toBe('{"status":200,"readyConnections":4}');
    expect(ready.at(-1)).toBe('{"status":200,"readyConnections":2}');
  });

  it('passes a playing session on when it starts or pauses, and its progress alone at most every 10 s', { timeout: 45_000 }, async () => {
    // Jellyfin answers every 0.1 s; the position, completion and frame rate move at every answer; after 15 answers
    // the session pauses.
    const { tool } = tools(() => '');
    tool('curl', `case "$*" in *--version*) exit 0 ;; *--next*) exit 0 ;; *file://*) exit 3 ;; esac
for a; do url=$a; done
case "$url" in
  *'/ready#[1-'*) printf '{"status":200,"readyConnections":4}'; printf '\\n@@M2 200\\n' >&2 ;;
  *'/metrics#[1-'*) printf 'cloudflared_tunnel_ha_connections 4\\n'; printf '\\n@@M2 200\\n' >&2 ;;
  *'/Sessions'*)
    printf '[]'; printf '\\n@@M2 200\\n' >&2
    sleep 0.5
    i=0
    while [ $i -lt 30 ]; do
      i=$((i + 1)); p=false; [ $i -gt 15 ] && p=true
      printf '[{"Id":"s1","UserName":"alice","LastActivityDate":"2026-12-05T06:00:%02d.000Z","PlayState":{"PositionTicks":%s0000000,"IsPaused":%s,"PlayMethod":"Transcode"},"NowPlayingItem":{"Name":"Sintel","RunTimeTicks":8880000000},"TranscodingInfo":{"Framerate":3%s.5,"CompletionPercentage":%s.25,"HardwareAccelerationType":"none"}}]' $i $i $p $((i % 10)) $i
      printf '\\n@@M2 200\\n' >&2
      sleep 0.1
    done ;;
esac
exec sleep 30`);
    const out = await runAgent(8, ['--poll-ms', '500']);
    const sessions = out.filter((l) => l.includes('"code":200')).map((l) => JSON.parse((JSON.parse(l) as { body: string }).body) as Array<{ PlayState: { PositionTicks: number; IsPaused: boolean } }>);
    // Nothing playing, then the session starting, then it pausing: three lines for thirty answers.
    expect(sessions.map((s) => s[0]?.PlayState.IsPaused ?? 'none')).toEqual(['none', false, true]);
    expect(sessions[1]?.[0]?.PlayState.PositionTicks).toBe(10_000_000);
    expect(sessions[2]?.[0]?.PlayState.PositionTicks).toBe(160_000_000);
  });
});
