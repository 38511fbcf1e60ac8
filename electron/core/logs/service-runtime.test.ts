import { describe, expect, it } from 'vitest';
import { isCrashLooping, parseRuntime, serviceRuntimes } from './service-runtime';

const id = (n: number): string => String(n).repeat(64).slice(0, 64);
const row = (n: number, service: string, status: string, restarting: string, count: number, started: string, exit = 0, health = '', oneoff = 'False'): string =>
  [id(n), service, oneoff, status, restarting, String(count), started, String(exit), health].join('\t');
const NOW = Date.parse('2026-12-05T02:10:00Z') / 1000;

describe('what Docker says about each service', () => {
  const out = [
    row(1, 'jellyfin', 'running', 'false', 0, '2026-12-05T01:00:00.1Z', 0, 'healthy'),
    row(2, 'crasher', 'restarting', 'true', 7, '2026-12-05T02:09:58Z', 1),
    row(3, 'cloudflared', 'running', 'false', 0, '2026-12-05T01:00:00Z'),
    row(4, 'cloudflared', 'running', 'false', 0, '2026-12-05T01:00:00Z', 0, 'unhealthy'),
    row(5, 'nextcloud', 'exited', 'false', 0, '0001-01-01T00:00:00Z', 137),
    row(6, 'nextcloud', 'exited', 'false', 0, '2026-12-05T01:00:00Z', 0, '', 'True'),
    'garbage line',
    // What Docker 20.10 prints for a container outside Compose (no labels): left out.
    `${id(7)}\t<no value>\t<no value>\trunning\tfalse\t0\t2026-12-05T02:12:06.218033283Z\t0\t`,
  ].join('\n');

  it('parses the tab-separated fields and leaves out lines that do not parse', () => {
    const c = parseRuntime(out);
    expect(c).toHaveLength(6);
    expect(c[1]).toEqual({ id: id(2), service: 'crasher', oneoff: false, status: 'restarting', restarting: true, restartCount: 7, startedAt: '2026-12-05T02:09:58Z', exitCode: 1, health: '' });
    expect(c[4]?.startedAt).toBeNull();
    expect(c[5]?.oneoff).toBe(true);
  });

  it('says a service crash-loops when Docker is restarting it, or it restarted 3+ times and its run is under two minutes old', () => {
    const base = { id: id(1), service: 's', oneoff: false, status: 'running', restarting: false, exitCode: 0, health: '' };
    expect(isCrashLooping({ ...base, restartCount: 0, startedAt: null, restarting: true }, NOW)).toBe(true);
    expect(isCrashLooping({ ...base, restartCount: 3, startedAt: '2026-12-05T02:09:30Z' }, NOW)).toBe(true);
    expect(isCrashLooping({ ...base, restartCount: 3, startedAt: '2026-12-05T01:00:00Z' }, NOW)).toBe(false);
    expect(isCrashLooping({ ...base, restartCount: 2, startedAt: '2026-12-05T02:09:59Z' }, NOW)).toBe(false);
    expect(isCrashLooping({ ...base, restartCount: 9, startedAt: '2026-12-05T02:09:59Z' }, null)).toBe(false);
  });

  it('lists declared services in order (a missing one as missing), shows the worst of several containers, and leaves one-offs out', () => {
    const rows = serviceRuntimes(['jellyfin', 'cloudflared', 'nextcloud', 'authentik'], parseRuntime(out), NOW);
    expect(rows.map((r) => [r.service, r.state, r.health, r.containers, r.looping])).toEqual([
      ['jellyfin', 'running', 'healthy', 1, false],
      ['cloudflared', 'running', 'unhealthy', 2, false],
      ['nextcloud', 'exited', '', 1, false],
      ['authentik', 'missing', '', 0, false],
      ['crasher', 'restarting', '', 1, true],
    ]);
    expect(rows[2]?.exitCode).toBe(137);
  });
});
