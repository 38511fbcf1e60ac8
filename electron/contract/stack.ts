import { z } from 'zod';
import { ErrorShape } from './errors';
import { dataPathField } from './preflight';
import { ProfileId } from './profiles';
import { emailField, hostId } from './stack-modules/declare';
import { HwAccel } from './stack-modules/jellyfin';
import { HostnamesSettings, ModuleId, ModulesSettings } from './stack-modules';

// Each module's settings, title and form fields are declared in its own file under stack-modules/; the stack's
// settings schema below is derived from those declarations.
export { AuthentikSettings } from './stack-modules/authentik';
export { BackupSettings } from './stack-modules/backup';
export { CloudflaredSettings } from './stack-modules/cloudflared';
export { HwAccel, hwAccelKinds, JellyfinSettings } from './stack-modules/jellyfin';
export { MediaAutomationSettings } from './stack-modules/media-automation';
export { NextcloudSettings } from './stack-modules/nextcloud';
export { WireguardSettings } from './stack-modules/wireguard';
export { HostnamesSettings, ModuleId, moduleIds, ModulesSettings, moduleTitle } from './stack-modules';

/**
 * The stack: what the admin chooses (settings, per module), what the app will change on the server (plan),
 * and what happened when it did (progress events, apply result). Pure zod; no Node. Secrets never appear
 * here: the renderer sees them masked, as `secretMask`.
 */

/** What the renderer sees in place of a secret value, in previews and diffs. */
export const secretMask = '••••••••';

/** A registry as `host[:port]` (a loopback one is spoken to over plain HTTP, as Docker does; any other over HTTPS). */
export const ImageRegistry = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, 'Image registry: use at most 253 characters, such as registry.example.com or 127.0.0.1:5000.')
  .regex(
    /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?$/,
    'Image registry: enter a host name and optional port, such as registry.example.com or 127.0.0.1:5000 (no https://, no path).',
  );

/** Where the server publishes ports for the home network: every interface, or only the server itself. */
export const PublishAddress = z.enum(['0.0.0.0', '127.0.0.1']);

/**
 * Everything the admin chooses for the stack of one server. Rendering is a pure function of this and
 * the generated secrets: the same settings give byte-identical files.
 */
export const StackSettings = z.object({
  /** Where service data (configs, databases) lives on the server; never inside a release. */
  dataRoot: dataPathField('Service data folder').default('/srv/m2'),
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
  hostnames: HostnamesSettings.prefault({}),
  modules: ModulesSettings.prefault({}),
  /** Image tags the admin holds back from the pinned table (key → tag); empty means "the pinned versions". */
  imageOverrides: z.record(z.string().regex(/^[a-z0-9-]{1,32}$/), z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'Image tag: letters, digits, dots, dashes and underscores only.')).default({}),
  /**
   * A registry that serves every image in place of its upstream (a household's mirror, the lab's registry):
   * `host[:port]`, and each image is pulled and checked for updates as `<imageRegistry>/<path>` (the upstream path
   * without its registry host: `jellyfin/jellyfin`, `linuxserver/sonarr`). Null: each image's own registry.
   */
  imageRegistry: ImageRegistry.nullable().default(null),
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
    /** True when one check proved the live release already is this one, every service healthy: nothing was uploaded, started or restarted. */
    nothingToChange: z.boolean().optional(),
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
