import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from './compose-commands';
import { failedService, healthOf } from './apply';
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
