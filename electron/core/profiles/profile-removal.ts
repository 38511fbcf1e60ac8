/**
 * Removing a server removes what the app kept for it: keychain entries, stored settings, confirmed host keys, the key
 * pair it generated, and what it holds in memory. A new server of the same name gets the same id (profile-store's
 * slug), so anything left behind would silently become the new server's.
 */
import type { ServerProfile } from '../../contract/profiles';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { ProfileStore } from './profile-store';

/** One kind of thing the app keeps for a server, named in the admin's words, and how to forget it. */
export interface ProfileKeeper {
  /** e.g. "saved passwords and tokens in the keychain". */
  readonly what: string;
  /** Forget `profile`'s; `others` are the servers that stay (a host key two servers share is kept for the other). */
  forget(profile: ServerProfile, others: readonly ServerProfile[]): Promise<void>;
}

export interface ProfileRemovalDeps {
  readonly profiles: ProfileStore;
  readonly keepers: readonly ProfileKeeper[];
  /** Close the server's connection, once what ran over it (the status agent) has been stopped by its keeper. */
  readonly disconnect: (profileId: string) => Promise<void>;
  readonly log: Logger;
}

const listed = (items: readonly string[]): string => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`);

/**
 * Forget everything each keeper holds, disconnect, then drop the profile. When something cannot be forgotten (a
 * locked keychain), the profile stays, so removing it again finishes the job instead of leaving data to a namesake.
 */
export async function removeProfile(deps: ProfileRemovalDeps, id: string): Promise<void> {
  const all = await deps.profiles.list();
  const profile = all.find((p) => p.id === id);
  if (!profile) {
    throw new AppError('profile.not-found', `There is no server profile "${id}".`, { hint: 'It may have been removed already; refresh the list.', field: 'id' });
  }
  const others = all.filter((p) => p.id !== id);
  const failed: Array<{ what: string; err: unknown }> = [];
  for (const k of deps.keepers) {
    try {
      await k.forget(profile, others);
    } catch (err) {
      failed.push({ what: k.what, err });
      deps.log.warn('could not forget part of a removed server', { profile: id, what: k.what, error: err instanceof AppError ? err.userMessage : String(err) });
    }
  }
  if (failed.length > 0) {
    const first = failed[0]?.err;
    throw new AppError('storage.failed', `“${profile.name}” was not removed: M2 Companion could not delete its ${listed(failed.map((f) => f.what))}.`, {
      cause: first,
      hint: first instanceof AppError && first.hint ? `${first.hint} Then remove the server again.` : 'Try removing the server again.',
      field: 'id',
    });
  }
  await deps.disconnect(id);
  await deps.profiles.remove(id);
  deps.log.info('removed a server and what the app kept for it', { profile: id, parts: deps.keepers.map((k) => k.what) });
}
