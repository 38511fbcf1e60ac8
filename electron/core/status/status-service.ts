/**
 * Live status per server profile: one agent session on the profile's one SSH connection, the model its lines
 * build, the last hour of chart history, debounced notifications, and a whole snapshot pushed on every change.
 * Subscriptions are counted; the agent stops `lingerMs` after the last one goes (the shell keeps one for the
 * tray with `watch`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { OutageState } from '../../contract/fallback';
import { historyValuesOf, type StatusHistory, type StatusNotification, type StatusSnapshot, type StatusUpdate, type TunnelApiStatus } from '../../contract/status';
import type { Logger } from '../log';
import type { Secret } from '../secrets/secret';
import { AgentSession, type AgentConnection } from './agent-session';
import { StatusHistoryStore } from './history';
import { NotificationGate, type Clock } from './notifications';
import { outageHeadline } from './cards';
import { StatusModel } from './status-model';
import { agentArgs, type StatusTarget } from './target';

export interface StatusServiceDeps {
  readonly connection: (profileId: string) => AgentConnection;
  readonly target: (profileId: string) => Promise<StatusTarget>;
  readonly jellyfinApiKey: (profileId: string) => Promise<Secret | undefined>;
  /** The Cloudflare API's view of the tunnel, when a token is in the keychain; null when not available. */
  readonly tunnelApiStatus?: (profileId: string) => Promise<TunnelApiStatus | null>;
  /** The outage monitor's state for a server, read into each snapshot; call `outageChanged` when it changes. */
  readonly outage?: (profileId: string) => OutageState | null;
  readonly resourcesDir: string;
  /** The agent's text (tests); read from resources/status/ otherwise. */
  readonly agentScript?: string;
  readonly log: Logger;
  readonly onUpdate: (u: StatusUpdate) => void;
  readonly onNotification: (n: StatusNotification) => void;
  readonly maxBackupAgeHours?: number;
  readonly notify?: { readonly settleMs: number; readonly repeatMs: number; readonly clock?: Clock };
  readonly lingerMs?: number;
  readonly historyStepMs?: number;
  readonly apiPollMs?: number;
  /** The agent's sampling interval in seconds. */
  readonly interval?: number;
  readonly http?: 'auto' | 'curl' | 'wget' | 'docker';
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** How long subscribe waits for the first full snapshot before answering with what it has. */
  readonly firstSnapshotTimeoutMs?: number;
}

interface Watch {
  readonly profileId: string;
  /** The connection, model and agent session are replaced together (a new connection, an apply); the rest stays. */
  conn: AgentConnection;
  model: StatusModel;
  session: AgentSession;
  /** The Cloudflare API's last answer, carried into a replaced model. */
  api: TunnelApiStatus | null;
  /** Replacements run one at a time. */
  swapping: Promise<void>;
  readonly history: StatusHistoryStore;
  readonly gate: NotificationGate;
  refs: number;
  seq: number;
  last: StatusSnapshot | undefined;
  emitQueued: boolean;
  linger: NodeJS.Timeout | undefined;
  timers: NodeJS.Timeout[];
  waiters: Array<() => void>;
}

export class StatusService {
  readonly #deps: StatusServiceDeps;
  readonly #watches = new Map<string, Watch>();
  #script: Promise<string> | undefined;
  #notificationSeq = 0;
  /**
   * Snapshot numbers for every watch of this service: they start at the clock (ms) and only go up, so a watch
   * made again (new connection, new settings) or a restarted host never sends a number a renderer has passed.
   */
  #seq = Date.now();

  constructor(deps: StatusServiceDeps) {
    this.#deps = deps;
  }

  #agentScript(): Promise<string> {
    if (this.#deps.agentScript !== undefined) return Promise.resolve(this.#deps.agentScript);
    this.#script ??= readFile(path.join(this.#deps.resourcesDir, 'status', 'm2-status-agent.sh'), 'utf8').catch((err: unknown) => {
      this.#script = undefined;
      throw err;
    });
    return this.#script;
  }

  /** Start (or join) live status for a server; answers with the first full snapshot (or what there is after a timeout). */
  async subscribe(profileId: string): Promise<StatusSnapshot> {
    const w = await this.#watch(profileId);
    w.refs++;
    if (w.linger) clearTimeout(w.linger);
    w.linger = undefined;
    if (!w.model.complete) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#deps.firstSnapshotTimeoutMs ?? 10_000);
        t.unref();
        w.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#snap(w);
  }

  /** Keep status running without a window (the tray); same as subscribe without waiting. */
  async watch(profileId: string): Promise<void> {
    const w = await this.#watch(profileId);
    w.refs++;
  }

  unsubscribe(profileId: string): void {
    const w = this.#watches.get(profileId);
    if (!w) return;
    w.refs = Math.max(0, w.refs - 1);
    if (w.refs === 0 && !w.linger) {
      w.linger = setTimeout(() => void this.stop(profileId), this.#deps.lingerMs ?? 60_000);
      w.linger.unref();
    }
  }

  snapshot(profileId: string): StatusSnapshot | undefined {
    const w = this.#watches.get(profileId);
    return w ? this.#snap(w) : undefined;
  }

  history(profileId: string): StatusHistory {
    const w = this.#watches.get(profileId);
    const step = this.#deps.historyStepMs ?? 5_000;
    const series = (w?.history ?? new StatusHistoryStore(step)).series(Date.now());
    return { profileId, stepSeconds: step / 1000, series };
  }

  /** Agent counters, for tests and diagnostics. */
  agentStats(profileId: string): { starts: number; received: number; dropped: number; running: boolean } | undefined {
    const s = this.#watches.get(profileId)?.session;
    return s ? { starts: s.starts, received: s.received, dropped: s.dropped, running: s.running } : undefined;
  }

  async stop(profileId: string): Promise<void> {
    const w = this.#watches.get(profileId);
    if (!w) return;
    this.#watches.delete(profileId);
    if (w.linger) clearTimeout(w.linger);
    for (const t of w.timers) clearInterval(t);
    w.gate.dispose();
    for (const resolve of w.waiters.splice(0)) resolve();
    await w.session.stop();
  }

  /**
   * The stack changed (an install, new settings, a new tunnel): start the watch again with what is configured
   * now (services, paths, the Jellyfin key), keeping its subscribers and its hour of history. Nothing when the
   * server is not watched.
   */
  async refresh(profileId: string): Promise<void> {
    const w = this.#watches.get(profileId);
    if (w) await this.#swap(w);
  }

  /**
   * The server's SSH connection was made again (a disconnect and connect, a new SshConnection): move a watched
   * server's agent onto it, keeping subscribers, history and notifications. Nothing when the server is not watched.
   */
  async follow(profileId: string): Promise<void> {
    const w = this.#watches.get(profileId);
    const conn = this.#connectionNow(profileId);
    if (w && conn && conn !== w.conn) await this.#swap(w, conn);
  }

  /** The server's connection now, or undefined while it is not connected. */
  #connectionNow(profileId: string): AgentConnection | undefined {
    try {
      return this.#deps.connection(profileId);
    } catch {
      return undefined;
    }
  }

  /** Replace a watch's model and agent session (and connection), keeping its subscribers, history, gate and seq. */
  #swap(w: Watch, conn?: AgentConnection): Promise<void> {
    w.swapping = w.swapping.then(async () => {
      if (this.#watches.get(w.profileId) !== w) return;
      // Not connected now: stay on the old connection, whose session waits for it.
      const next = conn ?? this.#connectionNow(w.profileId) ?? w.conn;
      const [target, script] = await Promise.all([this.#deps.target(w.profileId), this.#agentScript()]);
      if (this.#watches.get(w.profileId) !== w) return;
      const old = w.session;
      w.conn = next;
      w.model = this.#newModel(w.profileId, target);
      w.model.setApi(w.api);
      w.session = this.#newSession(w, next, script);
      await old.stop();
      if (this.#watches.get(w.profileId) === w) w.session.start();
    }).catch((err: unknown) => this.#deps.log.warn('live status could not start again', { profileId: w.profileId, error: err instanceof Error ? err.message : String(err) }));
    return w.swapping;
  }

  #newModel(profileId: string, target: StatusTarget): StatusModel {
    return new StatusModel(profileId, target, this.#deps.maxBackupAgeHours === undefined ? {} : { maxAgeHours: this.#deps.maxBackupAgeHours });
  }

  /** An agent session whose lines and states reach the watch only while it is the watch's current one. */
  #newSession(w: Watch, conn: AgentConnection, script: string): AgentSession {
    const session: AgentSession = new AgentSession({
      conn,
      script,
      args: async () => agentArgs(await this.#deps.target(w.profileId), { interval: this.#deps.interval ?? 1, http: this.#deps.http ?? 'auto' }),
      apiKey: () => this.#deps.jellyfinApiKey(w.profileId),
      onLine: (line) => {
        if (w.session !== session) return;
        if (w.model.apply(line) || line.t === 'ready') this.#queueEmit(w);
      },
      onState: (st) => {
        if (w.session !== session) return;
        w.model.setAgent(st);
        this.#queueEmit(w);
      },
      log: this.#deps.log,
      ...(this.#deps.backoff ? { backoff: this.#deps.backoff } : {}),
    });
    return session;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#watches.keys()].map((id) => this.stop(id)));
  }

  #snap(w: Watch): StatusSnapshot {
    w.model.setOutage(this.#deps.outage?.(w.profileId) ?? null);
    return w.model.snapshot(new Date(), w.seq);
  }

  /** The outage state of a watched server changed: push a snapshot that carries it (nothing when not watched). */
  outageChanged(profileId: string): void {
    const w = this.#watches.get(profileId);
    if (w) this.#queueEmit(w);
  }

  async #watch(profileId: string): Promise<Watch> {
    const conn = this.#deps.connection(profileId);
    const existing = this.#watches.get(profileId);
    // A new SshConnection object (disconnect + connect): the same watch moves its agent onto it.
    if (existing) {
      if (existing.conn !== conn) await this.#swap(existing, conn);
      return existing;
    }
    const [target, script] = await Promise.all([this.#deps.target(profileId), this.#agentScript()]);
    const again = this.#watches.get(profileId);
    if (again) return again;
    const model = this.#newModel(profileId, target);
    const stepMs = this.#deps.historyStepMs ?? 5_000;
    const w: Watch = {
      profileId,
      conn,
      model,
      api: null,
      swapping: Promise.resolve(),
      history: new StatusHistoryStore(stepMs),
      gate: new NotificationGate(
        (t) =>
          this.#deps.onNotification({
            profileId,
            id: `${profileId}-${t.card}-${++this.#notificationSeq}`,
            card: t.card,
            severity: t.severity,
            previous: t.previous,
            title: t.title,
            body: t.reason,
            at: new Date().toISOString(),
          }),
        this.#deps.notify ?? { settleMs: 5_000, repeatMs: 300_000 },
      ),
      session: undefined as unknown as AgentSession,
      refs: 0,
      seq: this.#seq,
      last: undefined,
      emitQueued: false,
      linger: undefined,
      timers: [],
      waiters: [],
    };
    w.session = this.#newSession(w, conn, script);
    this.#watches.set(profileId, w);

    const historyTimer = setInterval(() => {
      const now = Date.now();
      w.model.sampleRates(now);
      w.history.record(now, historyValuesOf(this.#snap(w)));
    }, stepMs);
    historyTimer.unref();
    w.timers.push(historyTimer);
    // Backup age grows with time alone: refresh the verdict (and its notification) every minute.
    const ageTimer = setInterval(() => this.#queueEmit(w), 60_000);
    ageTimer.unref();
    w.timers.push(ageTimer);
    if (this.#deps.tunnelApiStatus) {
      const poll = (): void => {
        this.#deps.tunnelApiStatus?.(profileId).then(
          (api) => {
            w.api = api;
            w.model.setApi(api);
            this.#queueEmit(w);
          },
          (err: unknown) => this.#deps.log.warn('could not read the tunnel status from Cloudflare', { error: err instanceof Error ? err.message : String(err) }),
        );
      };
      poll();
      const apiTimer = setInterval(poll, this.#deps.apiPollMs ?? 60_000);
      apiTimer.unref();
      w.timers.push(apiTimer);
    }
    w.session.start();
    return w;
  }

  /** Lines of one chunk arrive together: one snapshot for all of them, on the next turn of the event loop. */
  #queueEmit(w: Watch): void {
    if (w.emitQueued) return;
    w.emitQueued = true;
    setImmediate(() => {
      w.emitQueued = false;
      if (this.#watches.get(w.profileId) !== w) return;
      w.seq = ++this.#seq;
      const snap = this.#snap(w);
      w.last = snap;
      if (snap.complete) for (const resolve of w.waiters.splice(0)) resolve();
      if (snap.complete && snap.agent.kind === 'running') w.gate.observe(snap.cards);
      // With the agent away, only the path from the internet is known: a settled outage (the home offline, most
      // often) still tells the admin, through the tunnel card alone; the other cards wait for the agent.
      else if (snap.outage && outageHeadline(snap.outage)) w.gate.observe(snap.cards.filter((c) => c.id === 'tunnel'));
      this.#deps.onUpdate({ profileId: w.profileId, snapshot: snap });
    });
  }
}
