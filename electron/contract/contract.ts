import { z } from 'zod';
import { AppInfo } from './app';
import { ProfileInput, ProfileRef, ServerProfile } from './profiles';
import { ConnectRequest, ConnectResult, ConnectionState, InstallKeyResult, PreflightRunRequest, ProfileOnly, ServerStateEvent, SshConfigImport } from './server';
import { PreflightReport } from './preflight';
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
  'profiles:list': { input: NoInput, output: z.array(ServerProfile) },
  'profiles:save': { input: ProfileInput, output: ServerProfile },
  'profiles:remove': { input: ProfileRef, output: z.object({ removed: z.literal(true) }) },
  'profiles:import-ssh-config': { input: NoInput, output: SshConfigImport },
  'server:connect': { input: ConnectRequest, output: ConnectResult },
  'server:disconnect': { input: ProfileOnly, output: z.object({ disconnected: z.literal(true) }) },
  'server:state': { input: ProfileOnly, output: ConnectionState },
  'server:install-key': { input: ProfileOnly, output: InstallKeyResult },
  'preflight:run': { input: PreflightRunRequest, output: PreflightReport },
} as const satisfies Record<CallName, { input: z.ZodType; output: z.ZodType }>;

/** Every event main pushes to the renderer, declared once: name → payload schema. */
export const events = {
  'profiles:changed': z.array(ServerProfile),
  'server:state': ServerStateEvent,
} as const satisfies Record<EventName, z.ZodType>;

export type Calls = typeof calls;
/** What the caller sends (before defaults and transforms). */
export type CallInput<C extends CallName> = z.input<Calls[C]['input']>;
/** What the handler receives (after validation, defaults and transforms). */
export type CallParsedInput<C extends CallName> = z.output<Calls[C]['input']>;
export type CallOutput<C extends CallName> = z.output<Calls[C]['output']>;

export type Events = typeof events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;
