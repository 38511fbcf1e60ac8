import { describe, expect, it, vi } from 'vitest';
import { createClient } from './client';
import { callNames, eventNames } from './channels';
import { calls, events } from './contract';

describe('the typed client', () => {
  it('is frozen, lists the contract, and never sends an unknown channel to the transport', async () => {
    const transport = { invoke: vi.fn(async () => ({ ok: true, value: 1 })), on: vi.fn(() => () => undefined) };
    const m2 = createClient(transport);
    expect(Object.isFrozen(m2)).toBe(true);
    expect([...m2.calls]).toEqual(callNames);
    const r = await (m2.invoke as (c: string) => Promise<unknown>)('shell:exec');
    expect(r).toMatchObject({ ok: false, error: { code: 'ipc.unknown-channel' } });
    expect(transport.invoke).not.toHaveBeenCalled();
    await m2.invoke('app:info');
    expect(transport.invoke).toHaveBeenCalledWith('app:info', undefined);
    expect(() => (m2.on as (e: string, l: () => void) => void)('nope', () => {})).toThrow(/no event/);
  });

  it('declares a schema for exactly the channels and events it names', () => {
    expect(Object.keys(calls).sort()).toEqual([...callNames].sort());
    expect(Object.keys(events).sort()).toEqual([...eventNames].sort());
    for (const name of callNames) expect(name).toMatch(/^[a-z]+:[a-z-]+$/);
  });
});
