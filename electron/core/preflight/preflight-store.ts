/**
 * Each server's last preflight, kept in the app's data folder (`<dataDir>/preflight/<profile>.json`) with when it ran,
 * at which address, and which host keys were confirmed for that address then: a restarted app still knows what was
 * found, and can tell when the result may no longer be true. No secrets live here.
 */
import { z } from 'zod';
import { DataPath, PreflightReport } from '../../contract/preflight';
import { ProfileJsonStore } from '../fs/json-store';

export const KeptPreflight = z.object({
  at: z.string(),
  host: z.string(),
  port: z.number().int(),
  /** The SHA256 fingerprints on record for host:port when it ran (sorted). */
  hostKeys: z.array(z.string()),
  /** The data folders it checked, so "Run again" checks the same ones. */
  dataPaths: z.array(DataPath).min(1),
  report: PreflightReport,
});
export type KeptPreflight = z.infer<typeof KeptPreflight>;

export const PreflightFile = z.object({ version: z.literal(1), last: KeptPreflight.nullable().default(null) });

export type PreflightStore = ProfileJsonStore<typeof PreflightFile>;

export const createPreflightStore = (dir: string): PreflightStore =>
  new ProfileJsonStore({ dir, schema: PreflightFile, empty: () => PreflightFile.parse({ version: 1 }), what: 'preflight results' });
