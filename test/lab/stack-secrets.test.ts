import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { StackSecrets } from '../../electron/core/stack/secrets';
import type { SecretRequest } from '../../electron/core/stack/types';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { run } from '../../scripts/lab/process';

/** The stack's secrets in the real OS keychain of the lab (gnome-keyring over the Secret Service). */
let env: NodeJS.ProcessEnv;
const store = new KeyringSecretStore();
const profile = `lab-stack-${randomBytes(4).toString('hex')}`;
const requests: SecretRequest[] = [
  { name: 'authentik.bootstrap-token', kind: 'token', generated: true },
  { name: 'nextcloud.admin-password', kind: 'password', generated: true },
  { name: 'authentik.secret-key', kind: 'hex32', generated: true },
  { name: 'cloudflared.tunnel-token', kind: 'token', generated: false },
];

/** What the Secret Service itself holds, read with libsecret's CLI rather than through the app. */
async function secretToolLookup(account: string): Promise<string | null> {
  try {
    return await run('secret-tool', ['lookup', 'service', 'm2-companion', 'username', account], { env, timeoutMs: 10_000 });
  } catch {
    return null;
  }
}

beforeAll(async () => {
  const lab = await ensureKeychain();
  Object.assign(process.env, lab.env);
  env = { ...process.env };
});

afterAll(async () => {
  for (const r of requests) await store.delete(profile, r.name).catch(() => undefined);
});

describe('StackSecrets against the lab keychain', () => {
  it('generates once: a second ensure(), and a fresh StackSecrets, give identical values', async () => {
    const first = await new StackSecrets(store).ensure(profile, requests);
    expect([...first.keys()].sort()).toEqual(['authentik.bootstrap-token', 'authentik.secret-key', 'nextcloud.admin-password']);
    const again = await new StackSecrets(store).ensure(profile, requests);
    for (const [name, v] of first) expect(again.get(name)?.reveal(), name).toBe(v.reveal());
    expect(again.has('cloudflared.tunnel-token')).toBe(false);
  });

  it('keeps each value at service m2-companion, account <profile>/<name>, as the keychain itself reports', async () => {
    const values = await new StackSecrets(store).ensure(profile, requests);
    for (const [name, v] of values) expect(await secretToolLookup(`${profile}/${name}`), name).toBe(v.reveal());
    expect(await secretToolLookup(`${profile}/cloudflared.tunnel-token`)).toBeNull();
  });

  it('serialises concurrent ensure() calls for one profile on the real keychain', async () => {
    const fresh = `${profile}-c`;
    const secrets = new StackSecrets(store);
    try {
      const [a, b] = await Promise.all([secrets.ensure(fresh, requests), secrets.ensure(fresh, requests)]);
      for (const [name, v] of a) expect(b.get(name)?.reveal(), name).toBe(v.reveal());
      for (const [name, v] of a) expect(await secretToolLookup(`${fresh}/${name}`)).toBe(v.reveal());
    } finally {
      for (const r of requests) await store.delete(fresh, r.name).catch(() => undefined);
    }
  });

  it('prints no value through JSON.stringify, String() or util.inspect, and summaries carry only the mask', async () => {
    const secrets = new StackSecrets(store);
    const values = await secrets.ensure(profile, requests);
    const summaries = await secrets.summaries(profile, requests);
    const shown = [
      JSON.stringify(Object.fromEntries(values)),
      JSON.stringify([...values.values()]),
      String(values.get('nextcloud.admin-password')),
      `${String(values.get('authentik.bootstrap-token'))}`,
      inspect(values, { depth: 10 }),
      inspect(secrets, { depth: 10, showHidden: true }),
      JSON.stringify(summaries),
    ].join('\n');
    for (const v of values.values()) expect(shown).not.toContain(v.reveal());
    expect(summaries.find((s) => s.name === 'cloudflared.tunnel-token')).toEqual({ name: 'cloudflared.tunnel-token', masked: '', set: false });
    expect(summaries.filter((s) => s.set).map((s) => s.masked)).toEqual(['••••••••', '••••••••', '••••••••']);
  });
});
