import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { calls } from '../../contract/contract';
import { serviceAddresses } from '../../contract/links';
import { StackSettings, type StackSettings as Settings } from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import { MemorySecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import { StackSecrets } from '../stack/secrets';
import { AccountsService, stackAccounts } from './accounts-service';
import { ClipboardGuard, type SystemClipboard } from './clipboard-guard';

const PROFILE = 'lab-home';

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (message: string, fields?: Record<string, unknown>): void => void lines.push(JSON.stringify({ message, fields }));
  return { lines, info: write, warn: write, error: write };
}

/** The service over a memory keychain holding the stack's generated secrets, as after a review and an install. */
async function setup(opts: { settings?: Partial<Settings>; published?: string[]; clipboard?: SystemClipboard; profiles?: Record<string, string> } = {}) {
  const store = new MemorySecretStore();
  const secrets = new StackSecrets(store);
  const settings = StackSettings.parse({ adminEmail: 'admin@example.com', ...opts.settings });
  const values: Record<string, string> = {
    'jellyfin.admin-password': 'Jf0adminPasswordValue123',
    'nextcloud.admin-password': 'Nc0adminPasswordValue456',
    'authentik.bootstrap-password': 'Ak0bootstrapPasswordValue7',
    // Secrets that are not account passwords: never listed, never revealed.
    'nextcloud.db-password': 'DbPasswordValue0000000001',
    'authentik.secret-key': 'SecretKeyValue00000000000002',
  };
  for (const [name, v] of Object.entries(values)) await store.set(PROFILE, name, new Secret(v));
  const log = memoryLog();
  const clipboard = opts.clipboard ? new ClipboardGuard(opts.clipboard) : undefined;
  const service = new AccountsService({
    settings: async () => settings,
    serverHost: async (id) => (opts.profiles ?? { [PROFILE]: '192.168.1.20' })[id],
    published: async () => opts.published ?? [],
    secrets,
    ...(clipboard ? { clipboard } : {}),
    log,
  });
  return { service, store, values, log };
}

const refusal = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
};

describe('the stack’s accounts', () => {
  it('lists the Jellyfin, Nextcloud and Authentik admins with their usernames and where each password is kept', async () => {
    const { service } = await setup({ settings: { modules: StackSettings.shape.modules.parse({ nextcloud: { adminUser: 'householdadmin' } }) } });
    const list = await service.list(PROFILE);
    expect(list.map((a) => [a.id, a.title, a.username, a.passwordSet])).toEqual([
      ['jellyfin-admin', 'Jellyfin', 'admin', true],
      ['nextcloud-admin', 'Nextcloud', 'householdadmin', true],
      ['authentik-admin', 'Authentik', 'akadmin', true],
    ]);
    expect(list.map((a) => a.keychain)).toEqual([
      { service: 'm2-companion', account: 'lab-home/jellyfin.admin-password' },
      { service: 'm2-companion', account: 'lab-home/nextcloud.admin-password' },
      { service: 'm2-companion', account: 'lab-home/authentik.bootstrap-password' },
    ]);
    expect(list.every((a) => calls['accounts:list'].output.element.safeParse(a).success)).toBe(true);
  });

  it('never puts a secret value in the list, nor in the log when listing', async () => {
    const { service, values, log } = await setup({ published: ['media.example.com'] });
    const text = JSON.stringify(await service.list(PROFILE)) + log.lines.join('\n');
    for (const [name, v] of Object.entries(values)) expect(text.includes(v), name).toBe(false);
  });

  it('signs in at the published address when the tunnel publishes it, at home when the port is on the LAN, else says it is not published', async () => {
    const { service } = await setup({ published: ['cloud.example.com'] });
    const byId = Object.fromEntries((await service.list(PROFILE)).map((a) => [a.id, a.signIn]));
    expect(byId['nextcloud-admin']).toEqual({ kind: 'published', url: 'https://cloud.example.com/' });
    expect(byId['jellyfin-admin']).toEqual({ kind: 'home', url: 'http://192.168.1.20:8096/' });
    expect(byId['authentik-admin']).toEqual({ kind: 'not-published', hostname: 'auth.example.com' });

    const local = await setup({ settings: { publishAddress: '127.0.0.1' } });
    expect((await local.service.list(PROFILE))[0]?.signIn).toEqual({ kind: 'not-published', hostname: 'media.example.com' });
  });

  it('signs in exactly where the app’s one list of service addresses (Done, Services, links, recovery kit) says', async () => {
    const published = ['cloud.example.com', 'media.example.com'];
    const { service } = await setup({ published });
    const addresses = serviceAddresses(StackSettings.parse({ adminEmail: 'admin@example.com' }), '192.168.1.20', published);
    for (const a of await service.list(PROFILE)) {
      const at = addresses.find((x) => x.service === a.service);
      const url = a.signIn.kind === 'not-published' ? null : a.signIn.url;
      expect(url, a.id).toBe(at?.url ?? at?.home ?? null);
    }
  });

  it('leaves out the accounts of modules that are off, and says which passwords are not generated yet', async () => {
    const { service, store } = await setup({ settings: { modules: StackSettings.shape.modules.parse({ nextcloud: { enabled: false }, authentik: { enabled: false } }) } });
    await store.delete(PROFILE, 'jellyfin.admin-password');
    const list = await service.list(PROFILE);
    expect(list.map((a) => [a.id, a.passwordSet])).toEqual([['jellyfin-admin', false]]);
    const err = await refusal(service.reveal(PROFILE, 'jellyfin-admin'));
    expect(err.code).toBe('accounts.not-generated');
    expect(err.userMessage).toBe('The Jellyfin admin password has not been generated yet.');
    const off = await refusal(service.reveal(PROFILE, 'nextcloud-admin'));
    expect(off.code).toBe('accounts.not-found');
    expect(off.userMessage).toContain('“nextcloud-admin”');
  });

  it('reveals exactly the value the keychain holds, and logs “revealed <account>” without it', async () => {
    const { service, values, log } = await setup();
    for (const [id, name] of [
      ['jellyfin-admin', 'jellyfin.admin-password'],
      ['nextcloud-admin', 'nextcloud.admin-password'],
      ['authentik-admin', 'authentik.bootstrap-password'],
    ] as const) {
      await expect(service.reveal(PROFILE, id)).resolves.toEqual({ accountId: id, password: values[name] });
    }
    expect(log.lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['revealed jellyfin-admin', 'revealed nextcloud-admin', 'revealed authentik-admin']);
    for (const v of Object.values(values)) expect(log.lines.join('\n').includes(v)).toBe(false);
  });

  it('refuses an unknown account with a message naming it and the accounts there are', async () => {
    const { service, log } = await setup();
    const err = await refusal(service.reveal(PROFILE, 'nextcloud-db'));
    expect(err.code).toBe('accounts.not-found');
    expect(err.userMessage).toBe('Account: there is no account “nextcloud-db” on this server.');
    expect(err.hint).toContain('jellyfin-admin, nextcloud-admin, authentik-admin');
    expect(err.field).toBe('accountId');
    expect(log.lines).toEqual([]);
  });

  it('refuses hostile account ids in the contract and in core, without echoing them or reading the keychain', { timeout: 60_000 }, async () => {
    const { service, log } = await setup();
    const hostile = ['nextcloud.admin-password', '../nextcloud-admin', 'nextcloud-admin"; rm -rf /', '$(touch /tmp/x)', 'nextcloud-admin\nrevealed authentik-admin', 'a'.repeat(65), 'nextcloüd-admin', '', 'Nextcloud-Admin'];
    for (const id of hostile) {
      const parsed = calls['accounts:reveal'].input.safeParse({ profileId: PROFILE, accountId: id });
      expect(parsed.success, JSON.stringify(id)).toBe(false);
      if (!parsed.success) expect(parsed.error.issues[0]?.message).toBe('Account: choose an account from the list.');
      const err = await refusal(service.reveal(PROFILE, id));
      expect(err.code).toBe('accounts.not-found');
      if (id.length > 1) expect(err.userMessage.includes(id)).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        // eslint-disable-next-line no-control-regex -- the point is to include control characters
        if (/[\s$`'"\\;|&<>(){}*?!#~./\0-\x1f\u0080-\uffff]/.test(s)) expect(calls['accounts:copy'].input.safeParse({ profileId: PROFILE, accountId: s }).success).toBe(false);
      }),
      { numRuns: 1000 },
    );
    expect(log.lines).toEqual([]);
  });

  it('refuses a server that is not saved, naming the server field', async () => {
    const { service } = await setup();
    const err = await refusal(service.list('gone'));
    expect(err.code).toBe('profile.not-found');
    expect(err.userMessage).toMatch(/^Server: /);
  });

  it('copies through the main-process clipboard and logs it without the value; without one it says to reveal instead', async () => {
    const board = {
      text: '',
      writeText(t: string): void {
        board.text = t;
      },
      readText: (): string => board.text,
      clear(): void {
        board.text = '';
      },
    };
    const { service, values, log } = await setup({ clipboard: board });
    await expect(service.copy(PROFILE, 'authentik-admin')).resolves.toEqual({ accountId: 'authentik-admin', clearsAfterSeconds: 30 });
    expect(board.text).toBe(values['authentik.bootstrap-password']);
    expect(log.lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['copied authentik-admin to the clipboard']);
    expect(log.lines.join('').includes(board.text)).toBe(false);

    const web = await setup();
    const err = await refusal(web.service.copy(PROFILE, 'authentik-admin'));
    expect(err.code).toBe('accounts.clipboard-unavailable');
  });

  it('declares accounts only for passwords the modules generate', () => {
    const all = stackAccounts(StackSettings.parse({}));
    expect(all.map((a) => a.secret)).toEqual(['jellyfin.admin-password', 'nextcloud.admin-password', 'authentik.bootstrap-password']);
  });
});
