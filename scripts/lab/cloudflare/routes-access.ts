// Zero Trust Access (account level): self-hosted applications, reusable policies, app-scoped policies,
// Access groups, and the organization (team domain).
import { randomBytes, randomUUID } from 'node:crypto';
import { Body, badRequest, boolParam, compact, isObj, notFound, paginate, route, type Ctx, type Reply, type Route } from './api';
import { REQUIRE } from './permissions';
import { nowIso, type AppRecord, type GroupRecord, type PolicyRecord, type ServiceTokenRecord, type StoredApp } from './state';
import type {
  AccessRule,
  AppPolicyCreateResponse,
  AppPolicyDeleteResponse,
  AppPolicyGetResponse,
  AppPolicyListResponse,
  AppPolicyUpdateResponse,
  ApplicationCreateResponse,
  ApplicationDeleteResponse,
  ApplicationGetResponse,
  ApplicationListResponse,
  ApplicationUpdateResponse,
  GroupCreateResponse,
  GroupDeleteResponse,
  GroupGetResponse,
  GroupListResponse,
  GroupUpdateResponse,
  OrganizationListResponse,
  PolicyCreateResponse,
  PolicyDeleteResponse,
  PolicyGetResponse,
  PolicyListResponse,
  PolicyUpdateResponse,
  ServiceToken,
  ServiceTokenCreateResponse,
  ServiceTokenRotateResponse,
} from './types';

type SelfHosted = ApplicationGetResponse.SelfHostedApplication;
type AppPolicyView = ApplicationGetResponse.SelfHostedApplication.Policy;

const ERR = 12130;
const DECISIONS = ['allow', 'deny', 'non_identity', 'bypass'] as const;

function rules(b: Body, key: string, required: boolean): AccessRule[] | undefined {
  const v = b.optObjArray(key);
  if (v === undefined) {
    if (required) throw badRequest(ERR, `access.api.error.invalid_request: ${key} is required`);
    return undefined;
  }
  if (required && v.length === 0) throw badRequest(ERR, `access.api.error.invalid_request: ${key} must not be empty`);
  v.forEach((r, i) => {
    const keys = Object.keys(r);
    if (keys.length !== 1 || !isObj(r[keys[0] ?? ''])) throw badRequest(ERR, `access.api.error.invalid_request: ${key}[${i}] must be one rule like {"email":{"email":"…"}}`);
  });
  // Rule shapes are many (email, email_domain, everyone, group, oidc, …); kept as sent.
  return v as unknown as AccessRule[];
}

/** The Access group ids a rule list names (`{group: {id}}`). */
const groupIds = (list: readonly AccessRule[] | undefined): string[] =>
  (list ?? []).flatMap((r) => {
    const g = (r as { group?: { id?: unknown } }).group;
    return g && typeof g.id === 'string' ? [g.id] : [];
  });

/** [UNVERIFIED] the real API refuses a rule naming an Access group that does not exist in the account; modelled that way. */
function checkGroupRefs(ctx: Ctx, ...lists: Array<readonly AccessRule[] | undefined>): void {
  for (const id of lists.flatMap(groupIds)) {
    const g = ctx.state.accessGroups.get(id);
    if (!g || g.accountId !== ctx.params.account_id) throw badRequest(ERR, `access.api.error.invalid_request: access group ${id} not found`);
  }
}

/** Body of a policy create/update (reusable or app-scoped). */
function policyFields(body: Record<string, unknown>): Omit<PolicyGetResponse, 'id' | 'account_id' | 'created_at' | 'updated_at' | 'app_count' | 'reusable'> {
  const b = new Body(body, ERR);
  return compact({
    name: b.str('name'),
    decision: b.oneOf('decision', DECISIONS),
    include: rules(b, 'include', true),
    exclude: rules(b, 'exclude', false) ?? [],
    require: rules(b, 'require', false) ?? [],
    session_duration: b.optStr('session_duration') ?? '24h',
    approval_required: b.optBool('approval_required') ?? false,
    isolation_required: b.optBool('isolation_required') ?? false,
    purpose_justification_required: b.optBool('purpose_justification_required') ?? false,
    purpose_justification_prompt: b.optStr('purpose_justification_prompt'),
  });
}

/** Body of a group create/update: a name and its rules (include required, as for a policy). */
function groupFields(body: Record<string, unknown>): Omit<GroupRecord['group'], 'id' | 'created_at' | 'updated_at'> {
  const b = new Body(body, ERR);
  return compact({
    name: b.str('name'),
    include: rules(b, 'include', true),
    exclude: rules(b, 'exclude', false) ?? [],
    require: rules(b, 'require', false) ?? [],
  });
}

function groupFor(ctx: Ctx): GroupRecord {
  const g = ctx.state.accessGroups.get(ctx.params.group_id ?? '');
  if (!g || g.accountId !== ctx.params.account_id) throw notFound(ERR, 'access.api.error.not_found: access group not found');
  return g;
}

function appFor(ctx: Ctx): AppRecord {
  const a = ctx.state.accessApps.get(ctx.params.app_id ?? '');
  if (!a || a.accountId !== ctx.params.account_id) throw notFound(ERR, 'access.api.error.not_found: application not found');
  return a;
}

function policyFor(ctx: Ctx, id: string | undefined, appId?: string): PolicyRecord {
  const p = ctx.state.accessPolicies.get(id ?? '');
  if (!p || p.accountId !== ctx.params.account_id || p.appId !== appId) throw notFound(ERR, 'access.api.error.not_found: policy not found');
  return p;
}

function appCount(ctx: Ctx, policyId: string): number {
  return [...ctx.state.accessApps.values()].filter((a) => a.policyLinks.some((l) => l.id === policyId)).length;
}

function reusableView(ctx: Ctx, p: PolicyRecord): PolicyGetResponse {
  return { ...p.policy, app_count: appCount(ctx, p.policy.id), reusable: true };
}

/** Links in an app body: policy ids, `{id, precedence}` links. Inline policies are not modelled. */
function parseLinks(ctx: Ctx, raw: unknown): AppRecord['policyLinks'] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badRequest(ERR, 'access.api.error.invalid_request: policies must be an array');
  return raw.map((item: unknown, i: number) => {
    const id = typeof item === 'string' ? item : isObj(item) && typeof item.id === 'string' ? item.id : undefined;
    if (id === undefined) throw badRequest(ERR, `access.api.error.invalid_request: policies[${i}] must be a policy id or {id, precedence} (inline policies are not supported by the stand-in)`);
    const p = ctx.state.accessPolicies.get(id);
    if (!p || p.accountId !== ctx.params.account_id || p.appId !== undefined) throw badRequest(ERR, `access.api.error.invalid_request: reusable policy ${id} not found`);
    const precedence = isObj(item) && typeof item.precedence === 'number' ? item.precedence : i + 1;
    return { id, precedence };
  });
}

function appFields(ctx: Ctx, body: Record<string, unknown>): Omit<StoredApp, 'id' | 'aud'> {
  const b = new Body(body, ERR);
  const type = b.oneOf('type', ['self_hosted'] as const);
  const domain = b.str('domain');
  const destinations = b.optObjArray('destinations') as SelfHosted['destinations'] | undefined;
  const corsHeaders = b.optObj('cors_headers') as SelfHosted['cors_headers'] | undefined;
  return compact({
    type,
    domain,
    name: b.optStr('name') ?? domain,
    session_duration: b.optStr('session_duration') ?? '24h',
    allowed_idps: b.optStrArray('allowed_idps') ?? [],
    auto_redirect_to_identity: b.optBool('auto_redirect_to_identity') ?? false,
    app_launcher_visible: b.optBool('app_launcher_visible') ?? true,
    self_hosted_domains: b.optStrArray('self_hosted_domains') ?? [domain],
    destinations: destinations ?? [{ type: 'public', uri: domain }],
    enable_binding_cookie: b.optBool('enable_binding_cookie') ?? false,
    http_only_cookie_attribute: b.optBool('http_only_cookie_attribute') ?? true,
    same_site_cookie_attribute: b.optStr('same_site_cookie_attribute'),
    path_cookie_attribute: b.optBool('path_cookie_attribute'),
    options_preflight_bypass: b.optBool('options_preflight_bypass') ?? false,
    service_auth_401_redirect: b.optBool('service_auth_401_redirect') ?? false,
    skip_interstitial: b.optBool('skip_interstitial') ?? false,
    allow_iframe: b.optBool('allow_iframe'),
    custom_deny_message: b.optStr('custom_deny_message'),
    custom_deny_url: b.optStr('custom_deny_url'),
    logo_url: b.optStr('logo_url'),
    tags: b.optStrArray('tags') ?? [],
    cors_headers: corsHeaders,
  });
}

/** The application as the API returns it, its policies resolved (reusable links and app-scoped ones). */
function appView(ctx: Ctx, a: AppRecord): SelfHosted {
  const linked: AppPolicyView[] = a.policyLinks.flatMap((l) => {
    const p = ctx.state.accessPolicies.get(l.id);
    return p ? [{ ...reusableView(ctx, p), precedence: l.precedence }] : [];
  });
  const scoped: AppPolicyView[] = [...ctx.state.accessPolicies.values()]
    .filter((p) => p.appId === a.app.id)
    .map((p) => ({ ...p.policy, precedence: p.precedence }));
  const policies = [...linked, ...scoped].sort((x, y) => (x.precedence ?? 0) - (y.precedence ?? 0));
  return { ...a.app, policies };
}

function serviceTokenFor(ctx: Ctx): ServiceTokenRecord {
  const t = ctx.state.serviceTokens.get(ctx.params.token_id ?? '');
  if (!t || t.accountId !== ctx.params.account_id) throw notFound(ERR, 'access.api.error.not_found: service token not found');
  return t;
}

const serviceTokenView = (t: ServiceTokenRecord): ServiceToken & { created_at: string; updated_at: string } => ({ ...t.token });

export const accessRoutes: Route[] = [
  // ---- applications --------------------------------------------------------------------------------------------
  route('POST', '/accounts/:account_id/access/apps', REQUIRE.accessWrite, (ctx): Reply<ApplicationCreateResponse> => {
    const fields = appFields(ctx, ctx.body);
    const policyLinks = parseLinks(ctx, ctx.body.policies);
    const rec: AppRecord = {
      accountId: ctx.params.account_id ?? '',
      app: { ...fields, id: randomUUID(), aud: randomBytes(32).toString('hex') },
      policyLinks,
    };
    ctx.state.accessApps.set(rec.app.id, rec);
    return { status: 201, result: appView(ctx, rec) };
  }),

  route('GET', '/accounts/:account_id/access/apps', REQUIRE.accessRead, (ctx): Reply<ApplicationListResponse[]> => {
    const q = ctx.query;
    const exact = boolParam(q, 'exact') ?? false;
    const matches = (field: string, value: string | undefined): boolean => {
      const want = q.get(field);
      if (want === null) return true;
      if (value === undefined) return false;
      return exact ? value === want : value.toLowerCase().includes(want.toLowerCase());
    };
    const search = q.get('search')?.toLowerCase();
    const list = [...ctx.state.accessApps.values()]
      .filter((a) => a.accountId === ctx.params.account_id)
      .filter((a) => matches('name', a.app.name) && matches('domain', a.app.domain))
      .filter((a) => q.get('aud') === null || a.app.aud === q.get('aud'))
      .filter((a) => search === undefined || `${a.app.name ?? ''} ${a.app.domain}`.toLowerCase().includes(search))
      .map((a) => appView(ctx, a));
    return paginate(list, q, 25, 1000);
  }),

  route('GET', '/accounts/:account_id/access/apps/:app_id', REQUIRE.accessRead, (ctx): Reply<ApplicationGetResponse> => ({
    result: appView(ctx, appFor(ctx)),
  })),

  route('PUT', '/accounts/:account_id/access/apps/:app_id', REQUIRE.accessWrite, (ctx): Reply<ApplicationUpdateResponse> => {
    const a = appFor(ctx);
    const fields = appFields(ctx, ctx.body);
    a.policyLinks = ctx.body.policies === undefined ? a.policyLinks : parseLinks(ctx, ctx.body.policies);
    a.app = { ...fields, id: a.app.id, aud: a.app.aud };
    return { result: appView(ctx, a) };
  }),

  route('DELETE', '/accounts/:account_id/access/apps/:app_id', REQUIRE.accessWrite, (ctx): Reply<ApplicationDeleteResponse> => {
    const a = appFor(ctx);
    ctx.state.accessApps.delete(a.app.id);
    for (const [id, p] of ctx.state.accessPolicies) if (p.appId === a.app.id) ctx.state.accessPolicies.delete(id);
    return { result: { id: a.app.id } };
  }),

  // ---- reusable policies ---------------------------------------------------------------------------------------
  route('POST', '/accounts/:account_id/access/policies', REQUIRE.accessWrite, (ctx): Reply<PolicyCreateResponse> => {
    const fields = policyFields(ctx.body);
    checkGroupRefs(ctx, fields.include, fields.exclude, fields.require);
    const now = nowIso();
    const rec: PolicyRecord = {
      accountId: ctx.params.account_id ?? '',
      policy: { ...fields, id: randomUUID(), account_id: ctx.params.account_id, created_at: now, updated_at: now, reusable: true },
    };
    ctx.state.accessPolicies.set(rec.policy.id, rec);
    return { status: 201, result: reusableView(ctx, rec) };
  }),

  route('GET', '/accounts/:account_id/access/policies', REQUIRE.accessRead, (ctx): Reply<PolicyListResponse[]> => {
    const list = [...ctx.state.accessPolicies.values()]
      .filter((p) => p.accountId === ctx.params.account_id && p.appId === undefined)
      .map((p) => reusableView(ctx, p));
    return paginate(list, ctx.query, 25, 1000);
  }),

  route('GET', '/accounts/:account_id/access/policies/:policy_id', REQUIRE.accessRead, (ctx): Reply<PolicyGetResponse> => ({
    result: reusableView(ctx, policyFor(ctx, ctx.params.policy_id)),
  })),

  route('PUT', '/accounts/:account_id/access/policies/:policy_id', REQUIRE.accessWrite, (ctx): Reply<PolicyUpdateResponse> => {
    const p = policyFor(ctx, ctx.params.policy_id);
    const fields = policyFields(ctx.body);
    checkGroupRefs(ctx, fields.include, fields.exclude, fields.require);
    p.policy = { ...fields, id: p.policy.id, account_id: p.accountId, created_at: p.policy.created_at, updated_at: nowIso(), reusable: true };
    return { result: reusableView(ctx, p) };
  }),

  route('DELETE', '/accounts/:account_id/access/policies/:policy_id', REQUIRE.accessWrite, (ctx): Reply<PolicyDeleteResponse> => {
    const p = policyFor(ctx, ctx.params.policy_id);
    // [UNVERIFIED] the real API refuses to delete a reusable policy still linked to applications.
    if (appCount(ctx, p.policy.id) > 0) throw badRequest(ERR, 'access.api.error.policy_in_use: the policy is used by one or more applications');
    ctx.state.accessPolicies.delete(p.policy.id);
    return { result: { id: p.policy.id } };
  }),

  // ---- app-scoped (legacy) policies ----------------------------------------------------------------------------
  route('POST', '/accounts/:account_id/access/apps/:app_id/policies', REQUIRE.accessWrite, (ctx): Reply<AppPolicyCreateResponse> => {
    const a = appFor(ctx);
    const now = nowIso();
    const precedence = new Body(ctx.body, ERR).optNum('precedence');
    const rec: PolicyRecord = {
      accountId: a.accountId,
      appId: a.app.id,
      precedence: precedence ?? a.policyLinks.length + [...ctx.state.accessPolicies.values()].filter((p) => p.appId === a.app.id).length + 1,
      policy: { ...policyFields(ctx.body), id: randomUUID(), account_id: a.accountId, created_at: now, updated_at: now },
    };
    ctx.state.accessPolicies.set(rec.policy.id, rec);
    return { status: 201, result: { ...rec.policy, precedence: rec.precedence } };
  }),

  route('GET', '/accounts/:account_id/access/apps/:app_id/policies', REQUIRE.accessRead, (ctx): Reply<AppPolicyListResponse[]> => {
    const policies = appView(ctx, appFor(ctx)).policies ?? [];
    return paginate(policies, ctx.query, 25, 1000);
  }),

  route('GET', '/accounts/:account_id/access/apps/:app_id/policies/:policy_id', REQUIRE.accessRead, (ctx): Reply<AppPolicyGetResponse> => {
    const p = appView(ctx, appFor(ctx)).policies?.find((x) => x.id === ctx.params.policy_id);
    if (!p) throw notFound(ERR, 'access.api.error.not_found: policy not found');
    return { result: p };
  }),

  route('PUT', '/accounts/:account_id/access/apps/:app_id/policies/:policy_id', REQUIRE.accessWrite, (ctx): Reply<AppPolicyUpdateResponse> => {
    const a = appFor(ctx);
    const p = policyFor(ctx, ctx.params.policy_id, a.app.id);
    const precedence = new Body(ctx.body, ERR).optNum('precedence');
    p.policy = { ...policyFields(ctx.body), id: p.policy.id, account_id: p.accountId, created_at: p.policy.created_at, updated_at: nowIso() };
    if (precedence !== undefined) p.precedence = precedence;
    return { result: { ...p.policy, precedence: p.precedence } };
  }),

  route('DELETE', '/accounts/:account_id/access/apps/:app_id/policies/:policy_id', REQUIRE.accessWrite, (ctx): Reply<AppPolicyDeleteResponse> => {
    const a = appFor(ctx);
    const p = policyFor(ctx, ctx.params.policy_id, a.app.id);
    ctx.state.accessPolicies.delete(p.policy.id);
    return { result: { id: p.policy.id } };
  }),

  // ---- service tokens (what a machine sends as CF-Access-Client-Id / CF-Access-Client-Secret) -------------------
  route('POST', '/accounts/:account_id/access/service_tokens', REQUIRE.accessServiceTokensWrite, (ctx): Reply<ServiceTokenCreateResponse> => {
    const b = new Body(ctx.body, ERR);
    const now = nowIso();
    const rec: ServiceTokenRecord = {
      accountId: ctx.params.account_id ?? '',
      clientSecret: randomBytes(32).toString('hex'),
      token: {
        id: randomUUID(),
        name: b.str('name'),
        client_id: `${randomBytes(16).toString('hex')}.access`,
        duration: b.optStr('duration') ?? '8760h',
        enabled: true,
        created_at: now,
        updated_at: now,
        expires_at: new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString(),
      },
    };
    ctx.state.serviceTokens.set(rec.token.id, rec);
    // The secret is only ever answered here and by rotate, as the real API does.
    return { status: 201, result: { ...serviceTokenView(rec), client_secret: rec.clientSecret } };
  }),

  route('GET', '/accounts/:account_id/access/service_tokens', REQUIRE.accessServiceTokensRead, (ctx): Reply<ServiceToken[]> => {
    const name = ctx.query.get('name');
    const list = [...ctx.state.serviceTokens.values()]
      .filter((t) => t.accountId === ctx.params.account_id && (name === null || t.token.name === name))
      .map(serviceTokenView);
    return paginate(list, ctx.query, 25, 1000);
  }),

  route('DELETE', '/accounts/:account_id/access/service_tokens/:token_id', REQUIRE.accessServiceTokensWrite, (ctx): Reply<ServiceToken> => {
    const t = serviceTokenFor(ctx);
    ctx.state.serviceTokens.delete(t.token.id);
    return { result: serviceTokenView(t) };
  }),

  route('POST', '/accounts/:account_id/access/service_tokens/:token_id/rotate', REQUIRE.accessServiceTokensWrite, (ctx): Reply<ServiceTokenRotateResponse> => {
    const t = serviceTokenFor(ctx);
    t.clientSecret = randomBytes(32).toString('hex');
    t.token.updated_at = nowIso();
    return { result: { ...serviceTokenView(t), client_secret: t.clientSecret } };
  }),

  // ---- Access groups (reusable rule sets that policies include as {group: {id}}) ---------------------------------
  route('POST', '/accounts/:account_id/access/groups', REQUIRE.accessGroupsWrite, (ctx): Reply<GroupCreateResponse> => {
    const fields = groupFields(ctx.body);
    const now = nowIso();
    const rec: GroupRecord = { accountId: ctx.params.account_id ?? '', group: { ...fields, id: randomUUID(), created_at: now, updated_at: now } };
    ctx.state.accessGroups.set(rec.group.id, rec);
    return { status: 201, result: rec.group };
  }),

  route('GET', '/accounts/:account_id/access/groups', REQUIRE.accessGroupsRead, (ctx): Reply<GroupListResponse[]> => {
    const name = ctx.query.get('name');
    const search = ctx.query.get('search')?.toLowerCase();
    const list = [...ctx.state.accessGroups.values()]
      .filter((g) => g.accountId === ctx.params.account_id)
      .filter((g) => name === null || g.group.name === name)
      .filter((g) => search === undefined || (g.group.name ?? '').toLowerCase().includes(search))
      .map((g) => g.group);
    return paginate(list, ctx.query, 25, 1000);
  }),

  route('GET', '/accounts/:account_id/access/groups/:group_id', REQUIRE.accessGroupsRead, (ctx): Reply<GroupGetResponse> => ({ result: groupFor(ctx).group })),

  route('PUT', '/accounts/:account_id/access/groups/:group_id', REQUIRE.accessGroupsWrite, (ctx): Reply<GroupUpdateResponse> => {
    const g = groupFor(ctx);
    g.group = { ...groupFields(ctx.body), id: g.group.id, created_at: g.group.created_at, updated_at: nowIso() };
    return { result: g.group };
  }),

  route('DELETE', '/accounts/:account_id/access/groups/:group_id', REQUIRE.accessGroupsWrite, (ctx): Reply<GroupDeleteResponse> => {
    const g = groupFor(ctx);
    // [UNVERIFIED] the real API refuses to delete a group a policy still includes; modelled like a policy in use.
    const users = [...ctx.state.accessPolicies.values()].filter((p) => p.accountId === g.accountId && [p.policy.include, p.policy.exclude, p.policy.require].flatMap((l) => groupIds(l)).includes(g.group.id));
    if (users.length > 0) throw badRequest(ERR, 'access.api.error.group_in_use: the group is used by one or more policies');
    ctx.state.accessGroups.delete(g.group.id);
    return { result: { id: g.group.id } };
  }),

  // ---- organization (team domain) ------------------------------------------------------------------------------
  route('GET', '/accounts/:account_id/access/organizations', REQUIRE.accessOrgRead, (ctx): Reply<OrganizationListResponse> => {
    const team = ctx.state.accounts.get(ctx.params.account_id ?? '')?.teamName;
    if (!team) throw notFound(ERR, 'access.api.error.not_found: Zero Trust organization not found');
    return {
      result: {
        name: team,
        auth_domain: `${team}.cloudflareaccess.com`,
        session_duration: '24h',
        auto_redirect_to_identity: false,
        is_ui_read_only: false,
      },
    };
  }),
];
