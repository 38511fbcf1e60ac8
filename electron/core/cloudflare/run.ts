/**
 * The step recorder every Cloudflare run shares (publish, removal, rotation): each resource file does its part as
 * steps of one Run, which settles them in order, pushes them as events and logs them without secrets.
 */
import { randomUUID } from 'node:crypto';
import type Cloudflare from 'cloudflare';
import type { CloudflareProgress, CloudflareRunReport, CloudflareStep, StepStatus } from '../../contract/cloudflare';
import { toErrorShape } from '../errors';
import type { Logger } from '../log';
import { cancelledError } from './cf-errors';
import type { RetryNotice } from './client';
import type { CloudflareStore } from './cloudflare-store';
import { decide, failureInWords, type Clock, type Failure, type RetryPolicy } from './retry-policy';

/** Where a run's steps and retries go: the log and the progress events. */
export interface RunSinks {
  readonly log: Logger;
  readonly onProgress: (p: CloudflareProgress) => void;
}

/** What every resource's step works with: the run's client, the server profile, and where the app notes what it made. */
export interface CloudflareContext {
  readonly cf: Cloudflare;
  readonly profileId: string;
  readonly store: CloudflareStore;
}

/** What a step did, in the admin's words. */
export interface StepOutcome {
  status: StepStatus;
  detail: string;
}

/**
 * One run (publish, removal, rotation): steps are settled in order, pushed as events and logged without secrets.
 * Its requests retry by the policy (client.ts); a step whose write may or may not have reached Cloudflare is run
 * again as a whole under the same policy (it looks before it writes). Cancelling ends a wait or a request at once;
 * the step under way fails as "stopped", the rest are skipped, and the next run continues from there.
 */
export class Run {
  readonly id = randomUUID();
  readonly steps: CloudflareStep[] = [];
  readonly started: number;
  operation = 'start';
  /** Set by the client when it left a failure to the step (a POST that may have arrived). */
  #unsafe: Failure | null = null;

  constructor(
    readonly profileId: string,
    private readonly deps: RunSinks,
    readonly kind: string,
    readonly policy: RetryPolicy,
    readonly clock: Clock,
    readonly random: () => number,
    readonly signal?: AbortSignal,
  ) {
    this.started = clock.now();
  }

  get cancelled(): boolean {
    return this.signal?.aborted === true;
  }

  onRetry = (n: Pick<RetryNotice, 'failure' | 'attempt' | 'maxAttempts' | 'waitMs'> & { method?: string; path?: string }): void => {
    this.deps.log.warn('cloudflare: retrying', {
      profileId: this.profileId,
      runId: this.id,
      operation: this.operation,
      ...(n.method ? { method: n.method, path: n.path } : { whole: 'step' }),
      attempt: n.attempt,
      maxAttempts: n.maxAttempts,
      waitMs: n.waitMs,
      reason: failureInWords(n.failure),
    });
    this.deps.onProgress({
      kind: 'retrying',
      profileId: this.profileId,
      runId: this.id,
      operation: this.operation,
      cause: n.failure.kind,
      reason: failureInWords(n.failure),
      attempt: n.attempt,
      maxAttempts: n.maxAttempts,
      waitMs: n.waitMs,
      retryAt: new Date(this.clock.now() + n.waitMs).toISOString(),
      retryAfterMs: n.failure.retryAfterMs,
    });
  };

  onUnsafeToRepeat = (f: Failure): void => {
    this.#unsafe = f;
  };

  settle(step: CloudflareStep): CloudflareStep {
    this.steps.push(step);
    this.deps.log.info(`cloudflare ${this.kind}: ${step.id} ${step.status}`, { profileId: this.profileId, runId: this.id, detail: step.detail, ...(step.error ? { code: step.error.code } : {}) });
    this.deps.onProgress({ kind: 'step', profileId: this.profileId, runId: this.id, step });
    return step;
  }

  skip(id: string, title: string, why: string): CloudflareStep {
    return this.settle({ id, title, status: 'skipped', detail: this.cancelled ? 'Not reached: publishing was stopped.' : why });
  }

  async step(id: string, title: string, fn: () => Promise<StepOutcome>): Promise<CloudflareStep> {
    this.operation = title;
    if (this.cancelled) return this.skip(id, title, '');
    const started = this.clock.now();
    for (let attempts = 1; ; attempts++) {
      this.#unsafe = null;
      try {
        const out = await fn();
        return this.settle({ id, title, status: out.status, detail: out.detail });
      } catch (err) {
        const stopped = (): CloudflareStep => {
          const error = toErrorShape(cancelledError(title));
          return this.settle({ id, title, status: 'failed', detail: error.userMessage, error });
        };
        if (this.cancelled) return stopped();
        const unsafe = this.#unsafe;
        const d = unsafe ? decide(unsafe, attempts, this.clock.now() - started, this.policy, this.random) : null;
        if (unsafe && d?.kind === 'retry') {
          this.onRetry({ failure: unsafe, attempt: d.attempt, maxAttempts: d.maxAttempts, waitMs: d.waitMs });
          try {
            await this.clock.sleep(d.waitMs, this.signal);
          } catch {
            return stopped();
          }
          continue;
        }
        const error = toErrorShape(err);
        if (error.code === 'internal') this.deps.log.error(`cloudflare ${this.kind}: ${id} failed`, { profileId: this.profileId, error: err });
        return this.settle({ id, title, status: 'failed', detail: error.userMessage, error });
      }
    }
  }

  /** Nothing failed and nothing waits for the admin; a step skipped by design (deploy before install) is fine. */
  get ok(): boolean {
    return !this.cancelled && this.steps.every((s) => s.status !== 'failed' && s.status !== 'needs-confirmation');
  }

  report(): CloudflareRunReport {
    return { profileId: this.profileId, runId: this.id, ok: this.ok, steps: this.steps, durationMs: Math.max(0, Math.round(this.clock.now() - this.started)) };
  }
}

/** A step that left its resource as wanted (done now or already so). */
export const passed = (s: CloudflareStep | undefined): boolean => s !== undefined && (s.status === 'done' || s.status === 'unchanged');
