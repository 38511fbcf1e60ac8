/**
 * Shared by the Cloudflare lab tests: a CloudflareService against the lab's API stand-in and the lab keychain,
 * reached through the real contract dispatcher (so every output is validated as the renderer would get it), with
 * its log lines, progress events and call outputs captured for the "no secret anywhere" checks.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CloudflareProgress } from '../../electron/contract/cloudflare';
import { StackSettings } from '../../electron/contract/stack';
import type { ApplyResult } from '../../electron/contract/stack';
import { CloudflareService } from '../../electron/core/cloudflare/cloudflare-service';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import type { RetryPolicy } from '../../electron/core/cloudflare/retry-policy';
import { createDispatcher } from '../../electron/core/ipc/dispatch';
import { createLogger } from '../../electron/core/log';
import type { SecretStore } from '../../electron/core/secrets/keychain';
import { createHandlers, type CoreServices } from '../../electron/core/services';
import type { CloudflareStandIn } from '../../scripts/lab/cloudflare';

export const applied = (releaseId = '20260101T000000Z-cafebabe'): ApplyResult => ({
  kind: 'applied',
  releaseId,
  services: [{ service: 'cloudflared', module: 'cloudflared', action: 'recreate', reason: 'configuration changed', image: 'cloudflare/cloudflared' }],
  health: [],
  warnings: [],
  durationMs: 1,
});

export interface Harness {
  dataDir: string;
  service: CloudflareService;
  /** A contract call through the validating dispatcher; rejects with the error shape. */
  call: <T = unknown>(channel: string, payload?: unknown) => Promise<T>;
  lines: string[];
  events: CloudflareProgress[];
  outputs: unknown[];
  errors: unknown[];
  redeploys: string[];
}

export function makeHarness(opts: {
  standIn: CloudflareStandIn;
  secrets: SecretStore;
  stack?: StackSettings;
  redeploy?: (profileId: string) => Promise<ApplyResult>;
  isInstalled?: (profileId: string) => Promise<boolean>;
  /**
   * The run's retry policy. Default: quick (3 attempts, 50 ms backoff, no jitter) so a fault injected for one
   * request settles fast; a test of the policy itself passes `{}` for the app's own (10 attempts, 2 minutes).
   */
  retry?: Partial<RetryPolicy>;
}): Harness {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-cloudflare-'));
  const lines: string[] = [];
  const events: CloudflareProgress[] = [];
  const outputs: unknown[] = [];
  const errors: unknown[] = [];
  const redeploys: string[] = [];
  const service = new CloudflareService({
    store: new CloudflareStore(path.join(dataDir, 'cloudflare')),
    secrets: opts.secrets,
    stackSettings: async () => opts.stack ?? StackSettings.parse({}),
    redeploy: async (profileId) => {
      redeploys.push(profileId);
      return opts.redeploy ? opts.redeploy(profileId) : applied();
    },
    ...(opts.isInstalled ? { isInstalled: opts.isInstalled } : {}),
    log: createLogger((l) => lines.push(l)),
    onProgress: (p) => events.push(p),
    client: { baseURL: opts.standIn.url, timeoutMs: 5_000 },
    retry: opts.retry ?? { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, budgetMs: 30_000 },
    random: () => 1,
  });
  // Only the Cloudflare service is real; events other handlers emit go nowhere.
  const handlers = createHandlers({ cloudflare: service, emit: () => undefined } as unknown as CoreServices);
  const dispatch = createDispatcher(handlers, { isTrustedSender: () => true, log: createLogger((l) => lines.push(l)) });
  const call = async <T,>(channel: string, payload?: unknown): Promise<T> => {
    const r = await dispatch({ url: 'test' }, channel, payload);
    if (!r.ok) {
      errors.push(r.error);
      throw Object.assign(new Error(r.error.userMessage), r.error);
    }
    outputs.push(r.value);
    return r.value as T;
  };
  return { dataDir, service, call, lines, events, outputs, errors, redeploys };
}
