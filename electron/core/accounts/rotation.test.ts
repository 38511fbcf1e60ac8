import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../contract/stack';
import { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import { MemorySecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import type { ConfigureTarget } from '../stack/configure/common';
import { toShell } from '../ssh/argv';
import { AccountsService } from './accounts-service';
import { OCC_RESET_SCRIPT, REDIS_PING_SCRIPT, alterRoleSql, occResetPasswordArgv, psqlArgv, redisPingArgv, stdinLine } from './rotation-commands';
import { RemoteCommandError } from '../ssh/remote-command';
import type { ExecOptions, ExecResult } from '../ssh/runner';
import type { Argv } from '../ssh/argv';
import { StackService } from '../stack/stack-service';
import { SecretRotation, previousName, realOps, rotatingName, servicesReading, type ServiceOps } from './rotation';
import { ServerOperations } from '../server-operations';

const PROFILE = 'lab-home';
const OLD = {
  'nextcloud.admin-password': 'NcAdminOldPassword000001',
  'nextcloud.redis-password': 'RedisOldTokenValue00000000000000000000000001',
  'nextcloud.db-password': 'NcDbOldPassword000000001',
  'authentik.db-password': 'AkDbOldPassword000000001',
  'authentik.bootstrap-password': 'AkBootOldPassword0000001',
} as const;

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (message: string, fields?: Record<string, unknown>): void => void lines.push(JSON.stringify({ message, fields }));
  return { lines, info: write, warn: write, error: write };
}

const applied = (services: string[]): ApplyResult => ({
  kind: 'applied',
  releaseId: '20261205T020000Z-abcdef01',
  services: services.map((service) => ({ service, module: null, action: 'recreate', reason: 'configuration changed', image: null })),
  health: [],
  warnings: [],
  durationMs: 1000,
});
const rolledBack = (failedService: string): ApplyResult => ({
  kind: 'rolled-back',
  attemptedRelease: '20261205T020000Z-abcdef02',
  report: { failedService, reason: 'unhealthy', logTail: [], restored: true, restoredRelease: '20261205T010000Z-abcdef00', decidedBy: 'health' } as unknown as Extract<ApplyResult, { kind: 'rolled-back' }>['report'],
  warnings: [],
  durationMs: 1000,
});

/**
 * The rotation over a memory keychain, with the server scripted: what each service accepts is kept here, and every
 * step (keychain writes, service changes, installs, proofs) is recorded in order, values replaced by old/new/other.
 */
async function setup(opts: { settings?: Partial<StackSettings>; installed?: boolean; operations?: ServerOperations } = {}) {
  const store = new MemorySecretStore();
  for (const [n, v] of Object.entries(OLD)) await store.set(PROFILE, n, new Secret(v));
  const settings = StackSettings.parse({ adminEmail: 'admin@example.com', ...opts.settings });
  const log = memoryLog();
  const steps: string[] = [];
  const name = (v: Secret | undefined): string => {
    if (!v) return 'none';
    return (Object.values(OLD) as string[]).includes(v.reveal()) ? 'old' : 'new';
  };
  // What the server holds: the value the service itself keeps, and the value in the running release's env file.
  const server = { service: new Map<string, string>(), env: new Map<string, string>() };
  for (const [n, v] of Object.entries(OLD)) {
    server.service.set(n, v);
    server.env.set(n, v);
  }
  let redeploy: (secretsNow: Map<string, string>) => ApplyResult | Promise<ApplyResult> = () => applied(['nextcloud']);
  let failChange: ((v: Secret) => Error | undefined) | undefined;
  // A keychain that refuses some deletes (locked for a moment, or for good): called with the entry and the how-manyth delete it is.
  let failDelete: ((entry: string, nth: number) => boolean) | undefined;
  let deletes = 0;
  const ops: ServiceOps = {
    setRolePassword: async (_t, db, v) => {
      steps.push(`ALTER ROLE ${db.role} → ${name(v)}`);
      const e = failChange?.(v);
      if (e) throw e;
      server.service.set('authentik.db-password', v.reveal());
    },
    setNextcloudPassword: async (_t, user, v) => {
      steps.push(`occ resetpassword ${user} → ${name(v)}`);
      const e = failChange?.(v);
      if (e) throw e;
      server.service.set('nextcloud.admin-password', v.reveal());
    },
    nextcloudAccepts: async (_t, _u, v) => (steps.push(`nextcloud login ${name(v)}`), server.service.get('nextcloud.admin-password') === v.reveal()),
    redisAccepts: async (_t, _s, v) => (steps.push(`redis ping ${name(v)}`), server.env.get('nextcloud.redis-password') === v.reveal()),
    authentikReady: async () => (steps.push('authentik ready'), server.env.get('authentik.db-password') === server.service.get('authentik.db-password')),
  };
  const secrets = {
    get: (p: string, n: string) => store.get(p, n),
    set: async (p: string, n: string, v: Secret) => {
      steps.push(`keychain ${n} = ${name(v)}`);
      await store.set(p, n, v);
    },
    delete: async (p: string, n: string) => {
      deletes++;
      if (failDelete?.(n, deletes)) {
        steps.push(`keychain delete ${n} refused`);
        throw new Error('The keychain is locked.');
      }
      steps.push(`keychain delete ${n}`);
      return store.delete(p, n);
    },
  };
  const rotation: SecretRotation = new SecretRotation({
    settings: async () => settings,
    secrets,
    target: async () => ({ conn: {} as ConfigureTarget['conn'], dockerAccess: 'group', project: 'm2' }),
    redeploy: async (_p, secret) => {
      // As StackService.apply asks before every install (services.ts wires it so): the rotation's own goes through.
      await rotation.assertInstallAllowed(PROFILE, secret);
      const now = new Map<string, string>();
      for (const n of Object.keys(OLD)) now.set(n, (await store.get(PROFILE, n))?.reveal() ?? '');
      steps.push(`install (${[...now].filter(([n]) => n !== 'nextcloud.db-password' && n !== 'authentik.bootstrap-password').map(([n, v]) => `${n}=${name(new Secret(v))}`).join(', ')})`);
      const r = await redeploy(now);
      // An applied release runs with the keychain's values; a rolled-back one with what ran before.
      if (r.kind === 'applied') for (const [n, v] of now) server.env.set(n, v);
      return r;
    },
    installed: async () => opts.installed ?? true,
    log,
    ops,
    keychainRetryMs: 0,
    ...(opts.operations ? { operations: opts.operations } : {}),
  });
  return {
    rotation,
    store,
    log,
    steps,
    server,
    settings,
    setRedeploy: (f: typeof redeploy) => (redeploy = f),
    setFailChange: (f: typeof failChange) => (failChange = f),
    setFailDelete: (f: typeof failDelete) => {
      failDelete = f;
      deletes = 0;
    },
  };
}

const refusal = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
};

describe('the rotation plan', () => {
  it('lists every generated secret: how each rotates and what it restarts (from the rendered stack), or why it is not offered', async () => {
    const { rotation } = await setup();
    const plans = await rotation.plans(PROFILE);
    const byName = Object.fromEntries(plans.map((p) => [p.secret, p]));
    expect(byName['nextcloud.redis-password']).toMatchObject({ rotatable: true, restarts: ['nextcloud', 'nextcloud-redis'], unfinished: false, passwordSet: true });
    // Backups are on by default: the database dump sidecar reads the password too.
    expect(byName['authentik.db-password']).toMatchObject({ rotatable: true, restarts: ['authentik-db', 'authentik-db-dump', 'authentik-server', 'authentik-worker'] });
    expect(byName['nextcloud.admin-password']).toMatchObject({ rotatable: true, restarts: ['nextcloud'], accountId: 'nextcloud-admin' });
    expect(byName['nextcloud.admin-password']?.steps.join('\n')).toMatch(/occ user:resetpassword.*standard input[\s\S]*restarts nextcloud[\s\S]*old one is refused[\s\S]*only one in the keychain/);
    for (const n of ['nextcloud.db-password', 'authentik.secret-key', 'authentik.bootstrap-token', 'authentik.bootstrap-password', 'jellyfin.admin-password']) {
      expect(byName[n], n).toMatchObject({ rotatable: false, steps: [], restarts: [] });
      expect(byName[n]?.reason?.length ?? 0, n).toBeGreaterThan(40);
    }
    // The tunnel token is Cloudflare's, not the app's: not in the list.
    expect(byName['cloudflared.tunnel-token']).toBeUndefined();
    const text = JSON.stringify(plans);
    for (const v of Object.values(OLD)) expect(text.includes(v)).toBe(false);
  });

  it('what restarts follows the modules: without backups, no dump sidecar; without Authentik, nothing reads its password', async () => {
    const base = StackSettings.parse({ adminEmail: 'admin@example.com' });
    const noBackup = StackSettings.parse({ adminEmail: 'admin@example.com', modules: { ...base.modules, backup: { ...base.modules.backup, enabled: false } } });
    expect(servicesReading(noBackup, 'authentik.db-password')).toEqual(['authentik-db', 'authentik-server', 'authentik-worker']);
    const noAuthentik = StackSettings.parse({ adminEmail: 'admin@example.com', modules: { ...base.modules, authentik: { ...base.modules.authentik, enabled: false } } });
    expect(servicesReading(noAuthentik, 'authentik.db-password')).toEqual([]);
    expect(servicesReading(base, 'no.such-secret')).toEqual([]);
  });
});

describe('rotating a secret', () => {
  it('Nextcloud admin: the new value is made and kept aside, set in Nextcloud, installed, proven (old refused), and only then the only value', async () => {
    const { rotation, store, steps, log } = await setup();
    const result = await rotation.rotate(PROFILE, 'nextcloud.admin-password');
    expect(steps).toEqual([
      'keychain nextcloud.admin-password.rotating = new',
      'keychain nextcloud.admin-password.previous = old',
      'occ resetpassword admin → new',
      'keychain nextcloud.admin-password = new',
      'install (nextcloud.admin-password=new, nextcloud.redis-password=old, authentik.db-password=old)',
      'nextcloud login new',
      'nextcloud login old',
      'keychain delete nextcloud.admin-password.previous',
      'keychain delete nextcloud.admin-password.rotating',
    ]);
    const now = (await store.get(PROFILE, 'nextcloud.admin-password'))?.reveal() ?? '';
    expect(now).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(now).not.toBe(OLD['nextcloud.admin-password']);
    expect(await store.get(PROFILE, rotatingName('nextcloud.admin-password'))).toBeUndefined();
    expect(await store.get(PROFILE, previousName('nextcloud.admin-password'))).toBeUndefined();
    expect(result).toMatchObject({ secret: 'nextcloud.admin-password', restarted: ['nextcloud'], resumed: false });
    expect(JSON.stringify(result) + log.lines.join('\n')).not.toContain(now);
    expect(log.lines.join('\n')).toContain('"rotated nextcloud.admin-password"');
  });

  it('Redis: nothing to change in the service; the install restarts what reads it, and the proof pings with the new value and the old', async () => {
    const { rotation, store, steps, server } = await setup();
    await rotation.rotate(PROFILE, 'nextcloud.redis-password');
    expect(steps.filter((s) => !s.startsWith('keychain'))).toEqual(['install (nextcloud.admin-password=old, nextcloud.redis-password=new, authentik.db-password=old)', 'redis ping new', 'redis ping old']);
    const now = (await store.get(PROFILE, 'nextcloud.redis-password'))?.reveal();
    expect(now).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(server.env.get('nextcloud.redis-password')).toBe(now);
  });

  it('a release that does not come up healthy: the keychain and the database role go back to the old value, and a retry uses the same new one', async () => {
    const { rotation, store, steps, server, setRedeploy } = await setup();
    setRedeploy(() => rolledBack('authentik-worker'));
    const err = await refusal(rotation.rotate(PROFILE, 'authentik.db-password'));
    expect(err.code).toBe('accounts.rotation-failed');
    expect(err.userMessage).toMatch(/^Authentik’s database password: the rotation stopped \(installing the stack with it: .*authentik-worker did not become healthy.*\)\. The old value is back in place and still works\.$/);
    expect(err.hint).toMatch(/same new value is used, nothing is generated twice/);
    expect(steps).toEqual([
      'keychain authentik.db-password.rotating = new',
      'keychain authentik.db-password.previous = old',
      'ALTER ROLE authentik → new',
      'keychain authentik.db-password = new',
      'install (nextcloud.admin-password=old, nextcloud.redis-password=old, authentik.db-password=new)',
      'keychain authentik.db-password = old',
      'ALTER ROLE authentik → old',
      // Server and keychain agree again: the old value kept aside goes, the new one stays for the retry.
      'keychain delete authentik.db-password.previous',
    ]);
    expect((await store.get(PROFILE, 'authentik.db-password'))?.reveal()).toBe(OLD['authentik.db-password']);
    expect(server.service.get('authentik.db-password')).toBe(OLD['authentik.db-password']);
    const made = (await store.get(PROFILE, rotatingName('authentik.db-password')))?.reveal();
    expect(made).toMatch(/^[A-Za-z0-9]{24}$/);
    expect((await rotation.plans(PROFILE)).find((p) => p.secret === 'authentik.db-password')).toMatchObject({ unfinished: true });

    // The cause fixed: rotating again finishes with the value the first attempt made.
    setRedeploy(() => applied(['authentik-db', 'authentik-server', 'authentik-worker']));
    steps.length = 0;
    const result = await rotation.rotate(PROFILE, 'authentik.db-password');
    expect(result.resumed).toBe(true);
    expect(steps[0]).toBe('keychain authentik.db-password.previous = old');
    expect((await store.get(PROFILE, 'authentik.db-password'))?.reveal()).toBe(made);
    expect(server.service.get('authentik.db-password')).toBe(made);
    expect(server.env.get('authentik.db-password')).toBe(made);
  });

  it('a connection lost during the install: the keychain goes back, the server cannot, and the message says so; the retry finishes', async () => {
    const { rotation, store, steps, setRedeploy, setFailChange } = await setup();
    setRedeploy(() => {
      setFailChange(() => new Error('Not connected'));
      throw new AppError('ssh.disconnected', 'The connection to the server was lost.');
    });
    const err = await refusal(rotation.rotate(PROFILE, 'nextcloud.admin-password'));
    expect(err.userMessage).toMatch(/the rotation stopped \(installing the stack with it: The connection to the server was lost\.\)\. The old value is back in the keychain, but the server could not be set back to it\.$/);
    expect(err.hint).toMatch(/^Rotate again to finish: the same new value is used/);
    expect((await store.get(PROFILE, 'nextcloud.admin-password'))?.reveal()).toBe(OLD['nextcloud.admin-password']);
    // The install's end was not heard, so it may have gone live: the old value is installed again (here, it cannot be).
    expect(steps.filter((x) => x.startsWith('install'))).toEqual([
      'install (nextcloud.admin-password=new, nextcloud.redis-password=old, authentik.db-password=old)',
      'install (nextcloud.admin-password=old, nextcloud.redis-password=old, authentik.db-password=old)',
    ]);
    const made = (await store.get(PROFILE, rotatingName('nextcloud.admin-password')))?.reveal();

    setFailChange(undefined);
    setRedeploy(() => applied(['nextcloud']));
    steps.length = 0;
    const result = await rotation.rotate(PROFILE, 'nextcloud.admin-password');
    expect(result.resumed).toBe(true);
    expect((await store.get(PROFILE, 'nextcloud.admin-password'))?.reveal()).toBe(made);
    expect(steps).not.toContain('keychain nextcloud.admin-password.rotating = new');
  });

  it('an install already running for the server: nothing was installed, so the old value is simply put back (no second install)', async () => {
    const { rotation, store, steps, server, setRedeploy } = await setup();
    setRedeploy(() => {
      throw new AppError('stack.busy', 'An install or update is already running for this server.');
    });
    const err = await refusal(rotation.rotate(PROFILE, 'authentik.db-password'));
    expect(err.userMessage).toMatch(/An install or update is already running for this server\.\)\. The old value is back in place and still works\.$/);
    expect(steps.filter((x) => x.startsWith('install'))).toHaveLength(1);
    expect(server.service.get('authentik.db-password')).toBe(OLD['authentik.db-password']);
    expect((await store.get(PROFILE, 'authentik.db-password'))?.reveal()).toBe(OLD['authentik.db-password']);
  });

  it('the app stopped after the keychain had the new value: the old one is taken from beside it, and the rotation finishes', async () => {
    const { rotation, store, steps, server } = await setup();
    const made = new Secret('NcAdminNewPasswordMade01');
    // As left by a stop between the install and the clean-up: the keychain holds the new value, the old one beside it.
    await store.set(PROFILE, rotatingName('nextcloud.admin-password'), made);
    await store.set(PROFILE, previousName('nextcloud.admin-password'), new Secret(OLD['nextcloud.admin-password']));
    await store.set(PROFILE, 'nextcloud.admin-password', made);
    const result = await rotation.rotate(PROFILE, 'nextcloud.admin-password');
    expect(result.resumed).toBe(true);
    expect(steps.some((s) => s.includes('.previous = '))).toBe(false);
    expect(server.service.get('nextcloud.admin-password')).toBe(made.reveal());
    expect((await store.get(PROFILE, 'nextcloud.admin-password'))?.reveal()).toBe(made.reveal());
    expect(await store.get(PROFILE, previousName('nextcloud.admin-password'))).toBeUndefined();
  });

  it('a proof that fails after the new release went live: everything goes back, the old release values included', async () => {
    const { rotation, store, steps, server, setRedeploy } = await setup();
    let installs = 0;
    setRedeploy(() => {
      installs++;
      return applied(['nextcloud', 'nextcloud-redis']);
    });
    // Redis that still takes the old password after the install (it was not restarted): the proof fails.
    const realSet = server.env.set.bind(server.env);
    server.env.set = (k: string, v: string) => (k === 'nextcloud.redis-password' ? server.env : realSet(k, v));
    const err = await refusal(rotation.rotate(PROFILE, 'nextcloud.redis-password'));
    expect(err.userMessage).toMatch(/checking that it works: Redis did not take the new password/);
    expect(installs).toBe(2);
    expect(steps.at(-2)).toBe('install (nextcloud.admin-password=old, nextcloud.redis-password=old, authentik.db-password=old)');
    expect(steps.at(-1)).toBe('keychain delete nextcloud.redis-password.previous');
    expect((await store.get(PROFILE, 'nextcloud.redis-password'))?.reveal()).toBe(OLD['nextcloud.redis-password']);
  });

  it('refuses what it cannot rotate, with the reason, and changes nothing', async () => {
    const { rotation, steps } = await setup();
    const no = await refusal(rotation.rotate(PROFILE, 'nextcloud.db-password'));
    expect(no.code).toBe('accounts.not-rotatable');
    expect(no.userMessage).toBe('Nextcloud’s database password: it cannot be rotated here.');
    expect(no.hint).toMatch(/config\.php/);
    const unknown = await refusal(rotation.rotate(PROFILE, 'cloudflared.tunnel-token'));
    expect(unknown.userMessage).toBe('Secret: this server’s stack has no secret “cloudflared.tunnel-token”.');
    expect(unknown.field).toBe('secret');
    expect(steps).toEqual([]);

    const notInstalled = await setup({ installed: false });
    const e = await refusal(notInstalled.rotation.rotate(PROFILE, 'nextcloud.redis-password'));
    expect(e.userMessage).toBe('Nextcloud’s Redis password: the stack is not installed on this server yet.');
    expect(notInstalled.steps).toEqual([]);
  });

  it('is refused while the server runs another operation (a restore), changing nothing; its own install passes the lock', async () => {
    const operations = new ServerOperations();
    const { rotation, steps, setRedeploy } = await setup({ operations });
    let release!: () => void;
    const restore = operations.exclusive(PROFILE, 'a restore of Authentik', 'backups.busy', () => new Promise<void>((r) => (release = r)));
    const e = await refusal(rotation.rotate(PROFILE, 'nextcloud.admin-password'));
    expect(e.code).toBe('accounts.rotation-busy');
    expect(e.userMessage).toBe('A restore of Authentik is running on this server, so a rotation of Nextcloud admin password cannot start now.');
    expect(steps).toEqual([]);
    release();
    await restore;
    // The rotation's install runs inside the rotation's own hold of the server (as StackService.apply does).
    setRedeploy(() => operations.exclusive(PROFILE, 'an install', 'stack.busy', async () => applied(['nextcloud'])));
    const r = await rotation.rotate(PROFILE, 'nextcloud.admin-password');
    expect(r).toMatchObject({ secret: 'nextcloud.admin-password' });
    expect(operations.running(PROFILE)).toBeNull();
  });

  it('a second rotation on the same server while one runs is refused', async () => {
    const { rotation, setRedeploy } = await setup();
    let release: () => void = () => undefined;
    setRedeploy(() => new Promise<ApplyResult>((r) => (release = () => r(applied(['nextcloud'])))));
    const first = rotation.rotate(PROFILE, 'nextcloud.admin-password');
    await new Promise((r) => setTimeout(r, 20));
    const second = await refusal(rotation.rotate(PROFILE, 'nextcloud.admin-password'));
    expect(second.code).toBe('accounts.rotation-busy');
    expect(second.userMessage).toBe('Secret: it is already being rotated.');
    // Another secret of the same server waits too: each rotation installs the stack as the keychain holds it.
    const other = await refusal(rotation.rotate(PROFILE, 'nextcloud.redis-password'));
    expect(other.userMessage).toBe('Secret: Nextcloud admin password is being rotated on this server; one rotation runs at a time.');
    release();
    await expect(first).resolves.toMatchObject({ resumed: false });
  });

  it('through the accounts service: hostile secret names are refused with the field named, before anything runs', async () => {
    const { rotation, steps } = await setup();
    const { settings } = await setup();
    const accounts = new AccountsService({
      settings: async () => settings,
      serverHost: async () => '192.168.1.20',
      published: async () => [],
      secrets: { get: async () => undefined },
      rotation,
      log: memoryLog(),
    });
    for (const bad of ['$(touch /tmp/pwned)', 'nextcloud.admin-password\n', "x'; DROP ROLE authentik; --", 'x'.repeat(200), 'néxtcloud.admin-password', '../nextcloud.admin-password']) {
      const e = await refusal(accounts.rotate(PROFILE, bad));
      expect(e.userMessage, JSON.stringify(bad)).toBe('Secret: choose a secret from the list.');
      expect(e.field).toBe('secret');
    }
    expect(steps).toEqual([]);
    expect((await accounts.rotations(PROFILE)).length).toBeGreaterThan(5);
  });
});

describe('the commands a rotation runs', () => {
  const value = new Secret('Abc123Def456Ghi789Jkl012');

  it('never carry a value on a command line: psql reads SQL, occ reads OC_PASS, redis-cli reads REDISCLI_AUTH, all from stdin', () => {
    const argvs = [psqlArgv('c0ffee', 'authentik', 'authentik'), occResetPasswordArgv('c0ffee', 'householdadmin'), redisPingArgv('c0ffee')];
    for (const a of argvs) expect(toShell(a)).not.toContain(value.reveal());
    expect(psqlArgv('c0ffee', 'authentik', 'authentik')).toEqual(['docker', 'exec', '--interactive', '--user', 'postgres', 'c0ffee', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'authentik', '-d', 'authentik']);
    expect(occResetPasswordArgv('c0ffee', 'householdadmin')).toEqual(['docker', 'exec', '--interactive', '--user', 'www-data', 'c0ffee', 'sh', '-c', OCC_RESET_SCRIPT, 'sh', 'householdadmin']);
    expect(OCC_RESET_SCRIPT).toContain('user:resetpassword --password-from-env "$1"');
    expect(REDIS_PING_SCRIPT).toContain('REDISCLI_AUTH');
    expect(alterRoleSql('authentik', value)).toBe(`ALTER ROLE "authentik" WITH PASSWORD '${value.reveal()}';\n`);
    expect(stdinLine(value)).toBe(`${value.reveal()}\n`);
  });

  it('an admin user that would read as an option is refused, naming the field', () => {
    expect(() => occResetPasswordArgv('c0ffee', '--password=x')).toThrow(/Nextcloud admin user/);
    expect(() => occResetPasswordArgv('c0ffee', 'a b')).toThrow(/Nextcloud admin user/);
  });

  it('any value is one SQL literal: quotes doubled, line breaks refused', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (v) => {
        if (/[\0\n\r]/.test(v)) {
          expect(() => alterRoleSql('authentik', new Secret(v))).toThrow();
          return;
        }
        const sql = alterRoleSql('authentik', new Secret(v));
        const literal = sql.slice(sql.indexOf("PASSWORD '") + 9, sql.lastIndexOf("';"));
        // Inside the literal every quote is doubled, so it cannot end early.
        expect(literal.slice(1).replace(/''/g, '')).not.toContain("'");
        expect(literal.slice(1).replace(/''/g, "'")).toBe(v);
      }),
      { numRuns: 300 },
    );
    expect(() => psqlArgv('c0ffee', 'authentik"; DROP', 'authentik')).toThrow();
  });
});

describe('installing while a rotation is unfinished', () => {
  it('a rotation that could not set the server back: Install is refused naming the secret and what to do, until the rotation is finished', async () => {
    const { rotation, store, setRedeploy, setFailChange } = await setup();
    // Cut off during the install: the keychain goes back, the database role cannot.
    setRedeploy(() => {
      setFailChange(() => new Error('Not connected'));
      throw new AppError('ssh.disconnected', 'The connection to the server was lost.');
    });
    await refusal(rotation.rotate(PROFILE, 'authentik.db-password'));
    expect(await store.get(PROFILE, previousName('authentik.db-password'))).toBeDefined();

    const err = await refusal(rotation.assertInstallAllowed(PROFILE));
    expect(err.code).toBe('accounts.rotation-unfinished');
    expect(err.userMessage).toBe(
      'Install: the rotation of Authentik’s database password did not finish, and the server may still expect its new value. Installing now would write the old value back and could stop authentik-db, authentik-db-dump, authentik-server, authentik-worker.',
    );
    expect(err.hint).toMatch(/^Finish the rotation in Settings → Secrets → Rotation first/);
    // Saying it is this secret's rotation does not help while that rotation is not running.
    await refusal(rotation.assertInstallAllowed(PROFILE, 'authentik.db-password'));
    // Another secret's rotation would install the old value too: it waits for this one.
    const other = await refusal(rotation.rotate(PROFILE, 'nextcloud.redis-password'));
    expect(other.code).toBe('accounts.rotation-unfinished');
    expect(other.userMessage).toBe('Nextcloud’s Redis password: the rotation of Authentik’s database password did not finish; it comes first.');
    expect(other.hint).toBe('Finish the rotation of Authentik’s database password first (“Finish the rotation” beside it), then rotate this one.');

    // Finishing it: its own installs go through (the setup's redeploy asks as StackService does), and then Install is allowed.
    setFailChange(undefined);
    setRedeploy(() => applied(['authentik-db', 'authentik-server', 'authentik-worker']));
    await expect(rotation.rotate(PROFILE, 'authentik.db-password')).resolves.toMatchObject({ resumed: true });
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
  });

  it('a rotation that was undone completely leaves Install allowed (server and keychain agree), and the retry still uses the same new value', async () => {
    const { rotation, store, setRedeploy } = await setup();
    setRedeploy(() => rolledBack('authentik-worker'));
    await refusal(rotation.rotate(PROFILE, 'authentik.db-password'));
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
    expect(await store.get(PROFILE, rotatingName('authentik.db-password'))).toBeDefined();
    expect((await rotation.plans(PROFILE)).find((p) => p.secret === 'authentik.db-password')).toMatchObject({ unfinished: true });
  });

  it('the app stopped in the middle (the old value still kept aside): Install is refused', async () => {
    const { rotation, store } = await setup();
    await store.set(PROFILE, rotatingName('nextcloud.admin-password'), new Secret('NcAdminNewPasswordMade01'));
    await store.set(PROFILE, previousName('nextcloud.admin-password'), new Secret(OLD['nextcloud.admin-password']));
    const err = await refusal(rotation.assertInstallAllowed(PROFILE));
    expect(err.userMessage).toMatch(/^Install: the rotation of Nextcloud admin password did not finish/);
  });

  it('while a rotation runs, any other install is refused; its own goes through', async () => {
    const { rotation, setRedeploy } = await setup();
    let release: () => void = () => undefined;
    let ownInstall: () => void = () => undefined;
    const reached = new Promise<void>((r) => (ownInstall = r));
    setRedeploy(() => {
      ownInstall();
      return new Promise<ApplyResult>((r) => (release = () => r(applied(['nextcloud']))));
    });
    const running = rotation.rotate(PROFILE, 'nextcloud.admin-password');
    await reached;
    const err = await refusal(rotation.assertInstallAllowed(PROFILE));
    expect(err.code).toBe('accounts.rotation-busy');
    expect(err.userMessage).toBe('Install: Nextcloud admin password is being rotated on this server right now; an install would get in its way.');
    await refusal(rotation.assertInstallAllowed(PROFILE, 'nextcloud.redis-password'));
    await expect(rotation.assertInstallAllowed(PROFILE, 'nextcloud.admin-password')).resolves.toBeUndefined();
    release();
    await running;
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
  });

  it('StackService asks before its review and its install, before anything is touched, and passes the rotation’s own', async () => {
    const { rotation, store } = await setup();
    await store.set(PROFILE, rotatingName('authentik.db-password'), new Secret('AkDbNewPasswordMade00001'));
    await store.set(PROFILE, previousName('authentik.db-password'), new Secret(OLD['authentik.db-password']));
    const asked: Array<string | undefined> = [];
    let touched = 0;
    const stack = new StackService({
      settings: {
        get: async () => (touched++, undefined),
        save: async (_p, s) => s,
      },
      servers: {
        connection: () => {
          touched++;
          throw new AppError('server.not-connected', 'Not connected.');
        },
      },
      secretStore: store,
      log: memoryLog(),
      onProgress: () => undefined,
      resourcesDir: 'resources',
      beforeInstall: async (p, finishing) => {
        asked.push(finishing);
        await rotation.assertInstallAllowed(p, finishing);
      },
    });
    const install = await refusal(stack.apply(PROFILE));
    expect(install.code).toBe('accounts.rotation-unfinished');
    expect(install.hint).toMatch(/^Finish the rotation in Settings → Secrets → Rotation first/);
    const review = await refusal(stack.plan(PROFILE));
    expect(review.code).toBe('accounts.rotation-unfinished');
    expect(touched).toBe(0);
    // An install that names the secret is asked about too (here refused: that rotation is not running).
    await refusal(stack.apply(PROFILE, { finishing: 'authentik.db-password' }));
    expect(asked).toEqual([undefined, undefined, 'authentik.db-password']);
    // Finished: the install goes on (and stops where this stand-in has no settings).
    await store.delete(PROFILE, previousName('authentik.db-password'));
    expect((await refusal(stack.apply(PROFILE))).code).toBe('stack.invalid-settings');
  });
});

describe('the real commands, checked as every remote command is', () => {
  const value = new Secret(`Ak'Db"$(touch /tmp/x)Value01`);
  const target = (results: Array<Partial<ExecResult>>, seen: Array<{ argv: Argv; opts?: ExecOptions }> = []): ConfigureTarget => ({
    conn: {
      exec: async (argv: Argv, opts?: ExecOptions) => {
        seen.push({ argv, ...(opts ? { opts } : {}) });
        const r = results.shift() ?? {};
        return { code: 0, signal: null, stdout: '', stderr: '', ...r } as ExecResult;
      },
      forward: async () => {
        throw new Error('no forwards here');
      },
    } as unknown as ConfigureTarget['conn'],
    dockerAccess: 'group',
    project: 'm2',
  });
  const container = { stdout: 'c0ffee00c0ffee00\n' };

  it('psql that fails: the rotation’s words with its exit code and first lines, the value masked; the command and status kept for the log', async () => {
    const seen: Array<{ argv: Argv; opts?: ExecOptions }> = [];
    const t = target([container, { code: 3, stderr: `psql:<stdin>:1: ERROR:  syntax error at or near "${value.reveal()}"\nLINE 1: ALTER ROLE\nmore\n` }], seen);
    const err = await refusal(realOps.setRolePassword(t, { service: 'authentik-db', role: 'authentik', name: 'authentik' }, value));
    expect(err.userMessage).toBe('psql in authentik-db exited 3: psql:<stdin>:1: ERROR:  syntax error at or near "••••••••" LINE 1: ALTER ROLE');
    expect(err.cause).toBeInstanceOf(RemoteCommandError);
    const facts = err.cause as RemoteCommandError;
    expect(facts.status).toBe('exit 3');
    expect(facts.command).toContain('psql');
    expect(JSON.stringify(facts) + err.userMessage).not.toContain(value.reveal());
    // The SQL, with the value, went on standard input only.
    expect(seen[1]?.opts?.stdin).toBe(alterRoleSql('authentik', value));
    expect(seen.every((c) => !toShell(c.argv).includes(value.reveal()))).toBe(true);
  });

  it('occ that fails or is killed says so in the same words; one that works returns', async () => {
    const failed = await refusal(realOps.setNextcloudPassword(target([container, { code: 1, stdout: `Password "${value.reveal()}" is too common` }]), 'admin', value));
    expect(failed.userMessage).toBe('occ user:resetpassword exited 1: Password "••••••••" is too common');
    const killed = await refusal(realOps.setNextcloudPassword(target([container, { code: null, signal: 'KILL' }]), 'admin', value));
    expect(killed.userMessage).toBe('occ user:resetpassword ended (signal KILL)');
    await expect(realOps.setNextcloudPassword(target([container, { code: 0 }]), 'admin', value)).resolves.toBeUndefined();
  });

  it('redis-cli: PONG takes it, exit 1 refuses it, and a Docker failure is an error, not a refusal', async () => {
    expect(await realOps.redisAccepts(target([container, { stdout: 'PONG\n' }]), 'nextcloud-redis', value)).toBe(true);
    expect(await realOps.redisAccepts(target([container, { code: 1, stdout: 'WRONGPASS invalid username-password pair\n' }]), 'nextcloud-redis', value)).toBe(false);
    const err = await refusal(realOps.redisAccepts(target([container, { code: 126, stderr: 'OCI runtime exec failed' }]), 'nextcloud-redis', value));
    expect(err.userMessage).toBe('redis-cli in nextcloud-redis exited 126: OCI runtime exec failed');
  });
});

describe('every state the keychain can be left in during a rotation is finished by the button the plan shows', () => {
  const NAME = 'nextcloud.admin-password';
  const O = OLD[NAME];
  const N = 'NcAdminNewPasswordMade01';
  const X = 'NcAdminOtherValueXXXXXX1';
  type V = typeof O | typeof N | typeof X | undefined;
  /**
   * One row per keychain state (<name>, .rotating, .previous), with what the server's Nextcloud holds, and what must
   * follow: Install refused before, the plan's "Finish the rotation", what pressing it does (`fresh`: a new value is
   * made; `resume`: the rotation finishes with .rotating's value, never a second one; `done`: only the copies go,
   * nothing on the server; `missing`: refused, naming what to do, and nothing written).
   */
  const rows: Array<{ why: string; main: V; rotating: V; previous: V; server: string; does: 'fresh' | 'resume' | 'done' | 'missing'; blocked: boolean; unfinished: boolean }> = [
    { why: 'nothing under way', main: O, rotating: undefined, previous: undefined, server: O, does: 'fresh', blocked: false, unfinished: false },
    { why: 'never generated', main: undefined, rotating: undefined, previous: undefined, server: O, does: 'missing', blocked: false, unfinished: false },
    { why: 'stopped after step 1, or undone completely (a retry waits)', main: O, rotating: N, previous: undefined, server: O, does: 'resume', blocked: false, unfinished: true },
    { why: 'stopped after step 2', main: O, rotating: N, previous: O, server: O, does: 'resume', blocked: true, unfinished: true },
    { why: 'stopped after step 3 (the service has the new value)', main: O, rotating: N, previous: O, server: N, does: 'resume', blocked: true, unfinished: true },
    { why: 'stopped after step 4 or 5, or the clean-up could not delete .previous', main: N, rotating: N, previous: O, server: N, does: 'resume', blocked: true, unfinished: true },
    { why: 'the undo could not set the keychain back but set the service back', main: N, rotating: N, previous: O, server: O, does: 'resume', blocked: true, unfinished: true },
    { why: 'stopped between the two deletes of the clean-up (or the second failed)', main: N, rotating: N, previous: undefined, server: N, does: 'done', blocked: false, unfinished: true },
    { why: '<name> changed by something else while .previous was kept', main: X, rotating: N, previous: O, server: O, does: 'resume', blocked: true, unfinished: true },
    { why: '<name> lost while the rotation was under way', main: undefined, rotating: N, previous: O, server: N, does: 'resume', blocked: true, unfinished: true },
    { why: '<name> lost, only the new value made', main: undefined, rotating: N, previous: undefined, server: O, does: 'missing', blocked: false, unfinished: false },
    { why: '.rotating gone, <name> new, .previous old', main: N, rotating: undefined, previous: O, server: O, does: 'resume', blocked: true, unfinished: true },
    { why: '.rotating gone, .previous equal to <name>', main: O, rotating: undefined, previous: O, server: O, does: 'done', blocked: false, unfinished: true },
    { why: '<name> lost, only .previous left', main: undefined, rotating: undefined, previous: O, server: O, does: 'fresh', blocked: true, unfinished: true },
    { why: '.previous equal to .rotating, finished', main: N, rotating: N, previous: N, server: N, does: 'done', blocked: false, unfinished: true },
    { why: '.previous equal to .rotating, <name> old', main: O, rotating: N, previous: N, server: O, does: 'resume', blocked: false, unfinished: true },
  ];

  it.each(rows)('$why: <name>=$main .rotating=$rotating .previous=$previous → $does', async (row) => {
    const { rotation, store, steps, server } = await setup();
    const put = async (entry: string, v: V): Promise<void> => {
      if (v === undefined) await store.delete(PROFILE, entry);
      else await store.set(PROFILE, entry, new Secret(v));
    };
    await put(NAME, row.main);
    await put(rotatingName(NAME), row.rotating);
    await put(previousName(NAME), row.previous);
    server.service.set(NAME, row.server);
    server.env.set(NAME, row.server);
    const read = async (entry: string): Promise<string | undefined> => (await store.get(PROFILE, entry))?.reveal();

    const plan = (await rotation.plans(PROFILE)).find((p) => p.secret === NAME);
    expect(plan?.unfinished).toBe(row.unfinished);
    expect(plan?.passwordSet).toBe(row.main !== undefined);
    const install = await rotation.assertInstallAllowed(PROFILE).then(
      () => false,
      (e: unknown) => (e as AppError).code === 'accounts.rotation-unfinished',
    );
    expect(install).toBe(row.blocked);
    // A refused Install always has a button beside the secret that finishes the rotation (the renderer shows it when unfinished).
    if (row.blocked) expect(plan?.unfinished).toBe(true);

    if (row.does === 'missing') {
      const err = await refusal(rotation.rotate(PROFILE, NAME));
      expect(err.code).toBe('accounts.not-generated');
      expect(err.hint).toBe('Install the stack first.');
      expect(steps).toEqual([]);
      return;
    }
    const result = await rotation.rotate(PROFILE, NAME);
    const now = await read(NAME);
    expect(await read(rotatingName(NAME))).toBeUndefined();
    expect(await read(previousName(NAME))).toBeUndefined();
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
    expect((await rotation.plans(PROFILE)).find((p) => p.secret === NAME)?.unfinished).toBe(false);
    if (row.does === 'done') {
      expect(steps.every((x) => x.startsWith('keychain delete'))).toBe(true);
      expect(now).toBe(row.main);
      expect(result.message).toBe('Nextcloud admin password: the earlier rotation had finished; the server and the keychain use the new value. The copies kept while rotating are removed.');
      expect(result).toMatchObject({ resumed: true, restarted: [] });
      expect(result.releaseId).toBeUndefined();
    } else {
      // Never a second new value: a rotation under way finishes with the one it made.
      if (row.does === 'resume') expect(now).toBe(row.rotating ?? row.main);
      else expect([O, N, X, undefined]).not.toContain(now);
      expect(result.resumed).toBe(row.does === 'resume');
      expect(result.message).toBe('Nextcloud admin password rotated: nextcloud restarted with the new value, and it works.');
      expect(steps).toContain('nextcloud login new');
      expect(steps.at(-1)).toBe('keychain delete nextcloud.admin-password.rotating');
    }
    // The server and the keychain agree.
    expect(server.service.get(NAME)).toBe(now);
    expect(server.env.get(NAME)).toBe(now);
  });
});

describe('a keychain that refuses the clean-up', () => {
  const NAME = 'nextcloud.admin-password';
  const read = async (store: MemorySecretStore, entry: string): Promise<string | undefined> => (await store.get(PROFILE, entry))?.reveal();

  it('refusing a delete once (locked for a moment): it is tried again, and the rotation ends clean', async () => {
    for (const nth of [1, 2]) {
      const { rotation, store, steps, setFailDelete } = await setup();
      setFailDelete((_entry, n) => n === nth);
      const result = await rotation.rotate(PROFILE, NAME);
      expect(result.message, `delete ${nth}`).toBe('Nextcloud admin password rotated: nextcloud restarted with the new value, and it works.');
      expect(steps.filter((x) => x.includes('refused'))).toHaveLength(1);
      expect(await read(store, rotatingName(NAME))).toBeUndefined();
      expect(await read(store, previousName(NAME))).toBeUndefined();
    }
  });

  it('refusing .previous for good: the proven rotation is a success with a note; Install waits; “Finish the rotation” completes it with the same value', async () => {
    const { rotation, store, steps, server, setFailDelete } = await setup();
    setFailDelete((entry) => entry === previousName(NAME));
    const result = await rotation.rotate(PROFILE, NAME);
    expect(result.message).toBe(
      'Nextcloud admin password rotated: nextcloud restarted with the new value, and it works. The keychain did not let the app remove the old value it kept aside, so Install waits: “Finish the rotation” removes it (it checks the new value again; nothing new is generated).',
    );
    // Three tries, and .rotating kept with it, so the state stays one that finishes with the same value.
    expect(steps.filter((x) => x.startsWith('keychain delete'))).toEqual(Array(3).fill(`keychain delete ${previousName(NAME)} refused`));
    const made = await read(store, NAME);
    expect(await read(store, rotatingName(NAME))).toBe(made);
    expect((await refusal(rotation.assertInstallAllowed(PROFILE))).code).toBe('accounts.rotation-unfinished');
    expect((await rotation.plans(PROFILE)).find((p) => p.secret === NAME)?.unfinished).toBe(true);

    setFailDelete(undefined);
    steps.length = 0;
    await expect(rotation.rotate(PROFILE, NAME)).resolves.toMatchObject({ resumed: true });
    expect(steps.some((x) => x.includes('.rotating = '))).toBe(false);
    expect(await read(store, NAME)).toBe(made);
    expect(server.service.get(NAME)).toBe(made);
    expect(await read(store, previousName(NAME))).toBeUndefined();
    expect(await read(store, rotatingName(NAME))).toBeUndefined();
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
  });

  it('refusing .rotating for good (or the app stopping between the two deletes): a success with a note; Install is allowed; “Finish the rotation” only removes the copy', async () => {
    const { rotation, store, steps, server, setFailDelete } = await setup();
    setFailDelete((entry) => entry === rotatingName(NAME));
    const result = await rotation.rotate(PROFILE, NAME);
    expect(result.message).toBe(
      'Nextcloud admin password rotated: nextcloud restarted with the new value, and it works. The keychain did not let the app remove the copy of the new value it kept while rotating; “Finish the rotation” removes it (nothing on the server changes).',
    );
    const made = await read(store, NAME);
    expect(await read(store, previousName(NAME))).toBeUndefined();
    await expect(rotation.assertInstallAllowed(PROFILE)).resolves.toBeUndefined();
    const plan = (await rotation.plans(PROFILE)).find((p) => p.secret === NAME);
    expect(plan).toMatchObject({ unfinished: true, restarts: [] });
    expect(plan?.steps[0]).toMatch(/^Nothing changes on the server/);

    // Still locked: the button says so and what to do, and nothing on the server is touched.
    steps.length = 0;
    const locked = await refusal(rotation.rotate(PROFILE, NAME));
    expect(locked.userMessage).toBe('Nextcloud admin password: the rotation had finished, but the keychain did not let the app remove the copies it kept while rotating.');
    expect(locked.hint).toMatch(/^Unlock your keychain/);
    expect(steps.every((x) => x.startsWith('keychain delete'))).toBe(true);

    setFailDelete(undefined);
    steps.length = 0;
    await expect(rotation.rotate(PROFILE, NAME)).resolves.toMatchObject({ resumed: true, restarted: [] });
    expect(steps).toEqual([`keychain delete ${rotatingName(NAME)}`]);
    expect(await read(store, NAME)).toBe(made);
    expect(server.service.get(NAME)).toBe(made);
    expect(await read(store, rotatingName(NAME))).toBeUndefined();
  });

  it('refusing .previous after a complete undo: the old value works, the message says Install waits, and the retry finishes with the same value', async () => {
    const { rotation, store, setRedeploy, setFailDelete } = await setup();
    setRedeploy(() => rolledBack('nextcloud'));
    setFailDelete((entry) => entry === previousName(NAME));
    const err = await refusal(rotation.rotate(PROFILE, NAME));
    expect(err.userMessage).toMatch(/The old value is back in place and still works \(the keychain also kept its copy beside it, so Install waits until the rotation is finished\)\.$/);
    const made = await read(store, rotatingName(NAME));
    expect((await rotation.plans(PROFILE)).find((p) => p.secret === NAME)?.unfinished).toBe(true);
    setFailDelete(undefined);
    setRedeploy(() => applied(['nextcloud']));
    await expect(rotation.rotate(PROFILE, NAME)).resolves.toMatchObject({ resumed: true });
    expect(await read(store, NAME)).toBe(made);
  });
});
