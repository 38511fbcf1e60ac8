/**
 * Watches the path from the internet to each watched server: every round probes all published hostnames through
 * Cloudflare's edge (with the outage probe's Access service token), takes cloudflared's own view from live status,
 * the Cloudflare API's tunnel status (throttled: it has rate limits) and whether the server answers, combines them
 * (classify.ts) and passes the verdict through the hysteresis. Rounds run every `intervalMs` (4 s) while all is
 * well and every `fastIntervalMs` (1.5 s) while something looks wrong, measured from the start of a round, so a
 * probe that waits out its timeout (2 s) does not stretch the confirmation. Worst case, an edge that accepts and
 * never answers: 4 s until the next round + 2 s + 2 s for the confirming round = 8 s; a refused or 530 answer is
 * seen in ≤ 4 s + 1.5 s. A change in cloudflared's own view (`observe`) starts a round at once and fast rounds
 * for 10 s, since Cloudflare's edge may take a moment to see a connector go.
 */
import type { OutageState, ProbeResult } from '../../../contract/fallback';
import type { StatusSnapshot, TunnelApiStatus } from '../../../contract/status';
import type { Logger } from '../../log';
import type { Secret } from '../../secrets/secret';
import { OutageHysteresis, combineOutage } from './classify';
import { probeHostname, type ProbeOptions } from './probe';

export interface OutageMonitorDeps {
  /** The published hostnames of a profile (empty when nothing is published). */
  readonly hostnames: (profileId: string) => Promise<readonly string[]>;
  /** The outage probe's Access service token; null when there is none (the probe then sees Access's login). */
  readonly serviceToken: (profileId: string) => Promise<{ id: string; secret: Secret } | null>;
  /** Live status's latest snapshot (cloudflared's own view); undefined when status is not watching. */
  readonly snapshot: (profileId: string) => StatusSnapshot | undefined;
  /** Whether the server answers (its SSH connection and status agent); null when not known. */
  readonly serverReachable: (profileId: string) => boolean | null;
  /** The Cloudflare API's tunnel status; asked at most every `apiEveryMs`. */
  readonly tunnelApiStatus?: (profileId: string) => Promise<TunnelApiStatus | null>;
  /** Told when the state's kind or reason changes. */
  readonly onChange: (profileId: string, state: OutageState) => void;
  readonly log?: Logger;
  readonly clock?: () => Date;
  readonly intervalMs?: number;
  readonly fastIntervalMs?: number;
  readonly probeTimeoutMs?: number;
  readonly apiEveryMs?: number;
  readonly confirmRounds?: number;
  /** How long the hostnames and the service token are kept before they are read again (default 30 s). */
  readonly refreshMs?: number;
  /** Test seams of the probe: where the edge is, the resolver. */
  readonly probe?: Pick<ProbeOptions, 'connect' | 'resolve'>;
}

interface Watched {
  readonly hysteresis: OutageHysteresis;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  again: boolean;
  api: { value: TunnelApiStatus | null; askedAt: number } | null;
  lastTunnelState: string | undefined;
  rounds: number;
  /** Hostnames and service token, read again after `refreshMs` (the keychain is not asked every round). */
  inputs: { hosts: readonly string[]; token: { id: string; secret: Secret } | null; at: number } | null;
  /** Fast rounds until then: cloudflared's view changed, and the edge may take a moment to agree. */
  fastUntil: number;
}

export class OutageMonitor {
  readonly #d: OutageMonitorDeps;
  readonly #watched = new Map<string, Watched>();
  #stopped = false;

  constructor(deps: OutageMonitorDeps) {
    this.#d = deps;
  }

  #now(): Date {
    return this.#d.clock?.() ?? new Date();
  }

  /** Start watching a profile (a second call changes nothing); the first round runs at once. */
  watch(profileId: string): void {
    if (this.#stopped || this.#watched.has(profileId)) return;
    const w: Watched = { hysteresis: new OutageHysteresis({ confirmRounds: this.#d.confirmRounds ?? 2 }), timer: undefined, running: false, again: false, api: null, lastTunnelState: undefined, rounds: 0, inputs: null, fastUntil: 0 };
    this.#watched.set(profileId, w);
    this.#schedule(profileId, w, 0);
  }

  unwatch(profileId: string): void {
    const w = this.#watched.get(profileId);
    if (!w) return;
    if (w.timer) clearTimeout(w.timer);
    this.#watched.delete(profileId);
  }

  watching(): string[] {
    return [...this.#watched.keys()];
  }

  state(profileId: string): OutageState | null {
    return this.#watched.get(profileId)?.hysteresis.state ?? null;
  }

  /** Rounds run so far for a profile (for tests and benchmarks). */
  rounds(profileId: string): number {
    return this.#watched.get(profileId)?.rounds ?? 0;
  }

  /**
   * Live status pushed a snapshot: when cloudflared's own view changed, check now instead of at the next tick
   * (the composition root calls this from status's update callback; status itself is untouched).
   */
  observe(snapshot: StatusSnapshot): void {
    const w = this.#watched.get(snapshot.profileId);
    if (!w) return;
    const state = snapshot.tunnel.state;
    if (w.lastTunnelState !== undefined && w.lastTunnelState !== state) {
      w.fastUntil = Date.now() + 10_000;
      this.nudge(snapshot.profileId);
    }
    w.lastTunnelState = state;
  }

  /** Run a round now (or right after the one in flight), reading the hostnames and the token again (after a publish). */
  nudge(profileId: string, opts: { reread?: boolean } = {}): void {
    const w = this.#watched.get(profileId);
    if (!w) return;
    if (opts.reread) w.inputs = null;
    if (w.running) {
      w.again = true;
      return;
    }
    this.#schedule(profileId, w, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#watched.keys()]) this.unwatch(id);
  }

  #schedule(profileId: string, w: Watched, ms: number): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.#round(profileId, w);
    }, ms);
    w.timer.unref?.();
  }

  async #apiStatus(profileId: string, w: Watched, snap: StatusSnapshot | undefined): Promise<TunnelApiStatus | null> {
    const ask = this.#d.tunnelApiStatus;
    const every = this.#d.apiEveryMs ?? 15_000;
    if (ask && (!w.api || Date.now() - w.api.askedAt >= every)) {
      const askedAt = Date.now();
      try {
        w.api = { value: await ask(profileId), askedAt };
      } catch (err) {
        // Cloudflare's API unreachable is evidence only through the probes; keep the last answer with its age.
        this.#d.log?.warn('outage: could not read the tunnel status from Cloudflare', { profileId, error: err instanceof Error ? err.message : String(err) });
        w.api = { value: w.api?.value ?? null, askedAt };
      }
    }
    // Whichever is newer: our own ask or live status's.
    const own = w.api?.value ?? null;
    const fromStatus = snap?.tunnel.api ?? null;
    if (!own) return fromStatus;
    if (!fromStatus) return own;
    return own.checkedAt >= fromStatus.checkedAt ? own : fromStatus;
  }

  async #round(profileId: string, w: Watched): Promise<void> {
    if (this.#watched.get(profileId) !== w) return;
    w.running = true;
    const started = Date.now();
    try {
      if (!w.inputs || Date.now() - w.inputs.at >= (this.#d.refreshMs ?? 30_000)) {
        const [h, t] = await Promise.all([this.#d.hostnames(profileId), this.#d.serviceToken(profileId)]);
        w.inputs = { hosts: h, token: t, at: Date.now() };
      }
      const { hosts, token } = w.inputs;
      const timeoutMs = this.#d.probeTimeoutMs ?? 2_000;
      const probes: ProbeResult[] = await Promise.all(
        [...new Set(hosts)].map((h) =>
          probeHostname(h, { timeoutMs, serviceToken: token ?? undefined, now: () => this.#now(), ...(this.#d.probe ?? {}) }),
        ),
      );
      const snap = this.#d.snapshot(profileId);
      const api = await this.#apiStatus(profileId, w, snap);
      const serverReachable = this.#d.serverReachable(profileId);
      const now = this.#now();
      const verdict = combineOutage({ probes, tunnel: snap?.tunnel ?? null, tunnelAt: snap?.at ?? null, api, serverReachable, now });
      if (this.#watched.get(profileId) !== w) return;
      const before = w.hysteresis.state;
      const after = w.hysteresis.next({ ...verdict, probes, serverReachable }, now);
      w.rounds += 1;
      if (!before || before.kind !== after.kind || before.reason !== after.reason) {
        if (before?.kind !== after.kind) this.#d.log?.info(`outage: ${after.kind}`, { profileId, reason: after.reason });
        this.#d.onChange(profileId, after);
      }
    } catch (err) {
      this.#d.log?.warn('outage: a round failed', { profileId, error: err instanceof Error ? err.message : String(err) });
    } finally {
      w.running = false;
      if (this.#watched.get(profileId) === w && !this.#stopped) {
        const fast = w.hysteresis.unsettled || Date.now() < w.fastUntil;
        const every = fast ? (this.#d.fastIntervalMs ?? 1_500) : (this.#d.intervalMs ?? 4_000);
        const wait = w.again ? 0 : Math.max(0, every - (Date.now() - started));
        w.again = false;
        this.#schedule(profileId, w, wait);
      }
    }
  }
}
