/**
 * Which outside links the app opens. Two kinds only: the exact links of the app's own tables (release notes, fixes,
 * documentation; gathered in electron/core/links.ts), and the admin's own service addresses (the hostnames the app
 * published, and Jellyfin at home when its port is on the LAN). Everything else is refused: other schemes
 * (javascript:, file:, data:), look-alike hosts, credentials in the URL. Pure; used by Electron main, the web host's
 * page and the renderer alike.
 */
import type { StackSettings } from './stack';

/** No zod here: the web host's page script imports this file, and keeps free of a validation library. */
export interface LinkRules {
  /** Exact links (normalised by the URL parser) from the app's tables. */
  readonly links: readonly string[];
  /** Origins (`https://media.example.com`, `http://192.168.1.20:8096`) of the admin's own services. */
  readonly origins: readonly string[];
}

const parse = (url: string): URL | undefined => {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
};

/** Is `url` one the app may open outside itself? */
export function linkAllowed(url: string, rules: LinkRules): boolean {
  const u = parse(url);
  if (!u || u.username !== '' || u.password !== '') return false;
  if (u.protocol === 'https:' && rules.links.some((l) => parse(l)?.href === u.href)) return true;
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return false;
  return rules.origins.some((o) => parse(o)?.origin === u.origin);
}

/** Links the renderer itself shows (not from a table the main process sends): part of the app's list. */
export const rendererLinks = {
  cloudflareApiTokens: { url: 'https://dash.cloudflare.com/profile/api-tokens', label: 'API Tokens in the Cloudflare dashboard' },
} as const;

export type PublishedService = 'jellyfin' | 'nextcloud' | 'authentik';

/** A service's addresses as the household uses them. */
export interface ServiceAddress {
  readonly service: PublishedService;
  readonly title: string;
  readonly hostname: string;
  /** `https://<hostname>/` once the app published that hostname through the tunnel; null before. */
  readonly url: string | null;
  /** Where it answers at home (Jellyfin on the LAN), when its port is published there. */
  readonly home: string | null;
}

/** `http://host:port/` with an IPv6 host in brackets. */
const httpAt = (host: string, port: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

/**
 * The enabled web services of a stack and where each answers: `published` are the hostnames the app pointed at the
 * tunnel (Cloudflare's DNS records it manages), `serverHost` the server's address in its profile.
 */
export function serviceAddresses(settings: StackSettings, serverHost: string, published: readonly string[]): ServiceAddress[] {
  const isPublished = new Set(published.map((h) => h.toLowerCase()));
  const m = settings.modules;
  const entries: Array<[PublishedService, string, boolean, string | null]> = [
    ['jellyfin', 'Jellyfin', m.jellyfin.enabled, settings.publishAddress === '0.0.0.0' ? httpAt(serverHost, m.jellyfin.lanPort) : null],
    ['nextcloud', 'Nextcloud', m.nextcloud.enabled, null],
    ['authentik', 'Authentik', m.authentik.enabled, null],
  ];
  return entries
    .filter(([, , enabled]) => enabled)
    .map(([service, title, , home]) => {
      const hostname = settings.hostnames[service];
      return { service, title, hostname, url: isPublished.has(hostname.toLowerCase()) ? `https://${hostname}/` : null, home };
    });
}

/** The origins of the admin's own services, for LinkRules. */
export const serviceOrigins = (addresses: readonly ServiceAddress[]): string[] =>
  [...new Set(addresses.flatMap((a) => [a.url, a.home]).filter((u): u is string => u !== null).map((u) => new URL(u).origin))].sort();
