import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../../contract/stack';
import { MemorySecretStore } from '../../secrets/keychain';
import { Secret } from '../../secrets/secret';
import { authentikSecrets } from '../modules/authentik';
import { StackSecrets } from '../secrets';
import type { HttpResponse } from './common';
import { LDAP_PLUGIN, ensureLdapPlugin, findLdapPlugin, plannedLdapConfig, wantedLdapConfig, type Call } from './jellyfin-ldap';
import { jellyfinSso } from './sso';

const guidN = LDAP_PLUGIN.guid.replace(/-/g, '');

/** A Jellyfin 10.11 that speaks the plugin endpoints as Jellyfin.Api does (see the lab stand-in for the same shapes). */
function fakeJellyfin(opts: { repository?: boolean; restartAnswers503?: number } = {}) {
  let plugin: { Status: string; config: Record<string, unknown> } | undefined;
  let down = 0;
  const calls: Array<{ method: string; path: string; json?: unknown }> = [];
  const res = (status: number, body?: unknown): HttpResponse => ({ status, body: body === undefined ? '' : JSON.stringify(body) });
  const call: Call = (method, path, json) => {
    calls.push({ method, path, ...(json === undefined ? {} : { json }) });
    if (down > 0) {
      down--;
      return Promise.resolve(res(503));
    }
    if (method === 'GET' && path === '/Plugins') return Promise.resolve(res(200, plugin ? [{ Name: LDAP_PLUGIN.name, Version: '22.0.0.0', Id: guidN, Status: plugin.Status }] : []));
    if (method === 'POST' && path === `/Packages/Installed/LDAP%20Authentication?assemblyGuid=${LDAP_PLUGIN.guid}`) {
      if (opts.repository === false) return Promise.resolve(res(404));
      plugin ??= { Status: 'Restart', config: { LdapServer: 'ldap-server.contoso.com', LdapPort: 389, UseSsl: true, LdapBindPassword: 'password', LdapUsers: [] } };
      return Promise.resolve(res(204));
    }
    if (method === 'POST' && path === '/System/Restart') {
      if (plugin) plugin.Status = 'Active';
      down = opts.restartAnswers503 ?? 2;
      return Promise.resolve(res(204));
    }
    if (path === `/Plugins/${guidN}/Configuration`) {
      if (!plugin || plugin.Status !== 'Active') return Promise.resolve(res(404));
      if (method === 'GET') return Promise.resolve(res(200, plugin.config));
      plugin.config = json as Record<string, unknown>;
      return Promise.resolve(res(204));
    }
    return Promise.resolve(res(404));
  };
  return { call, calls, plugin: () => plugin };
}

const fail = (message: string, hint: string): Error => new Error(`${message} ${hint}`);
const ldap = { bindPassword: new Secret('Bind-Password-0123456789ab') };

describe('Jellyfin sign-in through Authentik (LDAP Authentication plugin)', () => {
  it('points the plugin at the stack’s LDAP outpost with the bind account, users by cn, Authentik’s admins as admins', () => {
    expect(wantedLdapConfig(ldap)).toEqual({
      LdapServer: 'authentik-ldap',
      LdapPort: 3389,
      UseSsl: false,
      UseStartTls: false,
      LdapBindUser: 'cn=m2-ldap-bind,ou=users,dc=ldap,dc=goauthentik,dc=io',
      LdapBindPassword: 'Bind-Password-0123456789ab',
      LdapBaseDn: 'dc=ldap,dc=goauthentik,dc=io',
      LdapSearchFilter: '(objectClass=user)',
      LdapAdminBaseDn: '',
      LdapAdminFilter: '(memberOf=cn=authentik Admins,ou=groups,dc=ldap,dc=goauthentik,dc=io)',
      LdapSearchAttributes: 'uid, cn, mail, displayName',
      LdapUidAttribute: 'uid',
      LdapUsernameAttribute: 'cn',
      CreateUsersFromLdap: true,
      EnableAllFolders: true,
      AllowPassChange: false,
    });
  });

  it('keeps the plugin’s other settings and plans nothing once applied', () => {
    const current = { LdapServer: 'x', LdapUsers: [{ LdapUid: 'u1' }], LdapProfileImageAttribute: 'jpegphoto' };
    const { next, changed } = plannedLdapConfig(current, ldap);
    expect(next).toMatchObject({ LdapUsers: [{ LdapUid: 'u1' }], LdapProfileImageAttribute: 'jpegphoto', LdapServer: 'authentik-ldap' });
    expect(changed).toContain('LdapServer');
    expect(plannedLdapConfig(next, ldap).changed).toEqual([]);
  });

  it('finds the plugin by its GUID in either form, the active version first', () => {
    expect(findLdapPlugin([{ Id: 'other', Status: 'Active' }])).toBeUndefined();
    expect(findLdapPlugin([{ Id: guidN, Status: 'Restart', Version: '21' }, { Id: LDAP_PLUGIN.guid.toUpperCase(), Status: 'Active', Version: '22' }])).toEqual({ id: guidN, status: 'Active', version: '22' });
    expect(findLdapPlugin('nope')).toBeUndefined();
  });

  it('installs the plugin, restarts Jellyfin to load it, configures it; a second run only reads', async () => {
    const jf = fakeJellyfin();
    expect(await ensureLdapPlugin({ call: jf.call, fail, restartTimeoutMs: 10_000 }, ldap)).toEqual([
      'plugin “LDAP Authentication” installed',
      'Jellyfin restarted to load it',
      expect.stringMatching(/^sign-in through Authentik’s LDAP outpost set \(LdapServer, LdapPort, UseSsl, .*LdapBindPassword/),
    ]);
    expect(jf.plugin()?.config).toMatchObject({ ...wantedLdapConfig(ldap), LdapUsers: [] });
    const before = jf.calls.length;
    expect(await ensureLdapPlugin({ call: jf.call, fail }, ldap)).toEqual([]);
    expect(jf.calls.slice(before).map((c) => `${c.method} ${c.path}`)).toEqual(['GET /Plugins', `GET /Plugins/${guidN}/Configuration`]);
  });

  it('a run stopped after the install (plugin waiting for its restart) restarts and configures next time', async () => {
    const jf = fakeJellyfin();
    await jf.call('POST', `/Packages/Installed/LDAP%20Authentication?assemblyGuid=${LDAP_PLUGIN.guid}`);
    const done = await ensureLdapPlugin({ call: jf.call, fail, restartTimeoutMs: 10_000 }, ldap);
    expect(done.slice(0, 1)).toEqual(['Jellyfin restarted to load it']);
    expect(jf.calls.filter((c) => c.path.startsWith('/Packages/Installed'))).toHaveLength(1);
  });

  it('says the server must reach Jellyfin’s plugin repository when the package is not found', async () => {
    const jf = fakeJellyfin({ repository: false });
    await expect(ensureLdapPlugin({ call: jf.call, fail }, ldap)).rejects.toThrow(/not in its plugin repositories\. Jellyfin downloads plugins from repo\.jellyfin\.org/);
  });

  it('says so when Jellyfin does not come back with the plugin loaded', async () => {
    const jf = fakeJellyfin({ restartAnswers503: 1_000_000 });
    await expect(ensureLdapPlugin({ call: jf.call, fail, restartTimeoutMs: 1_500 }, ldap)).rejects.toThrow(/did not come back with the plugin loaded/);
  });

  it('takes the bind password from the keychain while Authentik and Jellyfin are on', async () => {
    const secrets = new StackSecrets(new MemorySecretStore()).forProfile('home');
    await expect(jellyfinSso(StackSettings.parse({}), secrets)).rejects.toMatchObject({ code: 'stack.configure-failed', userMessage: expect.stringContaining('authentik.ldap-bind-password') });
    await secrets.set(authentikSecrets.ldapBindPassword, ldap.bindPassword);
    expect((await jellyfinSso(StackSettings.parse({}), secrets))?.bindPassword.reveal()).toBe(ldap.bindPassword.reveal());
    expect(await jellyfinSso(StackSettings.parse({ modules: { authentik: { enabled: false } } }), secrets)).toBeUndefined();
  });
});
