/** The admin's zone: the zones an account has, and publish's check that the chosen one still holds every host name. */
import type Cloudflare from 'cloudflare';
import type { CloudflareSettings } from '../../contract/cloudflare';
import { AppError } from '../errors';
import { toCloudflareError } from './cf-errors';
import { collect } from './client';
import { deeperThanUniversalSsl, inZone, type HostPlan } from './publish-plan';
import type { StepOutcome } from './run';
import { PERMISSION } from './token-check';

export async function listZones(cf: Cloudflare, accountId: string): Promise<Array<{ id: string; name: string; status: string; accountId: string }>> {
  try {
    const zones = await collect(cf.zones.list({ account: { id: accountId }, per_page: 50 }), 500);
    return zones.map((z) => ({ id: z.id, name: z.name, status: z.status ?? 'unknown', accountId: z.account.id ?? accountId }));
  } catch (err) {
    throw toCloudflareError(err, 'list the zones of the account', PERMISSION.zoneRead);
  }
}

/** Every published host name must lie inside the zone the admin chose; the first one outside names its field. */
export function refuseHostsOutsideZone(hosts: readonly HostPlan[], zone: string): void {
  for (const h of hosts) {
    if (!inZone(h.hostname, zone)) {
      throw new AppError('cloudflare.hostname-outside-zone', `${h.hostname} is not inside the zone ${zone}.`, {
        hint: `Change the ${h.service} host name to a name ending in .${zone} (for example ${h.hostname.split('.')[0] ?? h.service}.${zone}), or choose the zone it belongs to.`,
        field: `hostnames.${h.service}`,
      });
    }
  }
}

/** The zone exists, belongs to the chosen account, and holds every host name (warning where the free certificate stops). */
export async function checkZone(cf: Cloudflare, settings: CloudflareSettings | null, hosts: readonly HostPlan[]): Promise<StepOutcome> {
  if (!settings?.accountId || !settings.zoneId || !settings.zoneName) {
    throw new AppError('cloudflare.not-configured', 'Choose the Cloudflare account and zone first.', { hint: 'Pick them in the Domain & Cloudflare step and save.' });
  }
  let zone;
  try {
    zone = await cf.zones.get({ zone_id: settings.zoneId });
  } catch (err) {
    throw toCloudflareError(err, 'read the zone', PERMISSION.zoneRead);
  }
  if (zone.name !== settings.zoneName || (zone.account.id && zone.account.id !== settings.accountId)) {
    throw new AppError('cloudflare.not-configured', `The saved zone is now ${zone.name} in another account than the one chosen.`, { hint: 'Choose the account and zone again.' });
  }
  const outside = hosts.filter((h) => !inZone(h.hostname, zone.name));
  if (outside.length) {
    throw new AppError('cloudflare.hostname-outside-zone', `${outside.map((h) => h.hostname).join(', ')} ${outside.length > 1 ? 'are' : 'is'} not inside ${zone.name}.`, {
      hint: `Use host names ending in .${zone.name}.`,
    });
  }
  const deep = hosts.filter((h) => deeperThanUniversalSsl(h.hostname, zone.name));
  const warn = deep.length
    ? ` Note: ${deep.map((h) => h.hostname).join(', ')} ${deep.length > 1 ? 'are' : 'is'} more than one level below ${zone.name}; Cloudflare's free certificate does not cover ${deep.length > 1 ? 'them' : 'it'}.`
    : '';
  return { status: 'unchanged', detail: `${zone.name} (${zone.status ?? 'unknown'}) holds ${hosts.map((h) => h.hostname).join(', ')}.${warn}` };
}
