import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors';
import { jellyfinModule } from './jellyfin';
import { testContext } from './test-context';

const render = (input: Parameters<typeof testContext>[0] = {}) => jellyfinModule.render(testContext(input));
const service = (input: Parameters<typeof testContext>[0] = {}) => render(input).services.jellyfin as Record<string, unknown>;

describe('jellyfin module', () => {
  it('runs as the admin on the edge network, published on the LAN port at the publish address, with config and cache under the data root', () => {
    const out = render({ dataRoot: '/data', uid: 1001, gid: 1002, publishAddress: '127.0.0.1', modules: { jellyfin: { lanPort: 18096 } } });
    const svc = out.services.jellyfin as Record<string, unknown>;
    expect(svc).toMatchObject({
      image: 'jellyfin/jellyfin:10.11.11',
      user: '1001:1002',
      restart: 'unless-stopped',
      labels: { 'io.m2.module': 'jellyfin' },
      networks: ['edge'],
      ports: [{ target: 8096, published: '18096', host_ip: '127.0.0.1', protocol: 'tcp' }],
      healthcheck: { test: ['CMD', 'curl', '-fsS', 'http://localhost:8096/health'], interval: '5s', timeout: '5s', retries: 5 },
    });
    expect(svc.volumes).toEqual([
      { type: 'bind', source: '/data/jellyfin/config', target: '/config' },
      { type: 'bind', source: '/data/jellyfin/cache', target: '/cache' },
    ]);
    expect(out.hostDirs).toEqual(['/data/jellyfin/config', '/data/jellyfin/cache']);
    expect(out.ports).toEqual([{ port: 18096, protocol: 'tcp', service: 'jellyfin', field: 'modules.jellyfin.lanPort' }]);
    expect(out.envFiles).toEqual([]);
  });

  it('mounts media read-only at /media/1… in order, and the ingest folder read-only only with media automation', () => {
    const media = ['/srv/films', '/srv/$(x)/"y" z'];
    const without = service({ modules: { jellyfin: { mediaPaths: media } } }).volumes as unknown[];
    expect(without.slice(2)).toEqual([
      { type: 'bind', source: '/srv/films', target: '/media/1', read_only: true },
      { type: 'bind', source: '/srv/$(x)/"y" z', target: '/media/2', read_only: true },
    ]);
    const withIngest = service({ modules: { jellyfin: { mediaPaths: media }, mediaAutomation: { enabled: true, ingestPath: '/srv/ingest' } } }).volumes as unknown[];
    expect(withIngest.at(-1)).toEqual({ type: 'bind', source: '/srv/ingest', target: '/media/ingest', read_only: true });
  });

  it('adds nothing for hwAccel none', () => {
    const svc = service({ modules: { jellyfin: { hwAccel: 'none' } } });
    for (const k of ['runtime', 'deploy', 'devices', 'group_add', 'gpus']) expect(svc).not.toHaveProperty(k);
  });

  it('reserves all NVIDIA GPUs through the nvidia runtime (no service-level gpus: for Compose 2.26)', () => {
    const svc = service({ modules: { jellyfin: { hwAccel: 'nvidia' } } });
    expect(svc.runtime).toBe('nvidia');
    expect(svc.deploy).toEqual({ resources: { reservations: { devices: [{ driver: 'nvidia', count: 'all', capabilities: ['gpu'] }] } } });
    expect(svc).not.toHaveProperty('gpus');
    expect(svc).not.toHaveProperty('devices');
  });

  it.each(['intel-qsv', 'vaapi', 'amd-vaapi'] as const)('passes the render node and the render group for %s', (hwAccel) => {
    const svc = service({ modules: { jellyfin: { hwAccel, renderDevice: '/dev/dri/renderD129', renderGid: 993 } } });
    expect(svc.devices).toEqual(['/dev/dri/renderD129:/dev/dri/renderD129']);
    expect(svc.group_add).toEqual(['993']);
    expect(svc).not.toHaveProperty('runtime');
    expect(svc).not.toHaveProperty('deploy');
  });

  it('refuses a VA-API/QSV variant without a render group id, naming the field', () => {
    let err: unknown;
    try {
      render({ modules: { jellyfin: { hwAccel: 'vaapi' } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'stack.invalid-settings', field: 'modules.jellyfin.renderGid' });
  });
});
