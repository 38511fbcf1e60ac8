import { describe, expect, it } from 'vitest';
import type { HouseholdRole } from '../../contract/household';
import { decide, roleGroupName, rolePolicyName, wantedGroups, wantedRolePolicies } from './household-access';
import { ORIGINS, type HostPlan } from './publish-plan';

const hosts: HostPlan[] = [
  { service: 'jellyfin', hostname: 'media.example.com', origin: ORIGINS.jellyfin },
  { service: 'nextcloud', hostname: 'cloud.example.com', origin: ORIGINS.nextcloud },
  { service: 'authentik', hostname: 'auth.example.com', origin: ORIGINS.authentik },
];

describe('Access groups by role', () => {
  it('makes one group per role that has people, each naming its people sorted, and none for an empty role', () => {
    const groups = wantedGroups(
      [
        { email: 'zoe@example.com', role: 'media' },
        { email: 'amy@example.com', role: 'media' },
        { email: 'pat@example.com', role: 'admin' },
        { email: 'AMY@example.com', role: 'media' },
      ],
      'home',
    );
    expect(groups).toEqual([
      { role: 'media', name: 'M2 Media only (home)', include: [{ email: { email: 'amy@example.com' } }, { email: { email: 'zoe@example.com' } }] },
      { role: 'admin', name: 'M2 Admin (home)', include: [{ email: { email: 'pat@example.com' } }] },
    ]);
    expect(wantedGroups([], 'home')).toEqual([]);
  });

  it('gives each service one policy including the groups of the roles that reach it, never a person', () => {
    const ids = new Map<HouseholdRole, string>([
      ['media', 'g-media'],
      ['power', 'g-power'],
      ['admin', 'g-admin'],
    ]);
    const policies = wantedRolePolicies(hosts, ids, 'home');
    expect(policies.map((p) => [p.hostname, p.name, p.include])).toEqual([
      ['media.example.com', rolePolicyName('jellyfin', 'home'), [{ group: { id: 'g-media' } }, { group: { id: 'g-power' } }, { group: { id: 'g-admin' } }]],
      ['cloud.example.com', rolePolicyName('nextcloud', 'home'), [{ group: { id: 'g-power' } }, { group: { id: 'g-admin' } }]],
      ['auth.example.com', rolePolicyName('authentik', 'home'), [{ group: { id: 'g-media' } }, { group: { id: 'g-power' } }, { group: { id: 'g-admin' } }]],
    ]);
    for (const p of policies) expect(JSON.stringify(p.include)).not.toContain('email');
  });

  it('leaves out a service that no existing group reaches (only media-only people: no Nextcloud policy)', () => {
    const policies = wantedRolePolicies(hosts, new Map([['media', 'g-media']]), 'home');
    expect(policies.map((p) => p.service)).toEqual(['jellyfin', 'authentik']);
    expect(wantedRolePolicies(hosts, new Map(), 'home')).toEqual([]);
  });
});

describe('the idempotent plan', () => {
  const wanted = wantedGroups([{ email: 'amy@example.com', role: 'media' }], 'home')[0]!;

  it('creates what is missing, finds its own by the kept id or by name, and leaves what is as wanted alone', () => {
    expect(decide([], undefined, wanted.name, wanted.include).kind).toBe('create');
    const same = { id: 'g1', name: wanted.name, include: [{ email: { email: 'amy@example.com' } }], exclude: [], require: [] };
    expect(decide([same], undefined, wanted.name, wanted.include)).toEqual({ kind: 'unchanged', existing: same });
    expect(decide([{ ...same, name: 'renamed by hand' }], 'g1', wanted.name, wanted.include).kind).toBe('update');
  });

  it('updates a group whose people differ or that gained an exclude rule, and never matches another server’s group', () => {
    const base = { id: 'g1', name: wanted.name, include: [{ email: { email: 'amy@example.com' } }] };
    expect(decide([{ ...base, include: [{ email: { email: 'amy@example.com' } }, { email: { email: 'eve@example.com' } }] }], 'g1', wanted.name, wanted.include).kind).toBe('update');
    expect(decide([{ ...base, exclude: [{ everyone: {} }] }], 'g1', wanted.name, wanted.include).kind).toBe('update');
    expect(decide([{ ...base, name: roleGroupName('media', 'other') }], undefined, wanted.name, wanted.include).kind).toBe('create');
  });

  it('is the same plan for the same household whatever order the people were added in', () => {
    const a = wantedGroups(
      [
        { email: 'b@example.com', role: 'power' },
        { email: 'a@example.com', role: 'power' },
      ],
      'home',
    );
    const b = wantedGroups(
      [
        { email: 'a@example.com', role: 'power' },
        { email: 'b@example.com', role: 'power' },
      ],
      'home',
    );
    expect(a).toEqual(b);
  });
});
