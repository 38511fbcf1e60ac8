import { z } from 'zod';
import { ProfileId } from './profiles';

/**
 * Logs and service actions per stack service. Log lines are read on the server with `docker compose logs`
 * (argv, never a shell line with the admin's text), split into whole lines and masked in core with every secret
 * the app keeps for the server, then pushed as `logs:stream` events. Search runs in core on the masked text.
 */

/** A Compose service name as the stack declares them; core also checks it against the live release's services. */
export const ServiceName = z
  .string({ error: 'Service: choose a service from the list.' })
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'Service: choose a service from the list (letters, digits, dots, dashes and underscores).');

/**
 * A log time bound as `docker compose logs --since/--until` take it: an ISO 8601 time with its zone
 * (2026-12-05T01:30:00Z, 2026-12-05T02:30:00+01:00), or a time ago in seconds, minutes or hours (90s, 15m, 24h).
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const AGO = /^[1-9]\d{0,3}[smh]$/;
export const isLogTimeBound = (s: string): boolean => (ISO_TIME.test(s) && !Number.isNaN(Date.parse(s))) || AGO.test(s);
const timeBound = (label: string) =>
  z
    .string({ error: `${label}: enter a time like 2026-12-05T01:30:00Z, or a time ago like 15m or 24h.` })
    .max(40, `${label}: enter a time like 2026-12-05T01:30:00Z, or a time ago like 15m or 24h.`)
    .refine(isLogTimeBound, `${label}: enter a time like 2026-12-05T01:30:00Z, or a time ago like 15m or 24h.`);

/** The time a bound stands for, against `now` (for checking that From comes before To). */
export function boundTime(bound: string, now: Date): number {
  const ago = /^(\d+)([smh])$/.exec(bound);
  if (!ago) return Date.parse(bound);
  const unit = ago[2] === 's' ? 1_000 : ago[2] === 'm' ? 60_000 : 3_600_000;
  return now.getTime() - Number(ago[1]) * unit;
}

/** Chosen by the page (so it can listen before it asks): which of its streams an event belongs to. */
export const LogStreamId = z.string({ error: 'Stream id: missing.' }).regex(/^[a-z0-9-]{8,64}$/, 'Stream id: use 8 to 64 lower-case letters, digits and dashes.');

export const MAX_LOG_TAIL = 5_000;

/** A tab is fine in a search; line breaks and other control characters are not text anyone looks for. */
const isControl = (c: string): boolean => {
  const n = c.charCodeAt(0);
  return (n < 0x20 && n !== 0x09) || n === 0x7f;
};
export const MAX_SEARCH_LENGTH = 200;

export const LogsOpenRequest = z
  .object({
    profileId: ProfileId,
    streamId: LogStreamId,
    service: ServiceName,
    /** Keep the stream open and push new lines as they come. */
    follow: z.boolean({ error: 'Follow: on or off.' }).default(true),
    since: timeBound('From').optional(),
    until: timeBound('To').optional(),
    /** Only lines that contain this text (any case), matched after secrets are masked. */
    search: z
      .string({ error: 'Search: enter text to look for.' })
      .max(MAX_SEARCH_LENGTH, `Search: at most ${MAX_SEARCH_LENGTH} characters.`)
      .refine((s) => ![...s].some(isControl), 'Search: one line of text, without control characters.')
      .default(''),
    /** The last lines of the range to start with. */
    tail: z
      .number({ error: `Lines: a number from 1 to ${MAX_LOG_TAIL}.` })
      .int(`Lines: a number from 1 to ${MAX_LOG_TAIL}.`)
      .min(1, `Lines: a number from 1 to ${MAX_LOG_TAIL}.`)
      .max(MAX_LOG_TAIL, `Lines: a number from 1 to ${MAX_LOG_TAIL}.`)
      .default(500),
  })
  .superRefine((r, ctx) => {
    if (r.follow && r.until !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'To: turn Follow off to read up to a time (new lines come after it).' });
    }
    if (r.since !== undefined && r.until !== undefined) {
      const now = new Date();
      if (boundTime(r.since, now) >= boundTime(r.until, now)) ctx.addIssue({ code: 'custom', path: ['until'], message: 'To: choose a time after From.' });
    }
  });
export type LogsOpenRequest = z.infer<typeof LogsOpenRequest>;
export type LogsOpenInput = z.input<typeof LogsOpenRequest>;

export const LogsCloseRequest = z.object({ profileId: ProfileId, streamId: LogStreamId });

export const LogLine = z.object({
  /** Counts up per stream from 1. */
  seq: z.number().int(),
  /** Docker's timestamp of the line (RFC 3339, nanoseconds), or null when it had none. */
  ts: z.string().nullable(),
  /** The line with every secret value replaced by the mask. */
  text: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  /** The line was longer than the app keeps and was cut. */
  cut: z.boolean().optional(),
});
export type LogLine = z.infer<typeof LogLine>;

export const LogStreamEnd = z.enum(['finished', 'closed', 'replaced', 'failed', 'disconnected']);
export type LogStreamEnd = z.infer<typeof LogStreamEnd>;

export const LogStreamEvent = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('lines'), profileId: ProfileId, streamId: LogStreamId, lines: z.array(LogLine) }),
  z.object({ kind: z.literal('end'), profileId: ProfileId, streamId: LogStreamId, reason: LogStreamEnd, message: z.string().optional() }),
]);
export type LogStreamEvent = z.infer<typeof LogStreamEvent>;

export const LogsOpened = z.object({ streamId: LogStreamId, service: ServiceName, follow: z.boolean() });

/** One service's containers as Docker reports them, with a crash loop said as such. */
export const ServiceRuntime = z.object({
  service: ServiceName,
  /** running, restarting, exited, created, paused, dead; 'missing' when the release declares it but no container exists. */
  state: z.string(),
  health: z.string(),
  containers: z.number().int(),
  restartCount: z.number().int(),
  startedAt: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  /** Docker keeps restarting it: the last lines (masked) say why. */
  crashLoop: z.object({ restarts: z.number().int(), lastLines: z.array(z.string()) }).nullable(),
});
export type ServiceRuntime = z.infer<typeof ServiceRuntime>;

export const LogsServicesRequest = z.object({ profileId: ProfileId });
export const LogsServices = z.object({ releaseId: z.string().nullable(), services: z.array(ServiceRuntime) });
export type LogsServices = z.infer<typeof LogsServices>;

export const serviceActions = ['restart', 'stop', 'start'] as const;
export const ServiceAction = z.enum(serviceActions, { error: 'Action: restart, stop or start.' });
export type ServiceAction = z.infer<typeof ServiceAction>;

export const ServiceActionRequest = z.object({
  profileId: ProfileId,
  service: ServiceName,
  action: ServiceAction,
  /** The page asked the admin first; a call without it changes nothing. */
  confirmed: z.literal(true, { error: 'Confirm: the admin must confirm this action first.' }),
});
export type ServiceActionRequest = z.infer<typeof ServiceActionRequest>;

export const ServiceActionResult = z.object({ service: ServiceName, action: ServiceAction, runtime: ServiceRuntime, durationMs: z.number() });
export type ServiceActionResult = z.infer<typeof ServiceActionResult>;
