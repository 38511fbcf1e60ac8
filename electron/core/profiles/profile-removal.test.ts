import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServerProfile } from '../../contract/profiles';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { ProfileStore } from './profile-store';
import { removeProfile, type ProfileKeeper } from './profile-removal';

const store = (): ProfileStore => new ProfileStore(path.join(mkdtempSync(path.join(os.tmpdir(), 'm2-removal-')), 'profiles.json'));
const server = { host: 'server.lan', port: 22, username: 'admin', auth: { kind: 'agent' as const } };

describe('removing a server profile', () => {
  it('lets every keeper forget the profile (told which servers stay), then disconnects and drops it', async () => {
    const profiles = store();
    const home = await profiles.save({ name: 'Home', ...server });
    const cabin = await profiles.save({ name: 'Cabin', ...server });
    const calls: string[] = [];
    const keeper = (what: string): ProfileKeeper => ({
      what,
      forget: async (p: ServerProfile, others: readonly ServerProfile[]) => void calls.push(`${what} ${p.id} [${others.map((o) => o.id).join(',')}]`),
    });
    await removeProfile({ profiles, keepers: [keeper('keychain'), keeper('settings')], disconnect: async (id) => void calls.push(`disconnect ${id}`), log: silentLogger }, home.id);
    expect(calls).toEqual(['keychain home [cabin]', 'settings home [cabin]', 'disconnect home']);
    expect((await profiles.list()).map((p) => p.id)).toEqual([cabin.id]);
  });

  it('keeps the profile when something cannot be forgotten, names what in the admin’s words, and still tries the rest', async () => {
    const profiles = store();
    const home = await profiles.save({ name: 'Home', ...server });
    const forgotten: string[] = [];
    const locked: ProfileKeeper = {
      what: 'saved passwords and tokens in the keychain',
      forget: async () => {
        throw new AppError('secrets.unavailable', 'No keychain is available.', { hint: 'Unlock your keychain.' });
      },
    };
    const settings: ProfileKeeper = { what: 'stack settings', forget: async (p) => void forgotten.push(p.id) };
    const err = await removeProfile({ profiles, keepers: [locked, settings], disconnect: async () => {}, log: silentLogger }, home.id).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'storage.failed',
      userMessage: '“Home” was not removed: M2 Companion could not delete its saved passwords and tokens in the keychain.',
      hint: 'Unlock your keychain. Then remove the server again.',
      field: 'id',
    });
    expect(forgotten).toEqual(['home']);
    expect((await profiles.list()).map((p) => p.id)).toEqual(['home']);
  });

  it('refuses an unknown profile before touching anything', async () => {
    const touched: string[] = [];
    await expect(
      removeProfile({ profiles: store(), keepers: [{ what: 'x', forget: async () => void touched.push('x') }], disconnect: async () => void touched.push('d'), log: silentLogger }, 'nope'),
    ).rejects.toMatchObject({ code: 'profile.not-found', field: 'id' });
    expect(touched).toEqual([]);
  });
});
