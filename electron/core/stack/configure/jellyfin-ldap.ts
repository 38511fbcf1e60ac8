/**
 * Jellyfin signs in through Authentik by LDAP: Jellyfin's own LDAP Authentication plugin (jellyfin/jellyfin-plugin-
 * ldapauth, in Jellyfin's official plugin repository, maintained by the Jellyfin project; release 22 targets 10.11.2)
 * asks Authentik's LDAP outpost, so every Jellyfin client — the TV and phone apps too, not only the web page — signs
 * in with the Authentik account. (The SSO plugin 9p4/jellyfin-plugin-sso was archived upstream in 2026 and works in
 * the web client only.)
 *
 * Everything goes through Jellyfin's API with the app's API key (Jellyfin.Api PackageController, PluginsController,
 * SystemController): `GET /Plugins`; when the plugin is missing `POST /Packages/Installed/{name}?assemblyGuid=…`
 * (Jellyfin downloads it from its repository) and `POST /System/Restart` (it restarts in-process and loads it);
 * then `GET /Plugins/{id}/Configuration`, changed fields only, `POST` of the whole object back. The bind password
 * travels in the request body over the SSH forward, never on a command line.
 */
import type { Secret } from '../../secrets/secret';
import { ldapDirectory } from '../modules/authentik';
import { isRecord, jsonBody, pollUntil, type HttpResponse } from './common';

/** build.yaml of jellyfin-plugin-ldapauth. */
export const LDAP_PLUGIN = { name: 'LDAP Authentication', guid: '958aad66-3784-4d2a-b89a-a7b6fab6e25c' } as const;

/** Authentik's LDAP outpost as the stack runs it, and the directory it serves (Authentik's default base DN). */
export const AUTHENTIK_LDAP = {
  host: 'authentik-ldap',
  /** The outpost listens on 3389 (LDAP) and 6636 (LDAPS) inside its container. */
  port: 3389,
  baseDn: ldapDirectory.baseDn,
  /** The service account the blueprint creates for Jellyfin's searches. */
  bindUser: ldapDirectory.bindUser,
  /** Authentik's built-in administrators' group: its members become Jellyfin administrators when first signing in. */
  adminGroup: 'authentik Admins',
} as const;

export interface JellyfinLdap {
  /** The bind account's password (keychain; the blueprint gives Authentik the same). */
  readonly bindPassword: Secret;
}

/** The plugin settings (LDAP-Auth/Config/PluginConfiguration.cs) the app owns; others are left as they are. */
export function wantedLdapConfig(ldap: JellyfinLdap): Record<string, unknown> {
  const base = AUTHENTIK_LDAP.baseDn;
  return {
    LdapServer: AUTHENTIK_LDAP.host,
    LdapPort: AUTHENTIK_LDAP.port,
    // Plain LDAP on the stack's internal network between two containers; the outpost's certificate is self-signed.
    UseSsl: false,
    UseStartTls: false,
    LdapBindUser: `cn=${AUTHENTIK_LDAP.bindUser},ou=users,${base}`,
    LdapBindPassword: ldap.bindPassword.reveal(),
    LdapBaseDn: base,
    // Authentik's LDAP users carry objectClass "user"; who may reach Jellyfin at all is Cloudflare Access's part.
    LdapSearchFilter: '(objectClass=user)',
    LdapAdminBaseDn: '',
    LdapAdminFilter: `(memberOf=cn=${AUTHENTIK_LDAP.adminGroup},ou=groups,${base})`,
    LdapSearchAttributes: 'uid, cn, mail, displayName',
    // Authentik: cn is the username, uid a stable unique id.
    LdapUidAttribute: 'uid',
    LdapUsernameAttribute: 'cn',
    CreateUsersFromLdap: true,
    EnableAllFolders: true,
    AllowPassChange: false,
  };
}

/** The plugin's configuration to POST (the whole object) and the names of the fields that differ; empty: nothing. */
export function plannedLdapConfig(current: Readonly<Record<string, unknown>>, ldap: JellyfinLdap): { next: Record<string, unknown>; changed: string[] } {
  const want = wantedLdapConfig(ldap);
  const changed = Object.keys(want).filter((k) => JSON.stringify(current[k]) !== JSON.stringify(want[k]));
  return { next: { ...current, ...want }, changed };
}

const normGuid = (v: unknown): string => (typeof v === 'string' ? v.replace(/-/g, '').toLowerCase() : '');

/** The plugin's entry in `GET /Plugins` (Jellyfin writes Guids without dashes), newest version first. */
export function findLdapPlugin(body: unknown): { id: string; status: string; version: string } | undefined {
  const list = Array.isArray(body) ? body.filter(isRecord) : [];
  const ours = list.filter((p) => normGuid(p.Id) === normGuid(LDAP_PLUGIN.guid));
  const pick = ours.find((p) => p.Status === 'Active') ?? ours[0];
  return pick ? { id: normGuid(pick.Id), status: String(pick.Status ?? ''), version: String(pick.Version ?? '') } : undefined;
}

export type Call = (method: string, path: string, json?: unknown) => Promise<HttpResponse>;

export interface LdapStepDeps {
  readonly call: Call;
  readonly fail: (message: string, hint: string) => Error;
  /** How long to wait for Jellyfin to come back after its restart (default 120 s). */
  readonly restartTimeoutMs?: number;
}

/**
 * Install (once) and configure the LDAP plugin. Phrases for the step's message; empty when all was in place. A run
 * stopped anywhere is picked up: an installed plugin waiting for a restart is restarted, a configuration that
 * differs is written again.
 */
export async function ensureLdapPlugin(deps: LdapStepDeps, ldap: JellyfinLdap): Promise<string[]> {
  const { call, fail } = deps;
  const done: string[] = [];
  const plugins = async (): Promise<ReturnType<typeof findLdapPlugin>> => {
    const r = await call('GET', '/Plugins');
    if (r.status !== 200) throw fail(`listing its plugins was refused (HTTP ${r.status}).`, 'Check Jellyfin’s log on the Services page, then try again.');
    return findLdapPlugin(jsonBody(r));
  };

  let plugin = await plugins();
  if (!plugin) {
    const r = await call('POST', `/Packages/Installed/${encodeURIComponent(LDAP_PLUGIN.name)}?assemblyGuid=${LDAP_PLUGIN.guid}`);
    if (r.status === 404) {
      throw fail(
        `the plugin “${LDAP_PLUGIN.name}” is not in its plugin repositories.`,
        'Jellyfin downloads plugins from repo.jellyfin.org: check that the server reaches the internet and that Jellyfin’s official repository is listed in Dashboard → Plugins → Repositories, then apply again.',
      );
    }
    if (r.status < 200 || r.status > 299) throw fail(`installing the plugin “${LDAP_PLUGIN.name}” was refused (HTTP ${r.status}: ${r.body.slice(0, 200)}).`, 'Check Jellyfin’s log on the Services page, then try again.');
    done.push(`plugin “${LDAP_PLUGIN.name}” installed`);
    plugin = await plugins();
    if (!plugin) throw fail(`the plugin “${LDAP_PLUGIN.name}” is not listed after its installation.`, 'Check Jellyfin’s log on the Services page, then try again.');
  }
  if (plugin.status === 'Restart') {
    const r = await call('POST', '/System/Restart');
    if (r.status < 200 || r.status > 299) throw fail(`the restart that loads the plugin was refused (HTTP ${r.status}).`, 'Restart Jellyfin from the Services page, then apply again.');
    // Answers again once restarted, with the plugin loaded.
    const back = await pollUntil(
      async () => {
        const p = await plugins().catch(() => undefined);
        return p && p.status !== 'Restart' ? p : undefined;
      },
      { timeoutMs: deps.restartTimeoutMs ?? 120_000, intervalMs: 1_000 },
    );
    if (!back) throw fail('it did not come back with the plugin loaded after its restart.', 'Check Jellyfin’s log on the Services page, then apply again.');
    plugin = back;
    done.push('Jellyfin restarted to load it');
  }
  if (plugin.status !== 'Active') {
    throw fail(`its plugin “${LDAP_PLUGIN.name}” is ${plugin.status || 'not active'}.`, 'Enable it in Jellyfin (Dashboard → Plugins) or update Jellyfin to a version the plugin supports, then apply again.');
  }

  const path = `/Plugins/${plugin.id}/Configuration`;
  const got = await call('GET', path);
  const current = got.status === 200 ? jsonBody(got) : undefined;
  if (!isRecord(current)) throw fail(`reading the plugin’s settings was refused (HTTP ${got.status}).`, 'Check Jellyfin’s log on the Services page, then try again.');
  const plan = plannedLdapConfig(current, ldap);
  if (plan.changed.length > 0) {
    const r = await call('POST', path, plan.next);
    if (r.status < 200 || r.status > 299) throw fail(`saving the plugin’s settings was refused (HTTP ${r.status}).`, 'Check Jellyfin’s log on the Services page, then try again.');
    done.push(`sign-in through Authentik’s LDAP outpost set (${plan.changed.join(', ')})`);
  }
  return done;
}
