/**
 * `<dataDir>/fallback/<profile>.json`: the admin's fallback settings, the devices (names, addresses, public keys —
 * private keys and preshared keys live only in the keychain), the switch's last resting state with the port
 * mapping it made (so "off" can remove it after a restart), and the last public address seen from the server.
 */
import { z } from 'zod';
import { FallbackSettings, PortMapping } from '../../contract/fallback';
import { ProfileJsonStore } from '../fs/json-store';

export const StoredDevice = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['laptop', 'household']),
  address: z.string(),
  publicKey: z.string(),
  createdAt: z.string(),
});
export type StoredDevice = z.infer<typeof StoredDevice>;

export const FallbackFile = z.object({
  version: z.literal(1),
  settings: FallbackSettings.prefault({}),
  /** The server's public key (its private key is in the keychain), once generated. */
  serverPublicKey: z.string().nullable().default(null),
  devices: z.array(StoredDevice).default([]),
  /** The last state the switch came to rest in; `on` keeps the mapping so `off` can remove it. */
  switch: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('off'), since: z.string().nullable() }),
      z.object({ kind: z.literal('on'), since: z.string(), mapping: PortMapping }),
    ])
    .default({ kind: 'off', since: null }),
  /** The last public address of the home connection seen from the server. */
  lastKnownIp: z.string().nullable().default(null),
  lastKnownAt: z.string().nullable().default(null),
  endpointWarning: z.string().nullable().default(null),
});
export type FallbackFile = z.infer<typeof FallbackFile>;

export const createFallbackStore = (dir: string): ProfileJsonStore<typeof FallbackFile> =>
  new ProfileJsonStore({ dir, schema: FallbackFile, empty: () => FallbackFile.parse({ version: 1 }), what: 'outage fallback settings' });
