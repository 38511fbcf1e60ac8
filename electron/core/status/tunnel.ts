/**
 * cloudflared readiness and metrics per replica (stack-facts §3.2–3.3), and one merged tunnel state —
 * healthy / degraded / down / unknown — with the evidence behind it, including the Cloudflare API's view
 * (stack-facts §4.4) when the app has a token.
 */
import type { TunnelApiStatus, TunnelReplica, TunnelState } from '../../contract/status';
import type { AgentContainer, AgentReplica } from './agent-protocol';
import { parseProm, sumOf } from './prometheus';

/** cloudflared keeps four edge connections per replica (`--ha-connections` default, stack-facts §3.4). */
export const CONNECTIONS_PER_REPLICA = 4;

export const isCloudflaredService = (service: string): boolean => service === 'cloudflared' || /^cloudflared-\d+$/.test(service);

/** A replica's metrics and readiness as the agent sampled them. */
export function replicaFromAgent(r: AgentReplica): Omit<TunnelReplica, 'running'> {
  const samples = parseProm(r.metrics);
  let readyConnections: number | null = null;
  let ready: boolean | null = null;
  if (r.readyCode === 200 || r.readyCode === 503) {
    ready = r.readyCode === 200;
    try {
      const body = JSON.parse(r.ready) as { readyConnections?: unknown };
      if (typeof body.readyConnections === 'number') readyConnections = body.readyConnections;
    } catch {
      // A /ready without a JSON body still answers by its status code.
    }
  }
  const metricsOk = r.metricsCode === 200;
  const ha = metricsOk ? sumOf(samples, 'cloudflared_tunnel_ha_connections') : null;
  const rtts = samples.filter((s) => s.name === 'quic_client_smoothed_rtt' && Number.isFinite(s.value)).map((s) => s.value);
  // server_locations keeps a dropped connection's last colo at 1: only as many as are connected count.
  const locs = samples
    .filter((s) => s.name === 'cloudflared_tunnel_server_locations' && s.value === 1 && s.labels.edge_location)
    .sort((a, b) => Number(a.labels.connection_id ?? 0) - Number(b.labels.connection_id ?? 0))
    .map((s) => s.labels.edge_location ?? '');
  // /ready and ha_connections count the same connections; the agent reads /ready more often (it is a few bytes,
  // /metrics tens of kB), so its count is the fresher one.
  const connections = readyConnections ?? ha;
  const build = samples.find((s) => s.name === 'build_info');
  return {
    service: r.service,
    ready: ready ?? (connections === null ? null : connections > 0),
    connections,
    edgeLocations: [...new Set(connections === null ? locs : locs.slice(0, Math.max(0, connections)))].sort(),
    rttMs: rtts.length > 0 ? Math.round((rtts.reduce((a, b) => a + b, 0) / rtts.length) * 10) / 10 : null,
    version: build?.labels.version ?? null,
    totalRequests: metricsOk ? sumOf(samples, 'cloudflared_tunnel_total_requests') : null,
    requestErrors: metricsOk ? sumOf(samples, 'cloudflared_tunnel_request_errors') : null,
  };
}

export interface TunnelVerdict {
  readonly state: TunnelState;
  readonly reason: string;
  readonly evidence: string[];
  readonly connections: number | null;
  readonly expected: number;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** How long ago, in words: "just now", "40 s ago", "3 min ago". */
const ageWords = (iso: string, now: Date): string => {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 2 ? 'just now' : s < 90 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
};

/**
 * Merge what the server shows (containers, /ready, /metrics) with what Cloudflare says. The server's own
 * connectors are the primary evidence; the API adds what the server cannot see (another connector elsewhere,
 * an edge-side outage).
 */
export function mergeTunnel(input: {
  readonly configured: readonly string[];
  readonly containers: readonly AgentContainer[];
  readonly replicas: readonly TunnelReplica[];
  readonly api: TunnelApiStatus | null;
  /** Now, for the API view's age in words. */
  readonly now?: Date;
  /**
   * When the server's own view last changed state. An API view read before that is older than what the server
   * shows now: it is told with its age, and never outvotes the fresher evidence.
   */
  readonly localSince?: string | null;
}): TunnelVerdict {
  const evidence: string[] = [];
  const services = [...new Set([...input.configured, ...input.containers.map((c) => c.service).filter(isCloudflaredService)])].sort();
  const running = input.replicas.filter((r) => r.running);
  const expected = Math.max(1, services.length) * CONNECTIONS_PER_REPLICA;
  for (const s of services) {
    const c = input.containers.find((x) => x.service === s);
    const r = input.replicas.find((x) => x.service === s);
    if (!c) evidence.push(`${s}: no container.`);
    else if (c.state !== 'running') evidence.push(`${s}: container ${c.state}${c.state === 'exited' ? ` (exit ${c.exitCode})` : ''}.`);
    else if (!r || r.connections === null) evidence.push(`${s}: running, but its metrics could not be read.`);
    else evidence.push(`${s}: ${plural(r.connections, 'edge connection')}${r.edgeLocations.length > 0 ? ` (${r.edgeLocations.join(', ')})` : ''}${r.ready === false ? ', not ready' : ''}.`);
  }
  const apiStale = input.api !== null && input.localSince != null && Date.parse(input.api.checkedAt) < Date.parse(input.localSince);
  const api = apiStale ? null : input.api;
  if (input.api) {
    const a = input.api;
    const age = input.now ? ` (${ageWords(a.checkedAt, input.now)}${apiStale ? ', before the server’s view last changed: not counted' : ''})` : '';
    evidence.push(`Cloudflare reports the tunnel ${a.status} with ${plural(a.connectors, 'connector')} and ${plural(a.connections, 'connection')}${age}.`);
  }

  const known = running.filter((r) => r.connections !== null);
  const connections = known.length > 0 ? known.reduce((a, r) => a + (r.connections ?? 0), 0) : null;

  let local: { state: TunnelState; reason: string };
  if (services.length === 0) local = { state: 'unknown', reason: 'cloudflared is not part of this stack.' };
  else if (running.length === 0) local = { state: 'down', reason: services.length === 1 ? 'cloudflared is not running.' : 'No cloudflared replica is running.' };
  else if (connections === null) local = { state: 'unknown', reason: 'cloudflared runs, but its metrics could not be read.' };
  else if (connections === 0) local = { state: 'down', reason: 'cloudflared has no connection to Cloudflare’s edge.' };
  else if (connections < expected || running.length < services.length || known.length < running.length) {
    local = { state: 'degraded', reason: `${connections} of ${expected} edge connections are up.` };
  } else local = { state: 'healthy', reason: `${plural(connections, 'edge connection')} up${services.length > 1 ? ` across ${services.length} replicas` : ''}.` };

  if (!api) return { ...local, evidence, connections, expected };
  if (api.status === 'down' || api.status === 'inactive') {
    if (local.state === 'healthy' || local.state === 'degraded') {
      return { state: 'degraded', reason: `The server has edge connections, but Cloudflare reports the tunnel ${api.status}.`, evidence, connections, expected };
    }
    return { state: 'down', reason: local.state === 'down' ? local.reason : `Cloudflare reports the tunnel ${api.status}.`, evidence, connections, expected };
  }
  if (api.status === 'degraded' && local.state === 'healthy') return { state: 'degraded', reason: 'Cloudflare reports the tunnel degraded.', evidence, connections, expected };
  if (api.status === 'healthy' && local.state === 'unknown' && services.length > 0) {
    return { state: 'healthy', reason: `Cloudflare reports the tunnel healthy (${plural(api.connections, 'connection')}).`, evidence, connections, expected };
  }
  if (api.status === 'healthy' && local.state === 'down' && api.connections > 0) {
    return { state: 'degraded', reason: `${local.reason} Cloudflare still sees ${plural(api.connections, 'connection')} from another connector.`, evidence, connections, expected };
  }
  return { ...local, evidence, connections, expected };
}
