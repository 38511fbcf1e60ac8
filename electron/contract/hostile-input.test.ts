import { describe, expect, it } from 'vitest';
import { AccessSettings, CloudflareSettings, SetTokenRequest, ZonesRequest } from './cloudflare';
import { DataPath } from './preflight';
import { ProfileInput } from './profiles';

/** Invisible and direction-changing characters an admin can paste without seeing them. */
const RTL_OVERRIDE = '\u202e';
const ZERO_WIDTH = '\u200b';

const messages = (r: { success: boolean; error?: { issues: ReadonlyArray<{ message: string }> } }): string[] => (r.success ? [] : (r.error?.issues.map((i) => i.message) ?? []));

describe('invisible and right-to-left characters are refused where they would make a value read as another', () => {
  it('in a server name, a data folder and an allowed email — with a message that says what to do', () => {
    for (const c of [RTL_OVERRIDE, ZERO_WIDTH]) {
      expect(messages(ProfileInput.safeParse({ name: `Home${c}server`, host: 'h.local', username: 'admin' }))).toEqual([
        'Name: remove the invisible or right-to-left characters (often pasted by accident), so the name reads as it is.',
      ]);
      expect(messages(DataPath.safeParse(`/srv/m2${c}`))[0]).toMatch(/^Data folders: remove the invisible or right-to-left characters/);
      expect(messages(AccessSettings.safeParse({ emails: [`alice${c}@example.com`] }))).toEqual(['Allowed emails: enter addresses such as alice@example.com.']);
    }
  });

  it('still accepts emoji with a zero-width joiner in a folder or a name (a family photo folder is a real folder)', () => {
    const family = '👨\u200d👩\u200d👧';
    expect(DataPath.safeParse(`/srv/media/${family} Videos`).success).toBe(true);
    expect(ProfileInput.safeParse({ name: `${family} home`, host: 'h.local', username: 'admin' }).success).toBe(true);
  });
});

describe('Cloudflare fields are named as the step labels them', () => {
  it('account, zone and the allowed email domain each name themselves', () => {
    const hostile = `$(touch /tmp/pwned)'"\`;rm -rf ~`;
    expect(messages(CloudflareSettings.safeParse({ accountId: hostile }))[0]).toMatch(/^Account: choose one from the list/);
    expect(messages(CloudflareSettings.safeParse({ zoneId: hostile }))[0]).toMatch(/^Zone: choose one from the list/);
    expect(messages(CloudflareSettings.safeParse({ zoneName: `${hostile}.com` }))[0]).toBe('Zone: enter a domain such as example.com.');
    expect(messages(AccessSettings.safeParse({ emailDomain: '../../etc' }))[0]).toBe('Allowed email domain: enter a domain such as example.com.');
    expect(messages(ZonesRequest.safeParse({ profileId: 'p', accountId: 'x'.repeat(10_000) }))[0]).toMatch(/^Account: /);
    expect(messages(SetTokenRequest.safeParse({ profileId: 'p', token: `${'a'.repeat(40)}$(id)` }))[0]).toMatch(/^API token: paste only the token/);
  });
});
