/**
 * The endpoint name through the Cloudflare API stand-in with the real SDK (as the app builds it), and the home's
 * public address asked from the lab server over real SSH: a trace stand-in on the internet side answers with the
 * address it sees; where nothing answers, the router's own internet address (miniupnpd) is the fallback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createCloudflareClient } from '../../electron/core/cloudflare/client';
import { EndpointDns, endpointMarker, publicIpFromServer } from '../../electron/core/fallback/ddns';
import { PortMapper } from '../../electron/core/fallback/port-mapping';
import { AppError } from '../../electron/core/errors';
import { Secret } from '../../electron/core/secrets/secret';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { freePort } from '../../scripts/lab/process';
import { holdRouter, releaseRouter, startMiniupnpd, startTraceStandIn } from '../../scripts/lab/router';
import { connectToLab } from '../support/ssh';

const lab = inject('lab');
let standIn: CloudflareStandIn;
const NAME = 'home.example.com';

const endpointDns = (profileId = 'home'): EndpointDns =>
  new EndpointDns({
    client: async () => createCloudflareClient(new Secret(DEFAULT_TOKENS.all), { baseURL: standIn.url, maxRetries: 2, timeoutMs: 5_000 }),
    zoneId: async () => DEFAULT_ZONE_ID,
    profileId,
  });

/** What the stand-in holds at `name`, read straight from its state (not through EndpointDns). */
const recordsAt = (name: string): Array<{ id: string; type: string; content?: string; ttl: number; proxied?: boolean; comment?: string }> =>
  [...standIn.state.dnsRecords.values()].filter((e) => e.zoneId === DEFAULT_ZONE_ID && e.record.name === name).map((e) => e.record as never);

const failure = async (p: Promise<unknown>): Promise<AppError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
};

beforeAll(async () => {
  standIn = await startCloudflareStandIn();
});
afterAll(async () => {
  await standIn?.close();
});
beforeEach(async () => {
  await standIn.reset();
});

describe('EndpointDns against the Cloudflare stand-in', () => {
  it('creates one DNS-only A record with TTL 60, changes nothing the second time, and edits it for a new address', async () => {
    const dns = endpointDns();
    const first = await dns.upsert(NAME, '203.0.114.7');
    expect(first.changed).toBe(true);
    expect(recordsAt(NAME)).toEqual([expect.objectContaining({ id: first.recordId, type: 'A', content: '203.0.114.7', ttl: 60, proxied: false, comment: endpointMarker('home') })]);

    standIn.requests.clear();
    await expect(dns.upsert(NAME, '203.0.114.7')).resolves.toEqual({ changed: false, recordId: first.recordId });
    expect(standIn.requests.count({ method: 'POST' }) + standIn.requests.count({ method: 'PATCH' }) + standIn.requests.count({ method: 'PUT' })).toBe(0);

    await expect(dns.upsert(NAME, '203.0.114.9')).resolves.toEqual({ changed: true, recordId: first.recordId });
    expect(recordsAt(NAME)).toEqual([expect.objectContaining({ id: first.recordId, content: '203.0.114.9', ttl: 60, proxied: false })]);
    expect(standIn.requests.count({ method: 'PATCH', path: '/zones/*/dns_records/*' })).toBe(1);
    await expect(dns.current(NAME)).resolves.toBe('203.0.114.9');
  });

  it('rides out a rate limit once without making a second record', async () => {
    standIn.faults.add({ kind: 'rateLimited', method: 'POST', path: '/zones/*/dns_records', retryAfter: 0 });
    const r = await endpointDns().upsert(NAME, '203.0.114.7');
    expect(r.changed).toBe(true);
    expect(standIn.requests.count({ method: 'POST', path: '/zones/*/dns_records', status: 429 })).toBe(1);
    expect(standIn.requests.count({ method: 'POST', path: '/zones/*/dns_records', status: 200 })).toBe(1);
    expect(recordsAt(NAME)).toHaveLength(1);
  });

  it('leaves a record someone else made alone, naming the field, and replaces it only when told', async () => {
    const cf = createCloudflareClient(new Secret(DEFAULT_TOKENS.all), { baseURL: standIn.url, maxRetries: 0 });
    const theirs = await cf.dns.records.create({ zone_id: DEFAULT_ZONE_ID, type: 'A', name: NAME, content: '192.0.43.10', ttl: 300, proxied: false, comment: 'the admin’s own' });
    const dns = endpointDns();

    const err = await failure(dns.upsert(NAME, '203.0.114.7'));
    expect(err.code).toBe('cloudflare.conflict');
    expect(err.field).toBe('Endpoint name');
    expect(err.userMessage).toMatch(/^Endpoint name: home\.example\.com already has a DNS record M2 Companion did not create \(A 192\.0\.43\.10\)/);
    expect(recordsAt(NAME)).toEqual([expect.objectContaining({ id: theirs.id, content: '192.0.43.10', ttl: 300 })]);
    await expect(dns.current(NAME)).resolves.toBeNull();

    // Another server's endpoint record is someone else's too.
    await expect(failure(endpointDns('cabin').upsert(NAME, '203.0.114.7'))).resolves.toMatchObject({ code: 'cloudflare.conflict' });

    const taken = await dns.upsert(NAME, '203.0.114.7', { takeOver: true });
    expect(recordsAt(NAME)).toEqual([expect.objectContaining({ id: taken.recordId, content: '203.0.114.7', comment: endpointMarker('home') })]);
  });

  it('removes only its own record', async () => {
    const cf = createCloudflareClient(new Secret(DEFAULT_TOKENS.all), { baseURL: standIn.url, maxRetries: 0 });
    const dns = endpointDns();
    await dns.upsert(NAME, '203.0.114.7');
    const other = await cf.dns.records.create({ zone_id: DEFAULT_ZONE_ID, type: 'TXT', name: NAME, content: 'keep me', ttl: 300 });
    await dns.remove(NAME);
    expect(recordsAt(NAME).map((r) => r.id)).toEqual([other.id]);
    // Nothing left of ours: removing again is fine, and a foreign A record at another name stays.
    const foreign = await cf.dns.records.create({ zone_id: DEFAULT_ZONE_ID, type: 'A', name: 'vpn.example.com', content: '192.0.43.10', ttl: 300 });
    await dns.remove(NAME);
    await dns.remove('vpn.example.com');
    expect(recordsAt('vpn.example.com').map((r) => r.id)).toEqual([foreign.id]);
  });

  it('refuses hostile names and names outside the zone before calling Cloudflare for records', async () => {
    const dns = endpointDns();
    for (const name of ['home.example.com; curl evil', '*.example.com', 'a..example.com', 'home.example.com\nx.example.com', '']) {
      const err = await failure(dns.upsert(name, '203.0.114.7'));
      expect(err).toMatchObject({ code: 'fallback.invalid', field: 'Endpoint name' });
      expect(err.userMessage).toMatch(/^Endpoint name: /);
    }
    const outside = await failure(dns.upsert('home.other.org', '203.0.114.7'));
    expect(outside).toMatchObject({ code: 'cloudflare.hostname-outside-zone', field: 'Endpoint name' });
    expect(outside.userMessage).toBe('Endpoint name: home.other.org is not inside your Cloudflare domain example.com.');
    await expect(failure(dns.upsert(NAME, '203.0.114.7; x'))).resolves.toMatchObject({ code: 'fallback.invalid', field: 'Public address' });
    expect(standIn.requests.count({ path: '/zones/*/dns_records' })).toBe(0);
    expect(standIn.state.dnsRecords.size).toBe(0);
  });
});

describe('the public address, asked from the server', () => {
  let conn: SshConnection;
  beforeAll(async () => {
    holdRouter();
    await startMiniupnpd();
    conn = await connectToLab(lab.ssh);
  });
  afterAll(async () => {
    await conn?.close();
    releaseRouter();
  });

  it('reads ip= from the trace the server fetches (here a stand-in on the internet side, seeing the router’s WAN address)', async () => {
    const trace = await startTraceStandIn(await freePort());
    try {
      await expect(publicIpFromServer(conn, { traceUrl: trace.url })).resolves.toBe(lab.router.routerWanIp);
    } finally {
      await trace.close();
    }
  });

  it('falls back to the router’s internet address within a bounded time when the trace cannot be reached', async () => {
    const mapper = new PortMapper({ conn, router: lab.router.routerLanIp });
    const t0 = performance.now();
    // 10.213.83.3 is on the internet side of the lab router and does not exist: nothing ever answers.
    const ip = await publicIpFromServer(conn, { mapper, traceUrl: 'https://10.213.83.3/cdn-cgi/trace' });
    const ms = performance.now() - t0;
    expect(ip).toBe(lab.router.externalIp);
    expect(ms).toBeLessThan(15_000);
  });
});
