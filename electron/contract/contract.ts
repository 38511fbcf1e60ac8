import { z } from 'zod';
import { Account, AccountRequest, AccountsRequest, CopiedPassword, RevealedPassword, RotationPlan, RotationRequest, RotationResult } from './accounts';
import { AppInfo, DiagnosticsExport, LogLocation, ShownLog } from './app';
import type { LinkRules } from './links';
import { ProfileInput, ProfileRef, ServerProfile } from './profiles';
import { ConnectRequest, ConnectResult, ConnectionState, InstallKeyResult, PreflightRunRequest, ProfileOnly, ServerStateEvent, SshConfigImport } from './server';
import { PreflightReport } from './preflight';
import { UpdateApplyRequest, UpdateApplyResult, UpdateCheck, UpdateProgress, UpdatesRequest, UpdatesView } from './updates';
import { ChooseServerRequest, ChosenServer, SetupChangedEvent, SetupProgress, SetupProgressRequest } from './setup';
import { ApplyOutcome, ApplyOutcomeEvent, ApplyResult, SecretSummary, StackApplyRequest, StackPlan, StackProgress, StackSettingsRequest, StackSettingsSave, StackSettingsView, StackStatus } from './stack';
import {
  CloudflareProfileRequest,
  CloudflareProgress,
  CloudflareRunReport,
  CloudflareView,
  CloudflareZone,
  PublishReport,
  PublishRequest,
  RemovalPlan,
  RemoveRequest,
  SaveCloudflareSettings,
  SetTokenRequest,
  TokenCheck,
  ZonesRequest,
} from './cloudflare';
import { StatusHistory, StatusNotification, StatusRequest, StatusSnapshot, StatusUpdate } from './status';
import {
  AddDeviceRequest,
  DeviceConfig,
  DeviceRequest,
  FallbackProgress,
  FallbackRequest,
  FallbackSettingsSave,
  FallbackSwitchRequest,
  FallbackView,
  LaptopTunnelRequest,
} from './fallback';
import { RecoveryKit, RecoveryKitRequest, SavedKitPdf, SaveKitPdfRequest } from './recovery';
import { BackupNowResult, BackupProgress, BackupsRequest, BackupsView, BrowseRequest, BrowseResult, DrillResult, RestoreRequest, RestoreResult } from './backups';
import { InPlaceRequest, InPlaceResult, PutBackRequest, PutBackResult, ServiceRestorePlan, ServiceRestoreRequest, ServiceRestoreResult, ServiceRestoreRun, UnfinishedRestores } from './restores';
import { LogsCloseRequest, LogsOpened, LogsOpenRequest, LogsServices, LogsServicesRequest, LogStreamEvent, ServiceActionRequest, ServiceActionResult } from './logs';
import { AddMemberRequest, HouseholdRequest, HouseholdResult, HouseholdView, RemoveMemberRequest } from './household';
import type { CallName, EventName } from './channels';

export { callNames, eventNames, isCallName, isEventName } from './channels';
export type { CallName, EventName } from './channels';

/** For calls that take nothing. */
export const NoInput = z.undefined();

/**
 * Every call the renderer can make, declared once: channel `domain:verb` → input and output schema.
 * Main and the web host register handlers from this map and validate every payload against it.
 */
export const calls = {
  'app:info': { input: NoInput, output: AppInfo },
  /** Which outside links the app opens (its tables' links, the admin's service addresses); the web host's page asks. */
  'app:links': { input: NoInput, output: z.object({ links: z.array(z.string()), origins: z.array(z.string()) }) satisfies z.ZodType<LinkRules> },
  /** Where the app's log file is; show it in the file manager (desktop) or only say where (web host). */
  'app:log-location': { input: NoInput, output: LogLocation },
  'app:show-log': { input: NoInput, output: ShownLog },
  /** One archive to send for help: version, platform, the redacted log, each server's last preflight and Compose state. */
  'app:export-diagnostics': { input: NoInput, output: DiagnosticsExport },
  'profiles:list': { input: NoInput, output: z.array(ServerProfile) },
  'profiles:save': { input: ProfileInput, output: ServerProfile },
  'profiles:remove': { input: ProfileRef, output: z.object({ removed: z.literal(true) }) },
  'profiles:import-ssh-config': { input: NoInput, output: SshConfigImport },
  /** The server every per-server page works on, kept in the app's data folder (survives reloads and restarts). */
  'profiles:chosen': { input: NoInput, output: ChosenServer },
  /** Make a saved server the one every page works on; pushed to every window as `profiles:chosen`. */
  'profiles:choose': { input: ChooseServerRequest, output: ChosenServer },
  'server:connect': { input: ConnectRequest, output: ConnectResult },
  'server:disconnect': { input: ProfileOnly, output: z.object({ disconnected: z.literal(true) }) },
  'server:state': { input: ProfileOnly, output: ConnectionState },
  'server:install-key': { input: ProfileOnly, output: InstallKeyResult },
  'preflight:run': { input: PreflightRunRequest, output: PreflightReport },
  /** Each setup step of a server: done (when, and its result), stale (and why) or to do; and the step to work on now. */
  'setup:progress': { input: SetupProgressRequest, output: SetupProgress },
  /** The stack settings of a server (defaults until saved), with what detection suggests and the pinned images. */
  'stack:settings': { input: StackSettingsRequest, output: StackSettingsView },
  'stack:save-settings': { input: StackSettingsSave, output: StackSettingsView },
  /** What applying would change on the server: file diffs (secrets masked) and service actions. Changes nothing. */
  'stack:plan': { input: StackSettingsRequest, output: StackPlan },
  /** Upload, pull, start, health-check and switch; rolls back by itself on failure. Progress arrives as `stack:progress`. */
  'stack:apply': { input: StackApplyRequest, output: ApplyResult },
  'stack:status': { input: StackSettingsRequest, output: StackStatus },
  /** How the last install ended (or that it still runs), kept across cut connections, reloads and restarts; null before any. */
  'stack:last-apply': { input: StackSettingsRequest, output: ApplyOutcome.nullable() },
  /** The generated secrets of a server, masked: values never reach the renderer. */
  'stack:secrets': { input: StackSettingsRequest, output: z.array(SecretSummary) },
  /** The per-server versions table, the update records and the last check. */
  'updates:view': { input: UpdatesRequest, output: UpdatesView },
  /** Ask the registry the server pulls from for newer tags of each image in use, by each image's policy. */
  'updates:check': { input: UpdatesRequest, output: UpdateCheck },
  /** Update the chosen images: backup, pull, health-gated install of the changed services, rollback on failure; progress as `stack:progress` and `updates:progress`. */
  'updates:apply': { input: UpdateApplyRequest, output: UpdateApplyResult },
  /** The accounts the stack creates (service, username, where it signs in, where the password is kept); no values. */
  'accounts:list': { input: AccountsRequest, output: z.array(Account) },
  /** The one call that returns a password: one account's, on demand, audited in the log without the value. */
  'accounts:reveal': { input: AccountRequest, output: RevealedPassword },
  /** Put one account's password on the clipboard from main (the value never reaches the window) and clear it after a while. */
  'accounts:copy': { input: AccountRequest, output: CopiedPassword },
  /** What rotating each generated secret would do (steps, what restarts), or why it cannot be rotated; no values. */
  'accounts:rotations': { input: AccountsRequest, output: z.array(RotationPlan) },
  /** Rotate one generated secret: applied on the server, proven, then kept; the new value is not returned (reveal it). */
  'accounts:rotate': { input: RotationRequest, output: RotationResult },
  /** The server's Cloudflare settings, the hostnames to publish and what the app manages there; no secrets. */
  'cloudflare:view': { input: CloudflareProfileRequest, output: CloudflareView },
  /** Verify an API token, report what it may do, then keep it in the keychain (replacing any earlier one). */
  'cloudflare:set-token': { input: SetTokenRequest, output: TokenCheck },
  'cloudflare:check-token': { input: CloudflareProfileRequest, output: TokenCheck },
  'cloudflare:forget-token': { input: CloudflareProfileRequest, output: z.object({ forgotten: z.literal(true) }) },
  'cloudflare:zones': { input: ZonesRequest, output: z.array(CloudflareZone) },
  'cloudflare:save-settings': { input: SaveCloudflareSettings, output: CloudflareView },
  /** Tunnel, token, routes, Access, DNS; each step reported. Steps are pushed as `cloudflare:progress`. */
  'cloudflare:publish': { input: PublishRequest, output: PublishReport },
  /** Stop the publish under way (a wait before a retry ends at once); false when none runs. Publishing again continues. */
  'cloudflare:cancel-publish': { input: CloudflareProfileRequest, output: z.object({ cancelled: z.boolean() }) },
  /** What "Remove from Cloudflare" would delete or put back. Changes nothing. */
  'cloudflare:removal-plan': { input: CloudflareProfileRequest, output: RemovalPlan },
  'cloudflare:remove': { input: RemoveRequest, output: CloudflareRunReport },
  'cloudflare:rotate-tunnel-token': { input: CloudflareProfileRequest, output: CloudflareRunReport },
  /** Start (or join) live status for a server: the first full snapshot; changes then arrive as `status:update`. */
  'status:subscribe': { input: StatusRequest, output: StatusSnapshot },
  'status:unsubscribe': { input: StatusRequest, output: z.object({ unsubscribed: z.literal(true) }) },
  /** The last hour of chart series (tunnel requests/errors, transcode fps, GPU load). */
  'status:history': { input: StatusRequest, output: StatusHistory },
  /** The outage fallback of a server: outage state, the switch, the endpoint, devices and this computer's tunnel. No keys. */
  'fallback:view': { input: FallbackRequest, output: FallbackView },
  'fallback:save-settings': { input: FallbackSettingsSave, output: FallbackView },
  /** Turn the WireGuard fallback on or off, fail-closed; steps arrive as `fallback:progress`. Asking twice changes nothing twice. */
  'fallback:switch': { input: FallbackSwitchRequest, output: FallbackView },
  /** A household device: keys generated here (private key in the keychain), peer added on the server without a restart. */
  'fallback:add-device': { input: AddDeviceRequest, output: FallbackView },
  /** Reveal one device's config and QR code (holds its private key): only on demand, never logged or pushed. */
  'fallback:device-config': { input: DeviceRequest, output: DeviceConfig },
  /** Remove a device everywhere: the server's peer list (synced, nothing restarted) and its key in the keychain. */
  'fallback:revoke-device': { input: DeviceRequest, output: FallbackView },
  /** Bring this computer's own tunnel up or down the platform's way, and move the SSH connection onto it. */
  'fallback:laptop-tunnel': { input: LaptopTunnelRequest, output: FallbackView },
  /** The household recovery kit of a server: addresses, host key, secrets by keychain name (never values), restore, outage steps. */
  'recovery:kit': { input: RecoveryKitRequest, output: RecoveryKit },
  /** The desktop app only: the kit's page through the print engine to a PDF the admin saves (a save dialog in main). */
  'recovery:save-pdf': { input: SaveKitPdfRequest, output: SavedKitPdf },
  /** Each service of the live release as Docker runs it: state, health, restarts, and a crash loop with its last (masked) lines. */
  'logs:services': { input: LogsServicesRequest, output: LogsServices },
  /** Start reading one service's logs (masked, searched in core); lines arrive as `logs:stream` with the page's stream id. */
  'logs:open': { input: LogsOpenRequest, output: LogsOpened },
  'logs:close': { input: LogsCloseRequest, output: z.object({ closed: z.boolean() }) },
  /** Restart, stop or start one service through Compose, after the admin confirmed it. */
  'logs:service-action': { input: ServiceActionRequest, output: ServiceActionResult },
  /** Snapshots, the last and next run, and the last drill. */
  'backups:view': { input: BackupsRequest, output: BackupsView },
  /** Back up now; restic's progress arrives as `backups:progress`. */
  'backups:run': { input: BackupsRequest, output: BackupNowResult },
  /** One folder of Nextcloud's data as a snapshot holds it. */
  'backups:browse': { input: BrowseRequest, output: BrowseResult },
  /** Restore a file or folder of Nextcloud's data into a new folder under the data folder's `restores`. */
  'backups:restore': { input: RestoreRequest, output: RestoreResult },
  /** Restore the latest snapshot into scratch, check it, count files, delete the scratch; the result is kept. */
  'backups:drill': { input: BackupsRequest, output: DrillResult },
  /** A file or folder of a user's Nextcloud files back in its place (Nextcloud in maintenance mode, then rescanned). */
  'backups:restore-in-place': { input: InPlaceRequest, output: InPlaceResult },
  /** What restoring a whole service from a snapshot would do (nothing changes). */
  'backups:service-plan': { input: ServiceRestoreRequest, output: ServiceRestorePlan },
  /** Restore a whole service by its plan, once confirmed; the data from before comes back if a step fails. */
  'backups:restore-service': { input: ServiceRestoreRun, output: ServiceRestoreResult },
  /** Whole-service restores that stopped half-way (the app or the connection went away). */
  'backups:unfinished': { input: BackupsRequest, output: UnfinishedRestores },
  /** Undo an unfinished restore: the data from before back in place, the service started. */
  'backups:put-back': { input: PutBackRequest, output: PutBackResult },
  /** The household's people and their roles, and whether Authentik and Cloudflare are there to give them access. */
  'household:view': { input: HouseholdRequest, output: HouseholdView },
  /** Add a person (or change their role): Authentik user and group, then Cloudflare Access; an invite link once. */
  'household:add': { input: AddMemberRequest, output: HouseholdResult },
  /** Take a person's access away everywhere: Cloudflare Access first, then their Authentik user. */
  'household:remove': { input: RemoveMemberRequest, output: HouseholdResult },
} as const satisfies Record<CallName, { input: z.ZodType; output: z.ZodType }>;

/** Every event main pushes to the renderer, declared once: name → payload schema. */
export const events = {
  'profiles:changed': z.array(ServerProfile),
  /** Another server was chosen to work on (in any window). */
  'profiles:chosen': ChosenServer,
  /** Something a server's setup progress depends on changed; ask `setup:progress` again. */
  'setup:changed': SetupChangedEvent,
  'server:state': ServerStateEvent,
  'stack:progress': StackProgress,
  /** The steps of an update around its install (check, backup, record). */
  'updates:progress': UpdateProgress,
  /** The kept outcome of a server's install changed (started, finished, failed, interrupted). */
  'stack:outcome': ApplyOutcomeEvent,
  'cloudflare:progress': CloudflareProgress,
  /** A whole snapshot on every change: the renderer draws straight from it. */
  'status:update': StatusUpdate,
  /** A debounced transition (the shell shows an OS notification). */
  'status:notification': StatusNotification,
  'fallback:progress': FallbackProgress,
  /** The fallback's view changed (switch, devices, outage state): the renderer redraws from it. */
  'fallback:changed': FallbackView,
  /** Masked log lines of an open stream, then how it ended. */
  'logs:stream': LogStreamEvent,
  'backups:progress': BackupProgress,
} as const satisfies Record<EventName, z.ZodType>;

export type Calls = typeof calls;
/** What the caller sends (before defaults and transforms). */
export type CallInput<C extends CallName> = z.input<Calls[C]['input']>;
/** What the handler receives (after validation, defaults and transforms). */
export type CallParsedInput<C extends CallName> = z.output<Calls[C]['input']>;
export type CallOutput<C extends CallName> = z.output<Calls[C]['output']>;

export type Events = typeof events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;
