import type { NetworkName } from '../../electron/core/stack/types';
import { dockerApi } from '../../scripts/lab/docker';

/**
 * Three /24s under `prefix` (e.g. `10.231`) that no network on the shared lab engine uses, searched from `start`:
 * the stack's networks have fixed subnets, and fixed subnets collide across Compose projects. Each test file
 * keeps its own prefix so files running side by side never pick the same ones.
 */
export async function freeSubnets(prefix: string, start: number): Promise<Record<NetworkName, string>> {
  const nets = JSON.parse((await dockerApi('GET', '/networks')).body) as Array<{ IPAM?: { Config?: Array<{ Subnet?: string }> | null } }>;
  const used = new Set(nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')));
  const free: string[] = [];
  for (let third = start % 256, tried = 0; free.length < 3 && tried < 256; third = (third + 1) % 256, tried++) {
    const s = `${prefix}.${third}.0/24`;
    if (!used.has(s)) free.push(s);
  }
  if (free.length < 3) throw new Error(`lab: no three free /24 subnets left under ${prefix}.0.0/16`);
  return { edge: free[0] ?? '', internal: free[1] ?? '', media: free[2] ?? '' };
}
