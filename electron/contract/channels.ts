/**
 * The names of every call and event, without their schemas: the preload and the web client need only
 * these, so no validation library runs in the renderer's privileged bridge. contract.ts declares the
 * schemas with `satisfies Record<CallName, …>`, so a name here without a schema (or the reverse) fails
 * to compile.
 */
export const callNames = [
  'app:info',
  'app:links',
  'app:log-location',
  'app:show-log',
  'app:export-diagnostics',
  'profiles:list',
  'profiles:save',
  'profiles:remove',
  'profiles:import-ssh-config',
  'profiles:chosen',
  'profiles:choose',
  'server:connect',
  'server:disconnect',
  'server:state',
  'server:install-key',
  'preflight:run',
  'setup:progress',
  'stack:settings',
  'stack:save-settings',
  'stack:plan',
  'stack:apply',
  'stack:status',
  'stack:last-apply',
  'stack:secrets',
  'accounts:list',
  'accounts:reveal',
  'accounts:copy',
  'accounts:rotations',
  'accounts:rotate',
  'cloudflare:view',
  'cloudflare:set-token',
  'cloudflare:check-token',
  'cloudflare:forget-token',
  'cloudflare:zones',
  'cloudflare:save-settings',
  'cloudflare:publish',
  'cloudflare:cancel-publish',
  'cloudflare:removal-plan',
  'cloudflare:remove',
  'cloudflare:rotate-tunnel-token',
  'status:subscribe',
  'status:unsubscribe',
  'status:history',
  'fallback:view',
  'fallback:save-settings',
  'fallback:switch',
  'fallback:add-device',
  'fallback:device-config',
  'fallback:revoke-device',
  'fallback:laptop-tunnel',
  'recovery:kit',
  'recovery:save-pdf',
  'logs:services',
  'logs:open',
  'logs:close',
  'logs:service-action',
  'backups:view',
  'backups:run',
  'backups:browse',
  'backups:restore',
  'backups:drill',
] as const;
export const eventNames = ['profiles:changed', 'profiles:chosen', 'setup:changed', 'server:state', 'stack:progress', 'stack:outcome', 'cloudflare:progress', 'status:update', 'status:notification', 'fallback:progress', 'fallback:changed', 'logs:stream', 'backups:progress'] as const;

export type CallName = (typeof callNames)[number];
export type EventName = (typeof eventNames)[number];

export const isCallName = (s: unknown): s is CallName => typeof s === 'string' && (callNames as readonly string[]).includes(s);
export const isEventName = (s: unknown): s is EventName => typeof s === 'string' && (eventNames as readonly string[]).includes(s);
