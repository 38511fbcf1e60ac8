import { useEffect, useState } from 'react';
import type { LogStreamEnd, LogStreamEvent } from '../../../electron/contract/logs';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { appendLines, emptyBuffer, type LogBuffer } from './log-buffer';

export interface LogQuery {
  readonly follow: boolean;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly search: string;
  readonly tail: number;
}

export type StreamState =
  | { readonly kind: 'opening' }
  | { readonly kind: 'open' }
  | { readonly kind: 'ended'; readonly reason: LogStreamEnd; readonly message?: string | undefined }
  | { readonly kind: 'failed'; readonly error: ErrorShape };

/**
 * One service's log lines while the view is open: listens first, then opens a stream under an id it made, so no
 * line is missed; a new query (or service) closes the old stream and starts over; leaving closes it.
 */
export function useLogStream(profileId: string, service: string, q: LogQuery, generation: number): { buffer: LogBuffer; state: StreamState } {
  const { follow, since, until, search, tail } = q;
  // Keyed by the query, so lines of a stream closed a moment ago never show under the new one.
  const key = JSON.stringify([profileId, service, follow, since, until, search, tail, generation]);
  const [view, setView] = useState<{ key: string; buffer: LogBuffer; state: StreamState } | undefined>();
  useEffect(() => {
    const streamId = crypto.randomUUID();
    let live = true;
    const update = (f: (v: { buffer: LogBuffer; state: StreamState }) => { buffer: LogBuffer; state: StreamState }): void =>
      setView((v) => ({ key, ...f(v?.key === key ? v : { buffer: emptyBuffer, state: { kind: 'opening' } }) }));
    const off = window.m2.on('logs:stream', (e: LogStreamEvent) => {
      if (!live || e.streamId !== streamId) return;
      if (e.kind === 'lines') update((v) => ({ ...v, buffer: appendLines(v.buffer, e.lines) }));
      else update((v) => ({ ...v, state: { kind: 'ended', reason: e.reason, message: e.message } }));
    });
    call('logs:open', { profileId, streamId, service, follow, search, tail, ...(since ? { since } : {}), ...(until ? { until } : {}) }).then(
      () => live && update((v) => (v.state.kind === 'opening' ? { ...v, state: { kind: 'open' } } : v)),
      (err: unknown) => live && update((v) => ({ ...v, state: { kind: 'failed', error: asShape(err) } })),
    );
    return () => {
      live = false;
      off();
      call('logs:close', { profileId, streamId }).catch(() => undefined);
    };
  }, [key, profileId, service, follow, since, until, search, tail]);
  return view?.key === key ? view : { buffer: emptyBuffer, state: { kind: 'opening' } };
}
