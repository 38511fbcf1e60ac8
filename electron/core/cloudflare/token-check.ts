/**
 * Verifying an API token and learning what it may do.
 *
 * Cloudflare has no "what may this token do" call for an ordinary token: `/user/tokens/verify` (user-owned) and
 * `/accounts/{id}/tokens/verify` (account-owned) only say active/expired/disabled, and reading the token's own
 * policies needs "API Tokens Read", which a least-privilege token does not have. So the app asks by doing:
 * one harmless call per permission. Reads list one page. Writes are asked with a write request on an id that
 * cannot exist (an all-zero UUID or id): a 403 means the permission is missing; a 404/400 means the request got
 * past the permission check. Nothing is ever created or changed by a probe. The names shown are Cloudflare's
 * permission group names (stack-facts §4.7); when a 403 names a permission itself, that name wins.
 */
import type Cloudflare from 'cloudflare';
import { AuthenticationError, PermissionDeniedError } from 'cloudflare';
import type { CloudflareFeature, FeatureCheck } from '../../contract/cloudflare';
import { AppError } from '../errors';
import { isNetwork, permissionNamedIn, toCloudflareError } from './cf-errors';

export const PERMISSION = {
  accountRead: 'Account Settings Read',
  zoneRead: 'Zone Read',
  dnsRead: 'DNS Read',
  dnsWrite: 'DNS Write',
  tunnelRead: 'Cloudflare Tunnel Read',
  tunnelWrite: 'Cloudflare Tunnel Write',
  accessRead: 'Access: Apps and Policies Read',
  accessWrite: 'Access: Apps and Policies Write',
} as const;

export const FEATURES: Record<CloudflareFeature, { label: string; needs: string[] }> = {
  account: { label: 'Account', needs: [PERMISSION.accountRead] },
  zone: { label: 'Zones (your domain)', needs: [PERMISSION.zoneRead] },
  tunnel: { label: 'Cloudflare Tunnel', needs: [PERMISSION.tunnelWrite] },
  dns: { label: 'DNS records', needs: [PERMISSION.dnsWrite] },
  access: { label: 'Access applications and policies', needs: [PERMISSION.accessWrite] },
};

export interface VerifiedToken {
  kind: 'user' | 'account';
  id: string;
  expiresOn: string | null;
  /** For an account-owned token, the account it belongs to. */
  accountId: string | null;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const NIL_ID = '0'.repeat(32);

async function firstPage<T>(iter: AsyncIterable<T>, max: number): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}

function statusError(status: string, expiresOn: string | null | undefined): AppError {
  return new AppError(
    'cloudflare.token-invalid',
    status === 'expired'
      ? `This API token has expired${expiresOn ? ` (on ${expiresOn.slice(0, 10)})` : ''}.`
      : `This API token is ${status} in Cloudflare.`,
    { hint: 'Create a new API token in the Cloudflare dashboard (My Profile → API Tokens) and enter it instead.' },
  );
}

/** User-owned tokens verify at /user/tokens/verify; account-owned ones only at /accounts/{id}/tokens/verify. */
export async function verifyToken(cf: Cloudflare, accountHint?: string): Promise<VerifiedToken> {
  try {
    const r = await cf.user.tokens.verify();
    if (r.status !== 'active') throw statusError(r.status, r.expires_on);
    return { kind: 'user', id: r.id, expiresOn: r.expires_on ?? null, accountId: null };
  } catch (err) {
    if (!(err instanceof AuthenticationError)) throw toCloudflareError(err, 'verify the API token');
  }
  // Not a user token (or not a token at all): an account-owned token can still list its own account.
  let accountIds: string[];
  if (accountHint) accountIds = [accountHint];
  else {
    try {
      accountIds = (await firstPage(cf.accounts.list({ per_page: 50 }), 50)).map((a) => a.id);
    } catch (err) {
      throw toCloudflareError(err, 'verify the API token');
    }
  }
  for (const account_id of accountIds) {
    try {
      const r = await cf.accounts.tokens.verify({ account_id });
      if (r.status !== 'active') throw statusError(r.status, r.expires_on);
      return { kind: 'account', id: r.id, expiresOn: r.expires_on ?? null, accountId: account_id };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (!(err instanceof AuthenticationError) && !(err instanceof PermissionDeniedError)) throw toCloudflareError(err, 'verify the API token');
    }
  }
  throw toCloudflareError(new AuthenticationError(401, undefined, 'Invalid API Token', new Headers()), 'verify the API token');
}

type ProbeOutcome = { ok: true } | { ok: false; permission: string };

/** Run one probe: 403 → the permission is missing; 401 and network failures end the whole check. */
async function probe(what: string, permission: string, call: () => Promise<unknown>, opts: { write: boolean }): Promise<ProbeOutcome> {
  try {
    await call();
    return { ok: true };
  } catch (err) {
    if (err instanceof PermissionDeniedError) return { ok: false, permission: permissionNamedIn(err) ?? permission };
    if (err instanceof AuthenticationError || isNetwork(err)) throw toCloudflareError(err, what);
    // A write probe on an id that cannot exist answers 404/400 once it is past the permission check.
    if (opts.write && typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500) return { ok: true };
    throw toCloudflareError(err, what);
  }
}

export interface CapabilityInput {
  accountId: string | null;
  zoneId: string | null;
}

export interface Capabilities {
  features: FeatureCheck[];
  accounts: Array<{ id: string; name: string }>;
}

/** What the token may do for each feature, every missing permission named next to it. */
export async function checkCapabilities(cf: Cloudflare, input: CapabilityInput): Promise<Capabilities> {
  const results: FeatureCheck[] = [];
  const add = (feature: CloudflareFeature, outcomes: ProbeOutcome[], okDetail: string, unknown?: string): void => {
    const missing = [...new Set(outcomes.flatMap((o) => (o.ok ? [] : [o.permission])))];
    results.push({
      feature,
      label: FEATURES[feature].label,
      needs: FEATURES[feature].needs,
      state: unknown !== undefined ? 'unknown' : missing.length ? 'missing' : 'ok',
      missing,
      detail: unknown ?? (missing.length ? `Missing: ${missing.join(', ')}.` : okDetail),
    });
  };

  let accounts: Array<{ id: string; name: string }> = [];
  try {
    accounts = (await firstPage(cf.accounts.list({ per_page: 50 }), 50)).map((a) => ({ id: a.id, name: a.name }));
  } catch (err) {
    if (!(err instanceof PermissionDeniedError)) throw toCloudflareError(err, 'list your Cloudflare accounts');
  }
  add('account', accounts.length ? [{ ok: true }] : [{ ok: false, permission: PERMISSION.accountRead }], `Sees ${accounts.map((a) => a.name).join(', ')}.`);

  const accountId = input.accountId ?? (accounts.length === 1 ? (accounts[0]?.id ?? null) : null);
  let zoneId = input.zoneId;
  const zoneProbe = await probe('list your zones', PERMISSION.zoneRead, async () => {
    const zones = await firstPage(cf.zones.list({ ...(accountId ? { account: { id: accountId } } : {}), per_page: 20 }), 20);
    zoneId ??= zones.length === 1 ? (zones[0]?.id ?? null) : null;
  }, { write: false });
  add('zone', [zoneProbe], 'Can list your zones.');

  if (accountId === null) {
    const why = 'Choose an account first: tunnel and Access permissions are per account.';
    add('tunnel', [], '', why);
    add('access', [], '', why);
  } else {
    const account_id = accountId;
    add(
      'tunnel',
      [
        await probe('list tunnels', PERMISSION.tunnelRead, () => firstPage(cf.zeroTrust.tunnels.cloudflared.list({ account_id, per_page: 1 }), 1), { write: false }),
        // Fetching a tunnel token needs Write: asked for a tunnel that cannot exist.
        await probe('read a tunnel token', PERMISSION.tunnelWrite, () => cf.zeroTrust.tunnels.cloudflared.token.get(NIL_UUID, { account_id }), { write: true }),
      ],
      'Can create tunnels, read their tokens and set their routes.',
    );
    add(
      'access',
      [
        await probe('list Access applications', PERMISSION.accessRead, () => firstPage(cf.zeroTrust.access.applications.list({ account_id, per_page: 1 }), 1), { write: false }),
        await probe('change Access policies', PERMISSION.accessWrite, () =>
          cf.zeroTrust.access.policies.update(NIL_UUID, { account_id, name: 'm2-permission-probe', decision: 'allow', include: [{ everyone: {} }] }),
        { write: true }),
      ],
      'Can create and update Access applications and policies.',
    );
  }

  if (zoneId === null) add('dns', [], '', 'Choose a zone first: DNS permissions are per zone.');
  else {
    const zone_id = zoneId;
    add(
      'dns',
      [
        await probe('list DNS records', PERMISSION.dnsRead, () => firstPage(cf.dns.records.list({ zone_id, per_page: 5 }), 5), { write: false }),
        await probe('change DNS records', PERMISSION.dnsWrite, () =>
          cf.dns.records.edit(NIL_ID, { zone_id, type: 'TXT', name: 'm2-permission-probe', content: 'probe', ttl: 1 }),
        { write: true }),
      ],
      'Can create and update DNS records in the zone.',
    );
  }
  const order: CloudflareFeature[] = ['account', 'zone', 'tunnel', 'dns', 'access'];
  results.sort((a, b) => order.indexOf(a.feature) - order.indexOf(b.feature));
  return { features: results, accounts };
}
