/**
 * Live status of a server (DESIGN.md §3, issue 7): what the dashboard, the tray and notifications show. Main
 * pushes a whole StatusSnapshot on every change (`status:update`), so the renderer renders straight from it;
 * the last hour of charts is fetched with `status:history`.
 */
import { z } from 'zod';
import { OutageState } from './fallback';
import { ProfileId } from './profiles';

/** Worst first: error > warning > unknown > ok. */
export const Severity = z.enum(['ok', 'unknown', 'warning', 'error']);
export type Severity = z.infer<typeof Severity>;
export const severityRank: Readonly<Record<Severity, number>> = { error: 3, warning: 2, unknown: 1, ok: 0 };

const nnum = z.number().nullable();

/** The status agent on the server: running, or why not. */
export const AgentState = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('starting'), since: z.string() }),
  z.object({ kind: z.literal('running'), since: z.string(), http: z.string() }),
  z.object({ kind: z.literal('restarting'), since: z.string(), reason: z.string(), retryInMs: z.number() }),
  z.object({ kind: z.literal('stopped'), since: z.string() }),
]);
export type AgentState = z.infer<typeof AgentState>;

export const TunnelState = z.enum(['healthy', 'degraded', 'down', 'unknown']);
export type TunnelState = z.infer<typeof TunnelState>;

export const TunnelReplica = z.object({
  service: z.string(),
  running: z.boolean(),
  ready: z.boolean().nullable(),
  connections: nnum,
  edgeLocations: z.array(z.string()),
  rttMs: nnum,
  version: z.string().nullable(),
  totalRequests: nnum,
  requestErrors: nnum,
});
export type TunnelReplica = z.infer<typeof TunnelReplica>;

/** What the Cloudflare API says about the tunnel, when a token is in the keychain (stack-facts §4.4). */
export const TunnelApiStatus = z.object({
  status: z.enum(['healthy', 'degraded', 'down', 'inactive']),
  connectors: z.number().int().min(0),
  connections: z.number().int().min(0),
  colos: z.array(z.string()),
  checkedAt: z.string(),
});
export type TunnelApiStatus = z.infer<typeof TunnelApiStatus>;

export const TunnelStatus = z.object({
  state: TunnelState,
  /** One sentence a person reads, e.g. "2 of 4 edge connections are up." */
  reason: z.string(),
  /** The facts behind the state, each in words. */
  evidence: z.array(z.string()),
  connections: nnum,
  expectedConnections: z.number(),
  edgeLocations: z.array(z.string()),
  requestsPerSecond: nnum,
  errorsPerSecond: nnum,
  replicas: z.array(TunnelReplica),
  api: TunnelApiStatus.nullable(),
});
export type TunnelStatus = z.infer<typeof TunnelStatus>;

export const StreamKind = z.enum(['hardware', 'software', 'direct']);
export type StreamKind = z.infer<typeof StreamKind>;

export const TranscodeStream = z.object({
  id: z.string(),
  user: z.string(),
  client: z.string(),
  device: z.string(),
  title: z.string(),
  /** Transcode | DirectStream | DirectPlay, as Jellyfin reports it. */
  playMethod: z.string(),
  kind: StreamKind,
  /** Why, in words: "NVENC hardware transcode", "software transcode (no GPU acceleration)", "remux (video copied)". */
  detail: z.string(),
  hwAccel: z.string().nullable(),
  videoCodec: z.string().nullable(),
  audioCodec: z.string().nullable(),
  fps: nnum,
  bitrate: nnum,
  reasons: z.array(z.string()),
  /** Playback position in percent of the item's runtime. */
  progress: nnum,
  paused: z.boolean(),
});
export type TranscodeStream = z.infer<typeof TranscodeStream>;

export const TranscodesStatus = z.object({
  /** False when Jellyfin could not be asked (no API key, not running, refused). */
  available: z.boolean(),
  reason: z.string(),
  streams: z.array(TranscodeStream),
  counts: z.object({ hardware: z.number(), software: z.number(), direct: z.number() }),
});
export type TranscodesStatus = z.infer<typeof TranscodesStatus>;

export const GpuInfo = z.object({
  index: z.number(),
  name: z.string(),
  vendor: z.enum(['nvidia', 'amd', 'intel']),
  utilization: nnum,
  encoder: nnum,
  decoder: nnum,
  encoderSessions: nnum,
  encoderFps: nnum,
  memoryUsedMb: nnum,
  memoryTotalMb: nnum,
});
export type GpuInfo = z.infer<typeof GpuInfo>;

export const BackupRun = z.object({
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  result: z.enum(['success', 'partial', 'failed', 'unknown']),
  exitCode: nnum,
  snapshotId: z.string().nullable(),
  durationSeconds: nnum,
  bytesAdded: nnum,
  totalBytes: nnum,
  message: z.string(),
});
export type BackupRun = z.infer<typeof BackupRun>;

/** The restore drill as live status knows it (the server's drill.json, scheduled or run from the app). */
export const DrillStatus = z.object({
  /** unknown: not read yet; none: no drill has run; unreadable: the result file is not the drill's. */
  state: z.enum(['unknown', 'none', 'unreadable', 'passed', 'failed']),
  lastAt: z.string().nullable(),
  lastPassedAt: z.string().nullable(),
  /** Whole days since the last drill that passed (0: today). */
  passedDaysAgo: z.number().int().nullable(),
  /** Why the last drill failed, in words. */
  reason: z.string().nullable(),
  trigger: z.enum(['app', 'schedule']).nullable(),
  /** The card warns when no drill passed for this many days. */
  warnAfterDays: z.number(),
});
export type DrillStatus = z.infer<typeof DrillStatus>;

export const BackupStatus = z.object({
  severity: Severity,
  reason: z.string(),
  running: z.boolean(),
  lastRun: BackupRun.nullable(),
  /** The last successful (or partial) snapshot: time, age and size. */
  lastGood: z
    .object({ at: z.string(), ageHours: z.number(), snapshotId: z.string().nullable(), totalBytes: nnum, durationSeconds: nnum })
    .nullable(),
  nextRun: z.string().nullable(),
  maxAgeHours: z.number(),
  /** The restore drill (absent where the agent reads no drill file). */
  drill: DrillStatus.optional(),
});
export type BackupStatus = z.infer<typeof BackupStatus>;

export const ServiceStatus = z.object({
  service: z.string(),
  container: z.string(),
  state: z.string(),
  health: z.string().nullable(),
  restarts: z.number(),
  image: z.string(),
  version: z.string(),
  since: z.string().nullable(),
  severity: Severity,
  reason: z.string(),
});
export type ServiceStatus = z.infer<typeof ServiceStatus>;

export const DiskStatus = z.object({
  path: z.string(),
  label: z.string(),
  present: z.boolean(),
  sizeBytes: nnum,
  availableBytes: nnum,
  usedPercent: nnum,
});
export type DiskStatus = z.infer<typeof DiskStatus>;

export const HostStatus = z.object({
  cpuPercent: nnum,
  cpus: z.number(),
  memoryTotalBytes: nnum,
  memoryAvailableBytes: nnum,
  memoryUsedPercent: nnum,
  load: z.array(z.number()),
  uptimeSeconds: nnum,
  disks: z.array(DiskStatus),
  gpus: z.array(GpuInfo),
});
export type HostStatus = z.infer<typeof HostStatus>;

export const CardId = z.enum(['tunnel', 'transcodes', 'backups', 'services', 'host']);
export type CardId = z.infer<typeof CardId>;

export const StatusCard = z.object({ id: CardId, title: z.string(), severity: Severity, reason: z.string() });
export type StatusCard = z.infer<typeof StatusCard>;

export const StatusSnapshot = z.object({
  profileId: ProfileId,
  /** When this snapshot was made (ISO 8601, the laptop's clock). */
  at: z.string(),
  /** Increases with every snapshot of this profile; a renderer keeps the highest it has seen. */
  seq: z.number().int(),
  /** True once the agent has sent every section at least once. */
  complete: z.boolean(),
  agent: AgentState,
  /** The worst card: what the tray icon shows. */
  overall: Severity,
  /** Worst first, each with its reason in words. */
  cards: z.array(StatusCard),
  tunnel: TunnelStatus,
  transcodes: TranscodesStatus,
  backup: BackupStatus,
  services: z.array(ServiceStatus),
  host: HostStatus,
  /** The whole path from the internet to the server (outage detection); null while it is not watched. */
  outage: OutageState.nullable().default(null),
});
export type StatusSnapshot = z.infer<typeof StatusSnapshot>;

export const StatusUpdate = z.object({ profileId: ProfileId, snapshot: StatusSnapshot });
export type StatusUpdate = z.infer<typeof StatusUpdate>;

/** A transition worth telling the admin about, already debounced (a flapping check does not repeat it). */
export const StatusNotification = z.object({
  profileId: ProfileId,
  id: z.string(),
  card: CardId,
  severity: Severity,
  previous: Severity,
  title: z.string(),
  body: z.string(),
  at: z.string(),
});
export type StatusNotification = z.infer<typeof StatusNotification>;

export const HistoryPoint = z.object({ t: z.number(), v: z.number().nullable() });
export type HistoryPoint = z.infer<typeof HistoryPoint>;

export const historySeries = ['tunnelRequestsPerSecond', 'tunnelErrorsPerSecond', 'transcodeFps', 'gpuEncoder', 'gpuDecoder', 'gpuUtilization'] as const;
export const HistorySeriesName = z.enum(historySeries);
export type HistorySeriesName = z.infer<typeof HistorySeriesName>;

/**
 * The chart values a snapshot stands for: what main records at each history step, and what a renderer appends
 * from each pushed snapshot, so the two line up. Transcode fps is the sum over streams that are transcoded;
 * the GPU figures are the first GPU's.
 */
export function historyValuesOf(s: StatusSnapshot): Record<HistorySeriesName, number | null> {
  const gpu = s.host.gpus[0];
  return {
    tunnelRequestsPerSecond: s.tunnel.requestsPerSecond,
    tunnelErrorsPerSecond: s.tunnel.errorsPerSecond,
    transcodeFps: s.transcodes.available ? s.transcodes.streams.filter((x) => x.kind !== 'direct').reduce((a, x) => a + (x.fps ?? 0), 0) : null,
    gpuEncoder: gpu?.encoder ?? null,
    gpuDecoder: gpu?.decoder ?? null,
    gpuUtilization: gpu?.utilization ?? null,
  };
}

/** The last hour in fixed steps (bounded ring buffers in main); `t` is ms since the epoch. */
export const StatusHistory = z.object({
  profileId: ProfileId,
  stepSeconds: z.number(),
  series: z.record(HistorySeriesName, z.array(HistoryPoint)),
});
export type StatusHistory = z.infer<typeof StatusHistory>;

export const StatusRequest = z.object({ profileId: ProfileId });
