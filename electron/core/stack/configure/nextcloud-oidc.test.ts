import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../../contract/stack';
import { MemorySecretStore } from '../../secrets/keychain';
import { Secret } from '../../secrets/secret';
import type { ExecResult } from '../../ssh/runner';
import { nextcloudSecrets } from '../modules/nextcloud';
import { StackSecrets } from '../secrets';
import { configureNextcloud, occArgv } from './nextcloud';
import { OIDC_FINGERPRINT_KEY, discoveryUri, ensureOidc, oidcOcc, parseProvider, providerDrift, secretFingerprint, userOidcState } from './nextcloud-oidc';
import { nextcloudSso } from './sso';

const uri = 'https://auth.example.org/application/o/nextcloud/.well-known/openid-configuration';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

/** An occ that keeps what user_oidc keeps (lib/Command/UpsertProvider.php): the secret from the named env var, never printed. */
function fakeOcc(env: Record<string, string>, start: { app?: 'enabled' | 'disabled' | 'absent' } = {}) {
  let app = start.app ?? 'absent';
  let provider: { clientId: string; discoveryEndpoint: string; scope: string; settings: Record<string, unknown>; secret: string } | undefined;
  const appConfig = new Map<string, string>();
  const calls: string[][] = [];
  const run = (args: readonly string[]): Promise<ExecResult> => {
    calls.push([...args]);
    const [cmd, ...rest] = args;
    const opt = (k: string): string | undefined => rest.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
    switch (cmd) {
      case 'app:list':
        return Promise.resolve(ok(JSON.stringify({ enabled: app === 'enabled' ? { user_oidc: '8.10.1' } : { files: '34.0.0' }, disabled: app === 'disabled' ? { user_oidc: '8.10.1' } : {} })));
      case 'app:install':
        if (app !== 'absent') return Promise.resolve({ code: 1, stdout: 'user_oidc already installed', stderr: '' });
        app = 'enabled';
        return Promise.resolve(ok('user_oidc 8.10.1 installed\nuser_oidc enabled'));
      case 'app:enable':
        app = 'enabled';
        return Promise.resolve(ok('user_oidc 8.10.1 enabled'));
      case 'user_oidc:provider': {
        if (app !== 'enabled') return Promise.resolve({ code: 1, stdout: '', stderr: 'Command "user_oidc:provider" is not defined.' });
        if (rest.length === 2 && rest[1] === '--output=json') {
          if (!provider) return Promise.resolve({ code: 255, stdout: 'Provider not found\n', stderr: '' });
          const { secret: _s, ...shown } = provider;
          return Promise.resolve(ok(JSON.stringify({ id: 1, identifier: 'authentik', endSessionEndpoint: null, postLogoutUri: null, ...shown })));
        }
        const secret = env[opt('clientsecret-env') ?? ''] ?? '';
        provider = {
          clientId: opt('clientid') ?? '',
          discoveryEndpoint: opt('discoveryuri') ?? '',
          scope: opt('scope') ?? '',
          settings: { uniqueUid: opt('unique-uid') === '1', mappingDisplayName: opt('mapping-display-name') ?? '', mappingEmail: opt('mapping-email') ?? '' },
          secret,
        };
        return Promise.resolve(ok('Client secret loaded from environment variable "NC_OIDC_SECRET"'));
      }
      case 'config:app:get': {
        const v = appConfig.get(`${rest[0]}/${rest[1]}`);
        return Promise.resolve(v === undefined ? { code: 1, stdout: '', stderr: '' } : ok(`${v}\n`));
      }
      case 'config:app:set':
        appConfig.set(`${rest[0]}/${rest[1]}`, opt('value') ?? '');
        return Promise.resolve(ok());
      default:
        return Promise.resolve({ code: 1, stdout: '', stderr: `Command "${String(cmd)}" is not defined.` });
    }
  };
  const must = async (args: readonly string[], what: string): Promise<ExecResult> => {
    const r = await run(args);
    if (r.code !== 0) throw new Error(`${what} failed: ${r.stdout}${r.stderr}`);
    return r;
  };
  return { run, must, calls, provider: () => provider, appConfig, app: () => app };
}

const fail = (message: string, hint: string): Error => new Error(`${message} ${hint}`);

describe('Nextcloud sign-in through Authentik (user_oidc)', () => {
  it('builds Authentik’s discovery URI from a host name, and refuses anything else', () => {
    expect(discoveryUri('Auth.Example.org ')).toBe(uri);
    for (const bad of ['auth.example.org/x', 'a b', '$(id)', '', 'auth.example.org; id', '"x"']) expect(() => discoveryUri(bad)).toThrow(TypeError);
    expect(() => discoveryUri('auth.example.org', '../x')).toThrow(TypeError);
    expect(() => oidcOcc.upsertProvider('https://auth.example.org/x; id')).toThrow(TypeError);
  });

  it('registers with the secret named by its environment variable, never the value, one argument per element', () => {
    expect(oidcOcc.upsertProvider(uri)).toEqual([
      'user_oidc:provider',
      'authentik',
      '--clientid=nextcloud',
      '--clientsecret-env=NC_OIDC_SECRET',
      `--discoveryuri=${uri}`,
      '--scope=openid email profile',
      '--unique-uid=1',
      '--mapping-display-name=name',
      '--mapping-email=email',
    ]);
    expect(occArgv('abc123abc123', oidcOcc.getProvider())).toEqual(['docker', 'exec', '--user', 'www-data', 'abc123abc123', 'php', 'occ', '--no-interaction', 'user_oidc:provider', 'authentik', '--output=json']);
    expect(() => oidcOcc.setFingerprint('not a hash; id')).toThrow(TypeError);
  });

  it('never puts the secret or anything but its fingerprint on a command line, for any secret', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), async (value) => {
        const occ = fakeOcc({ NC_OIDC_SECRET: value });
        await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret: new Secret(value) }, fail);
        expect(occ.provider()?.secret).toBe(value);
        for (const argv of occ.calls) for (const a of argv) expect(a).not.toContain(value);
      }),
      { numRuns: 30 },
    );
  });

  it('installs the app, registers the provider and records the fingerprint; a second run changes nothing', async () => {
    const secret = new Secret('s'.repeat(43));
    const occ = fakeOcc({ NC_OIDC_SECRET: secret.reveal() });
    const first = await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret }, fail);
    expect(first).toEqual(['OpenID Connect app (user_oidc) installed', 'sign-in through Authentik registered: provider authentik, client nextcloud']);
    expect(occ.provider()).toMatchObject({ clientId: 'nextcloud', discoveryEndpoint: uri, scope: 'openid email profile', secret: secret.reveal() });
    expect(occ.appConfig.get(`user_oidc/${OIDC_FINGERPRINT_KEY}`)).toBe(secretFingerprint(secret));
    const before = occ.calls.length;
    expect(await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret }, fail)).toEqual([]);
    // Only reads the second time.
    expect(occ.calls.slice(before).map((c) => c[0])).toEqual(['app:list', 'user_oidc:provider', 'config:app:get']);
  });

  it('enables a disabled app instead of installing it again', async () => {
    const secret = new Secret('t'.repeat(43));
    const occ = fakeOcc({ NC_OIDC_SECRET: secret.reveal() }, { app: 'disabled' });
    expect((await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret }, fail))[0]).toBe('OpenID Connect app (user_oidc) enabled');
    expect(occ.calls.map((c) => c[0])).not.toContain('app:install');
  });

  it('registers again when the discovery URI or the secret changed, naming what changed', async () => {
    const a = new Secret('a'.repeat(43));
    const env = { NC_OIDC_SECRET: a.reveal() };
    const occ = fakeOcc(env);
    await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret: a }, fail);
    const other = 'https://sso.example.org/application/o/nextcloud/.well-known/openid-configuration';
    expect(await ensureOidc(occ.run, occ.must, { discoveryUri: other, secret: a }, fail)).toEqual(['sign-in through Authentik updated (discovery URI): provider authentik, client nextcloud']);
    const b = new Secret('b'.repeat(43));
    env.NC_OIDC_SECRET = b.reveal();
    expect(await ensureOidc(occ.run, occ.must, { discoveryUri: other, secret: b }, fail)).toEqual(['sign-in through Authentik updated (client secret): provider authentik, client nextcloud']);
    expect(occ.provider()?.secret).toBe(b.reveal());
  });

  it('a run stopped after registering (no fingerprint yet) registers again next time and then settles', async () => {
    const secret = new Secret('c'.repeat(43));
    const occ = fakeOcc({ NC_OIDC_SECRET: secret.reveal() });
    const stopping = { ...occ, must: async (args: readonly string[], what: string) => (args[0] === 'config:app:set' ? Promise.reject(new Error('connection lost')) : occ.must(args, what)) };
    await expect(ensureOidc(stopping.run, stopping.must, { discoveryUri: uri, secret }, fail)).rejects.toThrow('connection lost');
    expect(occ.provider()).toBeDefined();
    expect(await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret }, fail)).toEqual(['sign-in through Authentik updated (client secret): provider authentik, client nextcloud']);
    expect(await ensureOidc(occ.run, occ.must, { discoveryUri: uri, secret }, fail)).toEqual([]);
  });

  it('says what to do when the app store cannot be reached', async () => {
    const occ = fakeOcc({});
    const run = (args: readonly string[]): Promise<ExecResult> => (args[0] === 'app:install' ? Promise.resolve({ code: 1, stdout: 'Could not download app user_oidc', stderr: '' }) : occ.run(args));
    await expect(ensureOidc(run, occ.must, { discoveryUri: uri, secret: new Secret('d'.repeat(43)) }, fail)).rejects.toThrow(
      /installing its OpenID Connect app \(user_oidc\) failed \(occ exit 1: Could not download app user_oidc\)\. Nextcloud downloads user_oidc from apps\.nextcloud\.com/,
    );
  });

  it('reads app:list and the provider as occ prints them', () => {
    expect(userOidcState('{"enabled":{"user_oidc":"8.10.1"},"disabled":{}}')).toBe('enabled');
    expect(userOidcState('{"enabled":{},"disabled":{"user_oidc":"8.10.1"}}')).toBe('disabled');
    expect(userOidcState('{"enabled":{"files":"1"},"disabled":[]}')).toBe('absent');
    expect(userOidcState('nope')).toBeUndefined();
    expect(parseProvider({ code: 255, stdout: 'Provider not found\n', stderr: '' })).toBe('absent');
    expect(parseProvider({ code: 1, stdout: '', stderr: 'Command "user_oidc:provider" is not defined.' })).toBe('unreadable');
    const shown = parseProvider(ok(`{"id":1,"identifier":"authentik","clientId":"nextcloud","discoveryEndpoint":"${uri}","endSessionEndpoint":null,"postLogoutUri":null,"scope":"openid email profile ","settings":{"uniqueUid":true,"mappingDisplayName":"name","mappingEmail":"email"}}`));
    expect(shown).not.toBe('absent');
    if (shown === 'absent' || shown === 'unreadable') throw new Error('unreadable');
    expect(providerDrift(shown, uri)).toEqual([]);
    expect(providerDrift({ ...shown, clientId: 'other', settings: { uniqueUid: false } }, uri)).toEqual(['client id', 'unique user ids', 'display-name mapping', 'email mapping']);
  });

  it('takes the secret from the keychain only while Authentik is on, and says what to do when it is missing', async () => {
    const secrets = new StackSecrets(new MemorySecretStore()).forProfile('home');
    const settings = StackSettings.parse({ hostnames: { authentik: 'auth.example.org' } });
    await expect(nextcloudSso(settings, secrets)).rejects.toMatchObject({ code: 'stack.configure-failed', hint: expect.stringContaining('Apply the stack again') });
    await secrets.set(nextcloudSecrets.oidcSecret, new Secret('e'.repeat(43)));
    expect(await nextcloudSso(settings, secrets)).toMatchObject({ discoveryUri: uri });
    expect(await nextcloudSso(StackSettings.parse({ modules: { authentik: { enabled: false } } }), secrets)).toBeUndefined();
  });

  it('configureNextcloud reports the sign-in among its changes, and “already configured” when all is in place', async () => {
    const secret = new Secret('f'.repeat(43));
    const occ = fakeOcc({ NC_OIDC_SECRET: secret.reveal() });
    const conn = {
      exec: (argv: readonly string[]): Promise<ExecResult> => {
        if (argv[1] === 'ps') return Promise.resolve(ok('0123456789ab\n'));
        const args = argv.slice(argv.indexOf('--no-interaction') + 1);
        if (args[0] === 'status') return Promise.resolve(ok('{"installed":true}'));
        if (args[0] === 'config:system:get') return Promise.resolve(ok('["cloud.example.org"]'));
        if (args[0] === 'config:app:get' && args[1] === 'core') return Promise.resolve(ok('cron'));
        return occ.run(args);
      },
      forward: () => Promise.reject(new Error('no forwards')),
    };
    const target = { conn, dockerAccess: 'group' as const, project: 'm2' };
    const step = await configureNextcloud(target, { hostnames: ['cloud.example.org'], oidc: { discoveryUri: uri, secret } });
    expect(step).toEqual({ service: 'nextcloud', changed: true, message: 'OpenID Connect app (user_oidc) installed; sign-in through Authentik registered: provider authentik, client nextcloud.' });
    expect(await configureNextcloud(target, { hostnames: ['cloud.example.org'], oidc: { discoveryUri: uri, secret } })).toEqual({
      service: 'nextcloud',
      changed: false,
      message: 'Already configured: cloud.example.org trusted, background jobs by cron, sign-in through Authentik registered.',
    });
  });
});
