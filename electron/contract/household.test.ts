import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddMemberRequest, MemberEmail, MemberName, roleReaches, type HouseholdRole } from './household';

const firstMessage = (r: { success: boolean; error?: { issues: Array<{ message: string }> } }): string => r.error?.issues[0]?.message ?? '';

describe('household roles', () => {
  it('media only reaches Jellyfin (and the sign-in pages), a power user also Nextcloud, an admin everything', () => {
    const reach = (role: HouseholdRole): string[] => ['jellyfin', 'nextcloud', 'authentik', 'sonarr'].filter((s) => roleReaches(role, s));
    expect(reach('media')).toEqual(['jellyfin', 'authentik']);
    expect(reach('power')).toEqual(['jellyfin', 'nextcloud', 'authentik']);
    expect(reach('admin')).toEqual(['jellyfin', 'nextcloud', 'authentik', 'sonarr']);
  });
});

describe('a new member', () => {
  it('takes names in any script and ordinary addresses, the address lower-cased', () => {
    for (const name of ['Alex', 'Zoë Müller', 'Alex O’Brien', "Sam O'Neil", 'Jean-Luc Picard', '李雷', 'J. R. Hartley']) expect(MemberName.safeParse(name).success, name).toBe(true);
    for (const email of ['alex@example.com', 'Alex.Smith+media@Example.CO.uk', 'a_b-c@sub.example.org']) expect(MemberEmail.safeParse(email).success, email).toBe(true);
    expect(MemberEmail.parse('  Alex@Example.com ')).toBe('alex@example.com');
  });

  it('refuses hostile names with a message naming the field', () => {
    for (const bad of ['', ' ', '$(reboot)', '`id`', 'Alex"; DROP', 'Alex\nEve', 'Alex\u202Eevil', '<script>', 'a'.repeat(65), '1337', 'Alex  Smith', 'Alex\\x']) {
      const r = MemberName.safeParse(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(firstMessage(r), JSON.stringify(bad)).toMatch(/^Name: /);
    }
  });

  it('refuses hostile and unusable addresses with a message naming the field', () => {
    for (const bad of ['', 'alex', 'alex@', '@example.com', 'alex@example', 'alex@@example.com', 'al ex@example.com', '$(id)@example.com', 'a`id`@example.com', "o'neil@example.com", 'alex@example.com\nbob@example.com', 'alex@exa mple.com', 'alex@-example.com', 'alex..b@example.com', 'alex@xn--bcher-kva.example\u200b', 'zoë@example.com', `${'a'.repeat(140)}@example.com`]) {
      const r = MemberEmail.safeParse(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(firstMessage(r), JSON.stringify(bad)).toMatch(/^Email: /);
    }
  });

  it('never accepts a shell metacharacter, quote, whitespace or control character in name or address', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        // Whitespace around the value is trimmed (a paste often brings a newline); inside it, it is refused.
        // eslint-disable-next-line no-control-regex -- the point is to include control characters
        if (/[$`"\\;|&<>(){}*?!#~\0-\x1f\u202e\u200b]/.test(s.trim())) {
          expect(MemberName.safeParse(s).success).toBe(false);
          expect(MemberEmail.safeParse(s).success).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('names the role field when the role is not one of the three', () => {
    const r = AddMemberRequest.safeParse({ profileId: 'home', member: { name: 'Alex', email: 'alex@example.com', role: 'root' } });
    expect(r.success).toBe(false);
    expect(firstMessage(r)).toBe('Role: choose media only, power user or admin.');
    expect(r.error?.issues[0]?.path).toEqual(['member', 'role']);
  });
});
