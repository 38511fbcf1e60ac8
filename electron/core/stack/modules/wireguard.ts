/**
 * WireGuard: the fallback way home when Cloudflare is down (issue 12). The container is a toolbox the app drives,
 * not linuxserver's init: host network (the endpoint is the server's own UDP port, the tunnel reaches the LAN
 * address and the host's services), NET_ADMIN and /dev/net/tun, and an entrypoint that only waits. linuxserver's s6
 * init never runs, so it never regenerates configs and never runs its client-mode kill switch (which deletes the
 * default route — fatal with host networking; fallback facts §1).
 *
 * The app writes `<dataRoot>/wireguard/m2/m2wg0.conf` (0600, it holds the server's private key) over SFTP and turns
 * the endpoint on and off with `wg-quick up|down` inside the running container (electron/core/fallback/server-
 * wireguard.ts). The config is outside linuxserver's wg_confs, and the container takes the interface down when it
 * starts and when it stops: after a reboot or a recreate the fallback is off (fail-closed).
 */
import path from 'node:path';
import type { StackSettings } from '../../../contract/stack';
import type { ModuleContext, ModuleOutput, StackModule } from '../types';
import { baseService, bind, dataDir, healthcheck } from './common';

/** The fallback's interface (in the host's network namespace) and its wg-quick config. */
export const WG_INTERFACE = 'm2wg0';
/** The config's folder and path as the container sees them (`/config` is `<dataRoot>/wireguard`). */
export const WG_CONF_DIR_IN_CONTAINER = '/config/m2';
export const WG_CONF_IN_CONTAINER = `${WG_CONF_DIR_IN_CONTAINER}/${WG_INTERFACE}.conf`;
/** Marker the toolbox keeps while the interface is completely up (`wg-quick up` finished); in the container's /run. */
export const WG_UP_MARKER = `/run/${WG_INTERFACE}.up`;

export const wireguardDir = (s: StackSettings): string => dataDir(s, 'wireguard');
/** Host paths of the config folder (0700) and file (0600) under the data root. */
export const wgConfDir = (dataRoot: string): string => path.posix.join(dataRoot, 'wireguard', 'm2');
export const wgConfPath = (dataRoot: string): string => path.posix.join(wgConfDir(dataRoot), `${WG_INTERFACE}.conf`);

/**
 * The toolbox's entrypoint: take down whatever a previous container left (a kernel interface outlives a killed
 * container), then wait; on TERM/INT (docker stop, a recreate) take the interface down and exit. Constant text:
 * nothing from settings is interpolated into it (Compose's `$` escaping is the renderer's job).
 */
export const toolboxEntrypoint: readonly string[] = [
  '/bin/sh',
  '-c',
  [
    `down() { wg-quick down ${WG_CONF_IN_CONTAINER} >/dev/null 2>&1; rm -f ${WG_UP_MARKER}; }`,
    'down',
    "trap 'down; exit 0' TERM INT",
    'while :; do sleep 3600 & wait $!; done',
  ].join('; '),
];

function render(ctx: ModuleContext): ModuleOutput {
  const s = ctx.settings;
  const w = s.modules.wireguard;
  const dir = wireguardDir(s);
  const service = {
    ...baseService('wireguard', ctx.image('wireguard')),
    network_mode: 'host',
    cap_add: ['NET_ADMIN'],
    devices: ['/dev/net/tun:/dev/net/tun'],
    // docker-init as pid 1: forwards TERM to the entrypoint and reaps the userspace daemons `docker exec` leaves behind.
    init: true,
    environment: { TZ: s.timezone },
    volumes: [bind(dir, '/config')],
    entrypoint: [...toolboxEntrypoint],
    stop_grace_period: '15s',
    // Healthy = the toolbox can drive WireGuard; whether the endpoint is open is the fallback switch's business.
    healthcheck: healthcheck(['CMD', 'wg', '--version'], '10s'),
  };
  return {
    module: 'wireguard',
    services: { wireguard: service },
    envFiles: [],
    files: [],
    hostDirs: [dir],
    // Host network: nothing is published, but the UDP port must be free on the server for the switch to open it.
    ports: [{ port: w.port, protocol: 'udp', service: 'wireguard', field: 'modules.wireguard.port' }],
  };
}

export const wireguardModule: StackModule = {
  id: 'wireguard',
  enabled: (s) => s.modules.wireguard.enabled,
  secrets: () => [],
  render,
};
