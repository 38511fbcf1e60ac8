import type { ConnectionState } from '../../electron/contract/server';

/**
 * What a page knows of one server's connection: its state now, and the connection it shows data of (`epoch`, the
 * `since` of the last time it came up). The epoch stays through a reconnect, so the page keeps what it shows while the
 * connection is away, and changes when it is up again — the signal to ask the server again — or goes when it is closed.
 */
export interface FollowedConnection {
  readonly state: ConnectionState | undefined;
  readonly epoch: string | undefined;
}

export const unknownConnection: FollowedConnection = { state: undefined, epoch: undefined };

export function followConnection(prev: FollowedConnection, state: ConnectionState): FollowedConnection {
  switch (state.kind) {
    case 'connected':
      return { state, epoch: state.since };
    case 'connecting':
    case 'reconnecting':
      return { state, epoch: prev.epoch };
    case 'idle':
    case 'closed':
      return { state, epoch: undefined };
    default: {
      const never: never = state;
      return never;
    }
  }
}

const inSeconds = (ms: number): string => (ms < 1000 ? 'in under a second' : `in ${Math.round(ms / 1000)} s`);

/** The connection in the admin's words, for the pages that depend on it; null when it is up. */
export function connectionNotice(state: ConnectionState | undefined): string | null {
  switch (state?.kind) {
    case undefined:
      return 'Checking the connection to the server…';
    case 'connected':
      return null;
    case 'connecting':
      return 'Connecting to the server…';
    case 'reconnecting':
      return `Connection lost — reconnecting by itself (attempt ${state.attempt}, next try ${inSeconds(state.retryInMs)}). This page follows when it is back.`;
    case 'idle':
      return 'Not connected to this server. Connect to it in Setup; this page follows by itself.';
    case 'closed':
      return state.reason ?? 'Disconnected from this server. Connect to it again in Setup; this page follows by itself.';
    default: {
      const never: never = state;
      return never;
    }
  }
}
