import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySecretStore } from '../../secrets/keychain';
import { Secret } from '../../secrets/secret';
import type { ExecResult } from '../../ssh/runner';
import { authentikSecrets } from '../modules/authentik';
import { StackSecrets } from '../secrets';
import { configureAuthentik, isTokenKey, outpostPk, outpostTokenIdentifier } from './authentik';
import type { ConfigureTarget } from './common';

const PK = '6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f';
const bootstrap = new Secret('b'.repeat(64));

/** Authentik's API as configureAuthentik reads it: the blueprint applied, the apps, the outpost and its token. */
let tokenKey: string | undefined = 'K'.repeat(128);
let outpostListed = true;
/** Who may use each application (household/authentik-bindings.ts), which the step also sets. */
const bindings: Array<Record<string, unknown>> = [];
const server = http.createServer((req, res) => {
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/-/health/live/') return send(200, {});
  if (req.headers.authorization !== `Bearer ${bootstrap.reveal()}`) return send(403, { detail: 'Token invalid/expired' });
  const page = (results: unknown[]): unknown => ({ pagination: { count: results.length }, results });
  if (req.url?.startsWith('/api/v3/managed/blueprints/')) return send(200, page([{ name: 'm2-apps', status: 'successful', last_applied: '2026-12-05T00:00:00Z' }]));
  if (req.url === '/api/v3/core/applications/') return send(200, page([{ slug: 'nextcloud' }, { slug: 'jellyfin' }]));
  const url = new URL(req.url ?? '/', 'http://x');
  const name = url.searchParams.get('name') ?? '';
  if (url.pathname === '/api/v3/core/groups/') return send(200, page([{ pk: `g-${name}`, name, is_superuser: name === 'm2-admins' || name === 'authentik Admins', users: [] }]));
  if (url.pathname === '/api/v3/core/users/') return send(200, page(url.searchParams.get('username') === 'akadmin' ? [{ pk: 1, username: 'akadmin' }] : []));
  const app = /^\/api\/v3\/core\/applications\/(nextcloud|jellyfin)\/$/.exec(url.pathname);
  if (app) return send(200, { pk: `app-${app[1]}`, slug: app[1], name: app[1], policy_engine_mode: 'any' });
  if (url.pathname === '/api/v3/policies/bindings/' && req.method === 'POST') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bindings.push({ pk: `b${bindings.length}`, policy: null, group: null, user: null, ...(JSON.parse(body) as Record<string, unknown>) });
      send(201, bindings.at(-1));
    });
    return;
  }
  if (url.pathname === '/api/v3/policies/bindings/') return send(200, page(bindings.filter((b) => b.target === url.searchParams.get('target'))));
  if (req.url === '/api/v3/outposts/instances/') return send(200, page(outpostListed ? [{ pk: 'not-ours', name: 'authentik Embedded Outpost' }, { pk: PK, name: 'm2-ldap' }] : []));
  if (req.url === `/api/v3/core/tokens/ak-outpost-${PK}-api/view_key/`) return tokenKey === undefined ? send(404, { detail: 'Not found.' }) : send(200, { key: tokenKey });
  return send(404, { detail: 'Not found.' });
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const target: ConfigureTarget = {
  project: 'm2',
  dockerAccess: 'group',
  conn: {
    exec: (argv): Promise<ExecResult> => Promise.resolve(argv[1] === 'ps' ? { code: 0, stdout: 'abcdef123456\n', stderr: '' } : { code: 0, stdout: '{"m2_edge":{"IPAddress":"172.30.0.9"}}', stderr: '' }),
    forward: () => Promise.resolve({ port, close: () => Promise.resolve() }),
  },
};

async function freshSecrets() {
  const secrets = new StackSecrets(new MemorySecretStore()).forProfile('home');
  await secrets.set('authentik.bootstrap-token', bootstrap);
  return secrets;
}

describe('Authentik’s LDAP outpost token', () => {
  it('reads the outpost by name and its token identifier as Authentik makes it', () => {
    expect(outpostPk({ results: [{ name: 'm2-ldap', pk: PK }] }, 'm2-ldap')).toBe(PK);
    expect(outpostPk({ results: [{ name: 'm2-ldap', pk: '../x' }] }, 'm2-ldap')).toBeUndefined();
    expect(outpostPk('nope', 'm2-ldap')).toBeUndefined();
    expect(outpostTokenIdentifier(PK)).toBe(`ak-outpost-${PK}-api`);
    expect(isTokenKey('a'.repeat(128))).toBe(true);
    for (const bad of ['short', `${'a'.repeat(40)}\nEVIL=1`, `${'a'.repeat(40)} `, 'a'.repeat(300), 42]) expect(isTokenKey(bad)).toBe(false);
  });

  it('keeps the token in the keychain the first time (changed), and only reads it the next time', async () => {
    tokenKey = 'K'.repeat(128);
    outpostListed = true;
    const secrets = await freshSecrets();
    const first = await configureAuthentik(target, { secrets, applications: ['nextcloud', 'jellyfin'], ldapOutpost: true, timeoutMs: 5_000 });
    expect(first).toEqual({
      service: 'authentik',
      changed: true,
      message:
        'Blueprint m2-apps applied by Authentik; applications nextcloud, jellyfin present; let authentik Admins, m2-power-users, m2-admins, akadmin into nextcloud; let authentik Admins, m2-media, m2-power-users, m2-admins, akadmin into jellyfin; the LDAP outpost’s token kept in the keychain (the outpost runs from the next release).',
    });
    // Who may use the applications is set from the install on: Nextcloud is never open to a media-only person.
    expect(bindings.filter((b) => b.target === 'app-nextcloud').map((b) => b.group ?? b.user)).toEqual(['g-authentik Admins', 'g-m2-power-users', 'g-m2-admins', 1]);
    expect((await secrets.get(authentikSecrets.ldapOutpostToken))?.reveal()).toBe(tokenKey);
    const second = await configureAuthentik(target, { secrets, applications: ['nextcloud', 'jellyfin'], ldapOutpost: true, timeoutMs: 5_000 });
    expect(second).toMatchObject({ changed: false, message: expect.stringMatching(/; LDAP outpost token in the keychain\.$/) });
  });

  it('refuses a token that is not letters and digits (it would go into an env file), keeping nothing', async () => {
    tokenKey = `${'K'.repeat(40)}\nNEXTCLOUD_ADMIN_PASSWORD=x`;
    const secrets = await freshSecrets();
    await expect(configureAuthentik(target, { secrets, applications: [], ldapOutpost: true, timeoutMs: 1_500 })).rejects.toMatchObject({
      code: 'stack.configure-failed',
      userMessage: expect.stringMatching(/^Authentik: the token of the LDAP outpost m2-ldap is not one Authentik makes \(letters and digits\) within 2 s\.$/),
    });
    expect(await secrets.get(authentikSecrets.ldapOutpostToken)).toBeUndefined();
  });

  it('says what to check when the outpost or its token never appears', async () => {
    const secrets = await freshSecrets();
    tokenKey = undefined;
    await expect(configureAuthentik(target, { secrets, applications: [], ldapOutpost: true, timeoutMs: 1_500 })).rejects.toMatchObject({
      userMessage: expect.stringContaining('Authentik has not made the token of the LDAP outpost m2-ldap'),
      hint: expect.stringContaining('authentik-worker'),
    });
    outpostListed = false;
    await expect(configureAuthentik(target, { secrets, applications: [], ldapOutpost: true, timeoutMs: 1_500 })).rejects.toMatchObject({
      userMessage: expect.stringContaining('the blueprint’s LDAP outpost m2-ldap is not listed'),
    });
  });
});
