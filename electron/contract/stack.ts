import { z } from 'zod';
import { ErrorShape } from './errors';
import { DataPath } from './preflight';
import { ProfileId } from './profiles';
import { isDnsName } from './validation';

/**
 * The stack: what the admin chooses (settings, per module), what the app will change on the server (plan),
 * and what happened when it did (progress events, apply result). Pure zod; no Node. Secrets never appear
 * here: the renderer sees them masked, as `secretMask`.
 */

/** What the renderer sees in place of a secret value, in previews and diffs. */
export const secretMask = '••••••••';

export const hwAccelKinds = ['nvidia', 'intel-qsv', 'vaapi', 'amd-vaapi', 'none'] as const;
export const HwAccel = z.enum(hwAccelKinds);
export type HwAccel = z.infer<typeof HwAccel>;

const portField = (field: string): z.ZodNumber =>
  z
    .number({ error: `${field}: enter a port number from 1 to 65535.` })
    .int(`${field}: use a whole number from 1 to 65535.`)
    .min(1, `${field}: use a number from 1 to 65535.`)
    .max(65535, `${field}: use a number from 1 to 65535.`);

const hostnameField = (field: string): z.ZodType<string> =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => isDnsName(s) && s.includes('.'), `${field}: enter a full host name such as media.example.com (letters, digits, dashes and dots).`);

const emailField = (field: string): z.ZodType<string> =>
  z
    .string()
    .trim()
    .max(254, `${field}: keep the address under 254 characters.`)
    .refine((s) => /^[^\s@"'`$\\<>()]+@[^\s@"'`$\\<>()]+\.[^\s@"'`$\\<>()]+$/u.test(s) && !/\p{Cc}/u.test(s), `${field}: enter an email address such as admin@example.com.`);

/** Numeric host ids (uid, gid): containers that write bind-mounted folders run as the admin's user. */
const hostId = (field: string): z.ZodNumber =>
  z.number().int(`${field}: use a whole number.`).min(0, `${field}: use a number of 0 or more.`).max(4_294_967_294, `${field}: the id is too large.`);

/** Where the server publishes ports for the home network: every interface, or only the server itself. */
export const PublishAddress = z.enum(['0.0.0.0', '127.0.0.1']);

export const JellyfinSettings = z.object({
  enabled: z.literal(true).default(true),
  hwAccel: HwAccel.default('none'),
  /** For intel-qsv, vaapi, amd-vaapi: the render node passed to the container. */
  renderDevice: z
    .string()
    .regex(/^\/dev\/dri\/renderD[0-9]{1,4}$/, 'GPU render device: choose a render node such as /dev/dri/renderD128.')
    .default('/dev/dri/renderD128'),
  /** Host gid that owns the render node (`getent group render`); required for the VA-API/QSV variants. */
  renderGid: hostId('GPU render group id').nullable().default(null),
  /** Port on the server for Jellyfin on the home network (TV apps, phones at home). */
  lanPort: portField('Jellyfin port').default(8096),
  /** Read-only media folders on the server, mounted at /media/1, /media/2, … */
  mediaPaths: z.array(DataPath).max(8, 'Media folders: choose at most 8 folders.').default([]),
});
export type JellyfinSettings = z.infer<typeof JellyfinSettings>;

export const NextcloudSettings = z.object({
  enabled: z.boolean().default(true),
  adminUser: z
    .string()
    .trim()
    .regex(/^[a-zA-Z0-9_.@-]{1,64}$/, 'Nextcloud admin user: use letters, digits and _ . @ - (at most 64).')
    .default('admin'),
  /**
   * Port on the server for Nextcloud over plain HTTP, published only while the WireGuard fallback is installed: the
   * household reaches Nextcloud at the tunnel address when Cloudflare is down (links there stay on that address).
   */
  lanPort: portField('Nextcloud port').default(8080),
});
export type NextcloudSettings = z.infer<typeof NextcloudSettings>;

export const AuthentikSettings = z.object({
  enabled: z.boolean().default(true),
});
export type AuthentikSettings = z.infer<typeof AuthentikSettings>;

export const CloudflaredSettings = z.object({
  enabled: z.boolean().default(true),
  /** Two connectors for HA: each keeps four edge connections. */
  replicas: z.union([z.literal(1), z.literal(2)], { error: 'Tunnel connectors: choose 1 or 2.' }).default(1),
});
export type CloudflaredSettings = z.infer<typeof CloudflaredSettings>;

export const BackupSettings = z.object({
  enabled: z.boolean().default(true),
  /** The restic repository: a folder on the server (another disk is best). */
  repository: DataPath.default('/srv/m2-backup/restic'),
  /** Daily run time, server local time, HH:MM. */
  time: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'Backup time: use 24-hour HH:MM, for example 03:30.')
    .default('03:30'),
  keepDaily: z.number().int().min(1, 'Keep daily: keep at least 1.').max(365, 'Keep daily: at most 365.').default(7),
  keepWeekly: z.number().int().min(0, 'Keep weekly: use 0 or more.').max(260, 'Keep weekly: at most 260.').default(4),
  keepMonthly: z.number().int().min(0, 'Keep monthly: use 0 or more.').max(120, 'Keep monthly: at most 120.').default(6),
  /** Live status warns when the last good backup is older than this: a daily run plus slack by default. */
  warnAfterHours: z
    .number()
    .int('Warn after: use a whole number of hours.')
    .min(2, 'Warn after: use at least 2 hours.')
    .max(720, 'Warn after: use at most 720 hours (30 days).')
    .default(26),
});
export type BackupSettings = z.infer<typeof BackupSettings>;

export const WireguardSettings = z.object({
  /** The WireGuard toolbox container runs (the fallback switch itself is off until the admin turns it on). */
  enabled: z.boolean().default(false),
  /** UDP port the fallback endpoint listens on while it is on (host network, no port publishing). */
  port: portField('WireGuard port').default(51820),
});
export type WireguardSettings = z.infer<typeof WireguardSettings>;

export const MediaAutomationSettings = z.object({
  enabled: z.boolean().default(false),
  /** Where downloaders write; mounted read-only into Jellyfin at /media/ingest. */
  ingestPath: DataPath.default('/srv/m2-ingest'),
});
export type MediaAutomationSettings = z.infer<typeof MediaAutomationSettings>;

export const moduleIds = ['jellyfin', 'nextcloud', 'authentik', 'cloudflared', 'backup', 'wireguard', 'mediaAutomation'] as const;
export const ModuleId = z.enum(moduleIds);
export type ModuleId = z.infer<typeof ModuleId>;

/**
 * Everything the admin chooses for the stack of one server. Rendering is a pure function of this and
 * the generated secrets: the same settings give byte-identical files.
 */
export const StackSettings = z.object({
  /** Where service data (configs, databases) lives on the server; never inside a release. */
  dataRoot: DataPath.default('/srv/m2'),
  publishAddress: PublishAddress.default('0.0.0.0'),
  /** The admin's numeric ids on the server: bind-mounted folders are theirs, and Jellyfin runs as them. */
  uid: hostId('User id').default(1000),
  gid: hostId('Group id').default(1000),
  timezone: z
    .string()
    .regex(/^[A-Za-z]+(?:[/_+-][A-Za-z0-9_+-]+)*$/, 'Time zone: use a name such as Europe/Berlin or UTC.')
    .max(64, 'Time zone: use a name such as Europe/Berlin or UTC (at most 64 characters).')
    .default('UTC'),
  adminEmail: emailField('Admin email').default('admin@example.com'),
  hostnames: z
    .object({
      jellyfin: hostnameField('Jellyfin host name').default('media.example.com'),
      nextcloud: hostnameField('Nextcloud host name').default('cloud.example.com'),
      authentik: hostnameField('Authentik host name').default('auth.example.com'),
    })
    .prefault({}),
  modules: z
    .object({
      jellyfin: JellyfinSettings.prefault({}),
      nextcloud: NextcloudSettings.prefault({}),
      authentik: AuthentikSettings.prefault({}),
      cloudflared: CloudflaredSettings.prefault({}),
      backup: BackupSettings.prefault({}),
      wireguard: WireguardSettings.prefault({}),
      mediaAutomation: MediaAutomationSettings.prefault({}),
    })
    .prefault({}),
  /** Image tags the admin holds back from the pinned table (key → tag); empty means "the pinned versions". */
  imageOverrides: z.record(z.string().regex(/^[a-z0-9-]{1,32}$/), z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'Image tag: letters, digits, dots, dashes and underscores only.')).default({}),
});
export type StackSettings = z.infer<typeof StackSettings>;
export type StackSettingsInput = z.input<typeof StackSettings>;

export const StackSettingsRequest = z.object({ profileId: ProfileId });
export const StackSettingsSave = z.object({ profileId: ProfileId, settings: StackSettings });

/** What detection on the server suggests for settings the admin has not chosen yet. */
export const StackSuggestions = z.object({
  hwAccel: HwAccel,
  renderDevice: z.string().nullable(),
  renderGid: z.number().int().nullable(),
  reason: z.string(),
});

export const StackSettingsView = z.object({
  settings: StackSettings,
  /** False until the admin saves: the settings shown are defaults. */
  saved: z.boolean(),
  suggestions: StackSuggestions.nullable(),
  /** The pinned image table as rendered for these settings: service key → image reference. */
  images: z.array(z.object({ key: z.string(), ref: z.string(), releaseNotes: z.string(), module: ModuleId })),
});
export type StackSettingsView = z.infer<typeof StackSettingsView>;

/** One file of a release as the renderer may see it: secret values replaced by `secretMask`. */
export const FileChange = z.object({
  /** Path relative to the release folder (or `files/…` for module files kept outside releases). */
  path: z.string(),
  status: z.enum(['added', 'changed', 'removed', 'unchanged']),
  secret: z.boolean(),
  mode: z.string(),
  /** The new content, masked. Empty for a removed file. */
  preview: z.string(),
  /** Unified diff against the live release, masked; empty when unchanged or added. */
  diff: z.string(),
});
export type FileChange = z.infer<typeof FileChange>;

export const ServiceAction = z.enum(['create', 'recreate', 'remove', 'unchanged']);
export type ServiceAction = z.infer<typeof ServiceAction>;

export const ServiceChange = z.object({
  service: z.string(),
  module: ModuleId.nullable(),
  action: ServiceAction,
  /** In words: "configuration changed", "new image jellyfin/jellyfin:10.11.11", "not running", … */
  reason: z.string(),
  image: z.string().nullable(),
});
export type ServiceChange = z.infer<typeof ServiceChange>;

export const StackPlan = z.object({
  profileId: ProfileId,
  /** The live release on the server, null before the first install. */
  currentRelease: z.string().nullable(),
  files: z.array(FileChange),
  services: z.array(ServiceChange),
  images: z.array(z.object({ ref: z.string(), present: z.boolean() })),
  warnings: z.array(z.string()),
  /** True when applying would change nothing on the server. */
  noop: z.boolean(),
});
export type StackPlan = z.infer<typeof StackPlan>;

export const PullPolicy = z.enum(['missing', 'always']);
export const StackApplyRequest = z.object({
  profileId: ProfileId,
  /** 'missing' pulls images the server lacks; 'always' also refreshes present ones (falls back to them with a warning). */
  pullPolicy: PullPolicy.default('missing'),
});

export const ServiceHealth = z.object({
  service: z.string(),
  state: z.string(),
  /** Docker health: healthy, unhealthy, starting, or '' when the service has no health check. */
  health: z.string(),
  containerId: z.string().nullable(),
  image: z.string().nullable(),
});
export type ServiceHealth = z.infer<typeof ServiceHealth>;

export const applyPhases = ['prepare', 'upload', 'validate', 'pull', 'start', 'health', 'switch', 'configure', 'rollback', 'done'] as const;
export const ApplyPhase = z.enum(applyPhases);
export type ApplyPhase = z.infer<typeof ApplyPhase>;

/** Pushed while an apply runs, so the Install step can show a bar per image and health per service. */
export const StackProgress = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('phase'), profileId: ProfileId, applyId: z.string(), phase: ApplyPhase, message: z.string() }),
  z.object({
    kind: z.literal('pull'),
    profileId: ProfileId,
    applyId: z.string(),
    image: z.string(),
    status: z.enum(['waiting', 'pulling', 'done', 'present', 'failed']),
    /** 0–100; null while the size is unknown. */
    percent: z.number().min(0).max(100).nullable(),
    detail: z.string(),
  }),
  z.object({ kind: z.literal('service'), profileId: ProfileId, applyId: z.string(), health: ServiceHealth }),
  z.object({ kind: z.literal('warning'), profileId: ProfileId, applyId: z.string(), message: z.string() }),
]);
export type StackProgress = z.infer<typeof StackProgress>;

/**
 * How a rollback was decided. `certain-failure`: while Compose was still waiting, a container of the new release
 * had already failed for good (it exited with an error, Docker was restarting it, or Docker called it
 * unhealthy), so the app did not wait out the start periods. `after-up`: Compose's `up --wait` returned and the
 * health of every service was read. `cancelled`: the admin cancelled. `server`: the server's guard rolled back
 * on its own (switching `current` failed, or it was stopped while starting).
 */
export const RollbackDecision = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('certain-failure'),
    service: z.string(),
    evidence: z.enum(['exited', 'restarting', 'unhealthy']),
    /** The container's last exit code (null when it never exited; Docker resets it to 0 on a restart). */
    exitCode: z.number().int().nullable(),
    restarts: z.number().int().nonnegative(),
  }),
  z.object({ kind: z.literal('after-up'), composeExitCode: z.number().int() }),
  z.object({ kind: z.literal('cancelled') }),
  z.object({ kind: z.literal('server') }),
]);
export type RollbackDecision = z.infer<typeof RollbackDecision>;

export const RollbackReport = z.object({
  /** The service that did not become healthy (or the step that failed, when no service did). */
  failedService: z.string().nullable(),
  reason: z.string(),
  decidedBy: RollbackDecision,
  /** Its last log lines, as a terminal would have shown them (no escape codes), with every known secret value masked. */
  logTail: z.array(z.string()),
  /** The release running again, null when there was none (first install: the new containers were removed). */
  restoredRelease: z.string().nullable(),
  restored: z.boolean(),
});
export type RollbackReport = z.infer<typeof RollbackReport>;

/**
 * What a one-second test encode inside the Jellyfin container found, and so what Jellyfin was configured to use:
 * `hardware-encoding` (the encoder works: hardware decoding and encoding on), `decoding-only` (the GPU is there but
 * its encoder is not: hardware decoding kept, encoding in software), `software` (no usable device, or acceleration
 * is off in the settings). `reason` says why, in words; `detail` is ffmpeg's own first error line, when there was one.
 */
export const transcodingVerdicts = ['hardware-encoding', 'decoding-only', 'software'] as const;
export const TranscodingVerdict = z.enum(transcodingVerdicts);
export type TranscodingVerdict = z.infer<typeof TranscodingVerdict>;
export const TranscodingCheck = z.object({
  /** The method the settings chose. */
  method: HwAccel,
  verdict: TranscodingVerdict,
  /** Jellyfin's HardwareAccelerationType as configured. */
  jellyfinType: z.enum(['none', 'nvenc', 'qsv', 'vaapi']),
  /** Jellyfin's EnableHardwareEncoding as configured. */
  hardwareEncoding: z.boolean(),
  reason: z.string(),
  detail: z.string().nullable(),
});
export type TranscodingCheck = z.infer<typeof TranscodingCheck>;
/** The verdict as the admin reads it. */
export const transcodingLabel: Record<TranscodingVerdict, string> = {
  'hardware-encoding': 'hardware encoding works',
  'decoding-only': 'decoding only',
  software: 'software',
};

export const ApplyResult = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('applied'),
    releaseId: z.string(),
    services: z.array(ServiceChange),
    health: z.array(ServiceHealth),
    warnings: z.array(z.string()),
    durationMs: z.number().int().nonnegative(),
    /** Jellyfin's transcoding as the test encode after install decided it; absent without Jellyfin or when configuring it failed. */
    transcoding: TranscodingCheck.optional(),
  }),
  z.object({
    kind: z.literal('rolled-back'),
    attemptedRelease: z.string(),
    report: RollbackReport,
    warnings: z.array(z.string()),
    durationMs: z.number().int().nonnegative(),
  }),
]);
export type ApplyResult = z.infer<typeof ApplyResult>;

export const StackStatus = z.object({
  currentRelease: z.string().nullable(),
  previousRelease: z.string().nullable(),
  services: z.array(ServiceHealth),
  /** What the last install's test encode decided for Jellyfin (kept with the install's outcome); absent before one. */
  transcoding: TranscodingCheck.optional(),
});
export type StackStatus = z.infer<typeof StackStatus>;

export const SecretSummary = z.object({
  name: z.string(),
  /** Always `secretMask` when set: values never reach the renderer. */
  masked: z.string(),
  set: z.boolean(),
});

/**
 * How the last install of a server ended, kept in the app's data folder: the page shows it after a cut connection,
 * a reload, a closed window or a restart of the app. `running` while it runs; one found running by an app that is not
 * running it (it stopped meanwhile) reads as `interrupted`.
 */
export const ApplyOutcome = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('running'), applyId: z.string(), startedAt: z.string(), phase: ApplyPhase }),
  z.object({ kind: z.literal('finished'), applyId: z.string(), startedAt: z.string(), finishedAt: z.string(), result: ApplyResult }),
  z.object({
    kind: z.literal('failed'),
    applyId: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    error: ErrorShape,
  }),
  z.object({
    kind: z.literal('interrupted'),
    applyId: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    /** What ended it: the SSH connection, or the app itself (quit, crashed, restarted). */
    cause: z.enum(['connection', 'app']),
    /** Whether the new release had started on the server (then its guard brings the previous one back). */
    releaseStarted: z.boolean(),
    message: z.string(),
  }),
]);
export type ApplyOutcome = z.infer<typeof ApplyOutcome>;

export const ApplyOutcomeEvent = z.object({ profileId: ProfileId, outcome: ApplyOutcome });
export type ApplyOutcomeEvent = z.infer<typeof ApplyOutcomeEvent>;
