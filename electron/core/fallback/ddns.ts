/**
 * The fallback endpoint's name (facts §6): one DNS-only A record, TTL 60, kept pointing at the home's public
 * address through the admin's Cloudflare token. The record carries the app's marker in its comment (as the
 * published hostnames' records do, publish-plan.ts), so the app never takes over a record someone else made unless
 * told to, and removes only its own. Every change lists by name first: a retry never makes a second record.
 * The public address comes from the server itself (Cloudflare's trace), else from the router's own view.
 */
import type Cloudflare from 'cloudflare';
import { isDnsName, isIPv4 } from '../../contract/validation';
import { toCloudflareError } from '../cloudflare/cf-errors';
import { PERMISSION } from '../cloudflare/token-check';
import { AppError } from '../errors';
import { silentLogger, type Logger } from '../log';
import type { Argv } from '../ssh/argv';
import type { CommandRunner } from '../ssh/runner';
import { classifyExternalIp, type PortMapper } from './port-mapping';

export const ENDPOINT_FIELD = 'Endpoint name';
export const ENDPOINT_TTL = 60;

/** The comment that marks the endpoint record as the app's; distinct from the published hostnames' marker. */
export const endpointMarker = (profileId?: string): string => `managed-by:m2-companion endpoint${profileId ? ` profile=${profileId}` : ''}`;

/** The name as Cloudflare stores it (lower case, no trailing dot), or an error naming the field. */
export function checkEndpointName(raw: string): string {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  if (!isDnsName(name) || !name.includes('.')) {
    throw new AppError('fallback.invalid', `${ENDPOINT_FIELD}: use a host name in your Cloudflare domain, for example home.example.com (letters, digits and dashes between dots).`, {
      field: ENDPOINT_FIELD,
      hint: 'Leave it empty to use the last known address instead of a name.',
    });
  }
  return name;
}

function checkAddress(ip: string): void {
  if (!isIPv4(ip)) {
    throw new AppError('fallback.invalid', `Public address: ${JSON.stringify(ip.slice(0, 60))} is not an IPv4 address, so the endpoint name cannot point at it.`, { field: 'Public address' });
  }
}

interface EndpointRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
  comment: string | null;
}

const ADDRESS_TYPES = new Set(['A', 'AAAA', 'CNAME']);
const describe = (r: EndpointRecord): string => `${r.type} ${r.content}${r.proxied ? ', proxied' : ''}`;

export interface EndpointDnsDeps {
  client: () => Promise<Cloudflare>;
  zoneId: () => Promise<string>;
  log?: Logger;
  /** Marks the record as this server's (two servers in one zone keep their names apart). */
  profileId?: string;
}

export class EndpointDns {
  readonly #d: EndpointDnsDeps;
  readonly #log: Logger;
  readonly #marker: string;

  constructor(deps: EndpointDnsDeps) {
    this.#d = deps;
    this.#log = deps.log ?? silentLogger;
    this.#marker = endpointMarker(deps.profileId);
  }

  /** The zone, the client and the records at `name` (all address types), the name checked against the zone. */
  async #read(raw: string): Promise<{ cf: Cloudflare; zone_id: string; name: string; records: EndpointRecord[] }> {
    const name = checkEndpointName(raw);
    const [cf, zone_id] = await Promise.all([this.#d.client(), this.#d.zoneId()]);
    let zoneName: string;
    try {
      zoneName = (await cf.zones.get({ zone_id })).name.toLowerCase();
    } catch (err) {
      throw toCloudflareError(err, 'read the zone', PERMISSION.zoneRead);
    }
    if (!name.endsWith(`.${zoneName}`)) {
      throw new AppError('cloudflare.hostname-outside-zone', `${ENDPOINT_FIELD}: ${name} is not inside your Cloudflare domain ${zoneName}.`, {
        field: ENDPOINT_FIELD,
        hint: `Use a name that ends in .${zoneName}, for example home.${zoneName}.`,
      });
    }
    const records: EndpointRecord[] = [];
    try {
      for await (const r of cf.dns.records.list({ zone_id, name: { exact: name } })) {
        const rec = r as { id: string; type: string; name: string; content?: string; ttl: number; proxied?: boolean; comment?: string | null };
        if (rec.name.toLowerCase() !== name) continue;
        records.push({ id: rec.id, type: rec.type, name: rec.name, content: rec.content ?? '', ttl: rec.ttl, proxied: rec.proxied ?? false, comment: rec.comment ?? null });
        if (records.length >= 100) break;
      }
    } catch (err) {
      throw toCloudflareError(err, `read the DNS records of ${name}`, PERMISSION.dnsRead);
    }
    return { cf, zone_id, name, records };
  }

  #ours(records: readonly EndpointRecord[]): EndpointRecord[] {
    return records.filter((r) => r.type === 'A' && (r.comment ?? '').trim() === this.#marker);
  }

  /**
   * Point `name` at `ip`: edit the app's record when it differs, create it when there is none, change nothing when
   * it already matches. A record at that name the app did not make is an error, unless `takeOver` (then it goes).
   */
  async upsert(name: string, ip: string, opts: { takeOver?: boolean } = {}): Promise<{ changed: boolean; recordId: string }> {
    checkAddress(ip);
    const r = await this.#read(name);
    const ours = this.#ours(r.records);
    const foreign = r.records.filter((x) => ADDRESS_TYPES.has(x.type) && !ours.includes(x));
    const body = { zone_id: r.zone_id, type: 'A' as const, name: r.name, content: ip, ttl: ENDPOINT_TTL, proxied: false, comment: this.#marker };
    try {
      if (foreign.length > 0) {
        if (!opts.takeOver) {
          throw new AppError(
            'cloudflare.conflict',
            `${ENDPOINT_FIELD}: ${r.name} already has a DNS record M2 Companion did not create (${foreign.map(describe).join('; ')}), so the app leaves it alone.`,
            { field: ENDPOINT_FIELD, hint: 'Choose another name, or confirm that the app may replace that record.' },
          );
        }
        for (const f of foreign) await r.cf.dns.records.delete(f.id, { zone_id: r.zone_id });
        this.#log.warn('endpoint dns: replaced records the app did not create, as confirmed', { name: r.name, replaced: foreign.map(describe) });
      }
      const [mine, ...extra] = ours;
      // More than one of ours can only come from an interrupted run elsewhere: keep one.
      for (const x of extra) await r.cf.dns.records.delete(x.id, { zone_id: r.zone_id });
      if (mine) {
        if (mine.content === ip && mine.ttl === ENDPOINT_TTL && !mine.proxied && extra.length === 0 && foreign.length === 0) {
          return { changed: false, recordId: mine.id };
        }
        await r.cf.dns.records.edit(mine.id, body);
        this.#log.info('endpoint dns: record updated', { name: r.name, from: mine.content, to: ip });
        return { changed: true, recordId: mine.id };
      }
      const created = await r.cf.dns.records.create(body);
      this.#log.info('endpoint dns: record created', { name: r.name, ip });
      return { changed: true, recordId: created.id };
    } catch (err) {
      throw toCloudflareError(err, `set the DNS record of ${r.name}`, PERMISSION.dnsWrite);
    }
  }

  /** The address the app's record for `name` holds; null when the app has no record there. */
  async current(name: string): Promise<string | null> {
    const r = await this.#read(name);
    return this.#ours(r.records)[0]?.content ?? null;
  }

  /** Delete the app's record(s) for `name`; records made by anyone else stay. Nothing there is fine. */
  async remove(name: string): Promise<void> {
    const r = await this.#read(name);
    try {
      for (const x of this.#ours(r.records)) await r.cf.dns.records.delete(x.id, { zone_id: r.zone_id });
    } catch (err) {
      throw toCloudflareError(err, `remove the DNS record of ${r.name}`, PERMISSION.dnsWrite);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The home's public address, as seen from the server

export const TRACE_URL = 'https://1.1.1.1/cdn-cgi/trace';
export const TRACE_TIMEOUT_S = 3;

/** curl, silent, bounded: a server without internet must not keep the fallback waiting. */
export const traceCommand = (url: string = TRACE_URL, seconds: number = TRACE_TIMEOUT_S): Argv => [
  'curl', '--silent', '--max-time', String(seconds), '--connect-timeout', String(seconds), url,
];

/** `ip=` from Cloudflare's trace (`key=value` lines); null when absent or not IPv4. */
export function parseTrace(out: string): string | null {
  const ip = /^ip=(\S+)$/m.exec(out)?.[1] ?? null;
  return ip !== null && isIPv4(ip) ? ip : null;
}

/**
 * The home's public IPv4 address: Cloudflare's trace asked from the server, else the router's own internet address
 * when that is a public one (a CGNAT or private router address is not where the internet reaches this home).
 */
export async function publicIpFromServer(
  conn: CommandRunner,
  opts: { mapper?: Pick<PortMapper, 'discover'>; traceUrl?: string; timeoutSeconds?: number; log?: Logger } = {},
): Promise<string | null> {
  const seconds = opts.timeoutSeconds ?? TRACE_TIMEOUT_S;
  const log = opts.log ?? silentLogger;
  try {
    const r = await conn.exec(traceCommand(opts.traceUrl, seconds), { timeoutMs: (seconds + 5) * 1000 });
    const ip = r.code === 0 ? parseTrace(r.stdout) : null;
    if (ip) return ip;
    log.info('public address: the trace gave none', { code: r.code });
  } catch (err) {
    log.warn('public address: the trace could not run', { error: err instanceof Error ? err.message : String(err) });
  }
  if (!opts.mapper) return null;
  const d = await opts.mapper.discover();
  return classifyExternalIp(d.externalIp) === 'public' ? d.externalIp : null;
}
