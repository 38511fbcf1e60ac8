/**
 * Jellyfin stand-in (image jellyfin/jellyfin): the endpoints the app reads, shaped like Jellyfin 10.11
 * (stack-facts §1.1, §1.6, §2). State lives under the data dir (/config) so it survives restarts; live sessions
 * are set by tests through the lab control endpoint.
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import {
  HttpError,
  env,
  handleControl,
  isRecord,
  labStartupSwitches,
  loadJson,
  log,
  parseFlags,
  patchField,
  readJson,
  saveJson,
  send,
  sendJson,
  serve,
  imageTag,
} from './lib/common';

const version = imageTag(pinnedImages.jellyfin.tag).replace(/^(\d+\.\d+\.\d+).*$/, '$1');
const productName = 'Jellyfin Server';
const port = 8096;

// ---- paths (the real binary takes --datadir/--configdir, defaulting to the image's env) ----
const { flags } = parseFlags(process.argv.slice(2), new Set(['datadir', 'd', 'configdir', 'c', 'cachedir', 'C', 'logdir', 'l', 'ffmpeg', 'webdir', 'w']), new Set(['nowebclient', 'service']));
const dataDir = flags.get('datadir') ?? flags.get('d') ?? env('JELLYFIN_DATA_DIR', '/config');
const configDir = flags.get('configdir') ?? flags.get('c') ?? env('JELLYFIN_CONFIG_DIR', path.join(dataDir, 'config'));
const logDir = flags.get('logdir') ?? flags.get('l') ?? env('JELLYFIN_LOG_DIR', path.join(dataDir, 'log'));
const stateFile = path.join(dataDir, 'data', 'standin-state.json');
const encodingXml = path.join(configDir, 'encoding.xml');

const hex32 = (): string => randomBytes(16).toString('hex');
const nowIso = (): string => new Date().toISOString();

// ---- EncodingOptions (10.11 defaults, stack-facts §1.6) ----
const hwTypes = ['none', 'amf', 'qsv', 'nvenc', 'v4l2m2m', 'vaapi', 'videotoolbox', 'rkmpp'] as const;
const encodingDefaults: Record<string, boolean | number | string | string[]> = {
  EncodingThreadCount: -1,
  TranscodingTempPath: '/cache/transcodes',
  FallbackFontPath: '',
  EnableFallbackFont: false,
  EnableAudioVbr: false,
  DownMixAudioBoost: 2,
  DownMixStereoAlgorithm: 'None',
  MaxMuxingQueueSize: 2048,
  EnableThrottling: false,
  ThrottleDelaySeconds: 180,
  EnableSegmentDeletion: false,
  SegmentKeepSeconds: 720,
  HardwareAccelerationType: 'none',
  EncoderAppPathDisplay: env('JELLYFIN_FFMPEG', '/usr/lib/jellyfin-ffmpeg/ffmpeg'),
  VaapiDevice: '/dev/dri/renderD128',
  QsvDevice: '',
  EnableTonemapping: false,
  EnableVppTonemapping: false,
  EnableVideoToolboxTonemapping: false,
  TonemappingAlgorithm: 'bt2390',
  TonemappingMode: 'auto',
  TonemappingRange: 'auto',
  TonemappingDesat: 0,
  TonemappingPeak: 100,
  TonemappingParam: 0,
  VppTonemappingBrightness: 16,
  VppTonemappingContrast: 1,
  H264Crf: 23,
  H265Crf: 28,
  EncoderPreset: 'auto',
  DeinterlaceDoubleRate: false,
  DeinterlaceMethod: 'yadif',
  EnableDecodingColorDepth10Hevc: true,
  EnableDecodingColorDepth10Vp9: true,
  EnableDecodingColorDepth10HevcRext: false,
  EnableDecodingColorDepth12HevcRext: false,
  EnableEnhancedNvdecDecoder: true,
  PreferSystemNativeHwDecoder: true,
  EnableIntelLowPowerH264HwEncoder: false,
  EnableIntelLowPowerHevcHwEncoder: false,
  EnableHardwareEncoding: true,
  AllowHevcEncoding: false,
  AllowAv1Encoding: false,
  EnableSubtitleExtraction: true,
  HardwareDecodingCodecs: ['h264', 'vc1'],
  AllowOnDemandMetadataBasedKeyframeExtractionForExtensions: ['mkv'],
};
type Encoding = typeof encodingDefaults;

/** Full replace like the real POST: every known property from the body (type-checked), defaults for the rest. */
function validateEncoding(body: unknown): Encoding {
  if (!isRecord(body)) throw new HttpError(400, 'EncodingOptions must be a JSON object');
  const out: Encoding = structuredClone(encodingDefaults);
  for (const [key, def] of Object.entries(encodingDefaults)) {
    if (!(key in body) || body[key] === null) continue;
    const v = body[key];
    if (key === 'HardwareAccelerationType') {
      const name = typeof v === 'number' ? hwTypes[v] : typeof v === 'string' ? hwTypes.find((t) => t === v.toLowerCase()) : undefined;
      if (name === undefined) throw new HttpError(400, `The JSON value could not be converted to HardwareAccelerationType: ${JSON.stringify(v)}`);
      out[key] = name;
    } else if (Array.isArray(def)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new HttpError(400, `${key} must be an array of strings`);
      out[key] = v as string[];
    } else if (typeof v !== typeof def) throw new HttpError(400, `${key} must be a ${typeof def}`);
    else out[key] = v as boolean | number | string;
  }
  return out;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function writeEncodingXml(enc: Encoding): void {
  const body = Object.entries(enc)
    .map(([k, v]) =>
      Array.isArray(v)
        ? v.length === 0
          ? `  <${k} />`
          : `  <${k}>\n${v.map((s) => `    <string>${xmlEscape(s)}</string>`).join('\n')}\n  </${k}>`
        : `  <${k}>${xmlEscape(String(v))}</${k}>`,
    )
    .join('\n');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    encodingXml,
    `<?xml version="1.0" encoding="utf-8"?>\n<EncodingOptions xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">\n${body}\n</EncodingOptions>\n`,
  );
}

/** Read encoding.xml written by someone else (the admin editing the file): missing elements keep defaults. */
function readEncodingXml(): Encoding | undefined {
  if (!existsSync(encodingXml)) return undefined;
  const xml = readFileSync(encodingXml, 'utf8');
  const out: Encoding = structuredClone(encodingDefaults);
  for (const [key, def] of Object.entries(encodingDefaults)) {
    if (Array.isArray(def)) {
      const m = new RegExp(`<${key}>([\\s\\S]*?)</${key}>`).exec(xml);
      if (m?.[1] !== undefined) out[key] = [...m[1].matchAll(/<string>([^<]*)<\/string>/g)].map((x) => x[1] ?? '');
      else if (new RegExp(`<${key}\\s*/>`).test(xml)) out[key] = [];
      continue;
    }
    const m = new RegExp(`<${key}>([^<]*)</${key}>`).exec(xml);
    if (m?.[1] === undefined) continue;
    const raw = m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    if (typeof def === 'boolean') out[key] = raw.trim().toLowerCase() === 'true';
    else if (typeof def === 'number') out[key] = Number(raw);
    else out[key] = key === 'HardwareAccelerationType' ? raw.trim().toLowerCase() : raw;
  }
  return out;
}

// ---- persisted state ----
interface User {
  Id: string;
  Name: string;
  PasswordHash?: string;
  IsAdministrator: boolean;
  LastLoginDate?: string;
}
interface ApiKey {
  Id: number;
  AccessToken: string;
  AppName: string;
  DateCreated: string;
  DateLastActivity: string;
}
interface Device {
  token: string;
  userId: string;
  deviceId: string;
  deviceName: string;
  client: string;
  version: string;
  sessionId: string;
  dateCreated: string;
  lastActivity: string;
  remoteEndPoint: string;
}
interface State {
  serverId: string;
  wizardCompleted: boolean;
  startup: { UICulture: string; MetadataCountryCode: string; PreferredMetadataLanguage: string };
  remoteAccess: { EnableRemoteAccess: boolean; EnableAutomaticPortMapping: boolean };
  users: User[];
  apiKeys: ApiKey[];
  nextApiKeyId: number;
  devices: Device[];
  encoding: Encoding;
  /** Installed plugins (absent in state files from before plugins were kept). */
  plugins?: InstalledPlugin[];
}

function initialUserName(): string {
  try {
    const n = os.userInfo().username;
    if (n) return n;
  } catch {
    /* no passwd entry for this uid */
  }
  return 'jellyfin';
}

function loadState(): State {
  const saved = loadJson<State>(stateFile);
  const st: State = saved ?? {
    serverId: hex32(),
    wizardCompleted: false,
    startup: { UICulture: 'en-US', MetadataCountryCode: 'US', PreferredMetadataLanguage: 'en' },
    remoteAccess: { EnableRemoteAccess: true, EnableAutomaticPortMapping: false },
    users: [{ Id: hex32(), Name: initialUserName(), IsAdministrator: true }],
    apiKeys: [],
    nextApiKeyId: 1,
    devices: [],
    encoding: structuredClone(encodingDefaults),
  };
  const fromXml = readEncodingXml();
  if (fromXml) st.encoding = fromXml;
  return st;
}

let state: State;
const persist = (): void => saveJson(stateFile, state);

const hashPassword = (pw: string): string => {
  const salt = randomBytes(16);
  return `$PBKDF2-SHA512$iterations=1000$${salt.toString('hex').toUpperCase()}$${pbkdf2Sync(pw, salt, 1000, 64, 'sha512').toString('hex').toUpperCase()}`;
};
const checkPassword = (pw: string, hash: string | undefined): boolean => {
  if (hash === undefined || hash === '') return pw === '';
  const [, , iterPart, saltHex, digestHex] = hash.split('$');
  const iterations = Number(iterPart?.split('=')[1]);
  if (!saltHex || !digestHex || !Number.isFinite(iterations)) return false;
  const got = pbkdf2Sync(pw, Buffer.from(saltHex, 'hex'), iterations, 64, 'sha512');
  const want = Buffer.from(digestHex, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
};

// ---- plugins (Jellyfin.Api PackageController / PluginsController, the LDAP Authentication plugin) ----
/**
 * The one package the stand-in's "repository" offers: jellyfin-plugin-ldapauth as repo.jellyfin.org lists it
 * (build.yaml: name, guid, version 22 for 10.11.2). Installing marks it Status "Restart" until POST /System/Restart,
 * as Jellyfin loads a new plugin only on its next start; its configuration is LDAP-Auth/Config/PluginConfiguration.cs.
 */
interface InstalledPlugin {
  guid: string;
  name: string;
  version: string;
  status: 'Active' | 'Restart' | 'Disabled';
  configuration: Record<string, unknown>;
}
const ldapPackage = {
  name: 'LDAP Authentication',
  guid: '958aad66-3784-4d2a-b89a-a7b6fab6e25c',
  version: '22.0.0.0',
  targetAbi: '10.11.2.0',
  repositoryUrl: 'https://repo.jellyfin.org/files/plugin/manifest.json',
  overview: 'Authenticate users against an LDAP database',
  description: 'Authenticate your Jellyfin users against an LDAP database, and optionally create users who do not yet exist automatically.',
  category: 'Authentication',
  owner: 'jellyfin',
  configurationFileName: 'LDAP-Auth.xml',
} as const;
/** PluginConfiguration() defaults of jellyfin-plugin-ldapauth (release 22). */
const ldapConfigDefaults: Record<string, unknown> = {
  LdapUsers: [],
  LdapServer: 'ldap-server.contoso.com',
  LdapPort: 389,
  UseSsl: true,
  UseStartTls: false,
  SkipSslVerify: false,
  LdapBindUser: 'CN=BindUser,DC=contoso,DC=com',
  LdapBindPassword: 'password',
  LdapBaseDn: 'o=domains,dc=contoso,dc=com',
  LdapSearchFilter: '(memberOf=CN=JellyfinUsers,DC=contoso,DC=com)',
  LdapAdminBaseDn: '',
  LdapAdminFilter: '(enabledService=JellyfinAdministrator)',
  EnableLdapAdminFilterMemberUid: false,
  LdapSearchAttributes: 'uid, cn, mail, displayName',
  LdapClientCertPath: '',
  LdapClientKeyPath: '',
  LdapRootCaPath: '',
  CreateUsersFromLdap: true,
  AllowPassChange: false,
  LdapUidAttribute: 'uid',
  LdapUsernameAttribute: 'cn',
  LdapPasswordAttribute: 'userPassword',
  EnableLdapProfileImageSync: false,
  RemoveImagesNotInLdap: false,
  LdapProfileImageAttribute: 'jpegphoto',
  LdapProfileImageFormat: 'Default',
  EnableAllFolders: false,
  EnabledFolders: [],
};
const guidN = (g: string): string => g.replace(/-/g, '').toLowerCase();
/** Lab switch: false = the plugin repository cannot be reached (no internet): the package is not found. */
let pluginRepositoryReachable = true;
/** Until this time the server answers 503 as Jellyfin's startup page does while it restarts. */
let restartingUntil = 0;

function pluginInfo(pl: InstalledPlugin): Record<string, unknown> {
  return { Name: pl.name, Version: pl.version, ConfigurationFileName: ldapPackage.configurationFileName, Description: ldapPackage.description, Id: guidN(pl.guid), CanUninstall: true, HasImage: false, Status: pl.status };
}

/** Full replace like Jellyfin's (XmlSerializer into the plugin's type): known properties with the right type, defaults for the rest. */
function validatePluginConfig(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new HttpError(400, 'The plugin configuration must be a JSON object');
  const out: Record<string, unknown> = structuredClone(ldapConfigDefaults);
  for (const [k, def] of Object.entries(ldapConfigDefaults)) {
    if (!(k in body) || body[k] === null) continue;
    const v = body[k];
    if (Array.isArray(def) ? !Array.isArray(v) : typeof v !== typeof def) throw new HttpError(400, `The JSON value could not be converted to ${k}`);
    out[k] = v;
  }
  return out;
}

async function handlePlugins(req: http.IncomingMessage, res: http.ServerResponse, url: URL, p: string, m: string): Promise<boolean> {
  const plugins = (state.plugins ??= []);
  if (p === '/packages' && m === 'GET') {
    requireAuth(req, url);
    sendJson(res, 200, pluginRepositoryReachable ? [{ name: ldapPackage.name, description: ldapPackage.description, overview: ldapPackage.overview, owner: ldapPackage.owner, category: ldapPackage.category, guid: ldapPackage.guid, versions: [{ version: ldapPackage.version, VersionNumber: ldapPackage.version, changelog: '', targetAbi: ldapPackage.targetAbi, sourceUrl: '', checksum: '', timestamp: '2025-11-02T00:00:00Z', repositoryName: 'Jellyfin Stable', repositoryUrl: ldapPackage.repositoryUrl }], imageUrl: '' }] : []);
    return true;
  }
  const install = /^\/packages\/installed\/([^/]+)$/.exec(p);
  if (install && m === 'POST') {
    requireAdmin(req, url);
    const name = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    const guid = [...url.searchParams].find(([k]) => k.toLowerCase() === 'assemblyguid')?.[1];
    const matches = pluginRepositoryReachable && name.toLowerCase() === ldapPackage.name.toLowerCase() && (!guid || guidN(guid) === guidN(ldapPackage.guid));
    if (!matches) {
      send(res, 404);
      return true;
    }
    if (!plugins.some((x) => guidN(x.guid) === guidN(ldapPackage.guid))) {
      plugins.push({ guid: ldapPackage.guid, name: ldapPackage.name, version: ldapPackage.version, status: 'Restart', configuration: structuredClone(ldapConfigDefaults) });
      persist();
      log(`[INF] Package installation completed: ${ldapPackage.name} ${ldapPackage.version} (restart required)`);
    }
    send(res, 204);
    return true;
  }
  if (p === '/system/restart' && m === 'POST') {
    requireAdmin(req, url);
    send(res, 204);
    // In-process restart: plugins waiting for it are loaded; meanwhile the startup page answers 503.
    restartingUntil = Date.now() + 1_500;
    for (const pl of plugins) if (pl.status === 'Restart') pl.status = 'Active';
    persist();
    log('[INF] Restarting Jellyfin');
    return true;
  }
  if (p === '/plugins' && m === 'GET') {
    requireAdmin(req, url);
    sendJson(res, 200, plugins.map(pluginInfo));
    return true;
  }
  const conf = /^\/plugins\/([0-9a-f-]{32,36})\/configuration$/.exec(p);
  if (conf) {
    requireAdmin(req, url);
    // A plugin not loaded yet (installed, waiting for the restart) has no instance: 404 like Jellyfin.
    const pl = plugins.find((x) => guidN(x.guid) === guidN(conf[1] ?? '') && x.status === 'Active');
    if (!pl) {
      send(res, 404);
      return true;
    }
    if (m === 'GET') {
      sendJson(res, 200, pl.configuration);
      return true;
    }
    if (m === 'POST') {
      pl.configuration = validatePluginConfig(await readJson(req));
      persist();
      log(`[INF] Plugin ${pl.name} configuration saved`);
      send(res, 204);
      return true;
    }
  }
  return false;
}

// ---- lab-controlled live sessions ----
type PlaybackKind = 'hardware' | 'software' | 'remux' | 'direct' | 'idle';
interface SessionSpec {
  id: string;
  kind: PlaybackKind;
  userName: string;
  client: string;
  deviceName: string;
  deviceId: string;
  applicationVersion: string;
  remoteEndPoint: string;
  item: { Name: string; Type: string; RunTimeTicks: number; Id: string; SeriesName?: string; ProductionYear?: number };
  hardwareAccelerationType?: string;
  transcodingInfo: Record<string, unknown>;
  positionTicks: number;
  isPaused: boolean;
  lastActivitySecondsAgo: number;
  setAt: number;
}
let sessions: SessionSpec[] = [];
let healthy = true;

function parseSessionSpec(raw: unknown, i: number): SessionSpec {
  if (!isRecord(raw)) throw new HttpError(400, `sessions[${i}] must be an object`);
  const kind = (raw.kind ?? 'hardware') as PlaybackKind;
  if (!['hardware', 'software', 'remux', 'direct', 'idle'].includes(kind)) {
    throw new HttpError(400, `sessions[${i}].kind must be hardware, software, remux, direct or idle`);
  }
  const str = (k: string, d: string): string => {
    const v = raw[k];
    if (v === undefined) return d;
    if (typeof v !== 'string') throw new HttpError(400, `sessions[${i}].${k} must be a string`);
    return v;
  };
  const num = (k: string, d: number): number => {
    const v = raw[k];
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `sessions[${i}].${k} must be a number`);
    return v;
  };
  const item = isRecord(raw.item) ? raw.item : {};
  const hw = raw.hardwareAccelerationType;
  if (hw !== undefined && (typeof hw !== 'string' || !hwTypes.includes(hw as (typeof hwTypes)[number]))) {
    throw new HttpError(400, `sessions[${i}].hardwareAccelerationType must be one of ${hwTypes.join(', ')}`);
  }
  return {
    id: str('id', hex32()),
    kind,
    userName: str('userName', state.users[0]?.Name ?? 'alice'),
    client: str('client', 'Jellyfin Web'),
    deviceName: str('deviceName', 'Firefox'),
    deviceId: str('deviceId', hex32()),
    applicationVersion: str('applicationVersion', version),
    remoteEndPoint: str('remoteEndPoint', '192.168.1.50'),
    item: {
      Name: typeof item.Name === 'string' ? item.Name : 'Big Buck Bunny',
      Type: typeof item.Type === 'string' ? item.Type : 'Movie',
      RunTimeTicks: typeof item.RunTimeTicks === 'number' ? item.RunTimeTicks : 72_000_000_000,
      Id: typeof item.Id === 'string' ? item.Id : hex32(),
      ...(typeof item.SeriesName === 'string' ? { SeriesName: item.SeriesName } : {}),
      ...(typeof item.ProductionYear === 'number' ? { ProductionYear: item.ProductionYear } : {}),
    },
    ...(typeof hw === 'string' ? { hardwareAccelerationType: hw } : {}),
    transcodingInfo: isRecord(raw.transcodingInfo) ? raw.transcodingInfo : {},
    positionTicks: num('positionTicks', 1_234_500_000),
    isPaused: raw.isPaused === true,
    lastActivitySecondsAgo: num('lastActivitySecondsAgo', 1),
    setAt: Date.now(),
  };
}

function sessionDto(s: SessionSpec): Record<string, unknown> {
  const user = state.users.find((u) => u.Name === s.userName);
  const elapsedTicks = s.isPaused ? 0 : (Date.now() - s.setAt) * 10_000;
  const position = Math.min(s.item.RunTimeTicks, s.positionTicks + elapsedTicks);
  const playing = s.kind !== 'idle';
  const playMethod = s.kind === 'direct' ? 'DirectPlay' : s.kind === 'remux' ? 'DirectStream' : 'Transcode';
  const lastActivity = new Date(Date.now() - s.lastActivitySecondsAgo * 1000).toISOString();
  const configuredHw = String(state.encoding.HardwareAccelerationType);
  const hwType = s.kind === 'software' ? 'none' : (s.hardwareAccelerationType ?? (configuredHw !== 'none' ? configuredHw : 'nvenc'));
  const transcoding =
    s.kind === 'hardware' || s.kind === 'software' || s.kind === 'remux'
      ? {
          AudioCodec: 'aac',
          VideoCodec: s.kind === 'remux' ? 'hevc' : 'h264',
          Container: s.kind === 'remux' ? 'mp4' : 'ts',
          IsVideoDirect: s.kind === 'remux',
          IsAudioDirect: false,
          Bitrate: 8_000_000,
          Framerate: s.kind === 'hardware' ? 87.4 : s.kind === 'software' ? 31.2 : 24,
          CompletionPercentage: Math.min(100, (position / s.item.RunTimeTicks) * 100 + 2.5),
          Width: 1920,
          Height: 1080,
          AudioChannels: 2,
          ...(s.kind === 'remux' ? {} : { HardwareAccelerationType: hwType }),
          TranscodeReasons: s.kind === 'remux' ? ['ContainerNotSupported', 'AudioCodecNotSupported'] : ['VideoCodecNotSupported', 'AudioCodecNotSupported'],
          ...s.transcodingInfo,
        }
      : undefined;
  return {
    PlayState: playing
      ? { PositionTicks: position, CanSeek: true, IsPaused: s.isPaused, IsMuted: false, VolumeLevel: 100, AudioStreamIndex: 1, MediaSourceId: s.item.Id, PlayMethod: playMethod, RepeatMode: 'RepeatNone', PlaybackOrder: 'Default' }
      : { CanSeek: false, IsPaused: false, IsMuted: false, RepeatMode: 'RepeatNone', PlaybackOrder: 'Default' },
    AdditionalUsers: [],
    Capabilities: { PlayableMediaTypes: ['Audio', 'Video'], SupportedCommands: [], SupportsMediaControl: true, SupportsPersistentIdentifier: false },
    RemoteEndPoint: s.remoteEndPoint,
    PlayableMediaTypes: ['Audio', 'Video'],
    Id: s.id,
    UserId: user?.Id ?? hex32(),
    UserName: s.userName,
    Client: s.client,
    LastActivityDate: lastActivity,
    LastPlaybackCheckIn: lastActivity,
    DeviceName: s.deviceName,
    ...(playing
      ? {
          NowPlayingItem: {
            Name: s.item.Name,
            ServerId: state.serverId,
            Id: s.item.Id,
            ...(s.item.SeriesName ? { SeriesName: s.item.SeriesName } : {}),
            ...(s.item.ProductionYear ? { ProductionYear: s.item.ProductionYear } : {}),
            RunTimeTicks: s.item.RunTimeTicks,
            IsFolder: false,
            Type: s.item.Type,
            MediaType: 'Video',
          },
        }
      : {}),
    DeviceId: s.deviceId,
    ApplicationVersion: s.applicationVersion,
    ...(transcoding ? { TranscodingInfo: transcoding } : {}),
    IsActive: true,
    SupportsMediaControl: true,
    SupportsRemoteControl: true,
    NowPlayingQueue: [],
    NowPlayingQueueFullItems: [],
    HasCustomDeviceName: false,
    ServerId: state.serverId,
    SupportedCommands: [],
  };
}

function deviceSessionDto(d: Device): Record<string, unknown> {
  const user = state.users.find((u) => u.Id === d.userId);
  return {
    PlayState: { CanSeek: false, IsPaused: false, IsMuted: false, RepeatMode: 'RepeatNone', PlaybackOrder: 'Default' },
    AdditionalUsers: [],
    Capabilities: { PlayableMediaTypes: [], SupportedCommands: [], SupportsMediaControl: false, SupportsPersistentIdentifier: true },
    RemoteEndPoint: d.remoteEndPoint,
    PlayableMediaTypes: [],
    Id: d.sessionId,
    UserId: d.userId,
    UserName: user?.Name ?? '',
    Client: d.client,
    LastActivityDate: d.lastActivity,
    LastPlaybackCheckIn: '0001-01-01T00:00:00.0000000Z',
    DeviceName: d.deviceName,
    DeviceId: d.deviceId,
    ApplicationVersion: d.version,
    IsActive: true,
    SupportsMediaControl: false,
    SupportsRemoteControl: false,
    NowPlayingQueue: [],
    NowPlayingQueueFullItems: [],
    HasCustomDeviceName: false,
    ServerId: state.serverId,
    SupportedCommands: [],
  };
}

// ---- auth (stack-facts §2.1; 10.11 still accepts the legacy forms) ----
interface AuthInfo {
  token?: string;
  client?: string;
  device?: string;
  deviceId?: string;
  version?: string;
}
function parseAuth(req: http.IncomingMessage, url: URL): AuthInfo {
  const info: AuthInfo = {};
  const header = req.headers.authorization ?? (req.headers['x-emby-authorization'] as string | undefined);
  if (header) {
    const m = /^\s*(MediaBrowser|Emby)\s+(.*)$/i.exec(header);
    if (m?.[2]) {
      for (const pair of m[2].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
        const k = (pair[1] ?? '').toLowerCase();
        const v = decodeURIComponent(pair[2] ?? '');
        if (k === 'token') info.token = v;
        else if (k === 'client') info.client = v;
        else if (k === 'device') info.device = v;
        else if (k === 'deviceid') info.deviceId = v;
        else if (k === 'version') info.version = v;
      }
    }
  }
  const q = (name: string): string | undefined => {
    for (const [k, v] of url.searchParams) if (k.toLowerCase() === name) return v;
    return undefined;
  };
  info.token ??= (req.headers['x-emby-token'] as string | undefined) ?? (req.headers['x-mediabrowser-token'] as string | undefined) ?? q('apikey') ?? q('api_key');
  return info;
}

type Caller = { kind: 'apikey'; key: ApiKey } | { kind: 'user'; user: User; device: Device };
function identify(req: http.IncomingMessage, url: URL): Caller | undefined {
  const { token } = parseAuth(req, url);
  if (!token) return undefined;
  const key = state.apiKeys.find((k) => k.AccessToken === token);
  if (key) {
    key.DateLastActivity = nowIso();
    return { kind: 'apikey', key };
  }
  const device = state.devices.find((d) => d.token === token);
  const user = device && state.users.find((u) => u.Id === device.userId);
  if (device && user) {
    device.lastActivity = nowIso();
    return { kind: 'user', user, device };
  }
  return undefined;
}
const requireAuth = (req: http.IncomingMessage, url: URL): Caller => {
  const c = identify(req, url);
  if (!c) throw new HttpError(401, 'Unauthorized');
  return c;
};
const isAdmin = (c: Caller): boolean => c.kind === 'apikey' || c.user.IsAdministrator;
const requireAdmin = (req: http.IncomingMessage, url: URL): Caller => {
  const c = requireAuth(req, url);
  if (!isAdmin(c)) throw new HttpError(403, 'Forbidden');
  return c;
};
/** Policy FirstTimeSetupOrElevated: anonymous until the wizard completes, admin afterwards. */
const requireSetupOrAdmin = (req: http.IncomingMessage, url: URL): void => {
  if (!state.wizardCompleted) return;
  requireAdmin(req, url);
};

function userDto(u: User): Record<string, unknown> {
  return {
    Name: u.Name,
    ServerId: state.serverId,
    Id: u.Id,
    HasPassword: Boolean(u.PasswordHash),
    HasConfiguredPassword: Boolean(u.PasswordHash),
    HasConfiguredEasyPassword: false,
    EnableAutoLogin: false,
    ...(u.LastLoginDate ? { LastLoginDate: u.LastLoginDate, LastActivityDate: u.LastLoginDate } : {}),
    Configuration: { PlayDefaultAudioTrack: true, SubtitleLanguagePreference: '', DisplayMissingEpisodes: false, SubtitleMode: 'Default', EnableNextEpisodeAutoPlay: true },
    Policy: {
      IsAdministrator: u.IsAdministrator,
      IsHidden: false,
      IsDisabled: false,
      EnableRemoteAccess: true,
      EnableMediaPlayback: true,
      EnableAudioPlaybackTranscoding: true,
      EnableVideoPlaybackTranscoding: true,
      EnablePlaybackRemuxing: true,
      AuthenticationProviderId: 'Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider',
      PasswordResetProviderId: 'Jellyfin.Server.Implementations.Users.DefaultPasswordResetProvider',
    },
  };
}

function localAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return `http://${a.address}:${port}`;
  }
  return `http://127.0.0.1:${port}`;
}

function publicInfo(): Record<string, unknown> {
  return {
    LocalAddress: localAddress(),
    ServerName: os.hostname(),
    Version: version,
    ProductName: productName,
    OperatingSystem: '',
    Id: state.serverId,
    StartupWizardCompleted: state.wizardCompleted,
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (await handleControl(req, res, url, { get: controlState, set: applyControl })) return;
  const p = url.pathname.toLowerCase().replace(/\/+$/, '') || '/';
  const m = req.method ?? 'GET';
  if (Date.now() < restartingUntil) {
    send(res, 503, 'Jellyfin is starting', { 'content-type': 'text/plain', 'retry-after': '1' });
    return;
  }
  if (await handlePlugins(req, res, url, p, m)) return;

  if (p === '/health') {
    send(res, healthy ? 200 : 503, healthy ? 'Healthy' : 'Unhealthy', { 'content-type': 'text/plain' });
    return;
  }
  if (p === '/system/info/public' && m === 'GET') return sendJson(res, 200, publicInfo());
  if (p === '/system/ping' && (m === 'GET' || m === 'POST')) return sendJson(res, 200, productName);
  if (p === '/system/info' && m === 'GET') {
    requireAuth(req, url);
    return sendJson(res, 200, { ...publicInfo(), OperatingSystemDisplayName: 'Linux', HasPendingRestart: false, IsShuttingDown: false, SupportsLibraryMonitor: true, WebSocketPortNumber: port, CanSelfRestart: false, CanLaunchWebBrowser: false, HasUpdateAvailable: false, TranscodingTempPath: String(state.encoding.TranscodingTempPath), LogPath: logDir, InternalMetadataPath: path.join(dataDir, 'metadata'), CachePath: env('JELLYFIN_CACHE_DIR', '/cache'), ProgramDataPath: dataDir });
  }

  // First-run wizard.
  if (p === '/startup/configuration') {
    requireSetupOrAdmin(req, url);
    if (m === 'GET') return sendJson(res, 200, state.startup);
    if (m === 'POST') {
      const b = await readJson(req);
      if (!isRecord(b)) throw new HttpError(400, 'body must be an object');
      state.startup = {
        UICulture: str(b.UICulture) ?? state.startup.UICulture,
        MetadataCountryCode: str(b.MetadataCountryCode) ?? state.startup.MetadataCountryCode,
        PreferredMetadataLanguage: str(b.PreferredMetadataLanguage) ?? state.startup.PreferredMetadataLanguage,
      };
      persist();
      return send(res, 204);
    }
  }
  if (p === '/startup/user' || p === '/startup/firstuser') {
    requireSetupOrAdmin(req, url);
    const first = state.users[0];
    if (!first) throw new HttpError(500, 'no users');
    if (m === 'GET') return sendJson(res, 200, { Name: first.Name });
    if (m === 'POST' && p === '/startup/user') {
      const b = await readJson(req);
      const name = isRecord(b) ? str(b.Name) : undefined;
      if (!name || name.trim() === '') throw new HttpError(400, 'Name is required');
      first.Name = name.trim();
      const pw = isRecord(b) ? str(b.Password) : undefined;
      if (pw !== undefined) first.PasswordHash = pw === '' ? undefined : hashPassword(pw);
      persist();
      return send(res, 204);
    }
  }
  if (p === '/startup/remoteaccess' && m === 'POST') {
    requireSetupOrAdmin(req, url);
    const b = await readJson(req);
    if (!isRecord(b) || typeof b.EnableRemoteAccess !== 'boolean') throw new HttpError(400, 'EnableRemoteAccess is required');
    state.remoteAccess = { EnableRemoteAccess: b.EnableRemoteAccess, EnableAutomaticPortMapping: b.EnableAutomaticPortMapping === true };
    persist();
    return send(res, 204);
  }
  if (p === '/startup/complete' && m === 'POST') {
    requireSetupOrAdmin(req, url);
    state.wizardCompleted = true;
    persist();
    log('Startup wizard completed');
    return send(res, 204);
  }

  // Users and login.
  if (p === '/users/authenticatebyname' && m === 'POST') {
    const auth = parseAuth(req, url);
    if (!auth.client || !auth.device || !auth.deviceId || !auth.version) {
      throw new HttpError(400, 'Client, Device, DeviceId and Version are required in the Authorization header');
    }
    const b = await readJson(req);
    const username = isRecord(b) ? str(b.Username) : undefined;
    const pw = isRecord(b) ? (str(b.Pw) ?? '') : '';
    const user = state.users.find((u) => u.Name.toLowerCase() === (username ?? '').toLowerCase());
    if (!user || !checkPassword(pw, user.PasswordHash)) {
      log(`Authentication request for ${JSON.stringify(username)} has been denied`);
      throw new HttpError(401, 'Invalid username or password entered.');
    }
    user.LastLoginDate = nowIso();
    // Same device logging in again replaces its token, like Jellyfin's device table.
    state.devices = state.devices.filter((d) => !(d.deviceId === auth.deviceId && d.userId === user.Id));
    const device: Device = {
      token: hex32(),
      userId: user.Id,
      deviceId: auth.deviceId,
      deviceName: auth.device,
      client: auth.client,
      version: auth.version,
      sessionId: hex32(),
      dateCreated: nowIso(),
      lastActivity: nowIso(),
      remoteEndPoint: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
    };
    state.devices.push(device);
    persist();
    return sendJson(res, 200, { User: userDto(user), SessionInfo: deviceSessionDto(device), AccessToken: device.token, ServerId: state.serverId });
  }
  if (p === '/users' && m === 'GET') {
    requireAdmin(req, url);
    return sendJson(res, 200, state.users.map(userDto));
  }
  if (p === '/users/me' && m === 'GET') {
    const c = requireAuth(req, url);
    if (c.kind !== 'user') throw new HttpError(400, 'Did not find user for this token');
    return sendJson(res, 200, userDto(c.user));
  }
  if (p === '/sessions/logout' && m === 'POST') {
    const c = requireAuth(req, url);
    if (c.kind === 'user') state.devices = state.devices.filter((d) => d !== c.device);
    persist();
    return send(res, 204);
  }

  // API keys (RequiresElevation).
  if (p === '/auth/keys') {
    requireAdmin(req, url);
    if (m === 'GET') {
      const items = state.apiKeys.map((k) => ({
        Id: k.Id,
        AccessToken: k.AccessToken,
        AppName: k.AppName,
        AppVersion: '',
        DeviceName: '',
        UserId: '00000000000000000000000000000000',
        IsActive: true,
        DateCreated: k.DateCreated,
        DateLastActivity: k.DateLastActivity,
      }));
      return sendJson(res, 200, { Items: items, TotalRecordCount: items.length, StartIndex: 0 });
    }
    if (m === 'POST') {
      const app = [...url.searchParams].find(([k]) => k.toLowerCase() === 'app')?.[1];
      if (!app) throw new HttpError(400, 'The app field is required.');
      state.apiKeys.push({ Id: state.nextApiKeyId++, AccessToken: hex32(), AppName: app, DateCreated: nowIso(), DateLastActivity: nowIso() });
      persist();
      return send(res, 204);
    }
  }
  const keyMatch = /^\/auth\/keys\/([^/]+)$/.exec(p);
  if (keyMatch && m === 'DELETE') {
    requireAdmin(req, url);
    const token = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    state.apiKeys = state.apiKeys.filter((k) => k.AccessToken !== token);
    persist();
    return send(res, 204);
  }

  // Sessions (stack-facts §2.4).
  if (p === '/sessions' && m === 'GET') {
    const c = requireAuth(req, url);
    const q = (name: string): string | undefined => [...url.searchParams].find(([k]) => k.toLowerCase() === name)?.[1];
    const activeWithin = q('activewithinseconds');
    const deviceId = q('deviceid');
    const controllableBy = q('controllablebyuserid');
    let list = [...sessions.map(sessionDto), ...state.devices.map(deviceSessionDto)];
    if (!isAdmin(c) && c.kind === 'user') list = list.filter((s) => s.UserId === c.user.Id);
    if (activeWithin !== undefined) {
      const since = Date.now() - Number(activeWithin) * 1000;
      list = list.filter((s) => Date.parse(String(s.LastActivityDate)) >= since);
    }
    if (deviceId !== undefined) list = list.filter((s) => s.DeviceId === deviceId);
    if (controllableBy !== undefined) list = list.filter((s) => s.SupportsRemoteControl === true);
    return sendJson(res, 200, list);
  }

  // Configuration.
  if (p === '/system/configuration/encoding') {
    if (m === 'GET') {
      requireAuth(req, url);
      return sendJson(res, 200, state.encoding);
    }
    if (m === 'POST') {
      requireAdmin(req, url);
      state.encoding = validateEncoding(await readJson(req));
      writeEncodingXml(state.encoding);
      persist();
      log(`Encoding configuration updated: HardwareAccelerationType=${String(state.encoding.HardwareAccelerationType)}`);
      return send(res, 204);
    }
  }
  if (p === '/system/configuration' && m === 'GET') {
    requireAuth(req, url);
    return sendJson(res, 200, { ServerName: os.hostname(), EnableLegacyAuthorization: true, IsStartupWizardCompleted: state.wizardCompleted, UICulture: state.startup.UICulture, MetadataCountryCode: state.startup.MetadataCountryCode, PreferredMetadataLanguage: state.startup.PreferredMetadataLanguage, EnableRemoteAccess: state.remoteAccess.EnableRemoteAccess });
  }
  if (p === '/') return send(res, 302, undefined, { location: '/web/' });
  if (p === '/web') return send(res, 200, '<!DOCTYPE html><html><head><title>Jellyfin</title></head><body></body></html>', { 'content-type': 'text/html' });
}

function controlState(): Record<string, unknown> {
  return {
    healthy,
    startupWizardCompleted: state.wizardCompleted,
    encoding: { HardwareAccelerationType: state.encoding.HardwareAccelerationType },
    pluginRepositoryReachable,
    plugins: (state.plugins ?? []).map((pl) => ({ name: pl.name, guid: pl.guid, status: pl.status, configuration: pl.configuration })),
    sessions: sessions.map((s) => ({ id: s.id, kind: s.kind, userName: s.userName, client: s.client, deviceName: s.deviceName, item: s.item.Name, isPaused: s.isPaused })),
  };
}

function applyControl(patch: Record<string, unknown>): void {
  const h = patchField(patch, 'healthy', 'boolean');
  const reachable = patchField(patch, 'pluginRepositoryReachable', 'boolean');
  if (reachable !== undefined) pluginRepositoryReachable = reachable;
  if ('sessions' in patch) {
    if (!Array.isArray(patch.sessions)) throw new HttpError(400, 'sessions must be an array');
    sessions = patch.sessions.map(parseSessionSpec);
  }
  if ('addSessions' in patch) {
    if (!Array.isArray(patch.addSessions)) throw new HttpError(400, 'addSessions must be an array');
    sessions = [...sessions, ...patch.addSessions.map(parseSessionSpec)];
  }
  if (h !== undefined) healthy = h;
}

async function main(): Promise<void> {
  healthy = labStartupSwitches().healthy;
  for (const d of [dataDir, configDir, logDir, path.dirname(stateFile)]) mkdirSync(d, { recursive: true });
  state = loadState();
  persist();
  writeEncodingXml(state.encoding);
  await serve(port, '0.0.0.0', handle);
  log(`[INF] Jellyfin version: ${version}`);
  log(`[INF] Kestrel listening on: http://0.0.0.0:${port} (stand-in; data ${dataDir})`);
  log('[INF] Startup complete');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
