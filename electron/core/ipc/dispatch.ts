import type { z } from 'zod';
import { calls, events } from '../../contract/contract';
import { callNames, isCallName } from '../../contract/channels';
import type { CallName, CallOutput, CallParsedInput, EventName, EventPayload } from '../../contract/contract';
import type { ErrorShape, Result } from '../../contract/errors';
import { toErrorShape } from '../errors';
import type { Logger } from '../log';
import { remoteFacts } from '../ssh/remote-command';

/** Who sent a call: the frame URL in Electron, the page origin in the web host. */
export interface SenderInfo {
  readonly url: string;
}

export interface CallContext {
  readonly sender: SenderInfo;
}

export type CallHandler<C extends CallName> = (input: CallParsedInput<C>, ctx: CallContext) => Promise<CallOutput<C>> | CallOutput<C>;
export type Handlers = { readonly [C in CallName]: CallHandler<C> };

export type Dispatch = (sender: SenderInfo, channel: unknown, payload: unknown) => Promise<Result<unknown>>;

/** The small surface a shell gives to registration: Electron's ipcMain, or the web host's socket. */
export interface Router {
  handle(channel: CallName, dispatch: (sender: SenderInfo, payload: unknown) => Promise<Result<unknown>>): void;
  emit(event: EventName, payload: unknown): void;
}

export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export interface DispatchOptions {
  isTrustedSender(sender: SenderInfo): boolean;
  log: Logger;
}

const fail = (error: ErrorShape): Result<never> => ({ ok: false, error });

/** The first validation problem, phrased for a person and naming the field. */
export function describeIssues(error: z.ZodError): ErrorShape {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || undefined;
  const message = issue?.message ?? 'The request was not valid.';
  const named = field && !/^[A-Z][^:]{0,40}:/.test(message) ? `${field}: ${message}` : message;
  return {
    code: 'ipc.invalid',
    userMessage: named,
    hint: 'Correct the highlighted field and try again. Nothing was changed.',
    ...(field ? { field } : {}),
  };
}

/**
 * One entry point for every call: sender checked, channel known, input validated before the handler
 * runs, output validated (unknown keys stripped, so nothing undeclared leaves main), errors enveloped.
 */
export function createDispatcher(handlers: Handlers, opts: DispatchOptions): Dispatch {
  return async (sender, channel, payload) => {
    if (!isCallName(channel)) {
      return fail({ code: 'ipc.unknown-channel', userMessage: `There is no call named "${String(channel).slice(0, 80)}".` });
    }
    if (!opts.isTrustedSender(sender)) {
      opts.log.warn('refused a call from an untrusted sender', { channel, sender: sender.url.slice(0, 200) });
      return fail({ code: 'ipc.forbidden-sender', userMessage: 'This window may not talk to M2 Companion.' });
    }
    const spec = calls[channel];
    const parsed = spec.input.safeParse(payload);
    if (!parsed.success) return fail(describeIssues(parsed.error));
    try {
      const handler = handlers[channel] as CallHandler<typeof channel>;
      const value = await handler(parsed.data as never, { sender });
      const out = spec.output.safeParse(value);
      if (!out.success) {
        opts.log.error('a handler returned a value outside its contract', { channel, issues: out.error.issues.slice(0, 3) });
        return fail(toErrorShape(new Error('output invalid')));
      }
      return { ok: true, value: out.data };
    } catch (err) {
      const shape = toErrorShape(err);
      if (shape.code === 'internal') opts.log.error('a call failed', { channel, error: err });
      else {
        // The admin reads the message; the log keeps the command behind it, its status and stderr (secrets masked).
        const facts = remoteFacts(err);
        if (facts) opts.log.warn('a call failed on the server', { channel, code: shape.code, command: facts.command, status: facts.status, stderr: facts.stderr });
        // A hint that sends the admin to the log is kept true: the error and what caused it are written there.
        else if (err instanceof Error && (err.cause !== undefined || /\blog\b/.test(shape.hint ?? ''))) opts.log.warn('a call failed', { channel, code: shape.code, error: err });
      }
      return fail(shape);
    }
  };
}

/** Registers every call of the contract on a router through the one dispatcher. */
export function registerContract(router: Router, handlers: Handlers, opts: DispatchOptions): void {
  const dispatch = createDispatcher(handlers, opts);
  for (const channel of callNames) router.handle(channel, (sender, payload) => dispatch(sender, channel, payload));
}

/** A typed emitter that validates each payload against the contract before it leaves main. */
export function createEmitter(router: Pick<Router, 'emit'>, log: Logger): Emit {
  return (event, payload) => {
    const parsed = events[event].safeParse(payload);
    if (!parsed.success) {
      log.error('refused to emit an event outside its contract', { event });
      return;
    }
    router.emit(event, parsed.data);
  };
}
