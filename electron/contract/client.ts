import { callNames, eventNames, isCallName, isEventName, type CallName, type EventName } from './channels';
import type { CallInput, CallOutput, EventPayload } from './contract';
import type { Result } from './errors';

export type Unsubscribe = () => void;

/** Arguments of `invoke`: none for calls whose input is `undefined`. */
export type InvokeArgs<C extends CallName> = undefined extends CallInput<C> ? [input?: CallInput<C>] : [input: CallInput<C>];

/** The one namespace the renderer sees as `window.m2`. */
export interface M2Api {
  readonly calls: readonly CallName[];
  readonly events: readonly EventName[];
  invoke<C extends CallName>(channel: C, ...args: InvokeArgs<C>): Promise<Result<CallOutput<C>>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): Unsubscribe;
}

/** What a shell provides underneath: Electron's ipcRenderer in the preload, a WebSocket in the web host. */
export interface ClientTransport {
  invoke(channel: CallName, payload: unknown): Promise<unknown>;
  on(event: EventName, listener: (payload: unknown) => void): Unsubscribe;
}

const clientError = (code: 'ipc.unknown-channel', userMessage: string): Result<never> => ({
  ok: false,
  error: { code, userMessage },
});

/** Builds the frozen `window.m2` over a transport; unknown channels never reach the transport. */
export function createClient(transport: ClientTransport): M2Api {
  const api: M2Api = {
    calls: Object.freeze([...callNames]),
    events: Object.freeze([...eventNames]),
    invoke: async (channel, ...args) => {
      if (!isCallName(channel)) return clientError('ipc.unknown-channel', `There is no call named "${String(channel)}".`);
      return (await transport.invoke(channel, args[0])) as Result<never>;
    },
    on: (event, listener) => {
      if (!isEventName(event)) throw new TypeError(`There is no event named "${String(event)}".`);
      return transport.on(event, listener as (payload: unknown) => void);
    },
  };
  return Object.freeze(api);
}
