/**
 * The published host names' DNS records: a proxied CNAME to the tunnel, marked with the app's comment. A record the
 * app did not make is overwritten only with the admin's yes, and what it was is kept first, to put back on removal.
 */
import type { PreviousRecord, CloudflareFile, ManagedDns } from './cloudflare-store';
import { toCloudflareError } from './cf-errors';
import { collect } from './client';
import { decideDns, describeRecord, dnsConfirmKey, dnsMarker, type HostPlan, type RecordView } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { recordView } from './sdk-views';
import type { TakeOvers } from './take-over';
import { PERMISSION } from './token-check';

export async function ensureDns(cx: CloudflareContext, zone_id: string, h: HostPlan, target: string, takeOvers: TakeOvers): Promise<StepOutcome> {
  const { cf, profileId, store } = cx;
  let records: RecordView[];
  try {
    records = (await collect(cf.dns.records.list({ zone_id, name: { exact: h.hostname } }), 100)).map(recordView).filter((r) => r.name === h.hostname);
  } catch (err) {
    throw toCloudflareError(err, `read the DNS records of ${h.hostname}`, PERMISSION.dnsRead);
  }
  const state = (await store.read(profileId)).managed.dns.find((r) => r.hostname === h.hostname);
  const save = (entry: ManagedDns): Promise<CloudflareFile> =>
    store.update(profileId, (f) => {
      f.managed.dns = [...f.managed.dns.filter((r) => r.hostname !== entry.hostname), entry];
    });
  const body = { zone_id, type: 'CNAME' as const, name: h.hostname, content: target, proxied: true, ttl: 1 as const, comment: dnsMarker(profileId) };
  const decision = decideDns(records, profileId, target);
  try {
    switch (decision.kind) {
      case 'create': {
        const rec = await cf.dns.records.create(body);
        await save({ hostname: h.hostname, zoneId: zone_id, id: rec.id, origin: 'created', previous: [] });
        return { status: 'done', detail: `Created CNAME ${h.hostname} → ${target} (proxied).` };
      }
      case 'unchanged':
        await save({ hostname: h.hostname, zoneId: zone_id, id: decision.record.id, origin: state?.origin ?? 'created', previous: state?.previous ?? [] });
        return { status: 'unchanged', detail: `${h.hostname} already points at the tunnel.` };
      case 'update':
        await cf.dns.records.update(decision.record.id, body);
        await save({ hostname: h.hostname, zoneId: zone_id, id: decision.record.id, origin: state?.origin ?? 'created', previous: state?.previous ?? [] });
        return { status: 'done', detail: `Pointed ${h.hostname} at the tunnel again (it was ${describeRecord(decision.record)}).` };
      case 'confirm': {
        const waiting = takeOvers.ask(
          {
            key: dnsConfirmKey(h.hostname, decision.records),
            kind: 'dns-record',
            hostname: h.hostname,
            existing: decision.records.map(describeRecord).join('; '),
            action: `Replace ${decision.records.length > 1 ? 'them' : 'it'} with a proxied CNAME to the tunnel (put back if you remove the app from Cloudflare).`,
          },
          `${h.hostname} already has a record the app did not create (${decision.records.map(describeRecord).join('; ')}); it is overwritten only after you confirm.`,
        );
        if (waiting) return waiting;
        const [first, ...rest] = decision.records as [RecordView, ...RecordView[]];
        const previous: PreviousRecord[] = decision.records.map((r) => ({
          type: r.type,
          name: r.name,
          content: r.content ?? '',
          proxied: r.proxied ?? false,
          ttl: r.ttl ?? 1,
          comment: r.comment ?? null,
        }));
        // Save what was there before touching it, so removal can put it back even if this step stops half-way.
        await save({ hostname: h.hostname, zoneId: zone_id, id: first.id, origin: 'adopted', previous });
        for (const r of rest) await cf.dns.records.delete(r.id, { zone_id });
        await cf.dns.records.update(first.id, body);
        return { status: 'done', detail: `Replaced ${decision.records.map(describeRecord).join('; ')} with a CNAME to the tunnel, as you confirmed.` };
      }
    }
  } catch (err) {
    throw toCloudflareError(err, `set the DNS record of ${h.hostname}`, PERMISSION.dnsWrite);
  }
}
