/**
 * cloudflared (stack-facts §3): a remotely managed tunnel. The token reaches the container as TUNNEL_TOKEN from
 * the 0600 env file (never argv); metrics on a fixed address so `tunnel ready` can be the health check. With two
 * replicas a second, identical service `cloudflared-2` runs (its own four edge connections).
 */
import { varRef, type ModuleContext, type ModuleOutput, type StackModule } from '../types';
import { baseService, cloudflaredAddresses, healthcheck, nextcloudOnLan, secretOf } from './common';

/** Set by the Cloudflare step (the app cannot generate it): rendering with cloudflared enabled waits for it. */
export const tunnelTokenSecret = 'cloudflared.tunnel-token';
export const tunnelTokenVar = 'CLOUDFLARED_TUNNEL_TOKEN';
export const cloudflaredMetricsPort = 2000;

function render(ctx: ModuleContext): ModuleOutput {
  const replicas = ctx.settings.modules.cloudflared.replicas;
  const service = {
    ...baseService('cloudflared', ctx.image('cloudflared')),
    command: ['tunnel', '--metrics', `0.0.0.0:${cloudflaredMetricsPort}`, 'run'],
    environment: { TUNNEL_TOKEN: varRef(tunnelTokenVar) },
    healthcheck: healthcheck(['CMD', 'cloudflared', 'tunnel', '--metrics', `127.0.0.1:${cloudflaredMetricsPort}`, 'ready'], '60s'),
  };
  // Fixed addresses when Nextcloud also answers on the home network: it rewrites links for these only.
  const fixed = nextcloudOnLan(ctx.settings) ? cloudflaredAddresses(ctx.subnets.edge, replicas) : null;
  const on = (i: number): Record<string, unknown> => ({ ...service, networks: fixed ? { edge: { ipv4_address: fixed[i] } } : ['edge'] });
  const services: Record<string, Record<string, unknown>> = { cloudflared: on(0) };
  if (replicas === 2) services['cloudflared-2'] = on(1);
  return {
    module: 'cloudflared',
    services,
    envFiles: [{ name: 'cloudflared', entries: [[tunnelTokenVar, secretOf(ctx, tunnelTokenSecret)]] }],
    files: [],
    hostDirs: [],
    ports: [],
  };
}

export const cloudflaredModule: StackModule = {
  id: 'cloudflared',
  enabled: (s) => s.modules.cloudflared.enabled,
  secrets: () => [{ name: tunnelTokenSecret, kind: 'token', generated: false }],
  render,
};
