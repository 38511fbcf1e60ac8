/**
 * Which servers were connected when the app stopped (`<dataDir>/connections/<profile>.json`): profile data, never a
 * secret. A restarted app reconnects them by itself where it can sign in without asking.
 */
import { z } from 'zod';
import type { ServerProfile } from '../../contract/profiles';
import { ProfileJsonStore } from '../fs/json-store';

export const RememberedFile = z.object({ version: z.literal(1), reconnect: z.boolean().default(false) });
export type RememberedFile = z.infer<typeof RememberedFile>;

export const createRememberedStore = (dir: string): ProfileJsonStore<typeof RememberedFile> =>
  new ProfileJsonStore({ dir, schema: RememberedFile, empty: () => RememberedFile.parse({ version: 1 }), what: 'connection memory' });

export type ResumePlan = { readonly kind: 'skip' } | { readonly kind: 'dial' } | { readonly kind: 'cannot'; readonly reason: string };

export const passwordCannotResume =
  'This server signs in with a password, which M2 Companion never keeps, so it could not reconnect by itself. Connect again in Setup; with a key (Setup offers to install one) it reconnects by itself.';

/** What a restarted app does for one saved server: nothing (it was not connected), reconnect, or say why it cannot. */
export function resumePlan(profile: ServerProfile, remembered: RememberedFile | undefined): ResumePlan {
  if (!remembered?.reconnect) return { kind: 'skip' };
  switch (profile.auth.kind) {
    case 'agent':
    case 'key':
      return { kind: 'dial' };
    case 'password':
      return { kind: 'cannot', reason: passwordCannotResume };
    default: {
      const never: never = profile.auth;
      return never;
    }
  }
}
