/**
 * Nextcloud signs in through Authentik (stack-facts §6.1): the OpenID Connect app `user_oidc` installed (or enabled)
 * and the provider registered with `occ user_oidc:provider`, read first so a second run changes nothing.
 *
 * The client secret never appears on a command line: the nextcloud container already has it in its environment
 * (`NC_OIDC_SECRET`, from the 0600 env file the apply step writes), `docker exec` processes inherit the container's
 * environment, and user_oidc reads it by name with `--clientsecret-env` (lib/Command/UpsertProvider.php). occ never
 * prints the secret back (the provider's JSON has no secret; it is stored encrypted), so whether the registered secret
 * is the keychain's is known from a fingerprint the app keeps beside it in user_oidc's app config: SHA-256 of a
 * domain-separated prefix and the 43-character random secret, which says nothing usable about the value.
 */
import { createHash } from 'node:crypto';
import { isDnsName } from '../../../contract/validation';
import type { Secret } from '../../secrets/secret';
import type { Argv } from '../../ssh/argv';
import type { ExecResult } from '../../ssh/runner';
import { nextcloudOidcEnv } from '../modules/nextcloud';

/** The provider's administrative identifier in Nextcloud (its login button reads "Log in with authentik"). */
export const OIDC_PROVIDER_ID = 'authentik';
/** The client id the authentik blueprint declares for Nextcloud (modules/authentik.ts). */
export const OIDC_CLIENT_ID = 'nextcloud';
/** The Authentik application slug of Nextcloud (the blueprint's). */
export const OIDC_APP_SLUG = 'nextcloud';
/** user_oidc app-config key where the app keeps the registered secret's fingerprint. */
export const OIDC_FINGERPRINT_KEY = 'm2_client_secret_sha256';

/** What the provider is registered with; the secret itself is read inside the container from its environment. */
export const OIDC_SETTINGS = {
  scope: 'openid email profile',
  // Hashed user ids (user_oidc's default, said explicitly): an Authentik user named like a local Nextcloud account
  // (the Nextcloud admin) gets an account of its own instead of signing in as that account.
  uniqueUid: true,
  mappingDisplayName: 'name',
  mappingEmail: 'email',
} as const;

export interface NextcloudOidc {
  /** https://<authentik host>/application/o/nextcloud/.well-known/openid-configuration */
  readonly discoveryUri: string;
  /** The keychain's client secret (the one rendered into the nextcloud container's environment). */
  readonly secret: Secret;
}

/** Authentik's OIDC discovery document for an application (stack-facts §5.4 item 5); the host name is validated. */
export function discoveryUri(authentikHost: string, slug = OIDC_APP_SLUG): string {
  const host = authentikHost.trim().toLowerCase();
  if (!isDnsName(host)) throw new TypeError(`not a host name: ${JSON.stringify(authentikHost)}`);
  if (!/^[a-z0-9-]+$/.test(slug)) throw new TypeError(`not an application slug: ${JSON.stringify(slug)}`);
  return `https://${host}/application/o/${slug}/.well-known/openid-configuration`;
}

export const secretFingerprint = (secret: Secret): string => createHash('sha256').update(`m2-companion/user_oidc-client-secret\0${secret.reveal()}`, 'utf8').digest('hex');

/** The occ arguments (after `php occ --no-interaction`) of each step. None carries the secret. */
export const oidcOcc = {
  appList: (): Argv => ['app:list', '--output=json'],
  appInstall: (): Argv => ['app:install', 'user_oidc'],
  appEnable: (): Argv => ['app:enable', 'user_oidc'],
  getProvider: (): Argv => ['user_oidc:provider', OIDC_PROVIDER_ID, '--output=json'],
  upsertProvider: (uri: string): Argv => {
    if (!/^https:\/\/[a-z0-9.-]+\/application\/o\/[a-z0-9-]+\/\.well-known\/openid-configuration$/.test(uri)) throw new TypeError(`not a discovery URI: ${JSON.stringify(uri)}`);
    return [
      'user_oidc:provider',
      OIDC_PROVIDER_ID,
      `--clientid=${OIDC_CLIENT_ID}`,
      `--clientsecret-env=${nextcloudOidcEnv}`,
      `--discoveryuri=${uri}`,
      `--scope=${OIDC_SETTINGS.scope}`,
      `--unique-uid=${OIDC_SETTINGS.uniqueUid ? '1' : '0'}`,
      `--mapping-display-name=${OIDC_SETTINGS.mappingDisplayName}`,
      `--mapping-email=${OIDC_SETTINGS.mappingEmail}`,
    ];
  },
  getFingerprint: (): Argv => ['config:app:get', 'user_oidc', OIDC_FINGERPRINT_KEY],
  setFingerprint: (fingerprint: string): Argv => {
    if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new TypeError('not a SHA-256 fingerprint');
    return ['config:app:set', 'user_oidc', OIDC_FINGERPRINT_KEY, `--value=${fingerprint}`];
  },
};

export type AppState = 'enabled' | 'disabled' | 'absent';

/** user_oidc in `occ app:list --output=json` ({"enabled":{id:version},"disabled":{id:version}}). */
export function userOidcState(stdout: string): AppState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(stdout.trim());
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { enabled, disabled } = v as { enabled?: unknown; disabled?: unknown };
  const has = (m: unknown): boolean => typeof m === 'object' && m !== null && !Array.isArray(m) && Object.hasOwn(m, 'user_oidc');
  if (has(enabled)) return 'enabled';
  if (has(disabled)) return 'disabled';
  return 'absent';
}

export interface RegisteredProvider {
  readonly clientId: string;
  readonly discoveryEndpoint: string;
  readonly scope: string;
  readonly settings: Readonly<Record<string, unknown>>;
}

/**
 * `occ user_oidc:provider authentik --output=json`: the provider (jsonSerialize + settings), or undefined when occ
 * said it is not there ("Provider not found", exit -1 shown as 255). Anything else unreadable is 'unreadable'.
 */
export function parseProvider(r: ExecResult): RegisteredProvider | 'absent' | 'unreadable' {
  if (r.code !== 0) return /provider not found/i.test(`${r.stdout}\n${r.stderr}`) ? 'absent' : 'unreadable';
  let v: unknown;
  try {
    v = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return 'unreadable';
  }
  if (typeof v !== 'object' || v === null) return 'unreadable';
  const p = v as Record<string, unknown>;
  return {
    clientId: typeof p.clientId === 'string' ? p.clientId : '',
    discoveryEndpoint: typeof p.discoveryEndpoint === 'string' ? p.discoveryEndpoint : '',
    scope: typeof p.scope === 'string' ? p.scope.trim() : '',
    settings: typeof p.settings === 'object' && p.settings !== null ? (p.settings as Record<string, unknown>) : {},
  };
}

const truthy = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true';

/** What differs between the registered provider and the wanted one (empty: nothing to register). */
export function providerDrift(current: RegisteredProvider | 'absent', uri: string): string[] {
  if (current === 'absent') return ['provider'];
  const out: string[] = [];
  if (current.clientId !== OIDC_CLIENT_ID) out.push('client id');
  if (current.discoveryEndpoint !== uri) out.push('discovery URI');
  if (current.scope !== OIDC_SETTINGS.scope) out.push('scope');
  if (truthy(current.settings.uniqueUid) !== OIDC_SETTINGS.uniqueUid) out.push('unique user ids');
  if (current.settings.mappingDisplayName !== OIDC_SETTINGS.mappingDisplayName) out.push('display-name mapping');
  if (current.settings.mappingEmail !== OIDC_SETTINGS.mappingEmail) out.push('email mapping');
  return out;
}

type Must = (args: readonly string[], what: string) => Promise<ExecResult>;
type Run = (args: readonly string[]) => Promise<ExecResult>;

/**
 * Install/enable user_oidc and register the provider when anything differs. The fingerprint is written last, so a
 * run stopped after the registration leaves no fingerprint and the next run registers again (upsert: never twice).
 * What it did, as phrases for the step's message (empty: nothing changed).
 */
export async function ensureOidc(run: Run, must: Must, oidc: NextcloudOidc, fail: (message: string, hint: string) => Error): Promise<string[]> {
  const done: string[] = [];
  const list = await must(oidcOcc.appList(), 'Listing Nextcloud’s apps');
  const state = userOidcState(list.stdout);
  if (state === undefined) throw fail('occ app:list gave no readable list of apps.', 'Check Nextcloud’s log on the Services page, then try again.');
  if (state === 'absent') {
    const r = await run(oidcOcc.appInstall());
    if (r.code !== 0) {
      const said = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter(Boolean).slice(0, 2).join(' ');
      throw fail(
        `installing its OpenID Connect app (user_oidc) failed (occ exit ${String(r.code)}${said ? `: ${said}` : ''}).`,
        'Nextcloud downloads user_oidc from apps.nextcloud.com: check that the server reaches the internet, then apply again.',
      );
    }
    done.push('OpenID Connect app (user_oidc) installed');
  } else if (state === 'disabled') {
    await must(oidcOcc.appEnable(), 'Enabling the OpenID Connect app (user_oidc)');
    done.push('OpenID Connect app (user_oidc) enabled');
  }

  const current = parseProvider(await run(oidcOcc.getProvider()));
  if (current === 'unreadable') throw fail('occ user_oidc:provider gave no readable answer.', 'Check Nextcloud’s log on the Services page, then try again.');
  const drift = providerDrift(current, oidc.discoveryUri);
  const fingerprint = secretFingerprint(oidc.secret);
  const stored = await run(oidcOcc.getFingerprint());
  const secretChanged = stored.code !== 0 || stored.stdout.trim() !== fingerprint;
  if (drift.length > 0 || secretChanged) {
    await must(oidcOcc.upsertProvider(oidc.discoveryUri), 'Registering Authentik as the sign-in provider');
    await must(oidcOcc.setFingerprint(fingerprint), 'Recording the registered client secret');
    const what = current === 'absent' ? 'registered' : `updated (${[...drift, ...(secretChanged ? ['client secret'] : [])].join(', ')})`;
    done.push(`sign-in through Authentik ${what}: provider ${OIDC_PROVIDER_ID}, client ${OIDC_CLIENT_ID}`);
  }
  return done;
}
