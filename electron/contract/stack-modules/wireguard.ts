import { z } from 'zod';
import { defineModule, portField } from './declare';

export const WireguardSettings = z.object({
  /** The WireGuard toolbox container runs (the fallback switch itself is off until the admin turns it on). */
  enabled: z.boolean().default(false),
  /** UDP port the fallback endpoint listens on while it is on (host network, no port publishing). */
  port: portField('WireGuard port').default(51820),
});
export type WireguardSettings = z.infer<typeof WireguardSettings>;

export const wireguard = defineModule({
  id: 'wireguard',
  title: 'WireGuard fallback',
  description: 'The way in when Cloudflare is down: a WireGuard endpoint for this laptop and the household\'s devices, closed until you turn on the fallback.',
  settings: WireguardSettings,
  fields: [
    {
      kind: 'text',
      key: 'port',
      label: 'WireGuard port',
      inputMode: 'numeric',
      value: 'number',
      hint: 'UDP port the endpoint opens while the fallback is on. Devices and the public name are set on the Fallback page.',
    },
  ],
  images: {
    // [UNVERIFIED] exact linuxserver build tag; the app treats the tag as opaque.
    wireguard: { repository: 'lscr.io/linuxserver/wireguard', tag: '1.0.20250521', releaseNotes: 'https://github.com/linuxserver/docker-wireguard/releases', updates: 'patch' },
  },
  services: {
    wireguard: { role: 'the toolbox the fallback switch drives', health: 'it can run `wg`' },
  },
});
