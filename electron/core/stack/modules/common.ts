/**
 * Small builders every module shares: where data lives under the data root, bind mounts in the long syntax
 * (a path with `:` or `,` stays one path), health checks tuned for a quick `up --wait`, and the fields every
 * service has (restart policy, module label).
 */
import path from 'node:path';
import type { ModuleId, StackSettings } from '../../../contract/stack';
import { AppError } from '../../errors';
import type { Secret } from '../../secrets/secret';
import type { ComposeService, ModuleContext } from '../types';

/** A folder under the data root on the server. */
export const dataDir = (settings: StackSettings, ...parts: string[]): string => path.posix.join(settings.dataRoot, ...parts);

export interface BindMount {
  readonly type: 'bind';
  readonly source: string;
  readonly target: string;
  readonly read_only?: true;
}

/** A bind mount in Compose's long syntax; the source must exist (the apply step creates every host dir first). */
export const bind = (source: string, target: string, mode: 'ro' | 'rw' = 'rw'): BindMount => ({
  type: 'bind',
  source,
  target,
  ...(mode === 'ro' ? { read_only: true as const } : {}),
});

/**
 * Short intervals so `up --wait` returns soon after a service is ready; `startPeriod` covers a first start
 * (failures inside it do not count). No `start_interval`: the lab's Engine 20.10 (API 1.41) lacks it.
 */
export const healthcheck = (test: readonly string[], startPeriod: string): Record<string, unknown> => ({
  test: [...test],
  interval: '5s',
  timeout: '5s',
  retries: 5,
  start_period: startPeriod,
});

/** Fields every service of the stack has. */
export const baseService = (module: ModuleId, image: string): ComposeService => ({
  image,
  restart: 'unless-stopped',
  labels: { 'io.m2.module': module },
});

/** A secret the module asked for; rendering checks them all first, so a miss here is a bug in a module's `secrets`. */
export const secretOf = (ctx: ModuleContext, name: string): Secret => {
  const s = ctx.secrets.get(name);
  if (!s) throw new AppError('stack.secret-missing', `The secret ${name} is missing.`, { hint: 'Create the stack\'s secrets again from the Services page.' });
  return s;
};

/** `uid:gid` of the admin on the server, for containers that write bind-mounted folders. */
export const adminUser = (settings: StackSettings): string => `${settings.uid}:${settings.gid}`;

/**
 * Nextcloud on the home network: only while the WireGuard fallback is installed, so the household reaches it at the
 * tunnel address when Cloudflare is down. Without the fallback, the tunnel is the only way in (nothing more is open).
 */
export const nextcloudOnLan = (s: StackSettings): boolean => s.modules.nextcloud.enabled && s.modules.wireguard.enabled;

/**
 * Fixed addresses of the cloudflared replicas on the edge network — the last usable addresses of its subnet, far
 * from the ones Docker hands out from the bottom — so Nextcloud can tell a request through the tunnel (rewrite its
 * links to the public https name) from one through its home-network port (keep the address it was asked at).
 */
export function cloudflaredAddresses(edgeSubnet: string, replicas: 1 | 2): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(edgeSubnet);
  if (!m) throw new Error(`invalid edge subnet: ${edgeSubnet}`);
  const prefix = Number(m[5]);
  if (prefix > 29) throw new Error(`the edge subnet ${edgeSubnet} is too small for fixed cloudflared addresses (use /29 or larger)`);
  const base = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  const broadcast = network + size - 1;
  const ip = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  return Array.from({ length: replicas }, (_, i) => ip(broadcast - 1 - i));
}

/** A regular expression (PCRE, no delimiters, as Nextcloud's `overwritecondaddr` takes) matching exactly these addresses. */
export const exactAddressesRegex = (ips: readonly string[]): string => `^(${ips.map((ip) => ip.replace(/\./g, '\\.')).join('|')})$`;
