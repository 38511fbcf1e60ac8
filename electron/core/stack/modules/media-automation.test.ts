import { describe, expect, it } from 'vitest';
import { mediaAutomationModule } from './media-automation';
import { testContext } from './test-context';

describe('media automation module', () => {
  it('runs Sonarr, Radarr and qBittorrent on the media network only, writing to the ingest folder', () => {
    const out = mediaAutomationModule.render(testContext({ dataRoot: '/data', uid: 1001, gid: 1002, modules: { mediaAutomation: { enabled: true, ingestPath: '/srv/ingest' } } }));
    expect(Object.keys(out.services)).toEqual(['sonarr', 'radarr', 'qbittorrent']);
    for (const [name, svc] of Object.entries(out.services)) {
      expect(svc, name).toMatchObject({
        restart: 'unless-stopped',
        labels: { 'io.m2.module': 'mediaAutomation' },
        networks: ['media'],
        environment: { PUID: '1001', PGID: '1002', TZ: 'UTC' },
        volumes: [
          { type: 'bind', source: `/data/media-automation/${name}`, target: '/config' },
          { type: 'bind', source: '/srv/ingest', target: '/ingest' },
        ],
      });
      expect(svc).not.toHaveProperty('ports');
    }
    expect((out.services.sonarr as { healthcheck: { test: string[] } }).healthcheck.test).toEqual(['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://localhost:8989/ping']);
    expect(out.hostDirs).toEqual(['/srv/ingest', '/data/media-automation/sonarr', '/data/media-automation/radarr', '/data/media-automation/qbittorrent']);
  });
});
