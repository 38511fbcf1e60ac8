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

/** Where the app's log file is (Settings → Diagnostics). */
export const LogLocation = z.object({ path: z.string(), folder: z.string() });
export type LogLocation = z.infer<typeof LogLocation>;

/** Show the log: the desktop app opens its folder with the file selected; the web host only answers where it is. */
export const ShownLog = z.object({ path: z.string(), shown: z.boolean() });
export type ShownLog = z.infer<typeof ShownLog>;

/** "Export diagnostics": one .tar.gz written where the admin chose (saved false = the dialog was cancelled). */
export const DiagnosticsExport = z.object({ saved: z.boolean(), path: z.string().optional(), files: z.array(z.string()).optional() });
export type DiagnosticsExport = z.infer<typeof DiagnosticsExport>;
