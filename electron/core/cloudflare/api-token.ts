/**
 * The Cloudflare API token of a server profile: kept in the keychain (`cloudflare.api-token`), a masked form and its
 * kind in the store; verified, and what it may do learned, before anything is kept or written with it.
 */
import type Cloudflare from 'cloudflare';
import type { CloudflareSettings, TokenCheck } from '../../contract/cloudflare';
import { AppError } from '../errors';
import type { SecretStore } from '../secrets/keychain';
import type { Secret } from '../secrets/secret';
import type { StepOutcome } from './run';
import { checkCapabilities, verifyToken } from './token-check';

export const API_TOKEN_SECRET = 'cloudflare.api-token';

/** The stored API token; its absence said in the admin's words. */
export async function storedApiToken(secrets: SecretStore, profileId: string): Promise<Secret> {
  const t = await secrets.get(profileId, API_TOKEN_SECRET);
  if (!t) {
    throw new AppError('cloudflare.token-missing', 'No Cloudflare API token is stored for this server yet.', {
      hint: 'Enter an API token in the Domain & Cloudflare step.',
    });
  }
  return t;
}

/** Verify a token and learn what it may do in the chosen (or its own) account and zone. */
export async function inspectToken(
  cf: Cloudflare,
  token: Secret,
  accountHint: string | undefined,
  settings: CloudflareSettings | null,
): Promise<{ check: Omit<TokenCheck, 'replaced'>; verified: Awaited<ReturnType<typeof verifyToken>> }> {
  const verified = await verifyToken(cf, accountHint);
  const caps = await checkCapabilities(cf, { accountId: settings?.accountId ?? verified.accountId, zoneId: settings?.zoneId ?? null });
  return { verified, check: { kind: verified.kind, tokenId: verified.id, expiresOn: verified.expiresOn, masked: token.masked(), features: caps.features, accounts: caps.accounts } };
}

/** Publish's first step: the token still verifies, so a dead token or a dead network changes nothing. */
export async function tokenStillActive(cf: Cloudflare, accountHint: string | undefined): Promise<StepOutcome> {
  const v = await verifyToken(cf, accountHint);
  return { status: 'unchanged', detail: `Active ${v.kind === 'user' ? 'user' : 'account'} token${v.expiresOn ? `, expires ${v.expiresOn.slice(0, 10)}` : ''}.` };
}
