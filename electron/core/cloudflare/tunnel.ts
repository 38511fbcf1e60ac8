/**
 * The server's tunnel: a remotely-managed tunnel `m2-<profile>` (its routes live in Cloudflare), its token in the
 * keychain (`cloudflared.tunnel-token`) that reaches the server only through the stack's 0600 env file (a stack
 * apply), its secret rotated on demand, and what Cloudflare says about its connectors.
 */
import { createHash } from 'node:crypto';
import type Cloudflare from 'cloudflare';
import type { Client as ConnectorClient } from 'cloudflare/resources/zero-trust/tunnels/cloudflared/connections';
import type { StepStatus } from '../../contract/cloudflare';
import type { ApplyResult } from '../../contract/stack';
import { TunnelApiStatus } from '../../contract/status';
import { AppError } from '../errors';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { isConflict, toCloudflareError } from './cf-errors';
import { collect } from './client';
import type { CloudflareStore } from './cloudflare-store';
import { tunnelName } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { PERMISSION } from './token-check';

export const TUNNEL_TOKEN_SECRET = 'cloudflared.tunnel-token';

/** A short sha256 prefix of the tunnel token, kept in the store to tell whether the server got this one. */
export const fingerprint = (s: Secret): string => createHash('sha256').update(s.reveal()).digest('hex').slice(0, 16);

/** Find the tunnel by name, else create it; `found` hears its id as soon as it is known. */
export async function ensureTunnel(cx: CloudflareContext, account_id: string, found: (id: string) => void): Promise<StepOutcome> {
  const { cf, profileId } = cx;
  const name = tunnelName(profileId);
  const find = async (): Promise<{ id?: string | undefined; config_src?: string | undefined } | undefined> => {
    try {
      return (await collect(cf.zeroTrust.tunnels.cloudflared.list({ account_id, name, is_deleted: false }), 50)).find((t) => t.name === name);
    } catch (err) {
      throw toCloudflareError(err, 'list tunnels', PERMISSION.tunnelRead);
    }
  };
  let status: StepStatus = 'unchanged';
  let t = await find();
  if (!t) {
    try {
      t = await cf.zeroTrust.tunnels.cloudflared.create({ account_id, name, config_src: 'cloudflare' });
      status = 'done';
    } catch (err) {
      // A create that succeeded but whose answer was lost comes back as 409 on the SDK's retry.
      if (!isConflict(err)) throw toCloudflareError(err, 'create the tunnel', PERMISSION.tunnelWrite);
      t = await find();
      if (!t) throw toCloudflareError(err, 'create the tunnel', PERMISSION.tunnelWrite);
    }
  }
  if (t.config_src === 'local') {
    throw new AppError('cloudflare.conflict', `A locally-managed tunnel named ${name} already exists; its routes cannot be set from the app.`, {
      hint: `Delete or rename that tunnel in the Cloudflare dashboard (Networks → Tunnels), then publish again.`,
    });
  }
  const id = t.id ?? '';
  found(id);
  await cx.store.update(profileId, (file) => {
    file.managed.tunnel = { id, name, accountId: account_id };
  });
  return { status, detail: status === 'done' ? `Created ${name} (${id}).` : `${name} (${id}) already exists.` };
}

/** Fetch the tunnel's token (the create answer carries none) and keep it in the keychain; `changed` when it is new there. */
export async function keepTunnelToken(cx: CloudflareContext, secrets: SecretStore, tunnelId: string, account_id: string): Promise<StepOutcome & { changed: boolean }> {
  const { cf, profileId, store } = cx;
  let value: string;
  try {
    value = await cf.zeroTrust.tunnels.cloudflared.token.get(tunnelId, { account_id });
  } catch (err) {
    throw toCloudflareError(err, 'read the tunnel token', PERMISSION.tunnelWrite);
  }
  const tunnelToken = new Secret(value);
  const before = await secrets.get(profileId, TUNNEL_TOKEN_SECRET);
  const fp = fingerprint(tunnelToken);
  if (before && before.reveal() === tunnelToken.reveal()) {
    await store.update(profileId, (file) => {
      file.managed.tunnelToken = { fingerprint: fp, deployed: file.managed.tunnelToken?.fingerprint === fp && file.managed.tunnelToken.deployed };
    });
    return { status: 'unchanged', detail: 'The keychain already holds this tunnel’s token.', changed: false };
  }
  await secrets.set(profileId, TUNNEL_TOKEN_SECRET, tunnelToken);
  await store.update(profileId, (file) => {
    file.managed.tunnelToken = { fingerprint: fp, deployed: false };
  });
  return { status: 'done', detail: before ? 'Replaced the tunnel token in the keychain.' : 'Stored the tunnel token in the keychain.', changed: true };
}

/** Deliver the token: a stack apply, where only cloudflared's env file changed; then the store notes the server has it. */
export async function deliverTunnelToken(redeploy: (profileId: string) => Promise<ApplyResult>, store: CloudflareStore, profileId: string): Promise<StepOutcome> {
  const result = await redeploy(profileId);
  if (result.kind !== 'applied') {
    throw new AppError('stack.apply-failed', `The server did not take the new configuration: ${result.report.reason}`, {
      hint: result.report.restored ? 'The previous release is running again. Fix what failed, then publish again.' : 'Check the Install page, then publish again.',
    });
  }
  await store.update(profileId, (file) => {
    if (file.managed.tunnelToken) file.managed.tunnelToken.deployed = true;
  });
  const changed = result.services.filter((s) => s.action !== 'unchanged').map((s) => s.service);
  return { status: 'done', detail: `Applied release ${result.releaseId}${changed.length ? `; recreated ${changed.join(', ')}` : ''}.` };
}

/**
 * Cloudflare's API has no "rotate token" call for remotely-managed tunnels (the dashboard has a button); the
 * documented way is PATCH /cfd_tunnel/{id} with a new `tunnel_secret` (SDK: `cloudflared.edit`). The old token
 * then cannot open new connections.
 */
export async function rotateTunnelSecret(cf: Cloudflare, tunnel: { id: string; accountId: string }, randomBytes: (n: number) => Buffer): Promise<StepOutcome> {
  try {
    await cf.zeroTrust.tunnels.cloudflared.edit(tunnel.id, { account_id: tunnel.accountId, tunnel_secret: randomBytes(32).toString('base64') });
  } catch (err) {
    throw toCloudflareError(err, 'rotate the tunnel secret', PERMISSION.tunnelWrite);
  }
  return { status: 'done', detail: 'The old tunnel token can no longer open new connections.' };
}

/** After a rotation: the new token into the keychain, not yet on the server. */
export async function keepRotatedToken(cx: CloudflareContext, secrets: SecretStore, tunnel: { id: string; accountId: string }): Promise<StepOutcome> {
  let value: string;
  try {
    value = await cx.cf.zeroTrust.tunnels.cloudflared.token.get(tunnel.id, { account_id: tunnel.accountId });
  } catch (err) {
    throw toCloudflareError(err, 'read the new tunnel token', PERMISSION.tunnelWrite);
  }
  const s = new Secret(value);
  await secrets.set(cx.profileId, TUNNEL_TOKEN_SECRET, s);
  await cx.store.update(cx.profileId, (file) => {
    file.managed.tunnelToken = { fingerprint: fingerprint(s), deployed: false };
  });
  return { status: 'done', detail: 'Stored the new tunnel token.' };
}

/**
 * What the Cloudflare API says about the tunnel (stack-facts §4.4): its status and its connectors (one per running
 * cloudflared replica) with their edge connections and colos.
 */
export async function readTunnelStatus(cf: Cloudflare, tunnel: { id: string; accountId: string }): Promise<TunnelApiStatus> {
  const params = { account_id: tunnel.accountId };
  let t: Awaited<ReturnType<typeof cf.zeroTrust.tunnels.cloudflared.get>>;
  let clients: ConnectorClient[];
  try {
    [t, clients] = await Promise.all([
      cf.zeroTrust.tunnels.cloudflared.get(tunnel.id, params),
      collect(cf.zeroTrust.tunnels.cloudflared.connections.get(tunnel.id, params), 100),
    ]);
  } catch (err) {
    throw toCloudflareError(err, 'read the tunnel status', PERMISSION.tunnelRead);
  }
  const conns = clients.flatMap((c) => c.conns ?? []);
  // The contract's own list of statuses; one it does not know is judged by the connections.
  const known = TunnelApiStatus.shape.status.safeParse(t.status);
  const status = known.success ? known.data : conns.length > 0 ? 'healthy' : 'down';
  return {
    status,
    connectors: clients.length,
    connections: conns.length,
    colos: [...new Set(conns.map((c) => c.colo_name).filter((x): x is string => typeof x === 'string' && x.length > 0))].sort(),
    checkedAt: new Date().toISOString(),
  };
}
