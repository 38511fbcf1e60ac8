// DNS records of a zone (A, AAAA, CNAME, TXT): create/list/get/edit(PATCH)/update(PUT)/delete.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Body, badRequest, boolParam, compact, notFound, paginate, route, type Ctx, type Reply, type Route } from './api';
import { REQUIRE } from './permissions';
import { zoneFor } from './routes-accounts';
import { nowIso, type DnsRecordEntry } from './state';
import type { RecordDeleteResponse, RecordResponse, Zone } from './types';

const TYPES = ['A', 'AAAA', 'CNAME', 'TXT'] as const;
type SupportedType = (typeof TYPES)[number];

interface RecordInput {
  type: SupportedType;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
  comment?: string;
  tags: string[];
}

/** The API takes relative names, "@" and FQDNs; it stores the FQDN, lower-cased. */
function fqdn(name: string, zone: Zone): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (n === '@' || n === zone.name) return zone.name;
  return n.endsWith(`.${zone.name}`) ? n : `${n}.${zone.name}`;
}

const HOST_RE = /^(?=.{1,253}$)(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$/i;

function parseInput(body: Record<string, unknown>, zone: Zone, prev?: RecordResponse): RecordInput {
  const b = new Body(body, 9000);
  const partial = prev !== undefined;
  const typeRaw = b.has('type') || !partial ? b.raw('type') : prev.type;
  if (typeof typeRaw !== 'string' || !(TYPES as readonly string[]).includes(typeRaw)) {
    throw badRequest(9020, `Invalid DNS record type (the stand-in supports ${TYPES.join(', ')})`);
  }
  const type = typeRaw as SupportedType;
  const name = fqdn(partial && !b.has('name') ? prev.name : b.str('name'), zone);
  if (!HOST_RE.test(name)) throw badRequest(9005, `DNS name "${name}" is invalid`);
  const content = partial && !b.has('content') ? (prev.content ?? '') : b.str('content');
  const ttlIn = partial && !b.has('ttl') ? prev.ttl : b.optNum('ttl');
  if (ttlIn === undefined) throw badRequest(9021, 'ttl is required');
  if (ttlIn !== 1 && (!Number.isInteger(ttlIn) || ttlIn < 30 || ttlIn > 86400)) {
    throw badRequest(9021, 'Invalid TTL. Must be between 30 and 86400 seconds, or 1 for Automatic.');
  }
  const proxied = (partial && !b.has('proxied') ? prev.proxied : b.optBool('proxied')) ?? false;
  if (proxied && type === 'TXT') throw badRequest(9004, 'This record type cannot be proxied.');
  if (type === 'A' && !net.isIPv4(content)) throw badRequest(9005, 'Content for A record must be a valid IPv4 address.');
  if (type === 'AAAA' && !net.isIPv6(content)) throw badRequest(9006, 'Content for AAAA record must be a valid IPv6 address.');
  if (type === 'CNAME' && !HOST_RE.test(content.replace(/\.$/, ''))) throw badRequest(9007, 'Content for CNAME record is invalid.');
  const comment = partial && !b.has('comment') ? prev.comment : b.optStr('comment');
  const tags = (partial && !b.has('tags') ? prev.tags : b.optStrArray('tags')) ?? [];
  return { type, name, content: type === 'CNAME' ? content.replace(/\.$/, '').toLowerCase() : content, ttl: proxied ? 1 : ttlIn, proxied, comment, tags };
}

/** Reject what the real API rejects: a CNAME sharing its name with an A/AAAA/CNAME, and identical records. */
function checkConflicts(ctx: Ctx, zoneId: string, r: RecordInput, exceptId?: string): void {
  const addressLike = (t: string): boolean => t === 'A' || t === 'AAAA' || t === 'CNAME';
  for (const e of ctx.state.dnsRecords.values()) {
    const o = e.record;
    if (e.zoneId !== zoneId || o.id === exceptId || o.name !== r.name) continue;
    if (o.type === r.type && o.content === r.content) throw badRequest(81058, 'An identical record already exists.');
    if ((r.type === 'CNAME' && addressLike(o.type)) || (o.type === 'CNAME' && addressLike(r.type))) {
      throw badRequest(81053, 'An A, AAAA, or CNAME record with that host already exists.');
    }
  }
}

function build(r: RecordInput, id: string, created: string): RecordResponse {
  const now = nowIso();
  const common = compact({
    id,
    name: r.name,
    ttl: r.ttl,
    content: r.content,
    comment: r.comment,
    tags: r.tags,
    created_on: created,
    modified_on: now,
    meta: {},
    settings: {},
  });
  switch (r.type) {
    case 'A': {
      const rec: RecordResponse.ARecord = { ...common, type: 'A', proxied: r.proxied, proxiable: true };
      return rec;
    }
    case 'AAAA': {
      const rec: RecordResponse.AAAARecord = { ...common, type: 'AAAA', proxied: r.proxied, proxiable: true };
      return rec;
    }
    case 'CNAME': {
      const rec: RecordResponse.CNAMERecord = { ...common, type: 'CNAME', proxied: r.proxied, proxiable: true };
      return rec;
    }
    case 'TXT': {
      const rec: RecordResponse.TXTRecord = { ...common, type: 'TXT', proxied: false, proxiable: false };
      return rec;
    }
  }
}

function recordFor(ctx: Ctx): DnsRecordEntry {
  const e = ctx.state.dnsRecords.get(ctx.params.record_id ?? '');
  if (!e || e.zoneId !== ctx.params.zone_id) throw notFound(81044, 'Record does not exist.');
  return e;
}

/** `name=x` / `name.exact=x` / `name.contains=…` / `.startswith` / `.endswith` (same for content, comment). */
function textFilter(q: URLSearchParams, field: string, normalize: (s: string) => string = (s) => s): (v: string | undefined) => boolean {
  const checks: Array<(v: string) => boolean> = [];
  const exact = q.get(`${field}.exact`) ?? q.get(field);
  if (exact !== null) checks.push((v) => v === normalize(exact));
  const contains = q.get(`${field}.contains`);
  if (contains !== null) checks.push((v) => v.includes(contains.toLowerCase()) || v.includes(contains));
  const starts = q.get(`${field}.startswith`);
  if (starts !== null) checks.push((v) => v.startsWith(starts.toLowerCase()) || v.startsWith(starts));
  const ends = q.get(`${field}.endswith`);
  if (ends !== null) checks.push((v) => v.endsWith(ends.toLowerCase()) || v.endsWith(ends));
  return (v) => checks.every((c) => c(v ?? ''));
}

export const dnsRoutes: Route[] = [
  route('POST', '/zones/:zone_id/dns_records', REQUIRE.dnsWrite, (ctx): Reply<RecordResponse> => {
    const zone = zoneFor(ctx);
    const input = parseInput(ctx.body, zone);
    checkConflicts(ctx, zone.id, input);
    const rec = build(input, randomBytes(16).toString('hex'), nowIso());
    ctx.state.dnsRecords.set(rec.id, { zoneId: zone.id, record: rec });
    return { result: rec };
  }),

  route('GET', '/zones/:zone_id/dns_records', REQUIRE.dnsRead, (ctx): Reply<RecordResponse[]> => {
    const zone = zoneFor(ctx);
    const q = ctx.query;
    const type = q.get('type');
    const proxied = boolParam(q, 'proxied');
    const byName = textFilter(q, 'name', (s) => fqdn(s, zone));
    const byContent = textFilter(q, 'content');
    const byComment = textFilter(q, 'comment');
    const order = q.get('order');
    const dir = q.get('direction') === 'desc' ? -1 : 1;
    const list = [...ctx.state.dnsRecords.values()]
      .filter((e) => e.zoneId === zone.id)
      .map((e) => e.record)
      .filter((r) => type === null || r.type === type)
      .filter((r) => proxied === undefined || r.proxied === proxied)
      .filter((r) => byName(r.name) && byContent(r.content) && byComment(r.comment))
      .sort((a, b) => {
        const k = (r: RecordResponse): string =>
          order === 'type' ? r.type : order === 'content' ? (r.content ?? '') : order === 'ttl' ? String(r.ttl).padStart(6, '0') : order === 'proxied' ? String(r.proxied) : r.name;
        return dir * (k(a).localeCompare(k(b)) || a.created_on.localeCompare(b.created_on));
      });
    return paginate(list, q, 100, 5000);
  }),

  route('GET', '/zones/:zone_id/dns_records/:record_id', REQUIRE.dnsRead, (ctx): Reply<RecordResponse> => {
    zoneFor(ctx);
    return { result: recordFor(ctx).record };
  }),

  route('PATCH', '/zones/:zone_id/dns_records/:record_id', REQUIRE.dnsWrite, (ctx): Reply<RecordResponse> => {
    const zone = zoneFor(ctx);
    const e = recordFor(ctx);
    const input = parseInput(ctx.body, zone, e.record);
    checkConflicts(ctx, zone.id, input, e.record.id);
    e.record = build(input, e.record.id, e.record.created_on);
    return { result: e.record };
  }),

  route('PUT', '/zones/:zone_id/dns_records/:record_id', REQUIRE.dnsWrite, (ctx): Reply<RecordResponse> => {
    const zone = zoneFor(ctx);
    const e = recordFor(ctx);
    const input = parseInput(ctx.body, zone);
    checkConflicts(ctx, zone.id, input, e.record.id);
    e.record = build(input, e.record.id, e.record.created_on);
    return { result: e.record };
  }),

  route('DELETE', '/zones/:zone_id/dns_records/:record_id', REQUIRE.dnsWrite, (ctx): Reply<RecordDeleteResponse> => {
    zoneFor(ctx);
    const e = recordFor(ctx);
    ctx.state.dnsRecords.delete(e.record.id);
    return { result: { id: e.record.id } };
  }),
];
