/**
 * The state of one server's status, built from the agent's lines (each already validated), and the snapshot
 * the renderer draws. Pure apart from the clock passed in; no I/O.
 */
import type { OutageState } from '../../contract/fallback';
import type {
  AgentState,
  BackupStatus,
  HostStatus,
  StatusSnapshot,
  TranscodesStatus,
  TunnelApiStatus,
  TunnelReplica,
  TunnelStatus,
} from '../../contract/status';
import type { AgentContainer, AgentLine, AgentLineOf } from './agent-protocol';
import { BackupStatusFile, DEFAULT_MAX_AGE_HOURS, evaluateBackup, latestSnapshot, type ResticSnapshot } from './backup';
import { buildCards, outageOnTunnelCard, worstOf } from './cards';
import { drillStateOf, withDrill, type DrillState } from './drill';
import { cpuPercent, gpusFrom } from './host';
import { serviceStatuses } from './service-status';
import type { StatusTarget } from './target';
import { streamsFromSessions } from './transcodes';
import { isCloudflaredService, mergeTunnel, replicaFromAgent } from './tunnel';

const SECTIONS = ['containers', 'tunnel', 'jellyfin', 'backup', 'gpu', 'host', 'disk'] as const;
type Section = (typeof SECTIONS)[number];

const KB = 1024;

export class StatusModel {
  readonly #target: StatusTarget;
  readonly #maxAgeHours: number;
  #seen = new Set<Section>();
  #containers: AgentContainer[] = [];
  #replicas: Omit<TunnelReplica, 'running'>[] = [];
  #jellyfin: AgentLineOf<'jellyfin'> | undefined;
  #backupFile: BackupStatusFile | 'missing' | 'invalid' | null = null;
  #snapshot: ResticSnapshot | null = null;
  #drill: DrillState = null;
  #gpu: AgentLineOf<'gpu'> | undefined;
  #host: AgentLineOf<'host'> | undefined;
  #prevCpu: number[] | undefined;
  #cpuPercent: number | null = null;
  #disk: AgentLineOf<'disk'> | undefined;
  #ncpu = 0;
  #api: TunnelApiStatus | null = null;
  /** The server's own tunnel view's state, and since when: an API view read before that change does not count. */
  #local: { state: string; since: string } | null = null;
  #outage: OutageState | null = null;
  #agent: AgentState;
  #rates: { requests: number | null; errors: number | null } = { requests: null, errors: null };
  #rateBase: { at: number; requests: number; errors: number } | undefined;

  constructor(
    readonly profileId: string,
    target: StatusTarget,
    opts: { maxAgeHours?: number; now?: Date } = {},
  ) {
    this.#target = target;
    // The service's own setting (tests) first, then the admin's setting for this stack, then 26 h.
    this.#maxAgeHours = opts.maxAgeHours ?? target.backup.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS;
    this.#agent = { kind: 'starting', since: (opts.now ?? new Date()).toISOString() };
  }

  get complete(): boolean {
    return SECTIONS.every((s) => this.#seen.has(s));
  }

  setAgent(state: AgentState): void {
    this.#agent = state;
  }

  setApi(api: TunnelApiStatus | null): void {
    this.#api = api;
  }

  /** The outage monitor's state of the path from the internet (null while it does not watch this server). */
  setOutage(outage: OutageState | null): void {
    this.#outage = outage;
  }

  /** Fold one line in; true when what the snapshot shows may have changed. */
  apply(line: AgentLine): boolean {
    switch (line.t) {
      case 'hello':
        this.#ncpu = line.ncpu;
        // A new agent starts from scratch: sections must arrive again before the snapshot is complete.
        this.#seen = new Set();
        return false;
      case 'containers':
        if (line.ok) this.#containers = line.list;
        break;
      case 'tunnel':
        this.#replicas = line.replicas.map(replicaFromAgent);
        break;
      case 'jellyfin':
        this.#jellyfin = line;
        break;
      case 'backup':
        if (!line.present) this.#backupFile = 'missing';
        else {
          try {
            const r = BackupStatusFile.safeParse(JSON.parse(line.status));
            this.#backupFile = r.success ? r.data : 'invalid';
          } catch {
            this.#backupFile = 'invalid';
          }
        }
        break;
      case 'drill':
        this.#drill = drillStateOf(line.present, line.result);
        return true;
      case 'snapshots':
        if (line.code === 0) {
          try {
            this.#snapshot = latestSnapshot(JSON.parse(line.body));
          } catch {
            // restic printed something else: keep the last known snapshot.
          }
        }
        return true;
      case 'gpu':
        this.#gpu = line;
        break;
      case 'host':
        this.#cpuPercent = cpuPercent(this.#prevCpu, line.cpu) ?? this.#cpuPercent;
        if (this.#host && line.uptimeS < this.#host.uptimeS) this.#cpuPercent = null;
        this.#prevCpu = line.cpu;
        this.#host = line;
        break;
      case 'disk':
        this.#disk = line;
        break;
      case 'ready':
      case 'hb':
      case 'error':
        return false;
      default: {
        const never: never = line;
        return never;
      }
    }
    this.#seen.add(line.t);
    return true;
  }

  /** Counter totals over all replicas (null when no replica's metrics were read). */
  #totals(): { requests: number; errors: number } | undefined {
    const withMetrics = this.#replicas.filter((r) => r.totalRequests !== null);
    if (withMetrics.length === 0) return undefined;
    return {
      requests: withMetrics.reduce((a, r) => a + (r.totalRequests ?? 0), 0),
      errors: withMetrics.reduce((a, r) => a + (r.requestErrors ?? 0), 0),
    };
  }

  /**
   * Called once per history step: request and error rates over the step (counters only reach the app when they
   * change, so the rate is measured between steps, not between lines). A counter that went down (a restart)
   * starts a new base.
   */
  sampleRates(nowMs: number): { requests: number | null; errors: number | null } {
    const t = this.#totals();
    if (!t) {
      this.#rateBase = undefined;
      this.#rates = { requests: null, errors: null };
      return this.#rates;
    }
    const base = this.#rateBase;
    this.#rateBase = { at: nowMs, ...t };
    if (!base || nowMs <= base.at || t.requests < base.requests || t.errors < base.errors) return this.#rates;
    const secs = (nowMs - base.at) / 1000;
    this.#rates = { requests: Math.round(((t.requests - base.requests) / secs) * 100) / 100, errors: Math.round(((t.errors - base.errors) / secs) * 100) / 100 };
    return this.#rates;
  }


  #tunnel(now: Date): TunnelStatus {
    const running = new Set(this.#containers.filter((c) => c.state === 'running' && isCloudflaredService(c.service)).map((c) => c.service));
    const replicas: TunnelReplica[] = this.#replicas.map((r) => ({ ...r, running: running.has(r.service) }));
    for (const s of new Set([...this.#target.cloudflared, ...this.#containers.map((c) => c.service).filter(isCloudflaredService)])) {
      if (!replicas.some((r) => r.service === s)) {
        replicas.push({ service: s, running: running.has(s), ready: null, connections: null, edgeLocations: [], rttMs: null, version: null, totalRequests: null, requestErrors: null });
      }
    }
    replicas.sort((a, b) => a.service.localeCompare(b.service));
    if (this.#seen.has('tunnel')) {
      const local = mergeTunnel({ configured: this.#target.cloudflared, containers: this.#containers, replicas, api: null }).state;
      // The first view is no change: only a change seen while watching makes an earlier API view old.
      if (this.#local?.state !== local) this.#local = { state: local, since: this.#local ? now.toISOString() : new Date(0).toISOString() };
    }
    const v = this.#seen.has('tunnel') || this.#api
      ? mergeTunnel({ configured: this.#target.cloudflared, containers: this.#containers, replicas, api: this.#api, now, localSince: this.#local?.since ?? null })
      : { state: 'unknown' as const, reason: 'Waiting for the first reading.', evidence: [], connections: null, expected: 4 * Math.max(1, this.#target.cloudflared.length) };
    return {
      state: v.state,
      reason: v.reason,
      evidence: v.evidence,
      connections: v.connections,
      expectedConnections: v.expected,
      edgeLocations: [...new Set(replicas.flatMap((r) => (r.running ? r.edgeLocations : [])))].sort(),
      requestsPerSecond: this.#rates.requests,
      errorsPerSecond: this.#rates.errors,
      replicas,
      api: this.#api,
    };
  }

  #transcodes(): TranscodesStatus {
    const none = { streams: [], counts: { hardware: 0, software: 0, direct: 0 } };
    const j = this.#jellyfin;
    if (!this.#target.jellyfin) return { available: false, reason: 'Jellyfin is not part of this stack.', ...none };
    if (!j) return { available: false, reason: 'Waiting for the first reading.', ...none };
    const jf = this.#containers.filter((c) => c.service === 'jellyfin');
    if (this.#seen.has('containers') && !jf.some((c) => c.state === 'running')) {
      return { available: false, reason: jf.length === 0 ? 'Jellyfin is not deployed.' : 'Jellyfin is not running.', ...none };
    }
    if (!j.configured) {
      return { available: false, reason: 'Jellyfin’s API key is not in the keychain yet: finish the install to see streams.', ...none };
    }
    if (j.code === 401 || j.code === 403) return { available: false, reason: 'Jellyfin refused the API key: run the install again to renew it.', ...none };
    if (j.code !== 200) return { available: false, reason: j.code === 0 ? 'Jellyfin did not answer.' : `Jellyfin answered HTTP ${j.code}.`, ...none };
    let body: unknown;
    try {
      body = JSON.parse(j.body);
    } catch {
      return { available: false, reason: 'Jellyfin’s session list could not be read.', ...none };
    }
    const streams = streamsFromSessions(body);
    if (!streams) return { available: false, reason: 'Jellyfin’s session list could not be read.', ...none };
    const counts = { hardware: 0, software: 0, direct: 0 };
    for (const s of streams) counts[s.kind]++;
    return { available: true, reason: streams.length === 0 ? 'Nothing is playing.' : `${streams.length} playing.`, streams, counts };
  }

  #backup(now: Date): BackupStatus {
    const b = evaluateBackup({ enabled: this.#target.backup.enabled, file: this.#backupFile, snapshot: this.#snapshot, now, maxAgeHours: this.#maxAgeHours });
    return this.#target.backup.enabled ? withDrill(b, this.#drill, now) : b;
  }

  #hostStatus(): HostStatus {
    const h = this.#host;
    const total = h ? h.memTotalKb * KB : null;
    const avail = h ? h.memAvailableKb * KB : null;
    const disks = this.#target.dataPaths.map((p, i) => {
      const d = this.#disk?.paths.find((x) => x.i === i);
      if (!this.#disk) return { path: p.path, label: p.label, present: true, sizeBytes: null, availableBytes: null, usedPercent: null };
      if (!d) return { path: p.path, label: p.label, present: false, sizeBytes: null, availableBytes: null, usedPercent: null };
      const usable = d.usedKb + d.availKb;
      return { path: p.path, label: p.label, present: true, sizeBytes: d.sizeKb * KB, availableBytes: d.availKb * KB, usedPercent: usable > 0 ? Math.round((d.usedKb / usable) * 1000) / 10 : null };
    });
    return {
      cpuPercent: this.#cpuPercent,
      cpus: this.#ncpu,
      memoryTotalBytes: total,
      memoryAvailableBytes: avail,
      memoryUsedPercent: total && avail !== null ? Math.round(((total - avail) / total) * 1000) / 10 : null,
      load: h ? [...h.load] : [],
      uptimeSeconds: h ? h.uptimeS : null,
      disks,
      gpus: this.#gpu ? gpusFrom(this.#gpu.nvidia, this.#gpu.amdBusy, this.#gpu.intel) : [],
    };
  }

  snapshot(now: Date, seq: number): StatusSnapshot {
    const tunnel = this.#tunnel(now);
    const transcodes = this.#transcodes();
    const backup = this.#backup(now);
    const services = serviceStatuses(this.#containers, this.#seen.has('containers') ? this.#target.services : []);
    const host = this.#hostStatus();
    let cards = buildCards({ tunnel, tunnelConfigured: this.#target.cloudflared.length > 0, transcodes, hwAccelConfigured: this.#target.hwAccel, backup, services, host });
    if (this.#agent.kind !== 'running') {
      // Without a live agent nothing on the cards is current: say why instead of showing stale verdicts.
      const why = this.#agent.kind === 'restarting' ? `Reconnecting to the server: ${this.#agent.reason}` : this.#agent.kind === 'starting' ? 'Starting the status agent on the server.' : 'Status is stopped.';
      cards = cards.map((c) => ({ ...c, severity: 'unknown' as const, reason: why }));
    }
    // The outage verdict speaks first on the tunnel card, also while the agent is away (the home may be offline).
    cards = outageOnTunnelCard(cards, this.#outage);
    return {
      profileId: this.profileId,
      at: now.toISOString(),
      seq,
      complete: this.complete,
      agent: this.#agent,
      overall: worstOf(cards),
      cards,
      tunnel,
      transcodes,
      backup,
      services,
      host,
      outage: this.#outage,
    };
  }
}
