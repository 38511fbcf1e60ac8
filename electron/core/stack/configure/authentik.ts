/**
 * Authentik after install (stack-facts §5.4–5.5): the worker applies the M2 blueprint (mounted by the authentik
 * module) on its own; this waits, with a bound, until Authentik reports the blueprint's instance as successful and
 * lists the applications it declares. Authentik is asked with the bootstrap token from the keychain, over HTTP
 * from Node through an SSH forward. The blueprint is the configuration; the one thing written through the API is
 * who may use each application (the household's role groups and Authentik's admins, household/authentik-bindings.ts),
 * so the applications are never open to every Authentik user, from the first install on.
 */
import { AppError } from '../../errors';
import { ensureAppAccess } from '../../household/authentik-bindings';
import { AuthentikDirectory } from '../../household/authentik-directory';
import { Secret } from '../../secrets/secret';
import { authentikSecrets, ldapDirectory } from '../modules/authentik';
import type { ProfileSecrets } from '../secrets';
import type { SecretRequest } from '../types';
import { configureFailed, containerAddresses, findContainer, httpRequest, isRecord, jsonBody, openEndpoint, pollUntil, type ConfigureStep, type ConfigureTarget } from './common';

/** The authentik module's bootstrap token (generated with the stack's secrets before Authentik's first start). */
export const AUTHENTIK_BOOTSTRAP_TOKEN: SecretRequest = { name: authentikSecrets.bootstrapToken, kind: 'hex32', generated: true };
/** The `metadata.name` of the blueprint the authentik module renders (modules/authentik.ts `appsBlueprint`). */
export const M2_BLUEPRINT_NAME = 'm2-apps';

export interface AuthentikConfigureOptions {
  readonly secrets: ProfileSecrets;
  /** Application slugs the blueprint declares (`nextcloud` while Nextcloud is on). */
  readonly applications: readonly string[];
  readonly blueprintName?: string;
  /** The Compose service name of Authentik's server (default `authentik-server`). */
  readonly composeService?: string;
  /** How long to wait for the worker to apply the blueprint (it discovers new files within seconds). */
  readonly timeoutMs?: number;
  /**
   * While Jellyfin signs in through Authentik: read the token Authentik made for the blueprint's LDAP outpost and keep
   * it in the keychain, so the next release runs the outpost (modules/authentik.ts renders it once the token is set).
   */
  readonly ldapOutpost?: boolean;
}

/** The outpost's pk (uuid) by name in `GET /api/v3/outposts/instances/`. */
export function outpostPk(body: unknown, name: string): string | undefined {
  const results = isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : [];
  const pk = results.find((o) => o.name === name)?.pk;
  return typeof pk === 'string' && /^[0-9a-f-]{32,36}$/i.test(pk) ? pk : undefined;
}

/**
 * The token's identifier Authentik gives an outpost (authentik/outposts/models.py `Outpost.token_identifier`:
 * `ak-outpost-{pk}-api`, created by the worker after the outpost is saved).
 */
export const outpostTokenIdentifier = (pk: string): string => `ak-outpost-${pk}-api`;

/**
 * A token key as Authentik makes them (letters and digits): anything else is refused before it can reach an env
 * file (a newline there would add variables).
 */
export const isTokenKey = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9]{16,256}$/.test(v);

export type BlueprintState =
  | { readonly kind: 'missing' }
  | { readonly kind: 'pending'; readonly status: string }
  | { readonly kind: 'successful'; readonly lastApplied: string }
  | { readonly kind: 'error'; readonly status: string };

/** The named instance's state in `GET /api/v3/managed/blueprints/` (paginated `results`). */
export function blueprintState(body: unknown, name: string): BlueprintState {
  const results = isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : [];
  const inst = results.find((b) => b.name === name);
  if (!inst) return { kind: 'missing' };
  const status = String(inst.status ?? 'unknown');
  if (status === 'successful') return { kind: 'successful', lastApplied: String(inst.last_applied ?? '') };
  if (status === 'error') return { kind: 'error', status };
  return { kind: 'pending', status };
}

/** The slugs present in `GET /api/v3/core/applications/`. */
export function applicationSlugs(body: unknown): string[] {
  const results = isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : [];
  return results.map((a) => a.slug).filter((s): s is string => typeof s === 'string');
}

export async function configureAuthentik(target: ConfigureTarget, opts: AuthentikConfigureOptions): Promise<ConfigureStep> {
  const name = opts.blueprintName ?? M2_BLUEPRINT_NAME;
  const token: Secret | undefined = await opts.secrets.get(AUTHENTIK_BOOTSTRAP_TOKEN.name);
  if (!token) {
    throw configureFailed('authentik', 'the keychain holds no bootstrap token for it.', 'Apply the stack again so M2 Companion creates one; Authentik reads it on its first start only.');
  }
  const id = await findContainer(target, 'authentik', opts.composeService ?? 'authentik-server');
  const ips = await containerAddresses(target, id);
  const endpoint = await openEndpoint(
    target,
    'authentik',
    ips.map((host) => ({ host, port: 9000 })),
    '/-/health/live/',
  );
  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const r = await httpRequest(endpoint.port, 'GET', path, { headers: { authorization: `Bearer ${token.reveal()}` } });
    if (r.status === 401 || r.status === 403) {
      throw configureFailed(
        'authentik',
        `it refused the bootstrap token kept in the keychain (HTTP ${r.status}).`,
        'Authentik reads the bootstrap token only on its first start: if its data folder is older than this token, reset Authentik’s data or create an API token for akadmin in Authentik and keep it as authentik.bootstrap-token.',
        [token],
      );
    }
    return { status: r.status, body: jsonBody(r) };
  };

  const timeoutMs = opts.timeoutMs ?? 120_000;
  let last: BlueprintState = { kind: 'missing' };
  let missingApps: string[] = [...opts.applications];
  try {
    const ok = await pollUntil(
      async () => {
        try {
          const bp = await get(`/api/v3/managed/blueprints/?name=${encodeURIComponent(name)}`);
          if (bp.status !== 200) return undefined;
          last = blueprintState(bp.body, name);
          if (last.kind === 'error') {
            throw configureFailed('authentik', `the blueprint ${name} failed to apply (status ${last.status}).`, 'Open Authentik’s admin interface → Customization → Blueprints to see the error, or check the authentik-worker log on the Services page.', [token]);
          }
          if (last.kind !== 'successful') return undefined;
          const apps = await get('/api/v3/core/applications/');
          const slugs = apps.status === 200 ? applicationSlugs(apps.body) : [];
          missingApps = opts.applications.filter((s) => !slugs.includes(s));
          return missingApps.length === 0 ? last : undefined;
        } catch (err) {
          // A refused token or a failed blueprint is final; a server still starting is waited for.
          if (err instanceof AppError) throw err;
          return undefined;
        }
      },
      { timeoutMs, intervalMs: 1_000 },
    );
    if (!ok) {
      const state = last as BlueprintState;
      const what =
        state.kind === 'missing'
          ? `the blueprint ${name} was not discovered`
          : state.kind === 'successful'
            ? `the blueprint ${name} applied, but the application${missingApps.length > 1 ? 's' : ''} ${missingApps.join(', ')} ${missingApps.length > 1 ? 'are' : 'is'} missing`
            : `the blueprint ${name} is still ${state.kind === 'pending' ? state.status : 'pending'}`;
      throw configureFailed(
        'authentik',
        `${what} within ${Math.round(timeoutMs / 1000)} s.`,
        'Check on the Services page that authentik-worker is running and has the blueprint mounted (its log names each blueprint it applies), then try again.',
        [token],
      );
    }
    const apps = opts.applications.length ? `; application${opts.applications.length > 1 ? 's' : ''} ${opts.applications.join(', ')} present` : '';
    const dir = new AuthentikDirectory({
      async request(method, path, json) {
        const r = await httpRequest(endpoint.port, method, path, { headers: { authorization: `Bearer ${token.reveal()}` }, ...(json === undefined ? {} : { json }) });
        return { status: r.status, body: jsonBody(r) };
      },
    });
    let access: string[];
    try {
      access = await ensureAppAccess(dir, (await dir.ensureGroups()).groups);
    } catch (err) {
      const said = err instanceof AppError ? err.message.replace(/\.$/, '') : String(err);
      throw configureFailed('authentik', `the app could not set who may use its applications (${said}).`, 'Without it every Authentik user could sign in to Nextcloud and Jellyfin; check the authentik-server log on the Logs page, then run the install again.', [token]);
    }
    const who = access.length ? `; ${access.join('; ')}` : '';
    const outpost = opts.ldapOutpost ? await keepOutpostToken(get, opts.secrets, token, timeoutMs) : undefined;
    if (outpost === 'stored') {
      return { service: 'authentik', changed: true, message: `Blueprint ${name} applied by Authentik${apps}${who}; the LDAP outpost’s token kept in the keychain (the outpost runs from the next release).` };
    }
    return { service: 'authentik', changed: access.length > 0, message: `Blueprint ${name} applied by Authentik${apps}${who}${outpost === 'kept' ? '; LDAP outpost token in the keychain' : ''}.` };
  } finally {
    await endpoint.close();
  }
}

/** Read the LDAP outpost's token from Authentik (it makes it shortly after the blueprint) and keep it when it changed. */
async function keepOutpostToken(
  get: (path: string) => Promise<{ status: number; body: unknown }>,
  secrets: ProfileSecrets,
  bootstrap: Secret,
  timeoutMs: number,
): Promise<'stored' | 'kept'> {
  let seen: 'no-outpost' | 'no-token' | 'bad-token' = 'no-outpost';
  const key = await pollUntil(
    async () => {
      try {
        const list = await get('/api/v3/outposts/instances/');
        const pk = list.status === 200 ? outpostPk(list.body, ldapDirectory.outpost) : undefined;
        if (!pk) return undefined;
        seen = 'no-token';
        const t = await get(`/api/v3/core/tokens/${encodeURIComponent(outpostTokenIdentifier(pk))}/view_key/`);
        const value = t.status === 200 && isRecord(t.body) ? t.body.key : undefined;
        if (value === undefined) return undefined;
        if (!isTokenKey(value)) {
          seen = 'bad-token';
          return undefined;
        }
        return value;
      } catch (err) {
        if (err instanceof AppError) throw err;
        return undefined;
      }
    },
    { timeoutMs, intervalMs: 1_000 },
  );
  if (!key) {
    const what =
      seen === 'no-outpost'
        ? `the blueprint’s LDAP outpost ${ldapDirectory.outpost} is not listed`
        : seen === 'no-token'
          ? `Authentik has not made the token of the LDAP outpost ${ldapDirectory.outpost}`
          : `the token of the LDAP outpost ${ldapDirectory.outpost} is not one Authentik makes (letters and digits)`;
    throw configureFailed(
      'authentik',
      `${what} within ${Math.round(timeoutMs / 1000)} s.`,
      'Check on the Services page that authentik-worker is running (it makes the token), then run the install again.',
      [bootstrap],
    );
  }
  const kept = await secrets.get(authentikSecrets.ldapOutpostToken);
  if (kept?.reveal() === key) return 'kept';
  await secrets.set(authentikSecrets.ldapOutpostToken, new Secret(key));
  return 'stored';
}
