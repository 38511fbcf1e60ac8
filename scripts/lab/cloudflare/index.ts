// The Cloudflare API stand-in for the lab (DESIGN.md §6). Point the SDK at it:
//   new Cloudflare({ apiToken: standIn.tokens.all, baseURL: standIn.url })
export { startCloudflareStandIn, API_PREFIX, CONTROL_PREFIX } from './server';
export type { CloudflareStandIn, CloudflareStandInOptions, FaultsApi, RequestsApi } from './server';
export {
  StandInState,
  defaultSeed,
  labTokenValue,
  DEFAULT_TOKENS,
  DEFAULT_TOKEN_NAMES,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ZONE_ID,
  DEFAULT_ZONE_NAME,
} from './state';
export type { DefaultTokenName, ServiceTokenRecord, StateSnapshot, TokenRecord, TunnelRecord } from './state';
export { PERMISSIONS, ALL_PERMISSIONS, REQUIRE } from './permissions';
export { pathMatcher } from './faults';
export { startEdgeStandIn, followCloudflared } from './edge';
export type { EdgeStandIn, EdgeOptions, EdgeFault, EdgeRequest, CloudflaredFollower } from './edge';
export type {
  AccountSeed,
  ActiveFault,
  FaultKind,
  FaultSpec,
  RequestFilter,
  RequestLogEntry,
  StandInSeed,
  TokenSeed,
  TokenStatus,
  ZoneSeed,
} from './types';
