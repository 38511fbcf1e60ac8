// Cloudflare Tunnel (cfd_tunnel): create/list/get/edit/delete, token, remote configuration, connections.
import { randomUUID } from 'node:crypto';
import { Body, CfError, badRequest, boolParam, isObj, notFound, paginate, route, type Ctx, type Reply, type Route } from './api';
import { REQUIRE } from './permissions';
import { nowIso, type TunnelRecord } from './state';
import type { CloudflareTunnel, ConfigurationGetResponse, ConfigurationUpdateResponse, TunnelClient, TunnelTokenResponse } from './types';

type Ingress = ConfigurationGetResponse.Config.Ingress;

const SERVICE_SCHEMES = ['http://', 'https://', 'unix://', 'tcp://', 'ssh://', 'rdp://', 'unix+tls://', 'smb://'];

function tunnelFor(ctx: Ctx, opts: { live?: boolean } = {}): TunnelRecord {
  const t = ctx.state.tunnels.get(ctx.params.tunnel_id ?? '');
  if (!t || t.accountId !== ctx.params.account_id) throw notFound(1003, 'Tunnel not found');
  if (opts.live && t.tunnel.deleted_at) throw notFound(1003, 'Tunnel not found (it was deleted)');
  return t;
}

function checkSecret(secret: string | undefined): string | undefined {
  if (secret === undefined) return undefined;
  const bytes = Buffer.from(secret, 'base64');
  if (bytes.length < 32 || bytes.toString('base64').replace(/=+$/, '') !== secret.replace(/=+$/, '')) {
    throw badRequest(1001, 'tunnel_secret must be base64 of at least 32 bytes');
  }
  return secret;
}

function checkNameFree(ctx: Ctx, name: string, exceptId?: string): void {
  for (const t of ctx.state.tunnels.values()) {
    if (t.accountId === ctx.params.account_id && !t.tunnel.deleted_at && t.tunnel.name === name && t.tunnel.id !== exceptId) {
      // [UNVERIFIED status] code and message as the real API answers them; note the SDK retries 409s.
      throw new CfError(409, 1013, 'You already have a tunnel with this name. Delete the existing tunnel, or choose a different name for your new tunnel');
    }
  }
}

/** Validate a remote configuration as cloudflared would (stack-facts §4.3). */
function parseConfig(raw: unknown): ConfigurationGetResponse.Config {
  if (!isObj(raw)) throw badRequest(1056, 'config is required and must be an object');
  const out: ConfigurationGetResponse.Config = {};
  if (raw.ingress !== undefined) {
    if (!Array.isArray(raw.ingress)) throw badRequest(1056, 'config.ingress must be an array');
    const rules: Ingress[] = raw.ingress.map((r: unknown, i: number) => {
      if (!isObj(r)) throw badRequest(1056, `config.ingress[${i}] must be an object`);
      const b = new Body(r, 1056);
      const service = b.str('service');
      if (!SERVICE_SCHEMES.some((s) => service.startsWith(s)) && !/^http_status:[1-5]\d\d$/.test(service) && service !== 'hello_world') {
        throw badRequest(1056, `config.ingress[${i}].service "${service}" is not a supported origin service`);
      }
      const hostname = b.optStr('hostname');
      const path = b.optStr('path');
      const originRequest = b.optObj('originRequest') as Ingress['originRequest'] | undefined;
      // The SDK types `hostname` as required; the API omits it for a catch-all rule. Keep what was sent.
      const rule = { ...(hostname !== undefined ? { hostname } : {}), service, ...(path !== undefined ? { path } : {}), ...(originRequest ? { originRequest } : {}) };
      return rule as Ingress;
    });
    if (rules.length > 0) {
      const last = rules[rules.length - 1];
      const catchAll = (last?.hostname === undefined || last.hostname === '' || last.hostname === '*') && !last?.path;
      if (!catchAll) throw badRequest(1056, 'Validation failed: The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)');
    }
    out.ingress = rules;
  }
  if (raw.originRequest !== undefined) {
    if (!isObj(raw.originRequest)) throw badRequest(1056, 'config.originRequest must be an object');
    out.originRequest = raw.originRequest as ConfigurationGetResponse.Config.OriginRequest;
  }
  for (const k of Object.keys(raw)) if (k !== 'ingress' && k !== 'originRequest' && k !== 'warp-routing') throw badRequest(1056, `config.${k} is not supported`);
  return out;
}

export const tunnelRoutes: Route[] = [
  route('POST', '/accounts/:account_id/cfd_tunnel', REQUIRE.tunnelWrite, (ctx): Reply<CloudflareTunnel> => {
    const b = new Body(ctx.body, 1001);
    const name = b.str('name');
    const configSrc = b.oneOf('config_src', ['local', 'cloudflare'], 'local');
    const secret = checkSecret(b.optStr('tunnel_secret')) ?? ctx.state.newTunnelSecret();
    checkNameFree(ctx, name);
    const id = randomUUID();
    const rec: TunnelRecord = {
      accountId: ctx.params.account_id ?? '',
      secret,
      clients: [],
      tunnel: {
        id,
        account_tag: ctx.params.account_id,
        config_src: configSrc,
        created_at: nowIso(),
        deleted_at: undefined,
        metadata: {},
        name,
        remote_config: configSrc === 'cloudflare',
        tun_type: 'cfd_tunnel',
      },
    };
    ctx.state.tunnels.set(id, rec);
    return { result: ctx.state.tunnelView(rec) };
  }),

  route('GET', '/accounts/:account_id/cfd_tunnel', REQUIRE.tunnelRead, (ctx): Reply<CloudflareTunnel[]> => {
    const q = ctx.query;
    const isDeleted = boolParam(q, 'is_deleted');
    const name = q.get('name');
    const uuid = q.get('uuid');
    const status = q.get('status');
    const include = q.get('include_prefix');
    const exclude = q.get('exclude_prefix');
    const list = [...ctx.state.tunnels.values()]
      .filter((t) => t.accountId === ctx.params.account_id)
      // Like the real API, deleted tunnels are listed unless is_deleted=false.
      .filter((t) => isDeleted === undefined || Boolean(t.tunnel.deleted_at) === isDeleted)
      .filter((t) => name === null || t.tunnel.name === name)
      .filter((t) => uuid === null || t.tunnel.id === uuid)
      .filter((t) => include === null || t.tunnel.name.startsWith(include))
      .filter((t) => exclude === null || !t.tunnel.name.startsWith(exclude))
      .map((t) => ctx.state.tunnelView(t))
      .filter((t) => status === null || t.status === status)
      .sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
    return paginate(list, q, 20, 1000);
  }),

  route('GET', '/accounts/:account_id/cfd_tunnel/:tunnel_id', REQUIRE.tunnelRead, (ctx): Reply<CloudflareTunnel> => ({
    result: ctx.state.tunnelView(tunnelFor(ctx)),
  })),

  route('PATCH', '/accounts/:account_id/cfd_tunnel/:tunnel_id', REQUIRE.tunnelWrite, (ctx): Reply<CloudflareTunnel> => {
    const t = tunnelFor(ctx, { live: true });
    const b = new Body(ctx.body, 1001);
    const name = b.optStr('name');
    const secret = checkSecret(b.optStr('tunnel_secret'));
    if (name !== undefined) {
      if (name.trim() === '') throw badRequest(1001, 'name must not be empty');
      checkNameFree(ctx, name, t.tunnel.id);
      t.tunnel.name = name;
    }
    if (secret !== undefined) t.secret = secret;
    return { result: ctx.state.tunnelView(t) };
  }),

  route('DELETE', '/accounts/:account_id/cfd_tunnel/:tunnel_id', REQUIRE.tunnelWrite, (ctx): Reply<CloudflareTunnel> => {
    const t = tunnelFor(ctx, { live: true });
    if (t.clients.some((c) => (c.conns?.length ?? 0) > 0)) {
      throw badRequest(1022, 'Cannot delete tunnel because it has active connections. Stop the connectors or clean up their connections first.');
    }
    t.tunnel.deleted_at = nowIso();
    return { result: ctx.state.tunnelView(t) };
  }),

  route('GET', '/accounts/:account_id/cfd_tunnel/:tunnel_id/token', REQUIRE.tunnelWrite, (ctx): Reply<TunnelTokenResponse> => {
    const t = tunnelFor(ctx, { live: true });
    const token = Buffer.from(JSON.stringify({ a: t.accountId, t: t.tunnel.id, s: t.secret })).toString('base64');
    return { result: token };
  }),

  route('GET', '/accounts/:account_id/cfd_tunnel/:tunnel_id/configurations', REQUIRE.tunnelRead, (ctx): Reply<ConfigurationGetResponse> => {
    const t = tunnelFor(ctx);
    const base: ConfigurationGetResponse = { account_id: t.accountId, tunnel_id: t.tunnel.id, source: t.tunnel.config_src, version: t.config?.version ?? 0 };
    return { result: t.config ? { ...base, config: t.config.config, created_at: t.config.created_at } : base };
  }),

  route('PUT', '/accounts/:account_id/cfd_tunnel/:tunnel_id/configurations', REQUIRE.tunnelWrite, (ctx): Reply<ConfigurationUpdateResponse> => {
    const t = tunnelFor(ctx, { live: true });
    const config = parseConfig(ctx.body.config);
    t.config = { version: (t.config?.version ?? 0) + 1, config, created_at: nowIso() };
    return {
      result: { account_id: t.accountId, tunnel_id: t.tunnel.id, source: 'cloudflare', version: t.config.version, config, created_at: t.config.created_at },
    };
  }),

  route('GET', '/accounts/:account_id/cfd_tunnel/:tunnel_id/connections', REQUIRE.tunnelRead, (ctx): Reply<TunnelClient[]> => ({
    result: tunnelFor(ctx).clients,
  })),

  route('DELETE', '/accounts/:account_id/cfd_tunnel/:tunnel_id/connections', REQUIRE.tunnelWrite, (ctx): Reply<null> => {
    const t = tunnelFor(ctx);
    ctx.state.disconnectTunnel(t.tunnel.id, ctx.query.get('client_id') ?? undefined);
    return { result: null };
  }),
];
