import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../contract/stack';
import {
  decideDns,
  deeperThanUniversalSsl,
  dnsConfirmKey,
  dnsMarker,
  inZone,
  includeRules,
  ingressRules,
  publishedHosts,
  sameIngress,
  sameRules,
} from './publish-plan';

const target = '6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com';

describe('publish plan', () => {
  it('routes each enabled service by name on the edge network and ends with the catch-all 404', () => {
    const s = StackSettings.parse({ modules: { authentik: { enabled: false } } });
    expect(ingressRules(publishedHosts(s))).toEqual([
      { hostname: 'media.example.com', service: 'http://jellyfin:8096' },
      { hostname: 'cloud.example.com', service: 'http://nextcloud:80' },
      { service: 'http_status:404' },
    ]);
  });

  it('compares ingress ignoring how the catch-all hostname is spelled', () => {
    const wanted = ingressRules(publishedHosts(StackSettings.parse({})));
    const withEmpty = wanted.map((r) => (r.hostname === undefined ? { ...r, hostname: '' } : r));
    expect(sameIngress(withEmpty, wanted)).toBe(true);
    expect(sameIngress(wanted.slice(1), wanted)).toBe(false);
    expect(sameIngress(undefined, wanted)).toBe(false);
  });

  it('keeps hostnames inside the zone and warns below the first level', () => {
    expect(inZone('media.example.com', 'example.com')).toBe(true);
    expect(inZone('example.com', 'example.com')).toBe(true);
    expect(inZone('media.notexample.com', 'example.com')).toBe(false);
    expect(inZone('example.com.evil.net', 'example.com')).toBe(false);
    expect(deeperThanUniversalSsl('media.example.com', 'example.com')).toBe(false);
    expect(deeperThanUniversalSsl('media.home.example.com', 'example.com')).toBe(true);
  });

  it('decides per hostname: create, unchanged, repoint its own record, or ask about anyone else’s', () => {
    const mine = { id: 'a', type: 'CNAME', name: 'media.example.com', content: target, proxied: true, comment: dnsMarker('home') };
    expect(decideDns([], 'home', target)).toEqual({ kind: 'create' });
    expect(decideDns([{ id: 't', type: 'TXT', name: 'media.example.com', content: 'x' }], 'home', target)).toEqual({ kind: 'create' });
    expect(decideDns([mine], 'home', target).kind).toBe('unchanged');
    expect(decideDns([{ ...mine, proxied: false }], 'home', target).kind).toBe('update');
    // Another profile's marker is not ours.
    expect(decideDns([mine], 'other', target).kind).toBe('confirm');
    const foreign = { id: 'b', type: 'A', name: 'media.example.com', content: '192.0.2.1', comment: null };
    expect(decideDns([foreign], 'home', target)).toEqual({ kind: 'confirm', records: [foreign] });
    expect(dnsConfirmKey('media.example.com', [{ ...foreign, id: 'z' }, foreign])).toBe('dns:media.example.com:b,z');
  });

  it('builds Access rules from emails and a domain, compared regardless of order', () => {
    const rules = includeRules({ emails: ['a@x.org', 'b@x.org'], emailDomain: 'x.org', sessionDuration: '24h' });
    expect(rules).toEqual([{ email: { email: 'a@x.org' } }, { email: { email: 'b@x.org' } }, { email_domain: { domain: 'x.org' } }]);
    expect(sameRules([...rules].reverse(), rules)).toBe(true);
    expect(sameRules(rules.slice(1), rules)).toBe(false);
    expect(includeRules({ emails: [], emailDomain: null, sessionDuration: '24h' })).toEqual([]);
  });
});
