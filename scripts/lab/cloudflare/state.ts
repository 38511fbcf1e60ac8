// The stand-in's state: seeded accounts, zones and tokens, plus everything the API creates.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ALL_PERMISSIONS, PERMISSIONS } from './permissions';
import type {
  Account,
  AccountSeed,
  CloudflareTunnel,
  ConfigurationGetResponse,
  RecordResponse,
  StandInSeed,
  TokenSeed,
  TunnelClient,
  Zone,
  ZoneSeed,
  ApplicationGetResponse,
  GroupGetResponse,
  PolicyGetResponse,
  ServiceToken,
} from './types';

/** A deterministic hex id derived from a label (so default seeds are stable across runs). */
export const hexId = (label: string, len = 32): string => createHash('sha256').update(`m2-lab:${label}`).digest('hex').slice(0, len);

/** Short, non-reversible fingerprint of a secret, for logs. */
export const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 12);

/** A lab token value: 40 characters like a real API token, derived from the label. Only valid against the stand-in. */
export const labTokenValue = (name: string): string => `m2lab_${name}_${hexId(`token-value:${name}`, 64)}`.slice(0, 40);

export const nowIso = (): string => new Date().toISOString();

export interface TokenRecord {
  id: string;
  name: string;
  value: string;
  status: 'active' | 'disabled' | 'expired';
  permissions: string[];
  ownerAccountId?: string;
  accountIds?: string[];
  expires_on?: string;
  not_before?: string;
}

export interface AccountRecord {
  account: Account;
  teamName?: string;
}

export interface TunnelRecord {
  accountId: string;
  tunnel: CloudflareTunnel & { id: string; name: string; created_at: string };
  /** base64 tunnel secret (what goes into the tunnel token's "s"). */
  secret: string;
  config?: { version: number; config: ConfigurationGetResponse.Config; created_at: string };
  clients: TunnelClient[];
  /** Lab override of the computed status (e.g. 'degraded'). */
  statusOverride?: CloudflareTunnel['status'];
}

export interface DnsRecordEntry {
  zoneId: string;
  record: RecordResponse;
}

/** A self-hosted Access application as stored; its `policies` are resolved from `policyLinks` on read. */
export type StoredApp = Omit<ApplicationGetResponse.SelfHostedApplication, 'policies'> & { id: string; aud: string };

export interface AppRecord {
  accountId: string;
  app: StoredApp;
  policyLinks: Array<{ id: string; precedence: number }>;
}

/** An Access group (account level): reusable rule sets that policies include as `{group: {id}}`. */
export interface GroupRecord {
  accountId: string;
  group: GroupGetResponse & { id: string; created_at: string; updated_at: string };
}

export interface PolicyRecord {
  accountId: string;
  policy: PolicyGetResponse & { id: string };
  /** Set for an app-scoped (legacy, non-reusable) policy. */
  appId?: string;
  precedence?: number;
}

/** An Access service token: what the edge stand-in checks CF-Access-Client-Id / -Secret against. */
export interface ServiceTokenRecord {
  accountId: string;
  token: ServiceToken & { id: string; client_id: string; created_at: string; updated_at: string };
  clientSecret: string;
}

/** Default seed tokens, by label. Values are lab constants: they only work against the stand-in. */
export const DEFAULT_TOKEN_NAMES = ['all', 'accountOwned', 'readOnly', 'expired', 'disabled', 'noAccess', 'noDns'] as const;
export type DefaultTokenName = (typeof DEFAULT_TOKEN_NAMES)[number];
export const DEFAULT_TOKENS: Record<DefaultTokenName, string> = Object.fromEntries(
  DEFAULT_TOKEN_NAMES.map((n) => [n, labTokenValue(n)]),
) as Record<DefaultTokenName, string>;

export const DEFAULT_ACCOUNT_ID = hexId('account:Home');
export const DEFAULT_ZONE_ID = hexId('zone:example.com');
export const DEFAULT_ZONE_NAME = 'example.com';

export function defaultSeed(): StandInSeed {
  const noAccess = ALL_PERMISSIONS.filter((p) => !p.startsWith('Access:'));
  return {
    accounts: [{ id: DEFAULT_ACCOUNT_ID, name: 'Home', teamName: 'home-lab' }],
    zones: [
      { id: DEFAULT_ZONE_ID, name: DEFAULT_ZONE_NAME, accountId: DEFAULT_ACCOUNT_ID },
      { id: hexId('zone:example.net'), name: 'example.net', accountId: DEFAULT_ACCOUNT_ID },
    ],
    tokens: [
      { name: 'all', permissions: [...ALL_PERMISSIONS] },
      { name: 'accountOwned', permissions: [...ALL_PERMISSIONS], ownerAccountId: DEFAULT_ACCOUNT_ID },
      {
        name: 'readOnly',
        permissions: [
          PERMISSIONS.accountSettingsRead,
          PERMISSIONS.zoneRead,
          PERMISSIONS.dnsRead,
          PERMISSIONS.tunnelRead,
          PERMISSIONS.accessRead,
          PERMISSIONS.accessOrgRead,
        ],
      },
      { name: 'expired', status: 'expired', permissions: [...ALL_PERMISSIONS], expires_on: '2020-01-01T00:00:00Z' },
      { name: 'disabled', status: 'disabled', permissions: [...ALL_PERMISSIONS] },
      { name: 'noAccess', permissions: noAccess },
      { name: 'noDns', permissions: ALL_PERMISSIONS.filter((p) => !p.startsWith('DNS ')) },
    ],
  };
}

const ACCOUNT_CREATED = '2024-01-01T00:00:00.000000Z';

export class StandInState {
  readonly accounts = new Map<string, AccountRecord>();
  readonly zones = new Map<string, Zone>();
  /** Keyed by bearer value. */
  readonly tokens = new Map<string, TokenRecord>();
  readonly tunnels = new Map<string, TunnelRecord>();
  readonly dnsRecords = new Map<string, DnsRecordEntry>();
  readonly accessApps = new Map<string, AppRecord>();
  readonly accessPolicies = new Map<string, PolicyRecord>();
  readonly serviceTokens = new Map<string, ServiceTokenRecord>();
  readonly accessGroups = new Map<string, GroupRecord>();

  constructor(private initialSeed: StandInSeed = defaultSeed()) {
    this.reset();
  }

  /** Forget everything created through the API and go back to the initial seed (or a new one). */
  reset(seed?: StandInSeed): void {
    if (seed) this.initialSeed = seed;
    for (const m of [this.accounts, this.zones, this.tokens, this.tunnels, this.dnsRecords, this.accessApps, this.accessPolicies, this.serviceTokens, this.accessGroups]) m.clear();
    this.seed(this.initialSeed);
  }

  /** Add (or replace, by id / value) accounts, zones and tokens. */
  seed(seed: StandInSeed): void {
    for (const a of seed.accounts ?? []) this.addAccount(a);
    for (const z of seed.zones ?? []) this.addZone(z);
    for (const t of seed.tokens ?? []) this.addToken(t);
  }

  addAccount(a: AccountSeed): Account {
    const account: Account = {
      id: a.id ?? hexId(`account:${a.name}`),
      name: a.name,
      type: 'standard',
      created_on: ACCOUNT_CREATED,
      settings: { enforce_twofactor: false },
    };
    this.accounts.set(account.id, { account, teamName: a.teamName });
    return account;
  }

  addZone(z: ZoneSeed): Zone {
    const accountId = z.accountId ?? [...this.accounts.keys()][0];
    const acc = accountId ? this.accounts.get(accountId) : undefined;
    if (!acc) throw new Error(`zone ${z.name}: unknown account ${String(accountId)}`);
    const name = z.name.toLowerCase();
    const zone: Zone = {
      id: z.id ?? hexId(`zone:${name}`),
      account: { id: acc.account.id, name: acc.account.name },
      activated_on: ACCOUNT_CREATED,
      created_on: ACCOUNT_CREATED,
      development_mode: 0,
      meta: { cdn_only: false, dns_only: false, foundation_dns: false, page_rule_quota: 3, phishing_detected: false, step: 2 },
      modified_on: ACCOUNT_CREATED,
      name,
      name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'],
      original_dnshost: null,
      original_name_servers: null,
      original_registrar: null,
      owner: { type: 'user' },
      plan: { id: '0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee', can_subscribe: false, currency: 'USD', externally_managed: false, frequency: '', is_subscribed: false, legacy_discount: false },
      paused: false,
      status: 'active',
      type: 'full',
      permissions: [],
    };
    this.zones.set(zone.id, zone);
    return zone;
  }

  addToken(t: TokenSeed): TokenRecord {
    const rec: TokenRecord = {
      id: t.id ?? hexId(`token:${t.name}`),
      name: t.name,
      value: t.value ?? labTokenValue(t.name),
      status: t.status ?? 'active',
      permissions: [...t.permissions],
      ownerAccountId: t.ownerAccountId,
      accountIds: t.accountIds ?? (t.ownerAccountId ? [t.ownerAccountId] : undefined),
      expires_on: t.expires_on,
      not_before: t.not_before,
    };
    for (const [v, existing] of this.tokens) if (existing.name === rec.name) this.tokens.delete(v);
    this.tokens.set(rec.value, rec);
    return rec;
  }

  /** label → bearer value of every seeded token. */
  tokenValues(): Record<string, string> {
    return Object.fromEntries([...this.tokens.values()].map((t) => [t.name, t.value]));
  }

  /** Accounts a token may touch. */
  accountsFor(token: TokenRecord): AccountRecord[] {
    return [...this.accounts.values()].filter((a) => !token.accountIds || token.accountIds.includes(a.account.id));
  }

  // ---- tunnels -------------------------------------------------------------------------------------------------

  /** The status the API reports, computed from the connected clients as the real one does (stack-facts §4.4). */
  tunnelStatus(t: TunnelRecord): NonNullable<CloudflareTunnel['status']> {
    if (t.statusOverride) return t.statusOverride;
    const conns = t.clients.reduce((n, c) => n + (c.conns?.length ?? 0), 0);
    if (conns > 0) return 'healthy';
    return t.tunnel.conns_active_at ? 'down' : 'inactive';
  }

  tunnelView(t: TunnelRecord): CloudflareTunnel {
    const connections: CloudflareTunnel.Connection[] = t.clients.flatMap((c) =>
      (c.conns ?? []).map((x) => ({ ...x, is_pending_reconnect: false })),
    );
    return { ...t.tunnel, connections, status: this.tunnelStatus(t) };
  }

  /** Simulate a cloudflared replica connecting (what the cloudflared stand-in or a test does). */
  connectTunnel(tunnelId: string, opts: { conns?: number; version?: string; clientId?: string; originIp?: string } = {}): TunnelClient {
    const t = this.tunnels.get(tunnelId);
    if (!t) throw new Error(`no tunnel ${tunnelId}`);
    if (t.tunnel.deleted_at) throw new Error(`tunnel ${tunnelId} is deleted`);
    const clientId = opts.clientId ?? randomUUID();
    const version = opts.version ?? '2026.8.2';
    const at = nowIso();
    const colos = ['ams01', 'fra06', 'ams08', 'fra10'];
    const client: TunnelClient = {
      id: clientId,
      arch: 'linux_amd64',
      config_version: t.config?.version ?? 0,
      conns: Array.from({ length: opts.conns ?? 4 }, (_, i) => ({
        id: randomUUID(),
        client_id: clientId,
        client_version: version,
        colo_name: colos[i % colos.length],
        is_pending_reconnect: false,
        opened_at: at,
        origin_ip: opts.originIp ?? '198.51.100.7',
        uuid: randomUUID(),
      })),
      features: ['ha-origin', 'management_logs', 'serialized_headers'],
      run_at: at,
      version,
    };
    t.clients = [...t.clients.filter((c) => c.id !== clientId), client];
    t.tunnel.conns_active_at = at;
    t.tunnel.conns_inactive_at = undefined;
    return client;
  }

  /** Simulate replicas going away: one client, or all. */
  disconnectTunnel(tunnelId: string, clientId?: string): void {
    const t = this.tunnels.get(tunnelId);
    if (!t) throw new Error(`no tunnel ${tunnelId}`);
    t.clients = clientId ? t.clients.filter((c) => c.id !== clientId) : [];
    if (t.clients.length === 0 && t.tunnel.conns_active_at) t.tunnel.conns_inactive_at = nowIso();
  }

  /** Find the tunnel a tunnel token belongs to (the token's a/t/s must all match). */
  tunnelForToken(token: string): TunnelRecord | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const p = parsed as Record<string, unknown>;
    const t = typeof p.t === 'string' ? this.tunnels.get(p.t) : undefined;
    return t && t.accountId === p.a && t.secret === p.s && !t.tunnel.deleted_at ? t : undefined;
  }

  newTunnelSecret(): string {
    return randomBytes(32).toString('base64');
  }

  /** A JSON-safe view for GET /__lab/state: token values are replaced by their labels. */
  snapshot(): StateSnapshot {
    return {
      accounts: [...this.accounts.values()].map((a) => ({ ...a.account, teamName: a.teamName })),
      zones: [...this.zones.values()],
      tokens: [...this.tokens.values()].map(({ value, ...rest }) => ({ ...rest, fingerprint: fingerprint(value) })),
      tunnels: [...this.tunnels.values()].map((t) => ({
        ...this.tunnelView(t),
        account_id: t.accountId,
        config: t.config,
        clients: t.clients,
      })),
      dnsRecords: [...this.dnsRecords.values()].map((d) => ({ zone_id: d.zoneId, ...d.record })),
      accessApps: [...this.accessApps.values()].map((a) => ({ account_id: a.accountId, ...a.app, policyLinks: a.policyLinks })),
      accessPolicies: [...this.accessPolicies.values()].map((p) => ({ ...p.policy, app_id: p.appId })),
      serviceTokens: [...this.serviceTokens.values()].map((t) => ({ ...t.token, account_id: t.accountId, secret_fingerprint: fingerprint(t.clientSecret) })),
      accessGroups: [...this.accessGroups.values()].map((g) => ({ ...g.group, account_id: g.accountId })),
    };
  }
}

export interface StateSnapshot {
  accounts: Array<Account & { teamName?: string }>;
  zones: Zone[];
  tokens: Array<Omit<TokenRecord, 'value'> & { fingerprint: string }>;
  tunnels: Array<CloudflareTunnel & { account_id: string; config: TunnelRecord['config']; clients: TunnelClient[] }>;
  dnsRecords: Array<RecordResponse & { zone_id: string }>;
  accessApps: Array<StoredApp & { account_id: string; policyLinks: AppRecord['policyLinks'] }>;
  accessPolicies: Array<PolicyGetResponse & { app_id?: string }>;
  serviceTokens: Array<ServiceTokenRecord['token'] & { account_id: string; secret_fingerprint: string }>;
  accessGroups: Array<GroupRecord['group'] & { account_id: string }>;
}
