import { describe, expect, it } from 'vitest';
import type { HouseholdRole } from '../../contract/household';
import { authentikWords, membershipChanges, type RoleGroup } from './authentik-directory';
import { letInEverywhere } from './household-service';

const groups = (users: Partial<Record<HouseholdRole, number[]>>): Map<HouseholdRole, RoleGroup> =>
  new Map(
    (['media', 'power', 'admin'] as const).map((r) => [r, { pk: `uuid-${r}`, name: `m2-${r}`, users: users[r] ?? [] }]),
  );

describe('Authentik membership', () => {
  it('puts a new person in their role’s group only', () => {
    const c = membershipChanges(7, 'media', groups({}));
    expect(c.add.map((g) => g.name)).toEqual(['m2-media']);
    expect(c.remove).toEqual([]);
  });

  it('changes nothing when the person is already where the role says (a re-run)', () => {
    expect(membershipChanges(7, 'power', groups({ power: [3, 7] }))).toEqual({ add: [], remove: [] });
  });

  it('moves a person whose role changed, and takes a removed person out of every role group', () => {
    const moved = membershipChanges(7, 'admin', groups({ media: [7], power: [7] }));
    expect(moved.add.map((g) => g.name)).toEqual(['m2-admin']);
    expect(moved.remove.map((g) => g.name)).toEqual(['m2-media', 'm2-power']);
    expect(membershipChanges(7, null, groups({ admin: [7, 8] })).remove.map((g) => g.name)).toEqual(['m2-admin']);
  });

  it('says Authentik’s refusal in its own words', () => {
    expect(authentikWords({ detail: 'Token invalid/expired' })).toBe('Token invalid/expired');
    expect(authentikWords({ username: ['This field must be unique.'] })).toBe('username: This field must be unique.');
    expect(authentikWords({ non_field_errors: 'No recovery flow set.' })).toBe('No recovery flow set.');
    expect(authentikWords(undefined)).toBe('');
  });
});

describe('who the household policy already lets in', () => {
  it('knows an address or a domain Cloudflare settings let in everywhere, in any case', () => {
    expect(letInEverywhere('Alex@Example.com', { emails: ['alex@example.com'], domain: null })).toMatch(/let in everywhere/);
    expect(letInEverywhere('kid@family.example', { emails: [], domain: 'family.example' })).toMatch(/anyone @family.example/);
    expect(letInEverywhere('kid@notfamily.example', { emails: ['alex@example.com'], domain: 'family.example' })).toBeNull();
  });
});
