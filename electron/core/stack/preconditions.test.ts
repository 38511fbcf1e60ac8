import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../contract/stack';
import type { ContainerInfo } from './compose-commands';
import { judgePaths, judgePorts, parsePathReport, pathNeeds } from './preconditions';
import type { RenderedStack } from './types';

const settings = StackSettings.parse({ dataRoot: '/srv/m2', modules: { jellyfin: { mediaPaths: ['/mnt/films'] }, backup: { repository: '/backup/restic' } } });
const rendered = { hostDirs: ['/srv/m2/jellyfin/config', '/backup/restic', '/elsewhere'], ports: [{ port: 8096, protocol: 'tcp', service: 'jellyfin', field: 'modules.jellyfin.lanPort' }] } as unknown as RenderedStack;

describe('preconditions', () => {
  it('names each folder after its settings field', () => {
    expect(pathNeeds(settings, rendered).map((n) => [n.path, n.field, n.need])).toEqual([
      ['/mnt/films', 'modules.jellyfin.mediaPaths', 'read'],
      ['/srv/m2', 'dataRoot', 'write'],
      ['/backup/restic', 'modules.backup.repository', 'write'],
      ['/srv/m2/jellyfin/config', 'dataRoot', 'create'],
      ['/backup/restic', 'modules.backup.repository', 'create'],
      ['/elsewhere', 'dataRoot', 'create'],
    ]);
  });

  it('turns each bad state into an error with the field, and space below the minimum too', () => {
    const needs = pathNeeds(settings, rendered);
    const ok = 'ok 99999999\n'.repeat(needs.length);
    expect(judgePaths(needs, parsePathReport(ok, needs.length), 1024)).toBeNull();
    expect(judgePaths(needs, parsePathReport(`missing -\n${ok}`, needs.length), 1024)).toMatchObject({ code: 'stack.data-path', field: 'modules.jellyfin.mediaPaths' });
    expect(judgePaths(needs, parsePathReport(`ok 1\nnot-writable 5\n${ok}`, needs.length), 1024)).toMatchObject({ field: 'dataRoot', userMessage: expect.stringMatching(/not writable/) as string });
    expect(judgePaths(needs, parsePathReport(`ok 1\ncreatable 5\nparent-not-writable 5\n${ok}`, needs.length), 1024)).toMatchObject({ field: 'modules.backup.repository' });
    expect(judgePaths(needs, parsePathReport(`ok 1\nok 5\n${ok}`, needs.length), 1024 ** 3)).toMatchObject({ field: 'dataRoot', userMessage: expect.stringMatching(/free/) as string });
    expect(judgePaths(needs, parsePathReport('', needs.length), 1024)).toMatchObject({ code: 'stack.data-path' });
  });

  it('refuses a port someone else listens on, but not one this stack already publishes', () => {
    const listening = { tcp: new Set([8096]), udp: new Set<number>() };
    expect(judgePorts(rendered.ports, listening, [])).toMatchObject({ code: 'stack.port-taken', field: 'modules.jellyfin.lanPort' });
    const own = [{ published: [{ port: 8096, protocol: 'tcp' }] } as unknown as ContainerInfo];
    expect(judgePorts(rendered.ports, listening, own)).toBeNull();
    expect(judgePorts(rendered.ports, { tcp: new Set(), udp: new Set([8096]) }, [])).toBeNull();
  });

  it('counts the WireGuard endpoint’s own listener as the stack’s (host network: nothing published), but not once its container stopped', () => {
    const ports = [{ port: 51830, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' }] as RenderedStack['ports'];
    const listening = { tcp: new Set<number>(), udp: new Set([51830]) };
    expect(judgePorts(ports, listening, [])).toMatchObject({ code: 'stack.port-taken', field: 'modules.wireguard.port' });
    const running = { service: 'wireguard', state: 'running', published: [] } as unknown as ContainerInfo;
    expect(judgePorts(ports, listening, [running])).toBeNull();
    expect(judgePorts(ports, listening, [{ ...running, state: 'exited' }])).toMatchObject({ code: 'stack.port-taken' });
  });
});
