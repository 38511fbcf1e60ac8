/**
 * The Access service token of the outage probe. Cloudflare Access answers at the edge even while the tunnel is
 * down (fallback-and-day2-facts §5), so a probe without credentials only ever sees Access's sign-in page. With a
 * service token (CF-Access-Client-Id / CF-Access-Client-Secret) and one reusable `non_identity` policy naming
 * that token, linked to each published application, the probe gets through Access to the tunnel.
 *
 * One token and one policy per profile, found by name, reused by every publish. The token's client id and secret
 * live in the keychain as one entry (`cloudflare.access-probe-token`); the secret is answered by Cloudflare only
 * at create and rotate, so a lost keychain entry is recovered by rotating the token, never by a second one.
 */
import { collect } from './client';
import type Cloudflare from 'cloudflare';
import type { StepStatus } from '../../contract/cloudflare';
import { AppError } from '../errors';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { isForbidden, isNotFound, toCloudflareError } from './cf-errors';

export const ACCESS_PROBE_TOKEN_SECRET = 'cloudflare.access-probe-token';
export const ACCESS_SERVICE_TOKENS_WRITE = 'Access: Service Tokens Write';

export const probeTokenName = (profileId: string): string => `m2-${profileId}-outage-probe`;
export const probePolicyName = (profileId: string): string => `M2 outage probe (${profileId})`;

/** What the probe sends: the client id is not secret, the client secret is. */
export interface ProbeCredentials {
  readonly id: string;
  readonly secret: Secret;
}

interface StoredToken {
  tokenId: string;
  accountId: string;
  clientId: string;
  clientSecret: string;
}

export interface ProbeAccessOutcome {
  status: StepStatus;
  detail: string;
  /** The reusable policy to link to each published application; null when the token could not be set up. */
  policyId: string | null;
}


export class AccessProbeTokens {
  readonly #secrets: SecretStore;

  constructor(secrets: SecretStore) {
    this.#secrets = secrets;
  }

  async #read(profileId: string): Promise<StoredToken | null> {
    const s = await this.#secrets.get(profileId, ACCESS_PROBE_TOKEN_SECRET);
    if (!s) return null;
    try {
      const v = JSON.parse(s.reveal()) as Partial<StoredToken>;
      return typeof v.tokenId === 'string' && typeof v.clientId === 'string' && typeof v.clientSecret === 'string' && typeof v.accountId === 'string' ? (v as StoredToken) : null;
    } catch {
      return null;
    }
  }

  async #write(profileId: string, t: StoredToken): Promise<void> {
    await this.#secrets.set(profileId, ACCESS_PROBE_TOKEN_SECRET, new Secret(JSON.stringify(t)));
  }

  /** The probe's credentials from the keychain; null before the first publish (or without Access). */
  async credentials(profileId: string): Promise<ProbeCredentials | null> {
    const t = await this.#read(profileId);
    return t ? { id: t.clientId, secret: new Secret(t.clientSecret) } : null;
  }

  /**
   * The token and its policy, each created once and then found by name. A token whose secret the keychain lost
   * is rotated (same token, new secret). Without the permission to manage service tokens the step is skipped
   * with what to add: publishing works without it, the probe then sees only Access's sign-in page.
   */
  async ensure(cf: Cloudflare, profileId: string, account_id: string): Promise<ProbeAccessOutcome> {
    let token: { id: string; status: 'unchanged' | 'done'; how: string };
    try {
      token = await this.#ensureToken(cf, profileId, account_id);
    } catch (err) {
      if (isForbidden(err)) {
        return {
          status: 'skipped',
          policyId: null,
          detail: `The API token may not manage Access service tokens, so the outage probe sees only Access's sign-in page. Add "${ACCESS_SERVICE_TOKENS_WRITE}" to the token and publish again.`,
        };
      }
      throw toCloudflareError(err, 'set up the service token of the outage probe', ACCESS_SERVICE_TOKENS_WRITE);
    }
    const policy = await this.#ensurePolicy(cf, profileId, account_id, token.id);
    const status = token.status === 'unchanged' && policy.status === 'unchanged' ? 'unchanged' : 'done';
    return { status, policyId: policy.id, detail: `${token.how}; ${policy.how}.` };
  }

  async #ensureToken(cf: Cloudflare, profileId: string, account_id: string): Promise<{ id: string; status: 'unchanged' | 'done'; how: string }> {
    const name = probeTokenName(profileId);
    const stored = await this.#read(profileId);
    const listed = (await collect(cf.zeroTrust.access.serviceTokens.list({ account_id, name }), 200)).filter((t) => t.name === name && t.id);
    const ours = listed.find((t) => t.id === stored?.tokenId) ?? listed[0];
    if (ours?.id && stored && stored.tokenId === ours.id && stored.clientId === ours.client_id) {
      return { id: ours.id, status: 'unchanged', how: 'Service token in place' };
    }
    if (ours?.id) {
      // Cloudflare never shows a secret again: a new one for the same token, kept at once.
      const r = await cf.zeroTrust.access.serviceTokens.rotate(ours.id, { account_id });
      if (!r.client_secret || !r.client_id) throw new AppError('cloudflare.api', 'Cloudflare did not return the new secret of the outage probe’s service token.', { hint: 'Publish again.' });
      await this.#write(profileId, { tokenId: ours.id, accountId: account_id, clientId: r.client_id, clientSecret: r.client_secret });
      return { id: ours.id, status: 'done', how: 'New secret for the service token (the keychain had none)' };
    }
    const created = await cf.zeroTrust.access.serviceTokens.create({ account_id, name, duration: 'forever' });
    if (!created.id || !created.client_id || !created.client_secret) {
      throw new AppError('cloudflare.api', 'Cloudflare did not return the outage probe’s service token.', { hint: 'Publish again.' });
    }
    await this.#write(profileId, { tokenId: created.id, accountId: account_id, clientId: created.client_id, clientSecret: created.client_secret });
    return { id: created.id, status: 'done', how: `Created service token ${name}` };
  }

  async #ensurePolicy(cf: Cloudflare, profileId: string, account_id: string, tokenId: string): Promise<{ id: string; status: 'unchanged' | 'done'; how: string }> {
    const name = probePolicyName(profileId);
    const include = [{ service_token: { token_id: tokenId } }];
    let existing;
    try {
      existing = (await collect(cf.zeroTrust.access.policies.list({ account_id }), 1000)).find((p) => p.name === name);
    } catch (err) {
      throw toCloudflareError(err, 'list Access policies', 'Access: Apps and Policies Read');
    }
    const body = { account_id, name, decision: 'non_identity' as const, include };
    try {
      if (!existing?.id) {
        const id = (await cf.zeroTrust.access.policies.create(body)).id ?? '';
        return { id, status: 'done', how: 'created the policy that lets only that token through' };
      }
      const rules = (existing.include ?? []) as Array<{ service_token?: { token_id?: string } }>;
      const same = existing.decision === 'non_identity' && rules.length === 1 && rules[0]?.service_token?.token_id === tokenId && (existing.exclude ?? []).length === 0 && (existing.require ?? []).length === 0;
      if (same) return { id: existing.id, status: 'unchanged', how: 'its policy in place' };
      await cf.zeroTrust.access.policies.update(existing.id, body);
      return { id: existing.id, status: 'done', how: 'updated its policy to name only that token' };
    } catch (err) {
      throw toCloudflareError(err, 'create or update the outage probe’s Access policy', 'Access: Apps and Policies Write');
    }
  }

  /** A new secret for the same token (the old one stops working at once). */
  async rotate(cf: Cloudflare, profileId: string): Promise<void> {
    const stored = await this.#read(profileId);
    if (!stored) throw new AppError('cloudflare.not-configured', 'The outage probe has no service token yet.', { hint: 'Publish the server first.' });
    let r;
    try {
      r = await cf.zeroTrust.access.serviceTokens.rotate(stored.tokenId, { account_id: stored.accountId });
    } catch (err) {
      throw toCloudflareError(err, 'rotate the outage probe’s service token', ACCESS_SERVICE_TOKENS_WRITE);
    }
    if (!r.client_secret || !r.client_id) throw new AppError('cloudflare.api', 'Cloudflare did not return the new secret of the outage probe’s service token.', { hint: 'Try again.' });
    await this.#write(profileId, { ...stored, clientId: r.client_id, clientSecret: r.client_secret });
  }

  /**
   * Take the probe's policy and token off Cloudflare (after the applications that linked the policy are gone or
   * put back) and forget the token; nothing there is fine. Found by name as well as by the keychain's record.
   */
  async remove(cf: Cloudflare, profileId: string, account_id: string): Promise<ProbeAccessOutcome> {
    const done: string[] = [];
    try {
      const policy = (await collect(cf.zeroTrust.access.policies.list({ account_id }), 1000)).find((p) => p.name === probePolicyName(profileId));
      if (policy?.id) {
        await cf.zeroTrust.access.policies.delete(policy.id, { account_id });
        done.push(`deleted the policy "${policy.name}"`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw toCloudflareError(err, 'delete the outage probe’s Access policy', 'Access: Apps and Policies Write');
    }
    const stored = await this.#read(profileId);
    try {
      const listed = (await collect(cf.zeroTrust.access.serviceTokens.list({ account_id, name: probeTokenName(profileId) }), 200)).filter((t) => t.name === probeTokenName(profileId));
      const ids = new Set([...listed.flatMap((t) => (t.id ? [t.id] : [])), ...(stored && stored.accountId === account_id ? [stored.tokenId] : [])]);
      for (const id of ids) {
        try {
          await cf.zeroTrust.access.serviceTokens.delete(id, { account_id });
          done.push('deleted the service token');
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    } catch (err) {
      throw toCloudflareError(err, 'delete the outage probe’s service token', ACCESS_SERVICE_TOKENS_WRITE);
    }
    await this.#secrets.delete(profileId, ACCESS_PROBE_TOKEN_SECRET);
    return done.length ? { status: 'done', policyId: null, detail: `${done.join('; ')}.`.replace(/^./, (c) => c.toUpperCase()) } : { status: 'unchanged', policyId: null, detail: 'Nothing of the outage probe was left.' };
  }
}
