/**
 * The Cloudflare SDK's answers, narrowed to what the app reads and writes back: the SDK types are wide unions and
 * a PUT of an Access application replaces it, so what it must send back unchanged is picked here once.
 */
import type { PreviousRecord } from './cloudflare-store';
import type { RecordView } from './publish-plan';

/** A self-hosted Access application as the app reads it. */
export interface SelfHostedView {
  id: string;
  name: string;
  domain: string;
  sessionDuration: string;
  policyIds: string[];
  policyLinks: Array<{ id: string; precedence: number }>;
  /** The fields an update must send back unchanged (a PUT replaces the application). */
  raw: Record<string, unknown>;
}

const KEEP_FIELDS = [
  'allowed_idps',
  'app_launcher_visible',
  'auto_redirect_to_identity',
  'cors_headers',
  'custom_deny_message',
  'custom_deny_url',
  'enable_binding_cookie',
  'http_only_cookie_attribute',
  'logo_url',
  'options_preflight_bypass',
  'same_site_cookie_attribute',
  'service_auth_401_redirect',
  'skip_interstitial',
  'self_hosted_domains',
  'destinations',
] as const;

export function selfHostedView(app: unknown): SelfHostedView | null {
  const a = app as Record<string, unknown>;
  if (a.type !== 'self_hosted' || typeof a.id !== 'string' || typeof a.domain !== 'string') return null;
  const policies = Array.isArray(a.policies) ? (a.policies as Array<{ id?: string; precedence?: number; reusable?: boolean }>) : [];
  const raw: Record<string, unknown> = {};
  for (const k of KEEP_FIELDS) if (a[k] !== undefined && a[k] !== null) raw[k] = a[k];
  return {
    id: a.id,
    name: typeof a.name === 'string' ? a.name : a.domain,
    domain: a.domain,
    sessionDuration: typeof a.session_duration === 'string' ? a.session_duration : '24h',
    policyIds: policies.flatMap((p) => (p.id ? [p.id] : [])),
    policyLinks: policies.filter((p) => p.reusable !== false && p.id).map((p, i) => ({ id: p.id ?? '', precedence: p.precedence ?? i + 1 })),
    raw,
  };
}

export function recordView(r: unknown): RecordView {
  const o = r as Record<string, unknown>;
  return {
    id: String(o.id ?? ''),
    type: String(o.type ?? ''),
    name: String(o.name ?? '').toLowerCase(),
    content: typeof o.content === 'string' ? o.content : undefined,
    proxied: typeof o.proxied === 'boolean' ? o.proxied : undefined,
    ttl: typeof o.ttl === 'number' ? o.ttl : undefined,
    comment: typeof o.comment === 'string' ? o.comment : null,
  };
}

/** The body that puts a record back as it was before the app took it over. */
export const recordBody = (p: PreviousRecord): Record<string, unknown> => ({
  type: p.type,
  name: p.name,
  content: p.content,
  proxied: p.proxied,
  ttl: p.ttl,
  ...(p.comment !== null ? { comment: p.comment } : {}),
});
