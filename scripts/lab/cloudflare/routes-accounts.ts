// Token verify, accounts and zones.
import { CfError, notFound, paginate, route, type Ctx, type Reply, type Route } from './api';
import { REQUIRE } from './permissions';
import type { Account, AccountTokenVerifyResponse, UserTokenVerifyResponse, Zone } from './types';
import { compact } from './api';

const invalidToken = (): CfError => new CfError(401, 1000, 'Invalid API Token');

function verifyView(ctx: Ctx): UserTokenVerifyResponse & AccountTokenVerifyResponse {
  const t = ctx.token;
  return compact({ id: t.id, status: t.status, expires_on: t.expires_on, not_before: t.not_before });
}

/** Zone name filter: plain value = equal; "<op>:<value>" for the documented operators. */
function nameFilter(raw: string | null): (name: string) => boolean {
  if (raw === null || raw === '') return () => true;
  const m = /^(equal|not_equal|starts_with|ends_with|contains|starts_with_case_sensitive|ends_with_case_sensitive|contains_case_sensitive):(.*)$/.exec(raw);
  const op = m?.[1] ?? 'equal';
  const value = m?.[2] ?? raw;
  const cs = op.endsWith('_case_sensitive');
  const v = cs ? value : value.toLowerCase();
  return (name) => {
    const n = cs ? name : name.toLowerCase();
    switch (op.replace('_case_sensitive', '')) {
      case 'not_equal':
        return n !== v;
      case 'starts_with':
        return n.startsWith(v);
      case 'ends_with':
        return n.endsWith(v);
      case 'contains':
        return n.includes(v);
      default:
        return n === v;
    }
  };
}

export function zoneFor(ctx: Ctx): Zone {
  const zone = ctx.state.zones.get(ctx.params.zone_id ?? '');
  if (!zone) throw notFound(7003, `Could not route to /zones/${ctx.params.zone_id ?? ''}, perhaps your object identifier is invalid?`);
  return zone;
}

export const accountRoutes: Route[] = [
  route('GET', '/user/tokens/verify', undefined, (ctx): Reply<UserTokenVerifyResponse> => {
    if (ctx.token.ownerAccountId) throw invalidToken();
    return { result: verifyView(ctx) };
  }, { allowInactive: true }),

  route('GET', '/accounts/:account_id/tokens/verify', undefined, (ctx): Reply<AccountTokenVerifyResponse> => {
    if (ctx.token.ownerAccountId !== ctx.params.account_id) throw invalidToken();
    return { result: verifyView(ctx) };
  }, { allowInactive: true }),

  route('GET', '/accounts', undefined, (ctx): Reply<Account[]> => {
    const name = ctx.query.get('name');
    const list = ctx.state
      .accountsFor(ctx.token)
      .map((a) => a.account)
      .filter((a) => name === null || a.name.toLowerCase().includes(name.toLowerCase()))
      .sort((a, b) => a.name.localeCompare(b.name));
    return paginate(list, ctx.query, 20, 50);
  }),

  route('GET', '/accounts/:account_id', undefined, (ctx): Reply<Account> => {
    const a = ctx.state.accounts.get(ctx.params.account_id ?? '');
    if (!a) throw notFound(7003, 'Could not route to /accounts, perhaps your object identifier is invalid?');
    return { result: a.account };
  }),

  route('GET', '/zones', REQUIRE.zoneRead, (ctx): Reply<Zone[]> => {
    const q = ctx.query;
    const accountId = q.get('account.id');
    const accountName = q.get('account.name');
    const status = q.get('status');
    const byName = nameFilter(q.get('name'));
    const allowed = new Set(ctx.state.accountsFor(ctx.token).map((a) => a.account.id));
    const order = q.get('order') ?? 'name';
    const dir = q.get('direction') === 'desc' ? -1 : 1;
    const key = (z: Zone): string => (order === 'status' ? (z.status ?? '') : order === 'account.id' ? (z.account.id ?? '') : order === 'account.name' ? (z.account.name ?? '') : z.name);
    const list = [...ctx.state.zones.values()]
      .filter((z) => allowed.has(z.account.id ?? ''))
      .filter((z) => accountId === null || z.account.id === accountId)
      .filter((z) => accountName === null || z.account.name === accountName)
      .filter((z) => status === null || z.status === status)
      .filter((z) => byName(z.name))
      .sort((a, b) => dir * key(a).localeCompare(key(b)));
    return paginate(list, q, 20, 50);
  }),

  route('GET', '/zones/:zone_id', REQUIRE.zoneRead, (ctx): Reply<Zone> => ({ result: zoneFor(ctx) })),
];
