import { describe, expect, it } from 'vitest';
import { AccessSettings, CloudflareSettings, SetTokenRequest, ZonesRequest } from './cloudflare';
import { DataPath } from './preflight';
import { ProfileInput } from './profiles';
import { StackSettings } from './stack';

/** Invisible and direction-changing characters an admin can paste without seeing them. */
const RTL_OVERRIDE = '\u202e';
const ZERO_WIDTH = '\u200b';

const messages = (r: { success: boolean; error?: { issues: ReadonlyArray<{ message: string }> } }): string[] => (r.success ? [] : (r.error?.issues.map((i) => i.message) ?? []));

/** One stack setting set to `value`, everything else the defaults. */
const stackWith = (at: string, value: unknown): unknown => {
  const input: Record<string, unknown> = { modules: { jellyfin: {}, nextcloud: {}, backup: {}, wireguard: {}, mediaAutomation: {} }, hostnames: {} };
  const keys = at.split('.');
  let o = input;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys.at(-1) ?? ''] = value;
  return input;
};

describe('a refused stack setting is named with the label the admin sees beside it', () => {
  // Each field as the Services form labels it; the message must start with it (zod's own "Invalid input:" must not).
  const numbers: Array<[string, string]> = [
    ['uid', 'User id'],
    ['gid', 'Group id'],
    ['modules.jellyfin.renderGid', 'GPU render group id'],
    ['modules.jellyfin.lanPort', 'Jellyfin port'],
    ['modules.nextcloud.lanPort', 'Nextcloud port'],
    ['modules.backup.keepDaily', 'Keep daily'],
    ['modules.backup.keepWeekly', 'Keep weekly'],
    ['modules.backup.keepMonthly', 'Keep monthly'],
    ['modules.backup.warnAfterHours', 'Warn after'],
    ['modules.wireguard.port', 'WireGuard port'],
  ];
  it('a number field given no number at all (empty, "abc", "$(reboot)") names itself, not "Invalid input"', () => {
    for (const [at, label] of numbers) {
      // The render group id may be null (no render node chosen); any other non-number is refused.
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 'abc', '$(reboot)', ...(at.endsWith('renderGid') ? [] : [null])]) {
        const got = messages(StackSettings.safeParse(stackWith(at, bad)));
        expect(got.length, `${at} = ${String(bad)}`).toBeGreaterThan(0);
        for (const m of got) expect(m.startsWith(`${label}: `), `${at} = ${String(bad)}: ${m}`).toBe(true);
      }
    }
  });

  it('each folder field names itself, not "Data folders"', () => {
    const folders: Array<[string, unknown, string]> = [
      ['dataRoot', '../../etc', 'Service data folder'],
      ['modules.backup.repository', 'srv/backup', 'Backup repository folder'],
      ['modules.mediaAutomation.ingestPath', '/srv/../etc', 'Ingest folder'],
      ['modules.jellyfin.mediaPaths', ['/srv/media\n$(touch /tmp/x)'], 'Media folder'],
    ];
    for (const [at, bad, label] of folders) {
      const got = messages(StackSettings.safeParse(stackWith(at, bad)));
      expect(got.length, at).toBeGreaterThan(0);
      for (const m of got) expect(m.startsWith(`${label}: `), `${at}: ${m}`).toBe(true);
    }
  });
});

describe('invisible and right-to-left characters are refused where they would make a value read as another', () => {
  it('in a server name, a data folder, the admin email and an allowed email — with a message that says what to do', () => {
    for (const c of [RTL_OVERRIDE, ZERO_WIDTH]) {
      expect(messages(ProfileInput.safeParse({ name: `Home${c}server`, host: 'h.local', username: 'admin' }))).toEqual([
        'Name: remove the invisible or right-to-left characters (often pasted by accident), so the name reads as it is.',
      ]);
      expect(messages(DataPath.safeParse(`/srv/m2${c}`))[0]).toMatch(/^Data folders: remove the invisible or right-to-left characters/);
      expect(messages(StackSettings.safeParse(stackWith('dataRoot', `/srv/m2${c}`)))[0]).toMatch(/^Service data folder: remove the invisible/);
      expect(messages(StackSettings.safeParse(stackWith('adminEmail', `admin${c}@example.com`)))).toEqual(['Admin email: enter an email address such as admin@example.com.']);
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
