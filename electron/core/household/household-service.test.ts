import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudflareRunReport } from '../../contract/cloudflare';
import { StackSettings } from '../../contract/stack';
import { createLogger } from '../log';
import { HouseholdService, accessMembers } from './household-service';
import { HouseholdStore } from './household-store';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const report = (ok: boolean): CloudflareRunReport => ({
  profileId: 'home',
  runId: 'r',
  ok,
  steps: [{ id: 'household-groups', title: 'Access groups by role', status: ok ? 'done' : 'failed', detail: ok ? 'Created' : 'Cloudflare refused' }],
  durationMs: 1,
});

/** The service with a store on disk; Authentik and Cloudflare are what each test says, and every call is noted. */
function make(opts: { cloudflareOk: boolean; authentikFails?: boolean }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-household-'));
  dirs.push(dir);
  const store = new HouseholdStore(dir);
  const calls: string[] = [];
  const service = new HouseholdService({
    store,
    stackSettings: async () => StackSettings.parse({}),
    authentik: async () => {
      calls.push('authentik');
      if (opts.authentikFails) throw new Error('no route to the server');
      throw new Error('this test never reaches Authentik past the first call');
    },
    cloudflare: {
      syncHousehold: async (p) => {
        calls.push(`cloudflare:${accessMembers((await store.read(p)).members).map((m) => m.email).join(',')}`);
        return report(opts.cloudflareOk);
      },
      access: async () => ({ ready: true, emails: ['admin@example.com'], domain: null }),
    },
    log: createLogger(() => undefined),
  });
  return { service, store, calls };
}

describe('the order of a household change', () => {
  it('does not touch Cloudflare when Authentik failed, and keeps the person as an unfinished add', async () => {
    const { service, store, calls } = make({ cloudflareOk: true, authentikFails: true });
    const r = await service.add('home', { name: 'Amy', email: 'amy@example.com', role: 'media' });
    expect(r.ok).toBe(false);
    expect(calls).toEqual(['authentik']);
    expect(r.steps.map((s) => [s.id, s.status])).toEqual([
      ['authentik', 'failed'],
      ['cloudflare', 'skipped'],
    ]);
    expect((await store.read('home')).members).toMatchObject([{ email: 'amy@example.com', state: 'adding', authentik: null }]);
  });

  it('a role change that fails part-way is an unfinished change, never "in place" with the new role', async () => {
    const { service, store } = make({ cloudflareOk: true, authentikFails: true });
    await store.update('home', (f) => {
      f.members = [{ email: 'amy@example.com', name: 'Amy', role: 'admin', state: 'active', addedAt: '2026-12-01T00:00:00.000Z', authentik: 'created' }];
    });
    const r = await service.add('home', { name: 'Amy', email: 'amy@example.com', role: 'media' });
    expect(r.ok).toBe(false);
    // Still in the admins' group in Authentik: the page must not say "media only, in place".
    expect((await store.read('home')).members).toMatchObject([{ email: 'amy@example.com', role: 'media', state: 'adding' }]);
  });

  it('takes Cloudflare Access away first on removal, without the person, and leaves Authentik alone when that failed', async () => {
    const { service, store, calls } = make({ cloudflareOk: false });
    await store.update('home', (f) => {
      f.members = [
        { email: 'amy@example.com', name: 'Amy', role: 'media', state: 'active', addedAt: '2026-12-05T00:00:00Z', authentik: 'created' },
        { email: 'bob@example.com', name: 'Bob', role: 'power', state: 'active', addedAt: '2026-12-05T00:00:00Z', authentik: 'created' },
      ];
    });
    const r = await service.remove('home', 'amy@example.com');
    expect(r.ok).toBe(false);
    // Cloudflare was asked for the household without Amy; Authentik was never opened.
    expect(calls).toEqual(['cloudflare:bob@example.com']);
    expect(r.steps.map((s) => [s.id, s.status])).toEqual([
      ['cloudflare', 'failed'],
      ['cloudflare:household-groups', 'failed'],
      ['authentik', 'skipped'],
    ]);
    expect(r.member).toMatchObject({ email: 'amy@example.com', state: 'removing' });
  });

  it('refuses a second change of the same household while one runs', async () => {
    const { service } = make({ cloudflareOk: true, authentikFails: true });
    const first = service.add('home', { name: 'Amy', email: 'amy@example.com', role: 'media' });
    await expect(service.remove('home', 'amy@example.com')).rejects.toMatchObject({ code: 'household.busy' });
    await first;
  });

  it('refuses a non-admin role for an address Cloudflare settings already let in everywhere, naming the email field', async () => {
    const { service, calls } = make({ cloudflareOk: true });
    await expect(service.add('home', { name: 'Ad', email: 'admin@example.com', role: 'power' })).rejects.toMatchObject({ code: 'household.everywhere', field: 'member.email', userMessage: expect.stringMatching(/^Email: /) });
    expect(calls).toEqual([]);
  });
});
