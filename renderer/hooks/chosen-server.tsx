import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { ServerProfile } from '../../electron/contract/profiles';
import { call } from '../m2';
import { useCall, type CallState } from './use-call';
import { useEvent } from './use-event';

/** The saved servers and the one every per-server page works on: app state, provided once (App.tsx). */
export interface ChosenServer {
  /** The saved servers: `ready` as soon as a list is known (kept while it is asked again), `failed` while none could be read. */
  readonly profiles: CallState<readonly ServerProfile[]>;
  /** The saved servers, [] until known. */
  readonly list: readonly ServerProfile[];
  /** The chosen server's id as main keeps it; undefined until main has answered, so a page never acts on a guess in between. */
  readonly chosen: string | null | undefined;
  /** The server a page shows: `pickProfile(list, chosen)`. */
  readonly profile: ServerProfile | undefined;
  /** Choose a server: every page (and every other window) follows. */
  readonly choose: (profileId: string) => void;
  /** Ask main for the list again (e.g. after a removal failed). */
  readonly refresh: () => void;
}

const Context = createContext<ChosenServer | undefined>(undefined);

/** The profile a page shows: the chosen one when it is among them, else the first; none until the choice is known. */
export function pickProfile<P extends { readonly id: string }>(profiles: readonly P[], chosen: string | null | undefined): P | undefined {
  if (chosen === undefined) return undefined;
  return profiles.find((p) => p.id === chosen) ?? profiles[0];
}

/**
 * Keeps the chosen server for the whole app. The choice itself is main's (it survives reloads and restarts, and every
 * window follows `profiles:chosen`); the list follows `profiles:changed` and is asked again whenever `refreshOn`
 * changes (App passes the page, so each page opens on a fresh list, as when every page asked for its own).
 */
export function ChosenServerProvider({ refreshOn, children }: { refreshOn?: string; children: ReactNode }) {
  const listCall = useCall('profiles:list', undefined, { refreshOn });
  const { replace, refresh } = listCall;
  // A server saved or removed in any window (or tab) shows without a reload.
  useEvent('profiles:changed', replace);
  const asked = useCall('profiles:chosen');
  // What was chosen here, or pushed, since main answered: it wins over that answer, whichever comes first.
  const [picked, setPicked] = useState<string | null | undefined>();
  useEvent('profiles:chosen', (c) => setPicked(c.profileId));
  const choose = useCallback((profileId: string) => {
    setPicked(profileId);
    call('profiles:choose', { profileId }).catch(() => undefined);
  }, []);
  const chosen = picked !== undefined ? picked : asked.state.kind === 'ready' ? asked.state.value.profileId : asked.state.kind === 'failed' ? null : undefined;
  const { value, error } = listCall;
  const context = useMemo<ChosenServer>(() => {
    const profiles: CallState<readonly ServerProfile[]> = value ? { kind: 'ready', value } : error ? { kind: 'failed', error } : { kind: 'loading' };
    const list = value ?? [];
    return { profiles, list, chosen, profile: pickProfile(list, chosen), choose, refresh };
  }, [value, error, chosen, choose, refresh]);
  return <Context.Provider value={context}>{children}</Context.Provider>;
}

/** The chosen server and the saved servers, from the one provider above every page. */
export function useChosenServer(): ChosenServer {
  const c = useContext(Context);
  if (!c) throw new Error('useChosenServer needs <ChosenServerProvider> above it (App.tsx provides it once).');
  return c;
}
