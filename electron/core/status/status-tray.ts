/**
 * Live status without a window: the tray and OS notifications (issue 7). Every server whose stack settings are
 * saved is watched (its agent runs on the one SSH connection even with no dashboard open); the contract's
 * `status:update` and `status:notification` events are tapped here, so the tray and the dashboard show the same
 * snapshot. The shell (Electron main) only draws what this hands it.
 */
import type { EventName, EventPayload } from '../../contract/contract';
import type { Severity } from '../../contract/status';
import { toErrorShape } from '../errors';
import type { Logger } from '../log';
import { TrayModel, type TrayView } from './tray';

const isPhase = (p: EventPayload<'stack:progress'>, phase: string): boolean => p.kind === 'phase' && p.phase === phase;

export interface TrayNotification {
  readonly profileId: string;
  readonly title: string;
  readonly body: string;
  readonly severity: Severity;
}

export interface StatusTrayDeps {
  readonly status: { watch(profileId: string): Promise<void>; unsubscribe(profileId: string): void };
  /** Every server profile (id and the name the admin gave it). */
  readonly profiles: () => Promise<ReadonlyArray<{ readonly id: string; readonly name: string }>>;
  /** Whether a server has a stack to watch (its settings are saved). */
  readonly hasStack: (profileId: string) => Promise<boolean>;
  readonly onView: (view: TrayView) => void;
  /** Whether a server's outage fallback can be used and is on (the menu offers the switch); asked when watching starts. */
  readonly fallback?: (profileId: string) => Promise<{ ready: boolean; on: boolean }>;
  readonly onNotify: (n: TrayNotification) => void;
  readonly log: Logger;
  readonly appName?: string;
}

export class StatusTray {
  readonly #d: StatusTrayDeps;
  readonly #model: TrayModel;
  readonly #watched = new Set<string>();
  readonly #names = new Map<string, string>();
  #syncing: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: StatusTrayDeps) {
    this.#d = deps;
    this.#model = new TrayModel(deps.appName);
  }

  /** Watch every server with a stack; the tray starts as "unknown" until the first snapshot arrives. */
  start(): Promise<void> {
    this.#d.onView(this.#model.view());
    return this.sync();
  }

  /** Bring the watched set in line with the profiles (a new install, a removed server); serialised. */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#sync()).catch((err: unknown) => this.#d.log.warn('tray: could not list the servers to watch', { error: err instanceof Error ? err.message : String(err) }));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    if (this.#stopped) return;
    const profiles = await this.#d.profiles();
    const want = new Set<string>();
    for (const p of profiles) {
      this.#names.set(p.id, p.name);
      if (await this.#d.hasStack(p.id).catch(() => false)) want.add(p.id);
    }
    for (const id of want) {
      if (this.#watched.has(id)) continue;
      this.#watched.add(id);
      void this.#d
        .fallback?.(id)
        .then((f) => {
          const v = this.#stopped ? undefined : this.#model.fallback(id, f);
          if (v) this.#d.onView(v);
        })
        .catch(() => undefined);
      // Not connected (nothing connects by itself at start): shown as such, and tried again when it connects.
      await this.#d.status.watch(id).catch((err: unknown) => {
        this.#watched.delete(id);
        const v = this.#model.unwatched(id, this.#names.get(id) ?? id, `Not connected: ${toErrorShape(err).userMessage}`);
        if (v) this.#d.onView(v);
        this.#d.log.info('tray: not watching a server yet', { profileId: id, error: err instanceof Error ? err.message : String(err) });
      });
    }
    for (const id of [...this.#watched]) {
      if (want.has(id)) continue;
      this.#watched.delete(id);
      this.#d.status.unsubscribe(id);
    }
    // Lines of servers gone or without a stack (watched before, or shown as not connected) go too.
    for (const id of this.#model.ids()) {
      if (want.has(id)) continue;
      const v = this.#model.forget(id);
      if (v) this.#d.onView(v);
    }
  }

  /** The tap on the contract's events (wrapped around the emitter by the composition root). */
  event<E extends EventName>(event: E, payload: EventPayload<E>): void {
    if (this.#stopped) return;
    if (event === 'status:update') {
      const u = payload as EventPayload<'status:update'>;
      // Only servers the tray watches: a stopped watch's last line must not stay behind.
      if (!this.#watched.has(u.profileId)) return;
      const v = this.#model.update(u.profileId, this.#names.get(u.profileId) ?? u.profileId, u.snapshot);
      if (v) this.#d.onView(v);
    } else if (event === 'status:notification') {
      const n = payload as EventPayload<'status:notification'>;
      const name = this.#names.get(n.profileId) ?? n.profileId;
      this.#d.onNotify({ profileId: n.profileId, title: this.#names.size > 1 ? `${name}: ${n.title}` : n.title, body: n.body, severity: n.severity });
    } else if (event === 'fallback:changed') {
      const f = payload as EventPayload<'fallback:changed'>;
      const v = this.#model.fallback(f.profileId, { ready: f.ready, on: f.mode.kind === 'on' || (f.mode.kind === 'switching' && f.mode.to === 'off') });
      if (v) this.#d.onView(v);
    } else if (
      event === 'profiles:changed' ||
      (event === 'stack:progress' && isPhase(payload as EventPayload<'stack:progress'>, 'done')) ||
      (event === 'server:state' && (payload as EventPayload<'server:state'>).state.kind === 'connected' && !this.#watched.has((payload as EventPayload<'server:state'>).profileId))
    ) {
      void this.sync();
    }
  }

  view(): TrayView {
    return this.#model.view();
  }

  /** Stop watching (quit): the status service's own stopAll ends the agents. */
  stop(): void {
    this.#stopped = true;
    for (const id of this.#watched) this.#d.status.unsubscribe(id);
    this.#watched.clear();
  }
}
