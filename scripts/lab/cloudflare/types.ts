// Types shared by the Cloudflare API stand-in. Response bodies are typed with the official SDK's own
// types (imported below, types only), so that a change of SDK shape breaks `tsc` here instead of drifting.
import type { ResponseInfo } from 'cloudflare/resources/shared';
import type { V4PagePaginationArrayResponse } from 'cloudflare/pagination';

export type { CloudflareTunnel, ResponseInfo } from 'cloudflare/resources/shared';
export type { Account } from 'cloudflare/resources/accounts/accounts';
export type { Zone } from 'cloudflare/resources/zones/zones';
export type { TokenVerifyResponse as UserTokenVerifyResponse } from 'cloudflare/resources/user/tokens/tokens';
export type { TokenVerifyResponse as AccountTokenVerifyResponse } from 'cloudflare/resources/accounts/tokens/tokens';
export type {
  ConfigurationGetResponse,
  ConfigurationUpdateResponse,
} from 'cloudflare/resources/zero-trust/tunnels/cloudflared/configurations';
export type { Client as TunnelClient } from 'cloudflare/resources/zero-trust/tunnels/cloudflared/connections';
export type { TokenGetResponse as TunnelTokenResponse } from 'cloudflare/resources/zero-trust/tunnels/cloudflared/token';
export type { RecordResponse, RecordDeleteResponse } from 'cloudflare/resources/dns/records';
export type {
  ApplicationCreateResponse,
  ApplicationDeleteResponse,
  ApplicationGetResponse,
  ApplicationListResponse,
  ApplicationUpdateResponse,
} from 'cloudflare/resources/zero-trust/access/applications/applications';
export type {
  PolicyCreateResponse,
  PolicyDeleteResponse,
  PolicyGetResponse,
  PolicyListResponse,
  PolicyUpdateResponse,
} from 'cloudflare/resources/zero-trust/access/policies';
export type {
  PolicyCreateResponse as AppPolicyCreateResponse,
  PolicyDeleteResponse as AppPolicyDeleteResponse,
  PolicyGetResponse as AppPolicyGetResponse,
  PolicyListResponse as AppPolicyListResponse,
  PolicyUpdateResponse as AppPolicyUpdateResponse,
  AccessRule,
} from 'cloudflare/resources/zero-trust/access/applications/policies';
export type { OrganizationListResponse } from 'cloudflare/resources/zero-trust/organizations/organizations';
export type { ServiceToken, ServiceTokenCreateResponse, ServiceTokenRotateResponse } from 'cloudflare/resources/zero-trust/access/service-tokens';
export type {
  GroupCreateResponse,
  GroupDeleteResponse,
  GroupGetResponse,
  GroupListResponse,
  GroupUpdateResponse,
} from 'cloudflare/resources/zero-trust/access/groups';

/** `result_info` of a paginated list: the SDK's type plus the counts the real API also sends. */
export interface ResultInfo extends V4PagePaginationArrayResponse.ResultInfo {
  count: number;
  total_count: number;
  total_pages: number;
}

/** The Cloudflare v4 envelope every response under /client/v4 uses. */
export interface Envelope<T> {
  success: boolean;
  errors: ResponseInfo[];
  messages: ResponseInfo[];
  result: T | null;
  result_info?: ResultInfo;
}

export type TokenStatus = 'active' | 'disabled' | 'expired';

/** An API token the stand-in knows. `value` is the bearer secret; it never appears in logs or state snapshots. */
export interface TokenSeed {
  /** Short label used in request logs and snapshots, e.g. "all", "readOnly". */
  name: string;
  /** The bearer value; default: derived deterministically from `name`. */
  value?: string;
  /** Token identifier (32 hex); default derived from `name`. */
  id?: string;
  status?: TokenStatus;
  /** Permission-group names, e.g. "Cloudflare Tunnel Write", "DNS Write". */
  permissions: string[];
  /** Set for an account-owned token (verify at /accounts/{id}/tokens/verify); absent = user-owned. */
  ownerAccountId?: string;
  /** Accounts this token may touch; absent = all accounts (user-owned) or its owner (account-owned). */
  accountIds?: string[];
  expires_on?: string;
  not_before?: string;
}

export interface AccountSeed {
  id?: string;
  name: string;
  /** Zero Trust team name; enables GET /accounts/{id}/access/organizations (auth_domain <team>.cloudflareaccess.com). */
  teamName?: string;
}

export interface ZoneSeed {
  id?: string;
  name: string;
  /** Owning account id; default: the first account. */
  accountId?: string;
}

export interface StandInSeed {
  accounts?: AccountSeed[];
  zones?: ZoneSeed[];
  tokens?: TokenSeed[];
}

export type FaultKind = 'unauthorized' | 'forbidden' | 'rateLimited' | 'serverError' | 'delay' | 'networkDown' | 'hang';

/**
 * One injected fault. It applies to the next `times` requests under /client/v4 that match `method` and `path`.
 * - unauthorized → 401 (code 10000); forbidden → 403 naming `permission`; rateLimited → 429 with Retry-After;
 * - serverError → `status` (default 500); delay → wait `delayMs`, then answer normally;
 * - networkDown → the socket is destroyed without an answer; hang → never answered (until the client gives up).
 * `delayMs` also delays the error kinds before they answer.
 */
export interface FaultSpec {
  kind: FaultKind;
  /** HTTP method to match (case-insensitive); absent = any. */
  method?: string;
  /**
   * Path to match, relative to /client/v4 and without the query, e.g. "/accounts/<id>/cfd_tunnel".
   * `*` matches within one segment, `**` matches anything (across segments); otherwise exact.
   * A value starting with "re:" is a regular expression source.
   */
  path?: string;
  /** How many matching requests it hits; default 1. `'always'` (or Infinity) until cleared. */
  times?: number | 'always';
  status?: number;
  permission?: string;
  /** Seconds, sent as Retry-After (rateLimited; default 1). */
  retryAfter?: number;
  /** Milliseconds, sent as retry-after-ms as well (rateLimited). */
  retryAfterMs?: number;
  delayMs?: number;
  code?: number;
  message?: string;
}

export interface ActiveFault extends FaultSpec {
  id: number;
  /** Hits left (Infinity for 'always'). */
  remaining: number;
  hits: number;
}

/** One request seen under /client/v4. The Authorization header is never stored: only the token's label or a hash. */
export interface RequestLogEntry {
  seq: number;
  at: string;
  method: string;
  /** Path relative to /client/v4, without the query. */
  path: string;
  query: string;
  /** Seeded token label, `unknown:<sha256 prefix>` for an unknown bearer, or null when none was sent. */
  token: string | null;
  /** HTTP status answered; null when the socket was destroyed or the request never got an answer. */
  status: number | null;
  fault?: FaultKind;
  durationMs?: number;
}

export interface RequestFilter {
  method?: string;
  /** Same syntax as FaultSpec.path. */
  path?: string;
  status?: number;
  token?: string;
}
