import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors';
import { wireguardModule } from './wireguard';
import { testContext } from './test-context';

const render = (wg: Record<string, unknown>) => wireguardModule.render(testContext({ dataRoot: '/data', uid: 1001, gid: 1002, modules: { wireguard: { enabled: true, ...wg } } }));

describe('wireguard module', () => {
  it('is off unless enabled', () => {
    expect(wireguardModule.enabled(testContext().settings)).toBe(false);
    expect(wireguardModule.enabled(testContext({ modules: { wireguard: { enabled: true } } }).settings)).toBe(true);
  });

  it('runs in server mode with a peer per device, publishing its UDP port', () => {
    const out = render({ port: 51999, endpoint: 'home.example.org', peers: ['laptop', 'phone1'] });
    expect(out.services.wireguard).toMatchObject({
      image: 'lscr.io/linuxserver/wireguard:1.0.20250521',
      cap_add: ['NET_ADMIN'],
      environment: { PUID: '1001', PGID: '1002', TZ: 'UTC', PEERS: 'laptop,phone1', SERVERURL: 'home.example.org', SERVERPORT: '51999', PEERDNS: 'auto' },
      volumes: [{ type: 'bind', source: '/data/wireguard', target: '/config' }],
      ports: [{ target: 51820, published: '51999', host_ip: '0.0.0.0', protocol: 'udp' }],
      networks: ['edge'],
    });
    expect((out.services.wireguard as { healthcheck: { test: string[] } }).healthcheck.test[1]).toMatch(/^test -s \/config\/wg_confs\/wg0\.conf/);
    expect(out.ports).toEqual([{ port: 51999, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' }]);
    expect(out.hostDirs).toEqual(['/data/wireguard']);
  });

  it('lets the image find the public address when no endpoint is set', () => {
    expect(render({ endpoint: '' }).services.wireguard).toMatchObject({ environment: { SERVERURL: 'auto' } });
    expect(render({ endpoint: '203.0.113.7' }).services.wireguard).toMatchObject({ environment: { SERVERURL: '203.0.113.7' } });
  });

  it.each([
    [{ endpoint: 'home example; rm -rf /' }, 'modules.wireguard.endpoint'],
    [{ endpoint: '$(id)' }, 'modules.wireguard.endpoint'],
    [{ peers: [] }, 'modules.wireguard.peers'],
  ])('refuses %j, naming the field', (wg, field) => {
    expect(() => render(wg)).toThrow(AppError);
    try {
      render(wg);
    } catch (e) {
      expect(e).toMatchObject({ code: 'stack.invalid-settings', field });
    }
  });
});
