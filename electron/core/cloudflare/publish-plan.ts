/**
 * Pure pieces of publishing: which hostnames go to which service, the tunnel's ingress, how the app marks and
 * recognises what it made, and how an existing DNS record or Access application compares with what is wanted.
 */
import type { AccessSettings } from '../../contract/cloudflare';
import type { StackSettings } from '../../contract/stack';

export type PublishedService = 'jellyfin' | 'nextcloud' | 'authentik';

/** The services' names and ports on the stack's edge network, as cloudflared (on the same network) reaches them. */
export const ORIGINS: Record<PublishedService, string> = {
  jellyfin: 'http://jellyfin:8096',
  nextcloud: 'http://nextcloud:80',
  authentik: 'http://authentik-server:9000',
};

export const SERVICE_LABEL: Record<PublishedService, string> = { jellyfin: 'Jellyfin', nextcloud: 'Nextcloud', authentik: 'Authentik' };

export interface HostPlan {
  service: PublishedService;
  hostname: string;
  origin: string;
}

/** The hostnames of the enabled web services, in a fixed order. */
export function publishedHosts(stack: StackSettings): HostPlan[] {
  const out: HostPlan[] = [{ service: 'jellyfin', hostname: stack.hostnames.jellyfin, origin: ORIGINS.jellyfin }];
  if (stack.modules.nextcloud.enabled) out.push({ service: 'nextcloud', hostname: stack.hostnames.nextcloud, origin: ORIGINS.nextcloud });
  if (stack.modules.authentik.enabled) out.push({ service: 'authentik', hostname: stack.hostnames.authentik, origin: ORIGINS.authentik });
  return out;
}

export const inZone = (hostname: string, zone: string): boolean => hostname === zone || hostname.endsWith(`.${zone}`);

/**
 * Cloudflare's free Universal SSL certificate covers the zone and one level below it (`*.example.com`); a deeper
 * name (`media.home.example.com`) gets no edge certificate without Advanced Certificate Manager.
 */
export const deeperThanUniversalSsl = (hostname: string, zone: string): boolean => inZone(hostname, zone) && hostname.slice(0, -zone.length - 1).includes('.');

export const tunnelName = (profileId: string): string => `m2-${profileId}`;
export const tunnelTarget = (tunnelId: string): string => `${tunnelId}.cfargotunnel.com`;

/** The comment on every DNS record the app creates; recognised on the next run and on removal. */
export const dnsMarker = (profileId: string): string => `managed-by:m2-companion profile=${profileId}`;
export const isOurRecord = (comment: string | null | undefined, profileId: string): boolean => (comment ?? '').trim() === dnsMarker(profileId);

export const appName = (service: PublishedService, profileId: string): string => `M2 ${SERVICE_LABEL[service]} (${profileId})`;
export const policyName = (profileId: string): string => `M2 household (${profileId})`;

/** The ingress rule shape the API takes; a catch-all has no hostname (the SDK types it as required, the API does not). */
export interface IngressRule {
  hostname?: string;
  service: string;
  path?: string;
}

export function ingressRules(hosts: readonly HostPlan[]): IngressRule[] {
  return [...hosts.map((h) => ({ hostname: h.hostname, service: h.origin })), { service: 'http_status:404' }];
}

/** Same routes, ignoring how a catch-all's empty hostname was written and any origin options set elsewhere. */
export function sameIngress(existing: readonly IngressRule[] | undefined, wanted: readonly IngressRule[]): boolean {
  if (!existing || existing.length !== wanted.length) return false;
  const norm = (r: IngressRule): string => JSON.stringify([r.hostname === '*' ? '' : (r.hostname ?? ''), r.service, r.path ?? '']);
  return existing.every((r, i) => norm(r) === norm(wanted[i] as IngressRule));
}

export type AccessRule = { email: { email: string } } | { email_domain: { domain: string } };

/** Allowed people as Access rules; empty when the admin has named nobody (the app then refuses to publish). */
export function includeRules(access: AccessSettings): AccessRule[] {
  return [
    ...access.emails.map((email) => ({ email: { email } })),
    ...(access.emailDomain ? [{ email_domain: { domain: access.emailDomain } }] : []),
  ];
}

/** Compare rule lists regardless of order. */
export function sameRules(existing: readonly unknown[] | undefined, wanted: readonly AccessRule[]): boolean {
  const key = (r: unknown): string => JSON.stringify(r, Object.keys(r as object).sort());
  const norm = (l: readonly unknown[]): string[] => l.map((r) => {
    const o = r as Record<string, Record<string, unknown>>;
    const k = Object.keys(o)[0] ?? '';
    const inner = o[k] ?? {};
    return `${k}:${key(inner)}`;
  }).sort();
  return JSON.stringify(norm(existing ?? [])) === JSON.stringify(norm(wanted));
}

/** Records that cannot share a name with a CNAME. */
export const CONFLICTING_TYPES = new Set(['A', 'AAAA', 'CNAME']);

export interface RecordView {
  id: string;
  type: string;
  name: string;
  content?: string | undefined;
  proxied?: boolean | undefined;
  ttl?: number | undefined;
  comment?: string | null | undefined;
}

export const describeRecord = (r: RecordView): string =>
  `${r.type} ${r.name} → ${r.content ?? ''}${r.proxied ? ' (proxied)' : ''}${r.comment ? ` — "${r.comment.slice(0, 80)}"` : ''}`;

/** The key the admin sends back to allow overwriting exactly these records (another record is asked about again). */
export const dnsConfirmKey = (hostname: string, records: readonly RecordView[]): string => `dns:${hostname}:${records.map((r) => r.id).sort().join(',')}`;
export const appConfirmKey = (hostname: string, appId: string): string => `access:${hostname}:${appId}`;

export type DnsDecision =
  | { kind: 'create' }
  | { kind: 'unchanged'; record: RecordView }
  | { kind: 'update'; record: RecordView }
  | { kind: 'confirm'; records: RecordView[] };

/** What to do at one hostname, given the A/AAAA/CNAME records there. */
export function decideDns(records: readonly RecordView[], profileId: string, target: string): DnsDecision {
  const relevant = records.filter((r) => CONFLICTING_TYPES.has(r.type));
  if (relevant.length === 0) return { kind: 'create' };
  const ours = relevant.filter((r) => isOurRecord(r.comment, profileId));
  const foreign = relevant.filter((r) => !isOurRecord(r.comment, profileId));
  if (foreign.length > 0) return { kind: 'confirm', records: foreign };
  const mine = ours[0] as RecordView;
  const same = mine.type === 'CNAME' && (mine.content ?? '').toLowerCase() === target && mine.proxied === true;
  return same ? { kind: 'unchanged', record: mine } : { kind: 'update', record: mine };
}

/**
 * Nextcloud's user_oidc reads Authentik's discovery document, token endpoint and keys from Authentik's public name,
 * server to server, where no one can answer Access's login. A path application for `<auth host>/application/o`
 * with a bypass policy lets those requests through; a more specific path takes precedence over the host-wide
 * application (Cloudflare Zero Trust docs, "Application paths"). Authentik's own pages stay behind Access.
 */
export const OIDC_PATH = 'application/o';
export interface OidcBypassPlan {
  hostname: string;
  /** The application's domain: host and path, as the API takes it. */
  domain: string;
}
export function oidcBypass(stack: StackSettings): OidcBypassPlan | null {
  if (!stack.modules.nextcloud.enabled || !stack.modules.authentik.enabled) return null;
  return { hostname: stack.hostnames.authentik, domain: `${stack.hostnames.authentik}/${OIDC_PATH}` };
}
export const oidcAppName = (profileId: string): string => `M2 Authentik sign-in endpoints (${profileId})`;
export const oidcPolicyName = (profileId: string): string => `M2 sign-in endpoints, no login (${profileId})`;
export const BYPASS_RULES = [{ everyone: {} }] as const;
