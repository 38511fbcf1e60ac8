/**
 * One outage state from the three angles (cloudflared's own view through the status agent, the Cloudflare API's
 * tunnel status, the outside-in probes of every published hostname) plus whether the server itself answers.
 * Pure: the same inputs and clock give the same verdict. Evidence older than `staleMs` is still told (with its
 * age) but never decides against fresh evidence.
 *
 * Then a hysteresis stage: a kind only changes after `confirmRounds` consecutive rounds agree, so one failed
 * probe is not an outage and a probe that flaps does not flap the state.
 */
import type { OutageKind, OutageState, ProbeOutcome, ProbeResult } from '../../../contract/fallback';
import type { TunnelApiStatus, TunnelStatus } from '../../../contract/status';

export interface OutageInputs {
  readonly probes: readonly ProbeResult[];
  /** cloudflared's own view, from live status; null when live status has none. */
  readonly tunnel: TunnelStatus | null;
  /** When the cloudflared view was taken (the snapshot's `at`); absent = now. */
  readonly tunnelAt?: string | null;
  readonly api: TunnelApiStatus | null;
  /** Whether the server answers (its SSH connection and status agent); null when not known. */
  readonly serverReachable: boolean | null;
  readonly now: Date;
  /** Older evidence is stale (default 30 s). */
  readonly staleMs?: number;
}

export interface OutageVerdict {
  readonly kind: OutageKind;
  readonly reason: string;
  readonly evidence: string[];
}

export const DEFAULT_STALE_MS = 30_000;

const UNREACHABLE: ReadonlySet<ProbeOutcome> = new Set(['dns-failure', 'connect-failure', 'tls-failure', 'timeout']);

/** "just now", "4 s ago", "3 min ago", "2 h ago". */
export function ageInWords(fromIso: string | null | undefined, now: Date): string {
  if (!fromIso) return 'age not known';
  const ms = now.getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms)) return 'age not known';
  if (ms < 1_000) return 'just now';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const ageMs = (iso: string | null | undefined, now: Date): number => (iso ? now.getTime() - new Date(iso).getTime() : 0);

type Connector = 'connected' | 'disconnected' | 'unknown';

/** cloudflared's own view: its edge connections as the server reports them (not the API's, merged in TunnelStatus). */
function cloudflaredView(t: TunnelStatus | null): { view: Connector; words: string } {
  if (!t) return { view: 'unknown', words: 'no live status' };
  const running = t.replicas.filter((r) => r.running);
  if (t.replicas.length > 0 && running.length === 0) return { view: 'disconnected', words: 'cloudflared is not running' };
  const known = running.filter((r) => r.connections !== null);
  if (known.length > 0) {
    const n = known.reduce((a, r) => a + (r.connections ?? 0), 0);
    return n > 0
      ? { view: 'connected', words: `${plural(n, 'edge connection')} up${t.edgeLocations.length ? ` (${t.edgeLocations.join(', ')})` : ''}` }
      : { view: 'disconnected', words: 'no connection to Cloudflare’s edge' };
  }
  if (t.replicas.length === 0 && t.state === 'down') return { view: 'disconnected', words: t.reason.replace(/\.$/, '') };
  return { view: 'unknown', words: t.reason.replace(/\.$/, '') || 'its state is not known' };
}

function apiView(a: TunnelApiStatus | null): { view: Connector; words: string } {
  if (!a) return { view: 'unknown', words: 'not asked' };
  const words = `tunnel ${a.status}, ${plural(a.connectors, 'connector')}, ${plural(a.connections, 'connection')}`;
  if (a.status === 'down' || a.status === 'inactive') return { view: 'disconnected', words };
  return { view: 'connected', words };
}

function probeWords(ps: readonly ProbeResult[]): string {
  const by = new Map<string, { n: number; colo: Set<string>; sample: ProbeResult }>();
  for (const p of ps) {
    const label =
      p.outcome === 'app'
        ? 'the service answered'
        : p.outcome === 'access-login'
          ? 'Access answered'
          : p.outcome === 'tunnel-error'
            ? `${p.httpStatus ?? 530}${p.cfError ? ` (error ${p.cfError})` : ''}`
            : p.outcome === 'origin-error'
              ? '502 from the service'
              : p.outcome === 'edge-error'
                ? `${p.httpStatus ?? '5xx'} from the edge`
                : p.outcome === 'dns-failure'
                  ? 'the name did not resolve'
                  : p.outcome === 'tls-failure'
                    ? 'the TLS handshake failed'
                    : p.outcome === 'timeout'
                      ? 'no answer in time'
                      : 'the edge could not be reached';
    const e = by.get(label) ?? { n: 0, colo: new Set<string>(), sample: p };
    e.n += 1;
    if (p.colo) e.colo.add(p.colo);
    by.set(label, e);
  }
  return [...by.entries()].map(([label, e]) => `${e.n} of ${ps.length}: ${label}${e.colo.size ? ` at ${[...e.colo].join(', ')}` : ''}`).join('; ');
}

/** Combine the angles into one verdict. */
export function combineOutage(inputs: OutageInputs): OutageVerdict {
  const { now } = inputs;
  const staleMs = inputs.staleMs ?? DEFAULT_STALE_MS;
  const evidence: Array<{ at: number; text: string }> = [];

  // Only the newest probe of each hostname counts; a stale one is told, not counted.
  const newest = new Map<string, ProbeResult>();
  for (const p of inputs.probes) {
    const prev = newest.get(p.hostname);
    if (!prev || new Date(p.at).getTime() >= new Date(prev.at).getTime()) newest.set(p.hostname, p);
  }
  const all = [...newest.values()];
  const fresh = all.filter((p) => ageMs(p.at, now) <= staleMs);
  const stale = all.filter((p) => ageMs(p.at, now) > staleMs);
  const latestProbeAt = fresh.map((p) => p.at).sort().at(-1);
  if (fresh.length > 0) evidence.push({ at: ageMs(latestProbeAt, now), text: `Outside-in probes: ${probeWords(fresh)} (${ageInWords(latestProbeAt, now)}).` });
  if (stale.length > 0) {
    const at = stale.map((p) => p.at).sort().at(-1);
    evidence.push({ at: ageMs(at, now), text: `Older probes, not counted: ${probeWords(stale)} (${ageInWords(at, now)}).` });
  }

  // cloudflared's view reaches us through the server: it is only fresh while the server answers.
  const cfd = cloudflaredView(inputs.tunnel);
  const cfdAge = ageMs(inputs.tunnelAt ?? now.toISOString(), now);
  const cfdFresh = inputs.tunnel !== null && cfdAge <= staleMs && inputs.serverReachable !== false;
  if (inputs.tunnel) {
    evidence.push({
      at: cfdAge,
      text: `cloudflared on the server: ${cfd.words} (${ageInWords(inputs.tunnelAt ?? now.toISOString(), now)}${cfdFresh ? '' : ', not counted: the server does not answer or the view is old'}).`,
    });
  }
  const cfdView: Connector = cfdFresh ? cfd.view : 'unknown';

  const api = apiView(inputs.api);
  const apiAge = inputs.api ? ageMs(inputs.api.checkedAt, now) : Infinity;
  const apiFresh = inputs.api !== null && apiAge <= staleMs;
  if (inputs.api) evidence.push({ at: apiAge, text: `Cloudflare API: ${api.words} (${ageInWords(inputs.api.checkedAt, now)}${apiFresh ? '' : ', not counted: old'}).` });
  const apiNow: Connector = apiFresh ? api.view : 'unknown';

  const server = inputs.serverReachable;
  evidence.push({
    at: 0,
    text: server === true ? 'The server answers over SSH.' : server === false ? 'The server does not answer over SSH.' : 'Whether the server answers is not known yet.',
  });

  const ordered = evidence.sort((a, b) => a.at - b.at).map((e) => e.text);
  const verdict = (kind: OutageKind, reason: string): OutageVerdict => ({ kind, reason, evidence: ordered });

  const count = (o: ProbeOutcome | ((o: ProbeOutcome) => boolean)): number => fresh.filter((p) => (typeof o === 'function' ? o(p.outcome) : p.outcome === o)).length;
  const n = fresh.length;
  const unreachable = count((o) => UNREACHABLE.has(o));
  const tunnelErr = count('tunnel-error');
  const app = count('app');
  const login = count('access-login');
  const origin = count('origin-error');
  const edgeErr = count('edge-error');

  // 1. The edge itself cannot be reached for any hostname.
  if (n > 0 && unreachable === n) {
    if (server === true) return verdict('cloudflare-outage', `Cloudflare cannot be reached: ${unreachable} of ${n} probes got no answer from its edge, while the server answers.`);
    if (server === false) return verdict('unknown', 'Neither Cloudflare nor the server answers: this computer may be offline.');
    return verdict('unknown', `Cloudflare cannot be reached (${unreachable} of ${n} probes), and whether the server answers is not known yet.`);
  }
  // 2. The edge answers that the tunnel is not connected, or both other angles say no connector.
  const edgeSaysNoTunnel = tunnelErr > 0 && app === 0;
  const nothingConnected = cfdView === 'disconnected' && apiNow !== 'connected';
  const apiAloneSaysDown = apiNow === 'disconnected' && cfdView !== 'connected' && app === 0 && n === 0;
  if (edgeSaysNoTunnel || (nothingConnected && app === 0) || apiAloneSaysDown) {
    const how = edgeSaysNoTunnel
      ? `Cloudflare answers ${tunnelErr} of ${n} hostnames with error 1033 (the tunnel is not connected)`
      : cfdView === 'disconnected'
        ? `cloudflared on the server reports ${cfd.words}`
        : `Cloudflare reports the ${api.words}`;
    if (server === false) return verdict('home-offline', `The home server is offline: ${how}, and the server does not answer over SSH.`);
    return verdict('tunnel-broken', `The tunnel is broken: ${how}${server === true ? ', while the server answers' : ''}.`);
  }
  // 3. The path works.
  if (app > 0 || (login > 0 && cfdView === 'connected')) {
    const notes: string[] = [];
    if (origin > 0) notes.push(`${plural(origin, 'service')} behind the tunnel ${origin === 1 ? 'does' : 'do'} not answer (502)`);
    if (unreachable > 0) notes.push(`${unreachable} of ${n} hostnames could not be reached`);
    if (edgeErr > 0) notes.push(`${edgeErr} of ${n} got an error from the edge`);
    const through = app > 0 ? `${app} of ${n} hostnames answer through Cloudflare` : 'Access answers at the edge and cloudflared is connected';
    return verdict('healthy', `${through}${notes.length ? `; ${notes.join('; ')}` : ''}.`);
  }
  if (origin > 0 && origin + login === n) {
    return verdict('healthy', `The tunnel is connected, but ${plural(origin, 'service')} behind it ${origin === 1 ? 'does' : 'do'} not answer (502).`);
  }
  // 4. No probe to go on: the other angles.
  if (n === 0 && cfdView === 'connected' && apiNow !== 'disconnected') return verdict('healthy', `cloudflared is connected (${cfd.words}); no hostname was probed.`);
  if (login > 0 && cfdView !== 'connected') return verdict('unknown', 'Access answers at the edge, but without a service token the tunnel behind it cannot be seen.');
  return verdict('unknown', n === 0 ? 'Not enough evidence yet: no probe has answered.' : 'The angles disagree; watching.');
}

// ---------------------------------------------------------------------------------------------------------------
// Hysteresis

export interface HysteresisRound extends OutageVerdict {
  readonly probes: readonly ProbeResult[];
  readonly serverReachable: boolean | null;
}

export interface HysteresisOptions {
  /** Consecutive agreeing rounds before the kind changes (default 2). */
  readonly confirmRounds?: number;
}

/** One state that changes kind only when `confirmRounds` rounds in a row agree. */
export class OutageHysteresis {
  readonly #confirm: number;
  #state: OutageState | null = null;
  #pending: { kind: OutageKind; rounds: number; since: string } | null = null;

  constructor(opts: HysteresisOptions = {}) {
    this.#confirm = Math.max(1, opts.confirmRounds ?? 2);
  }

  get state(): OutageState | null {
    return this.#state;
  }

  /** True while a change of kind is being confirmed, or the state is not healthy: probe more often then. */
  get unsettled(): boolean {
    return this.#pending !== null || this.#state?.kind !== 'healthy';
  }

  next(raw: HysteresisRound, now: Date): OutageState {
    const at = now.toISOString();
    const current = this.#state ?? { kind: 'unknown' as OutageKind, since: at, reason: 'Checking the path from the internet to the server…', evidence: [], probes: [], serverReachable: null, checkedAt: null };
    const base = { probes: [...raw.probes], serverReachable: raw.serverReachable, checkedAt: at };
    if (raw.kind === current.kind && this.#state !== null) {
      this.#pending = null;
      this.#state = { ...current, ...base, reason: raw.reason, evidence: raw.evidence };
      return this.#state;
    }
    const pending = this.#pending?.kind === raw.kind ? { ...this.#pending, rounds: this.#pending.rounds + 1 } : { kind: raw.kind, rounds: 1, since: at };
    if (pending.rounds >= this.#confirm) {
      this.#pending = null;
      this.#state = { kind: raw.kind, since: pending.since, reason: raw.reason, evidence: raw.evidence, ...base };
      return this.#state;
    }
    this.#pending = pending;
    const note = `Checking again: the last round looked like ${raw.kind.replace('-', ' ')} (${raw.reason.replace(/\.$/, '')}).`;
    this.#state = { ...current, ...base, evidence: [note, ...raw.evidence] };
    return this.#state;
  }
}
