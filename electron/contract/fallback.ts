/**
 * The Cloudflare outage fallback (DESIGN.md §1 "Outage"): one outage state from three angles plus whether the
 * server answers, a fail-closed switch that opens a WireGuard endpoint at home, household devices with their
 * own keys, and the laptop's own way home over the tunnel. Pure zod; no Node. Private keys never appear here:
 * a device's config (which holds its key) is handed out only by the one reveal call, `fallback:device-config`.
 */
import { z } from 'zod';
import { ProfileId } from './profiles';
import { isHostAddress, isIPv4 } from './validation';

// ---------------------------------------------------------------------------------------------------------------
// Outage detection

/** One state for the whole path from the internet to the home server. */
export const outageKinds = ['healthy', 'tunnel-broken', 'cloudflare-outage', 'home-offline', 'unknown'] as const;
export const OutageKind = z.enum(outageKinds);
export type OutageKind = z.infer<typeof OutageKind>;

/**
 * What one outside-in probe of a published hostname saw through Cloudflare's edge:
 * - `app`: the service itself answered (through Access with the app's service token);
 * - `access-login`: Cloudflare Access answered with its login (healthy edge, says nothing about the tunnel);
 * - `tunnel-error`: the edge answered that the tunnel is not connected (HTTP 530 / error 1033);
 * - `origin-error`: the edge reached the tunnel but not the service (HTTP 502);
 * - `edge-error`: another 5xx from the edge;
 * - `dns-failure`, `connect-failure`, `tls-failure`, `timeout`: Cloudflare itself could not be reached.
 */
export const probeOutcomes = ['app', 'access-login', 'tunnel-error', 'origin-error', 'edge-error', 'dns-failure', 'connect-failure', 'tls-failure', 'timeout'] as const;
export const ProbeOutcome = z.enum(probeOutcomes);
export type ProbeOutcome = z.infer<typeof ProbeOutcome>;

export const ProbeResult = z.object({
  hostname: z.string(),
  outcome: ProbeOutcome,
  httpStatus: z.number().int().nullable(),
  /** Cloudflare's 1xxx error code from the body, e.g. 1033. */
  cfError: z.number().int().nullable(),
  /** The edge location from `cf-ray`, e.g. FRA. */
  colo: z.string().nullable(),
  /** One sentence a person reads. */
  detail: z.string(),
  latencyMs: z.number().nullable(),
  at: z.string(),
});
export type ProbeResult = z.infer<typeof ProbeResult>;

export const OutageState = z.object({
  kind: OutageKind,
  /** When the state last changed (after hysteresis), ISO 8601. */
  since: z.string(),
  /** One sentence: "Cloudflare cannot be reached: 3 of 3 probes failed to connect since 20:41." */
  reason: z.string(),
  /** Each angle in words, freshest first, with its age. */
  evidence: z.array(z.string()),
  probes: z.array(ProbeResult),
  /** Whether the server itself answers (the SSH connection and its status agent); null when not known. */
  serverReachable: z.boolean().nullable(),
  checkedAt: z.string().nullable(),
});
export type OutageState = z.infer<typeof OutageState>;

// ---------------------------------------------------------------------------------------------------------------
// Devices

/** A household device's name as the admin types it: shown in lists, never reaches a shell or a file name. */
export const DeviceName = z
  .string({ error: 'Device name: give the device a name, for example "Anna’s phone".' })
  .trim()
  .min(1, 'Device name: give the device a name, for example "Anna’s phone".')
  .max(40, 'Device name: keep it to 40 characters or fewer.')
  .refine((s) => !/[\p{Cc}\p{Cf}]/u.test(s), 'Device name: remove line breaks and other control characters.');

export const DeviceId = z.string().regex(/^[a-z0-9]{8,32}$/, 'Device: choose a device from the list.');

export const FallbackDevice = z.object({
  id: DeviceId,
  name: z.string(),
  /** `laptop` is this computer's own peer; `household` devices get configs and QR codes. */
  kind: z.enum(['laptop', 'household']),
  /** The device's address inside the tunnel, e.g. 10.13.13.2. */
  address: z.string(),
  publicKey: z.string(),
  /** What the device may reach through the tunnel (CIDRs), e.g. the server's address only. */
  allowedIps: z.array(z.string()),
  createdAt: z.string(),
  /** From `wg show` while the fallback is on; null when never seen or not known. */
  lastHandshake: z.string().nullable(),
  rxBytes: z.number().nullable(),
  txBytes: z.number().nullable(),
});
export type FallbackDevice = z.infer<typeof FallbackDevice>;

// ---------------------------------------------------------------------------------------------------------------
// Port mapping and the endpoint

/** How the WireGuard port reaches the server from the internet while the fallback is on. */
export const PortMapping = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('upnp'), externalPort: z.number().int(), externalIp: z.string().nullable(), router: z.string().nullable() }),
  z.object({ kind: z.literal('nat-pmp'), externalPort: z.number().int(), externalIp: z.string().nullable(), lifetimeSeconds: z.number().int() }),
  /** The router speaks neither: the admin forwards the port by hand; `instructions` says exactly which. */
  z.object({ kind: z.literal('manual'), externalPort: z.number().int(), instructions: z.string() }),
  z.object({ kind: z.literal('none') }),
]);
export type PortMapping = z.infer<typeof PortMapping>;

/** A port mapping in words, as the switch's steps and the page say it. */
export function describeMapping(m: PortMapping): string {
  switch (m.kind) {
    case 'upnp':
      return `The router forwards UDP port ${m.externalPort} to the server (UPnP).`;
    case 'nat-pmp':
      return `The router forwards UDP port ${m.externalPort} to the server (NAT-PMP).`;
    case 'manual':
      return m.instructions;
    case 'none':
      return 'No router port is mapped.';
    default: {
      const never: never = m;
      return never;
    }
  }
}

export const FallbackEndpoint = z.object({
  /** The DNS-only name kept up to date through the admin's Cloudflare token, e.g. home.example.com. */
  name: z.string().nullable(),
  /** The last public address seen from the server (the fallback when the name cannot be resolved). */
  lastKnownIp: z.string().nullable(),
  lastKnownAt: z.string().nullable(),
  port: z.number().int(),
  /** CGNAT or double NAT: port forwarding cannot work; said in words. */
  warning: z.string().nullable(),
  /**
   * The proof that the port reaches home from the internet, as the server sees it: the latest handshake, since the
   * switch went on, of a device connecting from outside the home network (null: not seen yet).
   */
  reachedFromOutside: z.object({ device: z.string(), from: z.string(), at: z.string() }).nullable().default(null),
});
export type FallbackEndpoint = z.infer<typeof FallbackEndpoint>;

/** The switch. `on` and `off` are the only resting states; a failed switch says what it left and how to fix it. */
export const FallbackMode = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('off'), since: z.string().nullable() }),
  z.object({ kind: z.literal('switching'), to: z.enum(['on', 'off']), step: z.string(), since: z.string() }),
  z.object({ kind: z.literal('on'), since: z.string(), mapping: PortMapping }),
  z.object({ kind: z.literal('failed'), to: z.enum(['on', 'off']), reason: z.string(), hint: z.string(), since: z.string() }),
]);
export type FallbackMode = z.infer<typeof FallbackMode>;

/** How this computer reaches home over the tunnel: the platform's own way, and whether it worked. */
export const LaptopTunnel = z.object({
  method: z.enum(['network-manager', 'wg-quick', 'wireguard-app', 'none']),
  state: z.enum(['down', 'up', 'handed-off', 'failed']),
  /** One sentence: which way was used and what to do next. */
  detail: z.string(),
  /** True while the SSH connection to this server goes through the tunnel. */
  sshOverWireguard: z.boolean(),
});
export type LaptopTunnel = z.infer<typeof LaptopTunnel>;

const LAN_FORMAT = 'Home network: enter it as an address range such as 192.168.1.0/24, or leave it empty.';

/** An IPv4 CIDR `a.b.c.d/n` as numbers (no leading zeros, n 0–32), or null. */
export function parseIPv4Cidr(s: string): { base: number; bits: number } | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1, 5);
  const bitsText = m[5] ?? '';
  if (parts.some((p) => p.length > 1 && p.startsWith('0')) || (bitsText.length > 1 && bitsText.startsWith('0'))) return null;
  const octets = parts.map(Number);
  const bits = Number(bitsText);
  if (octets.some((o) => o > 255) || bits > 32) return null;
  const base = (((octets[0] ?? 0) << 24) | ((octets[1] ?? 0) << 16) | ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)) >>> 0;
  return { base, bits };
}

const maskOf = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
const contains = (outer: { base: number; bits: number }, inner: { base: number; bits: number }): boolean =>
  outer.bits <= inner.bits && ((inner.base & maskOf(outer.bits)) >>> 0) === ((outer.base & maskOf(outer.bits)) >>> 0);
const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
/** The private IPv4 ranges of RFC 1918: what a home network uses. */
const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => parseIPv4Cidr(c) as { base: number; bits: number });

/**
 * Docker's networks on the server that tunnel devices must never be forwarded into: the stack's own subnets (the
 * product's fixed ones, electron/core/stack/render.ts defaultSubnets; a unit test keeps the two lists the same) and
 * Docker's default bridge. Forwarding there would let a device reach Postgres and Redis directly, and be believed as
 * a trusted proxy (masqueraded behind the edge network's gateway).
 */
export const DOCKER_SUBNETS: readonly { cidr: string; name: string }[] = [
  { cidr: '172.30.80.0/24', name: 'the stack’s edge network' },
  { cidr: '172.30.81.0/24', name: 'the stack’s internal network' },
  { cidr: '172.30.82.0/24', name: 'the stack’s media network' },
  { cidr: '172.17.0.0/16', name: 'Docker’s default network' },
];

/**
 * What is wrong with the home network's range, in the admin's words (null: nothing). It must be a private IPv4 range
 * (10/8, 172.16/12, 192.168/16) written with its first address, /16 to /30, apart from the tunnel's subnet and from
 * Docker's networks on the server (`DOCKER_SUBNETS`, plus `dockerSubnets` where a stack renders with other subnets);
 * and the option needs it.
 */
export function lanCidrProblem(
  s: { allowLan: boolean; lanCidr: string; subnet: string },
  dockerSubnets: readonly { cidr: string; name: string }[] = DOCKER_SUBNETS,
): string | null {
  if (s.lanCidr === '') return s.allowLan ? 'Home network: enter your home network’s address range, such as 192.168.1.0/24, to let devices reach it.' : null;
  const lan = parseIPv4Cidr(s.lanCidr);
  if (!lan) return LAN_FORMAT;
  if (lan.bits < 16 || lan.bits > 30) return 'Home network: use a range from /16 to /30, such as 192.168.1.0/24 (your router’s settings show it).';
  if (!PRIVATE_V4.some((p) => contains(p, lan))) return 'Home network: use your private home range (10.x.x.x, 172.16–31.x.x or 192.168.x.x), such as 192.168.1.0/24; a public range would send devices’ traffic for it home.';
  const network = (lan.base & maskOf(lan.bits)) >>> 0;
  if (network !== lan.base) return `Home network: write the range with its first address: ${dotted(network)}/${lan.bits}.`;
  const tunnel = parseIPv4Cidr(s.subnet);
  if (tunnel && (contains(tunnel, lan) || contains(lan, tunnel))) return `Home network: ${s.lanCidr} overlaps the tunnel subnet ${s.subnet}; choose another tunnel subnet or check the range.`;
  for (const d of dockerSubnets) {
    const net = parseIPv4Cidr(d.cidr);
    if (net && (contains(net, lan) || contains(lan, net)))
      return `Home network: ${s.lanCidr} overlaps ${d.name} on the server (${d.cidr}), which devices must not reach; enter the range your home router hands out, such as 192.168.1.0/24 (its settings show it).`;
  }
  return null;
}

export const FallbackSettings = z.object({
  /** Switch on by itself when an outage is confirmed. Off unless the admin opts in. */
  autoSwitch: z.boolean().default(false),
  /** The tunnel's subnet (a /24); the server is .1. */
  subnet: z
    .string()
    .trim()
    .refine((s) => /^(\d{1,3}\.){3}0\/24$/.test(s) && isIPv4(s.slice(0, -3)), 'Tunnel subnet: use a /24 ending in .0, for example 10.13.13.0/24.')
    .default('10.13.13.0/24'),
  /** The name (DNS-only record) or address devices use to reach home; empty = the last public address seen. */
  endpointName: z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => s === '' || isHostAddress(s), 'Endpoint name: enter a host name such as home.example.com or a public IPv4 address, or leave it empty.')
    .default(''),
  /**
   * Where this computer's SSH reaches the server through the tunnel; empty = the server's tunnel address (.1).
   * Set it to the server's LAN address when its SSH server listens only there.
   */
  sshAddress: z
    .string()
    .trim()
    .refine((s) => s === '' || isIPv4(s), 'SSH address through the tunnel: enter an IPv4 address such as 192.168.1.20, or leave it empty.')
    .default(''),
  /**
   * Let household devices reach the whole home network, not only the server: their configs route `lanCidr` through
   * the tunnel, and the server forwards and masquerades tunnel traffic to it (electron/core/fallback/lan-forward.ts).
   */
  allowLan: z.boolean().default(false),
  /** The home network's CIDR when allowLan is on, e.g. 192.168.1.0/24: a private IPv4 range, apart from the tunnel. */
  lanCidr: z
    .string()
    .trim()
    .max(18, LAN_FORMAT)
    .refine((s) => s === '' || parseIPv4Cidr(s) !== null, LAN_FORMAT)
    .default(''),
}).superRefine((s, ctx) => {
  const problem = lanCidrProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', path: ['lanCidr'], message: problem });
});
export type FallbackSettings = z.infer<typeof FallbackSettings>;

export const FallbackView = z.object({
  profileId: ProfileId,
  /** False until the wireguard module is installed on the server. */
  ready: z.boolean(),
  /** Why the switch cannot be used yet, in words; null when it can. */
  notReadyReason: z.string().nullable(),
  settings: FallbackSettings,
  mode: FallbackMode,
  endpoint: FallbackEndpoint,
  /** The server's address inside the tunnel, e.g. 10.13.13.1: where SSH and the services answer during the fallback. */
  serverAddress: z.string(),
  /** Where each service answers during the fallback, e.g. Jellyfin → http://10.13.13.1:8096. */
  services: z.array(z.object({ service: z.string(), url: z.string() })),
  devices: z.array(FallbackDevice),
  laptop: LaptopTunnel,
  outage: OutageState.nullable(),
  /**
   * Why devices cannot reach the home network although the admin allowed it (for example IP forwarding is off on the
   * server), with what to do; null when it works or is not allowed.
   */
  lanWarning: z.string().nullable().default(null),
  /** What does not work over the tunnel during an outage, and why (e.g. sign-in with Authentik, reached only through Cloudflare). */
  unavailable: z.array(z.object({ service: z.string(), reason: z.string() })).default([]),
});
export type FallbackView = z.infer<typeof FallbackView>;

// ---------------------------------------------------------------------------------------------------------------
// Calls and events

export const FallbackRequest = z.object({ profileId: ProfileId });
export const FallbackSwitchRequest = z.object({ profileId: ProfileId, on: z.boolean() });
export const FallbackSettingsSave = z.object({ profileId: ProfileId, settings: FallbackSettings });
export const AddDeviceRequest = z.object({ profileId: ProfileId, name: DeviceName });
export const DeviceRequest = z.object({ profileId: ProfileId, deviceId: DeviceId });
export const LaptopTunnelRequest = z.object({ profileId: ProfileId, up: z.boolean() });

/** The one call that reveals a device's private key: its wg-quick config and the same text as a QR code. */
export const DeviceConfig = z.object({
  deviceId: DeviceId,
  /** A file name the WireGuard apps accept: letters, digits, dashes; at most 15 characters before `.conf`. */
  fileName: z.string(),
  config: z.string(),
  /** `data:image/svg+xml;base64,…` of a QR code holding `config`. */
  qrSvgDataUrl: z.string(),
});
export type DeviceConfig = z.infer<typeof DeviceConfig>;

export const FallbackProgress = z.object({
  profileId: ProfileId,
  step: z.string(),
  state: z.enum(['running', 'done', 'failed', 'skipped']),
  detail: z.string(),
  at: z.string(),
});
export type FallbackProgress = z.infer<typeof FallbackProgress>;
