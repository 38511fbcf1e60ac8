import { z } from 'zod';
import { HouseholdMember } from '../../contract/household';
import { ProfileJsonStore } from '../fs/json-store';

export const HouseholdFile = z.object({
  version: z.literal(1),
  members: z.array(HouseholdMember).default([]),
});
export type HouseholdFile = z.infer<typeof HouseholdFile>;

/**
 * `<dataDir>/household/<profile>.json`: who the admin added and with which role. Authentik holds the person (their
 * sign-in and password); this is the app's bookkeeping of roles, kept on this computer because Cloudflare Access
 * groups are made from it when publishing (which needs no connection to the server), because removal must know
 * which Authentik users the app made (a user made by hand is only taken out of the groups, never deleted), and
 * because a change that stopped half-way is remembered and finished by the next. No secret lives here.
 */
export class HouseholdStore extends ProfileJsonStore<typeof HouseholdFile> {
  constructor(dir: string) {
    super({ dir, schema: HouseholdFile, empty: () => HouseholdFile.parse({ version: 1 }), what: 'household members' });
  }
}
