import { useCallback, useEffect, useState } from 'react';
import type { CallName, CallOutput, EventName, EventPayload } from '../../electron/contract/contract';
import type { ErrorShape } from '../../electron/contract/errors';
import { call, M2Error } from '../m2';

export type CallState<T> =
  | { readonly kind: 'loading' }
  | { readonly kind: 'ready'; readonly value: T }
  | { readonly kind: 'failed'; readonly error: ErrorShape };

const asShape = (err: unknown): ErrorShape =>
  err instanceof M2Error ? err.shape : { code: 'internal', userMessage: 'Something went wrong.', hint: 'Try again.' };

/** Loads a no-input call once, with a reload; server state in one place per page. */
export function useCall<C extends CallName>(channel: C): { state: CallState<CallOutput<C>>; reload: () => void } {
  const [state, setState] = useState<CallState<CallOutput<C>>>({ kind: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    (call as (c: C) => Promise<CallOutput<C>>)(channel).then(
      (value) => live && setState({ kind: 'ready', value }),
      (err: unknown) => live && setState({ kind: 'failed', error: asShape(err) }),
    );
    return () => {
      live = false;
    };
  }, [channel, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { state, reload };
}

/** Subscribes to a pushed event for the lifetime of the component. */
export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  useEffect(() => window.m2.on(event, listener), [event, listener]);
}

export { asShape };
