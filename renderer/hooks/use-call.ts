import { useCallback, useEffect, useState } from 'react';
import type { CallInput, CallName, CallOutput } from '../../electron/contract/contract';
import type { ErrorShape } from '../../electron/contract/errors';
import { call, M2Error } from '../m2';

export type CallState<T> =
  | { readonly kind: 'loading' }
  | { readonly kind: 'ready'; readonly value: T }
  | { readonly kind: 'failed'; readonly error: ErrorShape };

const asShape = (err: unknown): ErrorShape =>
  err instanceof M2Error ? err.shape : { code: 'internal', userMessage: 'Something went wrong.', hint: 'Try again.' };

export interface CallOptions {
  /** Ask again every so many milliseconds while mounted (the last value stays shown in between; see `value`). */
  readonly everyMs?: number;
  /** Ask again whenever this changes (e.g. a connection's epoch), as `refresh()` does. */
  readonly refreshOn?: string | number | undefined;
}

/** `null`: not yet — nothing is asked and the state stays `loading` (e.g. before the server is known). */
type Input<C extends CallName> = undefined extends CallInput<C> ? [input?: CallInput<C> | null, options?: CallOptions] : [input: CallInput<C> | null, options?: CallOptions];

export interface Call<T> {
  /** The answer to this input's latest ask: `loading` again after a refresh or a change of input. */
  readonly state: CallState<T>;
  /** The last value answered for this input; kept while a refresh runs and after a refresh fails. */
  readonly value: T | undefined;
  /** The error of this input's latest answer, if it failed; cleared by the next good answer. */
  readonly error: ErrorShape | undefined;
  /** Ask again (same input). */
  readonly refresh: () => void;
  /**
   * Show a fresher value the page already has (e.g. what a save returned) without asking; or change the value shown
   * (`(prev) => next`, applied to the latest value of this input, nothing when there is none yet).
   */
  readonly replace: (next: T | ((prev: T) => T)) => void;
}

interface Answer<T> {
  readonly input: string;
  readonly ask: string;
  readonly value: T | undefined;
  readonly error: ErrorShape | undefined;
  readonly answered: boolean;
}

/**
 * The one way a component reads server state through a call: asked on mount and whenever the input changes, with a
 * refresh. What it shows always belongs to the current input: an answer that comes after the component unmounted, or
 * after the input changed (another server), is dropped, never shown under the new one.
 */
export function useCall<C extends CallName>(channel: C, ...[input, options]: Input<C>): Call<CallOutput<C>> {
  type T = CallOutput<C>;
  const [generation, setGeneration] = useState(0);
  const skip = input === null;
  // The input is data (what the contract validates): its JSON is its identity, so a new object with the same fields asks nothing.
  const inputKey = JSON.stringify([channel, skip ? null : (input ?? null)]);
  const askKey = `${inputKey}#${generation}#${options?.refreshOn ?? ''}`;
  const everyMs = options?.everyMs;
  const [answer, setAnswer] = useState<Answer<T> | undefined>();
  useEffect(() => {
    if (skip) return;
    const [c, i] = JSON.parse(inputKey) as [C, CallInput<C> | null];
    let live = true;
    const ask = (): void => {
      (call as (c: C, i?: CallInput<C>) => Promise<T>)(c, i ?? undefined).then(
        (value) => live && setAnswer({ input: inputKey, ask: askKey, value, error: undefined, answered: true }),
        (err: unknown) =>
          live && setAnswer((prev) => ({ input: inputKey, ask: askKey, value: prev?.input === inputKey ? prev.value : undefined, error: asShape(err), answered: true })),
      );
    };
    ask();
    const timer = everyMs ? setInterval(ask, everyMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [skip, inputKey, askKey, everyMs]);
  const refresh = useCallback(() => setGeneration((g) => g + 1), []);
  const replace = useCallback(
    (next: T | ((prev: T) => T)) =>
      setAnswer((prev) => {
        if (typeof next !== 'function') return { input: inputKey, ask: askKey, value: next, error: undefined, answered: true };
        const had = prev?.input === inputKey ? prev.value : undefined;
        return had === undefined || prev === undefined ? prev : { ...prev, value: (next as (prev: T) => T)(had) };
      }),
    [inputKey, askKey],
  );
  const mine = answer?.input === inputKey ? answer : undefined;
  const current = mine?.ask === askKey ? mine : undefined;
  const state: CallState<T> = !current?.answered
    ? { kind: 'loading' }
    : current.error
      ? { kind: 'failed', error: current.error }
      : { kind: 'ready', value: current.value as T };
  return { state, value: mine?.value, error: mine?.error, refresh, replace };
}

export { asShape };
