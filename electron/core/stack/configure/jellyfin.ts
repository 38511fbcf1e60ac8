/**
 * Jellyfin after install (stack-facts §1.6, §2): the first-run wizard with an admin whose password is generated
 * into the keychain, an API key for the app (created once, read back because `POST /Auth/Keys` returns no body,
 * kept in the keychain), and hardware acceleration as a one-second test encode inside the container found it for the
 * module's setting (transcoding-probe.ts): hardware encoding, decoding only, or software. Everything else goes over
 * HTTP from Node through an SSH forward; a second run finds everything in place and changes nothing.
 */
import { transcodingLabel, type HwAccel, type JellyfinSettings, type TranscodingCheck, type TranscodingVerdict } from '../../../contract/stack';
import { Secret } from '../../secrets/secret';
import type { ProfileSecrets } from '../secrets';
import type { SecretRequest } from '../types';
import {
  configureFailed,
  containerAddresses,
  dockerArgv,
  findContainer,
  findContainerArgv,
  httpRequest,
  isRecord,
  jsonBody,
  openEndpoint,
  pollUntil,
  type ConfigureStep,
  type ConfigureTarget,
  type HttpResponse,
} from './common';
import { ensureLdapPlugin, type JellyfinLdap } from './jellyfin-ldap';
import { classifyProbe, probeArgv, transcodingCheck } from './transcoding-probe';

export const JELLYFIN_ADMIN_PASSWORD: SecretRequest = { name: 'jellyfin.admin-password', kind: 'password', generated: true };
/** Obtained from Jellyfin, never generated. */
export const JELLYFIN_API_KEY: SecretRequest = { name: 'jellyfin.api-key', kind: 'hex32', generated: false };
/** The admin the first-run wizard creates, unless the caller names another. */
export const JELLYFIN_ADMIN_USER = 'admin';
/** The API key's AppName in Jellyfin's dashboard (Administration → API Keys). */
export const JELLYFIN_APP_NAME = 'M2 Companion';

export interface JellyfinConfigureOptions {
  readonly settings: Pick<JellyfinSettings, 'hwAccel' | 'renderDevice' | 'lanPort'>;
  readonly secrets: ProfileSecrets;
  /** The admin the wizard creates. */
  readonly adminUser?: string;
  /** The Compose service name (default `jellyfin`). */
  readonly composeService?: string;
  /** For the MediaBrowser header's Version. */
  readonly appVersion?: string;
  /** How long to wait for Jellyfin to answer after a start. */
  readonly readyTimeoutMs?: number;
  /** Sign-in through Authentik (while the authentik module is on): the LDAP plugin, installed and configured. */
  readonly ldap?: JellyfinLdap;
}

/** Jellyfin's HardwareAccelerationType for the module's setting. */
export const hwAccelType: Record<HwAccel, 'none' | 'nvenc' | 'qsv' | 'vaapi'> = {
  nvidia: 'nvenc',
  'intel-qsv': 'qsv',
  vaapi: 'vaapi',
  'amd-vaapi': 'vaapi',
  none: 'none',
};

/**
 * Hardware decoding per vendor (stack-facts §1.2–1.4), kept to what GPUs of the last several generations decode:
 * NVIDIA since Pascal (AV1 only from Ampere: left out), Intel since Kaby Lake (VP9), AMD since Polaris (no VP9 on
 * Polaris: left out), and a generic VA-API device gets the codecs every VA-API driver has. Admins can widen the list
 * in Jellyfin's dashboard: it is written only when the acceleration type changes or the list is empty.
 */
export const decodingCodecs: Record<Exclude<HwAccel, 'none'>, readonly string[]> = {
  nvidia: ['h264', 'hevc', 'mpeg2video', 'vc1', 'vp8', 'vp9'],
  'intel-qsv': ['h264', 'hevc', 'mpeg2video', 'vc1', 'vp8', 'vp9'],
  vaapi: ['h264', 'hevc', 'mpeg2video', 'vc1'],
  'amd-vaapi': ['h264', 'hevc', 'mpeg2video', 'vc1'],
};

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The encoding options to POST for the setting, from the current ones (GET → change → POST the full object back),
 * and which fields differ; an empty list means nothing to write. `verdict` is what the test encode found for the
 * setting's method: `software` configures no acceleration at all, `decoding-only` keeps the method for decoding
 * with EnableHardwareEncoding off (for NVIDIA without NVENC: nvenc type + encoding off, the facts' UNVERIFIED
 * config), `hardware-encoding` turns both on. Without a verdict the setting is taken as it is.
 */
export function plannedEncoding(
  current: Readonly<Record<string, unknown>>,
  s: Pick<JellyfinSettings, 'hwAccel' | 'renderDevice'>,
  verdict: TranscodingVerdict = 'hardware-encoding',
): { next: Record<string, unknown>; changed: string[] } {
  const hwAccel: HwAccel = verdict === 'software' ? 'none' : s.hwAccel;
  const type = hwAccelType[hwAccel];
  const want: Record<string, unknown> = { HardwareAccelerationType: type };
  if (hwAccel !== 'none') {
    want.EnableHardwareEncoding = verdict === 'hardware-encoding';
    if (type === 'vaapi' || type === 'qsv') want.VaapiDevice = s.renderDevice;
    if (type === 'qsv') want.QsvDevice = s.renderDevice;
    const codecs = current.HardwareDecodingCodecs;
    const typeChanges = String(current.HardwareAccelerationType ?? 'none').toLowerCase() !== type;
    // Type set with an empty codec list means hardware encode with software decode (§1.6 pitfall).
    if (typeChanges || !Array.isArray(codecs) || codecs.length === 0) want.HardwareDecodingCodecs = [...decodingCodecs[hwAccel]];
  }
  const changed = Object.keys(want).filter((k) => !sameValue(k === 'HardwareAccelerationType' ? String(current[k] ?? 'none').toLowerCase() : current[k], want[k]));
  return { next: { ...current, ...want }, changed };
}

/** The `Authorization: MediaBrowser …` header (stack-facts §2.1); the token only once there is one. */
export function mediaBrowserAuth(client: { deviceId: string; version: string }, token?: Secret): string {
  const pairs = [
    ['Client', JELLYFIN_APP_NAME],
    ['Device', JELLYFIN_APP_NAME],
    ['DeviceId', client.deviceId],
    ['Version', client.version],
    ...(token ? [['Token', token.reveal()]] : []),
  ];
  return `MediaBrowser ${pairs.map(([k, v]) => `${k}="${encodeURIComponent(v ?? '')}"`).join(', ')}`;
}

interface ApiKeyInfo {
  readonly AccessToken: string;
  readonly AppName: string;
  readonly Id: number;
  readonly DateCreated: string;
  readonly IsActive: boolean;
}

/** Our keys from `GET /Auth/Keys`, newest first. */
export function appKeys(body: unknown, appName = JELLYFIN_APP_NAME): ApiKeyInfo[] {
  const items = isRecord(body) && Array.isArray(body.Items) ? body.Items : [];
  return items
    .filter(isRecord)
    .filter((k) => k.AppName === appName && typeof k.AccessToken === 'string' && k.AccessToken !== '' && k.IsActive !== false)
    .map((k) => ({ AccessToken: String(k.AccessToken), AppName: String(k.AppName), Id: Number(k.Id ?? 0), DateCreated: String(k.DateCreated ?? ''), IsActive: true }))
    .sort((a, b) => b.DateCreated.localeCompare(a.DateCreated) || b.Id - a.Id);
}

/**
 * Whether the running Jellyfin has finished its first-run wizard, asked of Jellyfin itself (the anonymous
 * `GET /System/Info/Public`, stack-facts §2.3) through its container address or the port on the server's loopback.
 * No container, no answer, or an answer without the flag all read as not finished: the caller then keeps Jellyfin off
 * the home network, so a doubt costs a restart onto loopback and back, never an open wizard on the LAN.
 */
export async function jellyfinSetupDone(target: ConfigureTarget, opts: { readonly lanPort: number; readonly composeService?: string; readonly answerTimeoutMs?: number }): Promise<boolean> {
  try {
    const ps = await target.conn.exec(dockerArgv(target, findContainerArgv(target.project, opts.composeService ?? 'jellyfin')), { timeoutMs: 30_000 });
    const id = ps.code === 0 ? (ps.stdout.trim().split('\n')[0]?.trim() ?? '') : '';
    if (!/^[0-9a-f]{12,64}$/.test(id)) return false;
    const ips = await containerAddresses(target, id);
    const endpoint = await openEndpoint(target, 'jellyfin', [...ips.map((host) => ({ host, port: 8096 })), { host: '127.0.0.1', port: opts.lanPort }], '/System/Ping');
    try {
      // A Jellyfin that is still starting answers without its public info for a moment.
      const done = await pollUntil(
        async () => {
          const r = await httpRequest(endpoint.port, 'GET', '/System/Info/Public', { timeoutMs: 10_000 }).catch(() => undefined);
          const b = r && r.status === 200 ? jsonBody(r) : undefined;
          return isRecord(b) && typeof b.StartupWizardCompleted === 'boolean' ? b.StartupWizardCompleted : undefined;
        },
        { timeoutMs: opts.answerTimeoutMs ?? 20_000 },
      );
      return done === true;
    } finally {
      await endpoint.close();
    }
  } catch {
    return false;
  }
}

export async function configureJellyfin(target: ConfigureTarget, opts: JellyfinConfigureOptions): Promise<ConfigureStep> {
  const composeService = opts.composeService ?? 'jellyfin';
  const id = await findContainer(target, 'jellyfin', composeService);
  const ips = await containerAddresses(target, id);
  // The container on its networks first; the port published on the server as the fallback (rootless Docker).
  const endpoint = await openEndpoint(target, 'jellyfin', [...ips.map((host) => ({ host, port: 8096 })), { host: '127.0.0.1', port: opts.settings.lanPort }], '/System/Ping');
  const client = { deviceId: `m2-companion-${target.project}`, version: opts.appVersion ?? '0.1.0' };
  const known: Array<Secret | undefined> = [];
  const fail = (message: string, hint: string, cause?: unknown): Error => configureFailed('jellyfin', message, hint, known, cause);
  const call = async (method: string, path: string, token?: Secret, json?: unknown): Promise<HttpResponse> => {
    try {
      return await httpRequest(endpoint.port, method, path, { headers: { authorization: mediaBrowserAuth(client, token) }, json });
    } catch (err) {
      throw fail(`${method} ${path} failed: ${(err as Error).message}.`, 'Check that Jellyfin is running, then try again.', err);
    }
  };
  const expect2xx = (r: HttpResponse, what: string): void => {
    if (r.status < 200 || r.status > 299) throw fail(`${what} was refused (HTTP ${r.status}: ${r.body.slice(0, 200)}).`, 'Check Jellyfin’s log on the Services page, then try again.');
  };

  try {
    const done: string[] = [];
    const info = await pollUntil(
      async () => {
        const r = await call('GET', '/System/Info/Public').catch(() => undefined);
        const b = r && r.status === 200 ? jsonBody(r) : undefined;
        return isRecord(b) && typeof b.StartupWizardCompleted === 'boolean' ? b : undefined;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 60_000 },
    );
    if (!info) throw fail('it did not answer /System/Info/Public.', 'Wait until Jellyfin shows as healthy on the Services page, then try again.');

    const adminUser = opts.adminUser ?? JELLYFIN_ADMIN_USER;
    let password: Secret | undefined;
    if (info.StartupWizardCompleted !== true) {
      password = await opts.secrets.ensureOne(JELLYFIN_ADMIN_PASSWORD);
      known.push(password);
      if (!password) throw fail('no admin password could be kept in the keychain.', 'Unlock the keychain, then try again.');
      // GET first: Jellyfin creates its initial user lazily on this call.
      expect2xx(await call('GET', '/Startup/User'), 'Reading the first user');
      expect2xx(await call('POST', '/Startup/Configuration', undefined, { UICulture: 'en-US', MetadataCountryCode: 'US', PreferredMetadataLanguage: 'en' }), 'The wizard’s language step');
      expect2xx(await call('POST', '/Startup/User', undefined, { Name: adminUser, Password: password.reveal() }), 'Creating the admin user');
      expect2xx(await call('POST', '/Startup/RemoteAccess', undefined, { EnableRemoteAccess: true, EnableAutomaticPortMapping: false }), 'The wizard’s remote-access step');
      expect2xx(await call('POST', '/Startup/Complete'), 'Completing the first-run wizard');
      done.push(`first-run wizard completed with the admin ${adminUser}`);
    }

    // An API key in the keychain that Jellyfin still accepts is used as it is.
    let apiKey = await opts.secrets.get(JELLYFIN_API_KEY.name);
    known.push(apiKey);
    if (apiKey) {
      const r = await call('GET', '/Auth/Keys', apiKey);
      if (r.status !== 200 || !appKeys(jsonBody(r)).some((k) => k.AccessToken === apiKey?.reveal())) apiKey = undefined;
    }
    if (!apiKey) {
      password ??= await opts.secrets.get(JELLYFIN_ADMIN_PASSWORD.name);
      known.push(password);
      if (!password) {
        throw fail(
          'it was set up outside M2 Companion, so the app has neither an API key nor the admin password for it.',
          `In Jellyfin's dashboard (Administration → API Keys) create a key named "${JELLYFIN_APP_NAME}", or reset Jellyfin's data folder to let M2 Companion set it up.`,
        );
      }
      const login = await call('POST', '/Users/AuthenticateByName', undefined, { Username: adminUser, Pw: password.reveal() });
      if (login.status === 401) {
        throw fail(`the admin ${adminUser} could not sign in with the password kept in the keychain.`, 'If the password was changed in Jellyfin, create an API key there instead, or reset Jellyfin’s data folder.');
      }
      expect2xx(login, 'Signing in');
      const body = jsonBody(login);
      const accessToken = isRecord(body) && typeof body.AccessToken === 'string' ? new Secret(body.AccessToken) : undefined;
      if (!accessToken) throw fail('signing in gave no access token.', 'Try again; if it repeats, check Jellyfin’s log.');
      known.push(accessToken);
      try {
        const listKeys = async (): Promise<ApiKeyInfo[]> => {
          const r = await call('GET', '/Auth/Keys', accessToken);
          expect2xx(r, 'Listing API keys');
          return appKeys(jsonBody(r));
        };
        let ours = await listKeys();
        if (ours.length === 0) {
          // 204 and no body: the key is read back from the list.
          expect2xx(await call('POST', `/Auth/Keys?app=${encodeURIComponent(JELLYFIN_APP_NAME)}`, accessToken), 'Creating an API key');
          ours = await listKeys();
          done.push('API key created');
        }
        const newest = ours[0];
        if (!newest) throw fail('the API key it created is not in its list of keys.', 'Try again; if it repeats, check Jellyfin’s log.');
        apiKey = new Secret(newest.AccessToken);
        known.push(apiKey);
        await opts.secrets.set(JELLYFIN_API_KEY.name, apiKey);
        done.push('API key kept in the keychain');
      } finally {
        // The sign-in made a device session; the app works with the API key from here on.
        await call('POST', '/Sessions/Logout', accessToken).catch(() => undefined);
      }
    }

    const transcoding = await probeTranscoding(target, id, opts.settings);
    const enc = await call('GET', '/System/Configuration/encoding', apiKey);
    expect2xx(enc, 'Reading the transcoding settings');
    const current = jsonBody(enc);
    if (!isRecord(current)) throw fail('its transcoding settings were not JSON.', 'Check Jellyfin’s version against the pinned one, then try again.');
    const plan = plannedEncoding(current, opts.settings, transcoding.verdict);
    if (plan.changed.length > 0) {
      expect2xx(await call('POST', '/System/Configuration/encoding', apiKey, plan.next), 'Saving the transcoding settings');
      const type = String(plan.next.HardwareAccelerationType);
      done.push(`hardware acceleration set to ${type}${type === 'vaapi' || type === 'qsv' ? ` on ${opts.settings.renderDevice}` : ''} (${plan.changed.join(', ')})`);
    }

    if (opts.ldap) {
      known.push(opts.ldap.bindPassword);
      const key = apiKey;
      done.push(...(await ensureLdapPlugin({ call: (method, path, json) => call(method, path, key, json), fail }, opts.ldap)));
    }

    const said = transcodingSentence(transcoding);
    if (done.length === 0) {
      const sso = opts.ldap ? ', sign-in through Authentik (LDAP) set' : '';
      return { service: 'jellyfin', changed: false, message: `Already configured: setup complete, API key valid, hardware acceleration ${transcoding.jellyfinType}${sso}. ${said}`, transcoding };
    }
    const text = done.join('; ');
    return { service: 'jellyfin', changed: true, message: `${text.charAt(0).toUpperCase()}${text.slice(1)}. ${said}`, transcoding };
  } finally {
    await endpoint.close();
  }
}

/** "Transcoding: software — <reason>" with FFmpeg's own words when it said any, for the configure step's message. */
export function transcodingSentence(t: TranscodingCheck): string {
  const reason = t.reason.charAt(0).toUpperCase() + t.reason.slice(1);
  return `Transcoding: ${transcodingLabel[t.verdict]} — ${reason}${t.detail ? ` (FFmpeg: “${t.detail}”)` : ''}`;
}

/** The one-second test encode inside the running container for the setting's method; none for 'none'. */
async function probeTranscoding(target: ConfigureTarget, containerId: string, s: Pick<JellyfinSettings, 'hwAccel' | 'renderDevice'>): Promise<TranscodingCheck> {
  if (s.hwAccel === 'none') return transcodingCheck('none', undefined);
  // A test that could not finish (timeout, cut channel) proves nothing: treated as not usable, with what was said.
  const r = await target.conn
    .exec(dockerArgv(target, probeArgv(containerId, s.hwAccel, s.renderDevice)), { timeoutMs: 60_000 })
    .catch((err: unknown) => ({ code: null, stdout: '', stderr: err instanceof Error ? err.message : String(err) }));
  return transcodingCheck(s.hwAccel, classifyProbe(s.hwAccel, s.renderDevice, r));
}
