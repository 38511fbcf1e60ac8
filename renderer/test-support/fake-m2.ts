import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { ReactNode } from 'react';
import type { M2Api } from '../../electron/contract/client';
import type { CallName, EventName } from '../../electron/contract/contract';
import type { ErrorShape, Result } from '../../electron/contract/errors';

/** One call as the fake main received it, answered when the test says so. */
export interface PendingCall {
  readonly channel: CallName;
  readonly input: unknown;
  answer(value: unknown): Promise<void>;
  fail(error: ErrorShape): Promise<void>;
}

/**
 * A stand-in for `window.m2` in renderer tests (a DOM from happy-dom): every call waits until the test answers it,
 * unless an `auto` answer is set for its channel; `emit` pushes an event to every listener.
 */
export class FakeM2 {
  /** Calls still waiting for the test's answer (and those it answered), oldest first. */
  readonly calls: PendingCall[] = [];
  /** Every call made, answered automatically or not. */
  readonly log: { readonly channel: CallName; readonly input: unknown }[] = [];
  private readonly listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  constructor(private readonly auto: Partial<Record<CallName, (input: unknown) => unknown>> = {}) {}

  readonly api: M2Api = {
    calls: [],
    events: [],
    invoke: ((channel: CallName, input?: unknown) => {
      this.log.push({ channel, input });
      const answer = this.auto[channel];
      if (answer) return Promise.resolve({ ok: true, value: answer(input) });
      return new Promise<Result<unknown>>((resolve) => {
        this.calls.push({
          channel,
          input,
          answer: (value) => act(async () => resolve({ ok: true, value })),
          fail: (error) => act(async () => resolve({ ok: false, error })),
        });
      });
    }) as M2Api['invoke'],
    on: ((event: EventName, listener: (payload: unknown) => void) => {
      const set = this.listeners.get(event) ?? new Set();
      set.add(listener);
      this.listeners.set(event, set);
      return () => set.delete(listener);
    }) as M2Api['on'],
  };

  /** The calls made on a channel, oldest first. */
  callsOf(channel: CallName): PendingCall[] {
    return this.calls.filter((c) => c.channel === channel);
  }

  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit(event: EventName, payload: unknown): Promise<void> {
    return act(async () => {
      for (const l of this.listeners.get(event) ?? []) l(payload);
    });
  }
}

/** Installs the fake as `window.m2` and renders into a fresh element; `unmount` takes it down. */
export async function mount(m2: FakeM2, node: ReactNode): Promise<{ root: Root; container: HTMLElement; render(node: ReactNode): Promise<void>; unmount(): Promise<void> }> {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
  Object.defineProperty(window, 'm2', { value: m2.api, configurable: true });
  const container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  await act(async () => root.render(node));
  return {
    root,
    container,
    render: (next) => act(async () => root.render(next)),
    unmount: async () => {
      await act(async () => root.unmount());
      container.remove();
    },
  };
}

/** Lets pending promise callbacks and effects run. */
export const settle = (): Promise<void> => act(async () => undefined);
