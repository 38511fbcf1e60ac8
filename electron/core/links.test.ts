import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linkAllowed, rendererLinks, serviceAddresses, serviceOrigins } from '../contract/links';
import { StackSettings } from '../contract/stack';
import { appLinks, LinkPolicy } from './links';
import { links as preflightLinks } from './preflight/checks';
import { pinnedImages } from './stack/versions';

const settings = StackSettings.parse({
  hostnames: { jellyfin: 'media.example.net', nextcloud: 'cloud.example.net', authentik: 'auth.example.net' },
  publishAddress: '0.0.0.0',
});
const policy = (origins: () => Promise<string[]> = async () => []): LinkPolicy => new LinkPolicy({ ownOrigins: origins });

/** URLs a page (or a crafted release-note table, or a hostile DNS name) could put in front of the admin. */
const hostile = [
  'javascript:alert(document.domain)',
  'JaVaScRiPt:alert(1)',
  'file:///etc/passwd',
  'data:text/html,<script>alert(1)</script>',
  'http://evil.example/',
  'https://evil.example/',
  'https://dash.cloudflare.com.evil.example/',
  'https://dash.cloudflare.com.evil.example/profile/api-tokens',
  'https://evil.example/https://dash.cloudflare.com/profile/api-tokens',
  'https://user:pass@github.com/jellyfin/jellyfin/releases',
  'https://dash.cloudflare.com@evil.example/profile/api-tokens',
  'http://github.com/jellyfin/jellyfin/releases',
  'https://github.com/jellyfin/jellyfin/releases/../../../evil/evil',
  'https://github.com/jellyfin/jellyfin/releases?next=https://evil.example',
  'https://gіthub.com/jellyfin/jellyfin/releases',
  'https://media.example.net.evil.example/',
  'http://media.example.net/',
  'https://auth.example.net/',
  'ftp://media.example.net/',
  'vbscript:msgbox(1)',
  '',
  'not a url',
];

describe('the app’s own links', () => {
  it('come from every table that holds one: each pinned image’s release notes, each preflight fix, the renderer’s own', () => {
    const urls = appLinks.map((l) => l.url);
    for (const image of Object.values(pinnedImages)) expect(urls).toContain(image.releaseNotes);
    for (const fix of Object.values(preflightLinks)) expect(urls).toContain(fix.url);
    for (const link of Object.values(rendererLinks)) expect(urls).toContain(link.url);
  });

  it('are all https, without credentials, and each one is allowed exactly as written', async () => {
    const rules = await policy().rules();
    for (const { url, from } of appLinks) {
      const u = new URL(url);
      expect({ from, protocol: u.protocol, user: u.username }).toEqual({ from, protocol: 'https:', user: '' });
      expect({ from, allowed: linkAllowed(url, rules) }).toEqual({ from, allowed: true });
      expect(await policy().allows(url)).toBe(true);
    }
  });

  it('the Cloudflare dashboard and the docs that were allowed before are allowed by table, not by host', async () => {
    expect(await policy().allows('https://dash.cloudflare.com/profile/api-tokens')).toBe(true);
    expect(await policy().allows('https://dash.cloudflare.com/some/other/page')).toBe(false);
  });
});

describe('the admin’s own service addresses', () => {
  const published = ['media.example.net', 'CLOUD.example.net'];
  const addresses = serviceAddresses(settings, '192.168.1.20', published);

  it('are a link for each published host name and Jellyfin at home, and text for a host name not published yet', () => {
    expect(addresses).toEqual([
      { service: 'jellyfin', title: 'Jellyfin', hostname: 'media.example.net', url: 'https://media.example.net/', home: 'http://192.168.1.20:8096/' },
      { service: 'nextcloud', title: 'Nextcloud', hostname: 'cloud.example.net', url: 'https://cloud.example.net/', home: null },
      { service: 'authentik', title: 'Authentik', hostname: 'auth.example.net', url: null, home: null },
    ]);
    expect(serviceOrigins(addresses)).toEqual(['http://192.168.1.20:8096', 'https://cloud.example.net', 'https://media.example.net']);
  });

  it('leave out disabled modules, Jellyfin at home when its port is on the server only, and bracket an IPv6 server', () => {
    const local = StackSettings.parse({ ...settings, publishAddress: '127.0.0.1', modules: { nextcloud: { enabled: false }, authentik: { enabled: false } } });
    expect(serviceAddresses(local, 'fd00::2', published)).toEqual([{ service: 'jellyfin', title: 'Jellyfin', hostname: 'media.example.net', url: 'https://media.example.net/', home: null }]);
    expect(serviceAddresses(settings, 'fd00::2', [])[0]?.home).toBe('http://[fd00::2]:8096/');
  });

  it('every address shown as a link is allowed, any page on those hosts too; nothing else on the hosts’ neighbours', async () => {
    const p = policy(async () => serviceOrigins(addresses));
    for (const a of addresses) {
      for (const url of [a.url, a.home].filter((u): u is string => u !== null)) expect({ url, allowed: await p.allows(url) }).toEqual({ url, allowed: true });
    }
    expect(await p.allows('https://media.example.net/web/#/home')).toBe(true);
    expect(await p.allows('http://192.168.1.20:8097/')).toBe(false);
    expect(await p.allows('http://192.168.1.21:8096/')).toBe(false);
  });

  it('a failure to read them leaves the app’s own links open and the rest shut', async () => {
    const broken = policy(async () => {
      throw new Error('damaged file');
    });
    expect(await broken.allows(pinnedImages.jellyfin.releaseNotes)).toBe(true);
    expect(await broken.allows('https://media.example.net/')).toBe(false);
  });
});

describe('everything else is refused', () => {
  const p = policy(async () => serviceOrigins(serviceAddresses(settings, '192.168.1.20', ['media.example.net', 'cloud.example.net'])));

  it.each(hostile)('%s', async (url) => {
    expect(await p.allows(url)).toBe(false);
  });

  it('any URL that is not one of the app’s links or the admin’s origins (property)', { timeout: 60_000 }, async () => {
    const rules = await p.rules();
    const allowedExactly = new Set(rules.links.map((l) => new URL(l).href));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()), async (url) => {
        let u: URL | undefined;
        try {
          u = new URL(url);
        } catch {
          u = undefined;
        }
        const expected = u !== undefined && u.username === '' && u.password === '' && (allowedExactly.has(u.href) || rules.origins.includes(u.origin));
        expect(linkAllowed(url, rules)).toBe(expected);
      }),
    );
  });
});
