import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from './compose-commands';
import { certainFailure, certainFailureReason, failedService, healthOf } from './apply';
import { makeReleaseId, RELEASE_ID } from './layout';

const c = (service: string, state: string, health: string): ContainerInfo =>
  ({ id: `${service}0123456789abcdef`, name: `m2-${service}-1`, service, state, health, image: `${service}:1` }) as unknown as ContainerInfo;

describe('health after up', () => {
  it('lists every service of the release, a missing one included', () => {
    const h = healthOf(['a', 'b', 'c'], [c('a', 'running', 'healthy'), c('c', 'running', '')], { b: 'b:2' });
    expect(h.map((x) => [x.service, x.state, x.health, x.containerId])).toEqual([
      ['a', 'running', 'healthy', 'a0123456789a'],
      ['b', 'missing', '', null],
      ['c', 'running', '', 'c0123456789a'],
    ]);
  });

  it('blames the unhealthy service first, then one that exited, then one still starting', () => {
    const h = (list: ContainerInfo[]) => failedService(healthOf(list.map((x) => x.service), list, {}))?.service ?? null;
    expect(h([c('a', 'running', 'starting'), c('b', 'exited', ''), c('c', 'running', 'unhealthy')])).toBe('c');
    expect(h([c('a', 'running', 'starting'), c('b', 'exited', '')])).toBe('b');
    expect(h([c('a', 'running', 'healthy'), c('b', 'running', 'starting')])).toBe('b');
    expect(h([c('a', 'running', 'healthy'), c('b', 'running', '')])).toBeNull();
  });
});

describe('a failure certain before Compose gives up', () => {
  const hashes = new Map([
    ['jellyfin', 'new-jellyfin'],
    ['redis', 'same-redis'],
  ]);
  const k = (over: Partial<ContainerInfo>): ContainerInfo =>
    ({ id: 'j2', service: 'jellyfin', oneoff: false, configHash: 'new-jellyfin', state: 'running', health: 'starting', exitCode: 0, restartCount: 0, ...over }) as ContainerInfo;
  const decide = (containers: ContainerInfo[], before: Array<[string, number]> = [['j1', 0], ['r1', 4]]) => certainFailure(containers, { services: ['jellyfin', 'redis'], hashes, before: new Map(before) });

  it('is a new container that exited with an error, or that Docker restarted, or one Docker calls unhealthy', () => {
    expect(decide([k({ state: 'exited', exitCode: 1 })])).toEqual({ service: 'jellyfin', containerId: 'j2', evidence: 'exited', exitCode: 1, restarts: 0 });
    expect(decide([k({ state: 'restarting', exitCode: 137, restartCount: 1 })])).toMatchObject({ evidence: 'restarting', exitCode: 137, restarts: 1 });
    // Running again after a restart: Docker has reset the exit code.
    expect(decide([k({ restartCount: 2 })])).toMatchObject({ evidence: 'restarting', exitCode: null, restarts: 2 });
    expect(decide([k({ health: 'unhealthy' })])).toMatchObject({ evidence: 'unhealthy' });
    // Docker also calls a crashed container unhealthy: the crash is what is told.
    expect(decide([k({ state: 'restarting', health: 'unhealthy', exitCode: 3, restartCount: 1 })])).toMatchObject({ evidence: 'restarting', exitCode: 3 });
    // An unchanged container that Docker restarts during this up (its count grew).
    expect(decide([{ ...k({ id: 'r1', service: 'redis', configHash: 'same-redis', restartCount: 5 }) }])).toMatchObject({ service: 'redis', evidence: 'restarting' });
  });

  it('is not a container still starting, one of the old release being replaced, an old restart, a clean exit, or a one-off', () => {
    expect(decide([k({})])).toBeNull();
    // The old jellyfin, stopped by Compose to be replaced: another configuration, exit 143.
    expect(decide([k({ id: 'j1', configHash: 'old-jellyfin', state: 'exited', exitCode: 143, restartCount: 3, health: 'unhealthy' })])).toBeNull();
    // redis restarted 4 times long before this apply; nothing new.
    expect(decide([k({ id: 'r1', service: 'redis', configHash: 'same-redis', restartCount: 4 })])).toBeNull();
    expect(decide([k({ state: 'exited', exitCode: 0 })])).toBeNull();
    expect(decide([k({ oneoff: true, state: 'exited', exitCode: 1 })])).toBeNull();
    expect(decide([k({ service: 'other', state: 'exited', exitCode: 1 })])).toBeNull();
  });

  it('is told in words that name the service and what Docker saw', () => {
    expect(certainFailureReason({ service: 'jellyfin', containerId: 'x', evidence: 'exited', exitCode: 1, restarts: 0 })).toBe('jellyfin exited with code 1 as it started.');
    expect(certainFailureReason({ service: 'jellyfin', containerId: 'x', evidence: 'restarting', exitCode: null, restarts: 2 })).toBe('jellyfin kept stopping as it started (Docker restarted it 2 times).');
    expect(certainFailureReason({ service: 'jellyfin', containerId: 'x', evidence: 'restarting', exitCode: 1, restarts: 1 })).toBe('jellyfin kept stopping as it started (Docker restarted it once; it exited with code 1).');
    expect(certainFailureReason({ service: 'nextcloud', containerId: 'x', evidence: 'unhealthy', exitCode: null, restarts: 0 })).toMatch(/^nextcloud did not become healthy/);
  });
});

describe('release ids', () => {
  it('are a UTC timestamp and the digest’s first 8 hex digits, made unique within a second', () => {
    const now = new Date('2026-11-25T19:05:12.345Z');
    const id = makeReleaseId(now, 'sha256:3FA9C1D2aaaa');
    expect(id).toBe('20261125T190512Z-3fa9c1d2');
    expect(makeReleaseId(now, '3fa9c1d2', new Set([id]))).toBe(`${id}-2`);
    expect(RELEASE_ID.test(id) && RELEASE_ID.test(`${id}-2`)).toBe(true);
    expect(RELEASE_ID.test('../etc')).toBe(false);
  });
});
