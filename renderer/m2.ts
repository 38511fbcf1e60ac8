import type { CallName, CallOutput } from '../electron/contract/contract';
import type { InvokeArgs } from '../electron/contract/client';
import type { ErrorShape } from '../electron/contract/errors';

/** A failed call, carrying the contract's error shape for the UI to show. */
export class M2Error extends Error {
  readonly shape: ErrorShape;
  constructor(shape: ErrorShape) {
    super(shape.userMessage);
    this.name = 'M2Error';
    this.shape = shape;
  }
}

/** Invoke a contract call and unwrap its Result: the value, or an M2Error. */
export async function call<C extends CallName>(channel: C, ...args: InvokeArgs<C>): Promise<CallOutput<C>> {
  const result = await window.m2.invoke(channel, ...args);
  if (!result.ok) throw new M2Error(result.error);
  return result.value;
}
