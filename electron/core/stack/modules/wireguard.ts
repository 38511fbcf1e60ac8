/**
 * WireGuard (stack-facts §8.1): the fallback way home when the tunnel is down. linuxserver/wireguard in server
 * mode, one peer config per named device under <dataRoot>/wireguard; off unless the admin enables it.
 */
import type { StackSettings } from '../../../contract/stack';
import { isHostAddress } from '../../../contract/validation';
import { AppError } from '../../errors';
import type { ModuleContext, ModuleOutput, StackModule } from '../types';
import { baseService, bind, dataDir, healthcheck } from './common';

export const wireguardDir = (s: StackSettings): string => dataDir(s, 'wireguard');

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const w = s.modules.wireguard;
  if (w.endpoint !== '' && !isHostAddress(w.endpoint)) {
    throw new AppError('stack.invalid-settings', 'WireGuard endpoint: enter the public host name or address of your home connection, such as home.example.com.', {
      field: 'modules.wireguard.endpoint',
    });
  }
  if (w.peers.length === 0) {
    throw new AppError('stack.invalid-settings', 'WireGuard devices: name at least one device, e.g. phone1.', { field: 'modules.wireguard.peers' });
  }
  const dir = wireguardDir(s);
  const service = {
    ...baseService('wireguard', ctx.image('wireguard')),
    cap_add: ['NET_ADMIN'],
    sysctls: { 'net.ipv4.conf.all.src_valid_mark': '1' },
    environment: {
      PUID: String(s.uid),
      PGID: String(s.gid),
      TZ: s.timezone,
      PEERS: w.peers.join(','),
      // 'auto' lets the image look up the public address when the admin has not named one.
      SERVERURL: w.endpoint === '' ? 'auto' : w.endpoint,
      SERVERPORT: String(w.port),
      PEERDNS: 'auto',
    },
    volumes: [bind(dir, '/config')],
    ports: [{ target: 51820, published: String(w.port), host_ip: s.publishAddress, protocol: 'udp' }],
    networks: ['edge'],
    // The server config exists once server mode is set up; where `wg` exists (the real image) the interface must be up too.
    healthcheck: healthcheck(['CMD-SHELL', 'test -s /config/wg_confs/wg0.conf && { ! command -v wg >/dev/null 2>&1 || wg show wg0 >/dev/null 2>&1; }'], '60s'),
  };
  return {
    module: 'wireguard',
    services: { wireguard: service },
    envFiles: [],
    files: [],
    hostDirs: [dir],
    ports: [{ port: w.port, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' }],
  };
}

export const wireguardModule: StackModule = {
  id: 'wireguard',
  enabled: (s) => s.modules.wireguard.enabled,
  secrets: () => [],
  render,
};
