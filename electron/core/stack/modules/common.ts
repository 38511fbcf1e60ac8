/**
 * Small builders every module shares: where data lives under the data root, bind mounts in the long syntax
 * (a path with `:` or `,` stays one path), health checks tuned for a quick `up --wait`, and the fields every
 * service has (restart policy, module label).
 */
import path from 'node:path';
import type { ModuleId, StackSettings } from '../../../contract/stack';
import { AppError } from '../../errors';
import type { Secret } from '../../secrets/secret';
import type { ComposeService, ModuleContext } from '../types';

/** A folder under the data root on the server. */
export const dataDir = (settings: StackSettings, ...parts: string[]): string => path.posix.join(settings.dataRoot, ...parts);

export interface BindMount {
  readonly type: 'bind';
  readonly source: string;
  readonly target: string;
  readonly read_only?: true;
}

/** A bind mount in Compose's long syntax; the source must exist (the apply step creates every host dir first). */
export const bind = (source: string, target: string, mode: 'ro' | 'rw' = 'rw'): BindMount => ({
  type: 'bind',
  source,
  target,
  ...(mode === 'ro' ? { read_only: true as const } : {}),
});

/**
 * Short intervals so `up --wait` returns soon after a service is ready; `startPeriod` covers a first start
 * (failures inside it do not count). No `start_interval`: the lab's Engine 20.10 (API 1.41) lacks it.
 */
export const healthcheck = (test: readonly string[], startPeriod: string): Record<string, unknown> => ({
  test: [...test],
  interval: '5s',
  timeout: '5s',
  retries: 5,
  start_period: startPeriod,
});

/** Fields every service of the stack has. */
export const baseService = (module: ModuleId, image: string): ComposeService => ({
  image,
  restart: 'unless-stopped',
  labels: { 'io.m2.module': module },
});

/** A secret the module asked for; rendering checks them all first, so a miss here is a bug in a module's `secrets`. */
export const secretOf = (ctx: ModuleContext, name: string): Secret => {
  const s = ctx.secrets.get(name);
  if (!s) throw new AppError('stack.secret-missing', `The secret ${name} is missing.`, { hint: 'Create the stack\'s secrets again from the Services page.' });
  return s;
};

/** `uid:gid` of the admin on the server, for containers that write bind-mounted folders. */
export const adminUser = (settings: StackSettings): string => `${settings.uid}:${settings.gid}`;
