import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../../contract/stack';
import { toolboxEntrypoint, WG_CONF_IN_CONTAINER, wgConfPath, wireguardModule } from './wireguard';
import { testContext } from './test-context';

const render = (wg: Record<string, unknown>) => wireguardModule.render(testContext({ dataRoot: '/data', uid: 1001, gid: 1002, modules: { wireguard: { enabled: true, ...wg } } }));

describe('wireguard module', () => {
  it('is off unless enabled', () => {
    expect(wireguardModule.enabled(testContext().settings)).toBe(false);
    expect(wireguardModule.enabled(testContext({ modules: { wireguard: { enabled: true } } }).settings)).toBe(true);
  });

  it('is a toolbox on the host network with the TUN device, never linuxserver init, publishing nothing', () => {
    const out = render({ port: 51999 });
    const svc = out.services.wireguard as Record<string, unknown>;
    expect(svc).toMatchObject({
      image: 'lscr.io/linuxserver/wireguard:1.0.20250521',
      network_mode: 'host',
      cap_add: ['NET_ADMIN'],
      devices: ['/dev/net/tun:/dev/net/tun'],
      init: true,
      volumes: [{ type: 'bind', source: '/data/wireguard', target: '/config' }],
      entrypoint: [...toolboxEntrypoint],
      restart: 'unless-stopped',
      healthcheck: { test: ['CMD', 'wg', '--version'] },
    });
    // No server mode (PEERS), no published port, no bridge network: the host's own UDP port is the endpoint.
    expect(svc).not.toHaveProperty('ports');
    expect(svc).not.toHaveProperty('networks');
    expect(JSON.stringify(svc.environment)).not.toMatch(/PEERS|SERVERURL|SERVERPORT/);
    // The port is still checked free before an apply.
    expect(out.ports).toEqual([{ port: 51999, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' }]);
    expect(out.hostDirs).toEqual(['/data/wireguard']);
  });

  it('takes the interface down when the container starts and when it stops (fail-closed), and only waits otherwise', () => {
    const [shell, flag, script] = toolboxEntrypoint;
    expect([shell, flag]).toEqual(['/bin/sh', '-c']);
    expect(script).toContain(`wg-quick down ${WG_CONF_IN_CONTAINER}`);
    expect(script).toMatch(/down\(\) \{[^}]*\}; down; trap 'down; exit 0' TERM INT; while :; do sleep 3600 & wait \$!; done$/);
    expect(script).not.toMatch(/\/init|wg-quick up/);
  });

  it('keeps the config outside linuxserver’s wg_confs', () => {
    expect(WG_CONF_IN_CONTAINER).toBe('/config/m2/m2wg0.conf');
    expect(wgConfPath('/srv/m2')).toBe('/srv/m2/wireguard/m2/m2wg0.conf');
  });

  it('drops the old peers and endpoint settings from a saved file instead of failing on them', () => {
    const s = StackSettings.parse({ modules: { wireguard: { enabled: true, port: 51830, peers: ['laptop'], endpoint: 'home.example.org' } } });
    expect(s.modules.wireguard).toEqual({ enabled: true, port: 51830 });
    expect(StackSettings.parse({}).modules.wireguard).toEqual({ enabled: false, port: 51820 });
  });
});
