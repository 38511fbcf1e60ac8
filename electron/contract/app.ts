import { z } from 'zod';

export const Platform = z.enum(['linux', 'darwin', 'win32', 'other']);

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  platform: Platform,
  arch: z.string(),
  /** Which shell carries the contract: the Electron app or the loopback web host (dev and tests). */
  host: z.enum(['electron', 'web']),
});
export type AppInfo = z.infer<typeof AppInfo>;
