/**
 * Nextcloud stand-in (image nextcloud:*-apache): `/entrypoint.sh apache2-foreground` auto-installs when the
 * POSTGRES_* and NEXTCLOUD_ADMIN_* variables are complete and the database host accepts TCP (with retries, like the
 * real entrypoint), applies NEXTCLOUD_TRUSTED_DOMAINS at install, serves /status.php (stack-facts §6) on port 80;
 * `/cron.sh` is the cron container; `php occ …` is a small occ with the commands the app uses, including
 * `user:resetpassword --password-from-env` (OC_PASS). Users sign in with HTTP Basic at the OCS API
 * (`/ocs/v{1,2}.php/cloud/user`, `OCS-APIRequest: true`) and WebDAV, checked against their current password.
 * State lives in the /var/www/html volume (config/standin.json + a config.php), owned by www-data (33).
 */
import { createHash } from 'node:crypto';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { env, handleControl, labStartupSwitches, loadJson, log, patchField, saveJson, send, sendJson, serve, sleep, tcpReachable, imageTag } from './lib/common';

const versionString = imageTag(pinnedImages.nextcloud.tag).replace(/^(\d+\.\d+\.\d+).*$/, '$1');
const version = `${versionString}.1`;
const root = '/var/www/html';
const configDir = path.join(root, 'config');
const stateFile = path.join(configDir, 'standin.json');
const configPhp = path.join(configDir, 'config.php');
const wwwData = { uid: 33, gid: 33 };

type Scalar = string | number | boolean;
type ConfigValue = Scalar | ConfigValue[] | { [k: string]: ConfigValue };
interface State {
  installed: boolean;
  system: Record<string, ConfigValue>;
  apps: Record<string, Record<string, string>>;
  enabledApps: string[];
  /** `passwordHash`: sha256 of the current password (the real server keeps a bcrypt/argon2 hash in oc_users). */
  users: Array<{ uid: string; displayname: string; passwordHash?: string }>;
  /** user_oidc providers as lib/Db/Provider.php keeps them; the secret as a SHA-256 (the real app stores it encrypted). */
  oidcProviders: OidcProvider[];
  /** Apps on disk (enabled or not); absent in state files from before it was kept: then the enabled ones. */
  installedApps?: string[];
}
interface OidcProvider {
  id: number;
  identifier: string;
  clientId: string;
  clientSecretSha256: string;
  discoveryEndpoint: string;
  endSessionEndpoint: string | null;
  postLogoutUri: string | null;
  scope: string;
  /** ProviderService settings by setting key, as stored ('0'/'1' for the boolean ones). */
  settings: Record<string, string>;
}

const fresh = (): State => ({ installed: false, system: {}, apps: {}, enabledApps: [], users: [], oidcProviders: [] });
const load = (): State => loadJson<State>(stateFile) ?? fresh();

function phpExport(v: ConfigValue, indent = '  '): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
  const inner = entries.map(([k, x]) => `${indent}  ${Array.isArray(v) ? k : phpExport(k)} => ${phpExport(x, `${indent}  `)},`).join('\n');
  return `array (\n${inner}\n${indent})`;
}

function save(st: State): void {
  mkdirSync(configDir, { recursive: true });
  saveJson(stateFile, st, wwwData);
  if (st.installed) {
    const body = Object.entries(st.system)
      .map(([k, v]) => `  ${phpExport(k)} => ${phpExport(v)},`)
      .join('\n');
    writeFileSync(configPhp, `<?php\n$CONFIG = array (\n${body}\n);\n`);
    if (process.getuid?.() === 0) chownSync(configPhp, wwwData.uid, wwwData.gid);
  }
}

const hashPassword = (pw: string): string => createHash('sha256').update(`m2lab-nextcloud:${pw}`, 'utf8').digest('hex');

const secretEnv = (name: string): string | undefined => {
  const file = env(`${name}_FILE`);
  if (file && existsSync(file)) return readFileSync(file, 'utf8').trim();
  return process.env[name] || undefined;
};

function statusJson(st: State): Record<string, unknown> {
  return {
    installed: st.installed,
    maintenance: st.system.maintenance === true,
    needsDbUpgrade: false,
    version,
    versionstring: versionString,
    edition: '',
    productname: 'Nextcloud',
    extendedSupport: false,
  };
}

// ---- entrypoint (install) ----
async function install(st: State): Promise<State> {
  const adminUser = secretEnv('NEXTCLOUD_ADMIN_USER');
  const adminPass = secretEnv('NEXTCLOUD_ADMIN_PASSWORD');
  const db = { name: secretEnv('POSTGRES_DB'), user: secretEnv('POSTGRES_USER'), pass: secretEnv('POSTGRES_PASSWORD'), host: env('POSTGRES_HOST') };
  const pgComplete = Boolean(db.name && db.user && db.pass && db.host);
  if (!adminUser || !adminPass) {
    log('Nextcloud is not installed: set NEXTCLOUD_ADMIN_USER and NEXTCLOUD_ADMIN_PASSWORD for an automatic install, or finish the web installer');
    return st;
  }
  if (!pgComplete) {
    log('Nextcloud is not installed: POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_HOST are needed for an automatic install');
    return st;
  }
  const [host = '', portText] = db.host.split(':');
  const port = Number(portText ?? '5432');
  log('Installing with PostgreSQL database');
  const maxRetries = Number(env('M2_STANDIN_INSTALL_RETRIES', '10'));
  const delayMs = Number(env('M2_STANDIN_INSTALL_RETRY_DELAY_MS', '3000'));
  for (let attempt = 0; ; attempt++) {
    if (await tcpReachable(host, port, 2_000)) break;
    if (attempt >= maxRetries) {
      process.stderr.write('Installing of nextcloud failed!\n');
      process.exit(1);
    }
    log(`Retrying install... (database ${db.host} not reachable)`);
    await sleep(delayMs);
  }
  const trusted = ['localhost', ...env('NEXTCLOUD_TRUSTED_DOMAINS').split(/\s+/).filter(Boolean)];
  st.installed = true;
  st.system = {
    instanceid: `oc${Math.random().toString(36).slice(2, 12)}`,
    passwordsalt: Math.random().toString(36).slice(2),
    trusted_domains: trusted,
    datadirectory: env('NEXTCLOUD_DATA_DIR', `${root}/data`),
    dbtype: 'pgsql',
    version,
    overwrite: { 'cli.url': 'http://localhost' },
    dbname: db.name ?? '',
    dbhost: db.host,
    dbport: '',
    dbtableprefix: 'oc_',
    dbuser: db.user ?? '',
    installed: true,
    maintenance: false,
  };
  if (env('REDIS_HOST')) {
    st.system['memcache.locking'] = '\\OC\\Memcache\\Redis';
    st.system.redis = { host: env('REDIS_HOST'), port: Number(env('REDIS_HOST_PORT', '6379')) };
  }
  st.enabledApps = ['dav', 'files', 'settings', 'theming', 'provisioning_api'];
  st.users = [{ uid: adminUser, displayname: adminUser, passwordHash: hashPassword(adminPass) }];
  st.apps.core = { backgroundjobs_mode: 'ajax', installedat: String(Date.now() / 1000) };
  log('Nextcloud was successfully installed');
  if (trusted.length > 1) log(`Setting trusted domains…\nSystem config value trusted_domains => ${trusted.join(' ')}`);
  return st;
}

function trustedHost(st: State, hostHeader: string | undefined): boolean {
  if (!st.installed) return true;
  const host = (hostHeader ?? '').toLowerCase();
  const bare = host.replace(/:\d+$/, '');
  const list = Array.isArray(st.system.trusted_domains) ? st.system.trusted_domains.map(String) : [];
  return list.some((d) => {
    const pattern = d.toLowerCase();
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[-a-z0-9.]*')}$`);
    return re.test(host) || re.test(bare);
  });
}

/** The user an `Authorization: Basic` header names, when its password is that user's current one. */
function basicUser(st: State, req: http.IncomingMessage): State['users'][number] | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const uid = decoded.slice(0, colon);
  const user = st.users.find((u) => u.uid.toLowerCase() === uid.toLowerCase());
  return user?.passwordHash !== undefined && user.passwordHash === hashPassword(decoded.slice(colon + 1)) ? user : undefined;
}

let healthy = true;

/**
 * An absolute URL as Nextcloud's URL generator makes it (lib/private/AppFramework/Http/Request.php): the overwrite
 * host and protocol apply only when `overwritecondaddr` is unset or matches the raw REMOTE_ADDR; otherwise the Host
 * the client asked for, over plain HTTP. The image sets both from OVERWRITEHOST/OVERWRITEPROTOCOL/OVERWRITECONDADDR
 * (its reverse-proxy.config.php).
 */
function absoluteUrl(req: http.IncomingMessage, pathname: string): string {
  const remote = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const cond = env('OVERWRITECONDADDR');
  const applies = cond === '' || new RegExp(cond).test(remote);
  const host = applies && env('OVERWRITEHOST') ? env('OVERWRITEHOST') : (req.headers.host ?? 'localhost');
  const protocol = applies && env('OVERWRITEPROTOCOL') ? env('OVERWRITEPROTOCOL') : 'http';
  return `${protocol}://${host}${pathname}`;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (await handleControl(req, res, url, { get: () => ({ healthy, ...statusJson(load()) }), set: (p) => (healthy = patchField(p, 'healthy', 'boolean') ?? healthy) })) return;
  const st = load();
  const p = url.pathname;
  if (p === '/status.php') {
    if (!healthy) return send(res, 503, 'Service Unavailable');
    return sendJson(res, 200, statusJson(st), { 'access-control-allow-origin': '*' });
  }
  if (!trustedHost(st, req.headers.host)) {
    return send(res, 400, '<!DOCTYPE html><html><body><h2>Access through untrusted domain</h2><p>Please contact your administrator. If you are an administrator, edit the "trusted_domains" setting in config/config.php like the example in config.sample.php.</p></body></html>', { 'content-type': 'text/html; charset=utf-8' });
  }
  if (st.system.maintenance === true) return send(res, 503, '<!DOCTYPE html><html><body>This Nextcloud instance is currently in maintenance mode</body></html>', { 'content-type': 'text/html; charset=utf-8' });
  if (!st.installed && (p === '/' || p === '/index.php')) return send(res, 200, '<!DOCTYPE html><html><head><title>Nextcloud</title></head><body><form id="install">Create an <strong>admin account</strong></form></body></html>', { 'content-type': 'text/html; charset=utf-8' });
  if (p === '/' || p === '/index.php') return send(res, 302, undefined, { location: absoluteUrl(req, '/login') });
  if (p === '/login' || p === '/index.php/login') return send(res, 200, '<!DOCTYPE html><html><head><title>Login – Nextcloud</title></head><body><form name="login"></form></body></html>', { 'content-type': 'text/html; charset=utf-8' });
  if (p === '/ocs/v2.php/cloud/capabilities' || p === '/ocs/v1.php/cloud/capabilities') {
    return sendJson(res, 200, { ocs: { meta: { status: 'ok', statuscode: 200, message: 'OK' }, data: { version: { major: Number(versionString.split('.')[0]), minor: 0, micro: Number(versionString.split('.')[2]), string: versionString, edition: '', extendedSupport: false }, capabilities: {} } } });
  }
  if (p === '/ocs/v1.php/cloud/user' || p === '/ocs/v2.php/cloud/user') {
    const v2 = p.startsWith('/ocs/v2');
    const user = st.installed ? basicUser(st, req) : undefined;
    if (!user || req.headers['ocs-apirequest'] !== 'true') {
      return sendJson(res, 401, { ocs: { meta: { status: 'failure', statuscode: 997, message: 'Current user is not logged in', totalitems: '', itemsperpage: '' }, data: [] } }, { 'www-authenticate': 'Basic realm="Nextcloud", charset="UTF-8"' });
    }
    return sendJson(res, 200, { ocs: { meta: { status: 'ok', statuscode: v2 ? 200 : 100, message: 'OK', totalitems: '', itemsperpage: '' }, data: { id: user.uid, 'display-name': user.displayname, enabled: true } } });
  }
  if (p.startsWith('/remote.php/')) {
    if (st.installed && basicUser(st, req)) return send(res, 207, '<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:"/>', { 'content-type': 'application/xml; charset=utf-8' });
    return send(res, 401, '', { 'www-authenticate': 'Basic realm="Nextcloud", charset="UTF-8"' });
  }
}

async function entrypoint(args: string[]): Promise<void> {
  healthy = labStartupSwitches().healthy;
  const cmd = args[0] ?? 'apache2-foreground';
  mkdirSync(configDir, { recursive: true });
  if (!existsSync(path.join(root, 'version.php'))) {
    log(`Initializing nextcloud ${version} ...`);
    writeFileSync(path.join(root, 'version.php'), `<?php\n$OC_Version = array(${version.split('.').join(',')});\n$OC_VersionString = '${versionString}';\n$OC_Edition = '';\n`);
    mkdirSync(path.join(root, 'data'), { recursive: true });
    if (process.getuid?.() === 0) for (const p of [root, configDir, path.join(root, 'data'), path.join(root, 'version.php')]) chownSync(p, wwwData.uid, wwwData.gid);
    log('Initializing finished');
  }
  let st = load();
  if (!st.installed && (cmd === 'apache2-foreground' || env('NEXTCLOUD_UPDATE') === '1')) {
    st = await install(st);
    save(st);
  }
  await serve(80, '0.0.0.0', handle);
  log(`AH00094: Command line: 'apache2 -D FOREGROUND' (stand-in, Nextcloud ${versionString}, installed=${st.installed})`);
}

// ---- cron (/cron.sh) and php ----
function cronRun(): void {
  const st = load();
  if (!st.installed) return;
  st.apps.core = { ...(st.apps.core ?? {}), lastcron: String(Math.floor(Date.now() / 1000)) };
  save(st);
}

async function cron(): Promise<void> {
  labStartupSwitches();
  const every = Number(env('M2_STANDIN_CRON_INTERVAL_S', '300')) * 1000;
  log(`crond: crond (busybox 1.37.0) started, log level 8 (stand-in: cron.php every ${every / 1000}s)`);
  setInterval(() => {
    try {
      cronRun();
    } catch (err) {
      log(`cron.php failed: ${(err as Error).message}`);
    }
  }, every);
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}
function occFail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : `${msg}\n`);
  process.exit(code);
}

function occ(args: string[]): void {
  if (existsSync(configPhp) && process.getuid?.() !== undefined) {
    const owner = statSync(configPhp).uid;
    const me = process.getuid();
    if (owner !== me) {
      occFail(
        `Console has to be executed with the user that owns the file config/config.php\nCurrent user id: ${me}\nOwner id of config.php: ${owner}\nTry adding 'sudo -u #${owner}' to the beginning of the command (without the single quotes)\nIf running with 'docker exec' try adding the option '-u ${owner}' to the docker command (without the single quotes)`,
      );
    }
  }
  const opts = new Map<string, string>();
  const pos: string[] = [];
  for (const a of args) {
    if (a.startsWith('--')) {
      const [k = '', ...v] = a.slice(2).split('=');
      opts.set(k, v.length ? v.join('=') : 'true');
    } else if (a !== '-n' && a !== '--no-interaction' && a !== '-q') pos.push(a);
  }
  const [cmd = 'list', ...rest] = pos;
  const st = load();
  const json = opts.get('output')?.startsWith('json') === true;
  const print = (v: unknown): void => out(json ? JSON.stringify(v) : typeof v === 'string' ? v : Object.entries(v as object).map(([k, x]) => `  - ${k}: ${JSON.stringify(x)}`).join('\n'));
  if (cmd === 'status') {
    const s = statusJson(st);
    print(s);
    if (opts.has('exit-code') && s.maintenance) process.exit(1);
    return;
  }
  if (!st.installed && cmd !== 'list') occFail('Nextcloud is not installed - only a limited number of commands are available\n\nCommand "' + cmd + '" is not defined.');
  switch (cmd) {
    case 'maintenance:mode': {
      if (opts.has('on')) st.system.maintenance = true;
      else if (opts.has('off')) st.system.maintenance = false;
      else return out(`Maintenance mode is currently ${st.system.maintenance === true ? 'enabled' : 'disabled'}`);
      save(st);
      return out(`Maintenance mode ${st.system.maintenance === true ? 'enabled' : 'disabled'}`);
    }
    case 'config:system:get': {
      let v: ConfigValue | undefined = st.system[rest[0] ?? ''];
      for (const k of rest.slice(1)) v = v !== undefined && typeof v === 'object' ? (v as Record<string, ConfigValue>)[k] : undefined;
      if (v === undefined) process.exit(1);
      return out(json ? JSON.stringify(v) : Array.isArray(v) ? v.map(String).join('\n') : typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    case 'config:system:set': {
      const [name, ...keys] = rest;
      if (!name || !opts.has('value')) occFail('Not enough arguments (missing: "name") or --value');
      const type = opts.get('type') ?? 'string';
      const raw = opts.get('value') ?? '';
      const value: ConfigValue = type === 'integer' ? Number(raw) : type === 'boolean' ? raw === 'true' : raw;
      if (keys.length === 0) st.system[name] = value;
      else {
        let cur = (st.system[name] ??= keys[0] !== undefined && /^\d+$/.test(keys[0]) ? [] : {}) as Record<string, ConfigValue>;
        keys.forEach((k, i) => {
          if (i === keys.length - 1) cur[k] = value;
          else cur = (cur[k] ??= {}) as Record<string, ConfigValue>;
        });
      }
      save(st);
      return out(`System config value ${[name, ...keys].join(' => ')} set to ${type} ${raw}`);
    }
    case 'config:system:delete': {
      const [name] = rest;
      if (name) delete st.system[name];
      save(st);
      return out(`System config value ${name ?? ''} deleted`);
    }
    case 'config:app:get': {
      const v = st.apps[rest[0] ?? '']?.[rest[1] ?? ''];
      if (v === undefined) process.exit(1);
      return out(v);
    }
    case 'config:app:set': {
      const [app, key] = rest;
      if (!app || !key || !opts.has('value')) occFail('Not enough arguments (missing: "app, name") or --value');
      st.apps[app] = { ...(st.apps[app] ?? {}), [key]: opts.get('value') ?? '' };
      save(st);
      return out(`Config value '${key}' for app '${app}' is now set to '${opts.get('value') ?? ''}', stored as ${opts.get('type') ?? 'string'} in fast cache`);
    }
    case 'app:install':
    case 'app:enable': {
      const app = rest[0];
      if (!app) occFail('Not enough arguments (missing: "app-id").');
      const installed = st.installedApps ?? [...st.enabledApps];
      // core/Command/App/Install.php: an app already on disk is refused (exit 1), enabled or not.
      if (cmd === 'app:install' && installed.includes(app)) occFail(`${app} already installed`);
      if (cmd === 'app:enable' && !installed.includes(app)) occFail(`${app} not found`);
      if (st.enabledApps.includes(app)) return out(`${app} already enabled`);
      st.installedApps = installed.includes(app) ? installed : [...installed, app];
      st.enabledApps.push(app);
      save(st);
      return out(cmd === 'app:install' ? `${app} ${appVersion(app)} installed\n${app} enabled` : `${app} ${appVersion(app)} enabled`);
    }
    case 'app:disable': {
      st.installedApps ??= [...st.enabledApps];
      st.enabledApps = st.enabledApps.filter((a) => a !== rest[0]);
      save(st);
      return out(`${rest[0] ?? ''} ${appVersion(rest[0] ?? '')} disabled`);
    }
    case 'app:list': {
      // core/Command/App/ListApps.php: {"enabled":{id:version},"disabled":{id:version}}.
      const installed = st.installedApps ?? st.enabledApps;
      const enabled = Object.fromEntries(st.enabledApps.map((a) => [a, appVersion(a)]));
      const disabled = Object.fromEntries(installed.filter((a) => !st.enabledApps.includes(a)).map((a) => [a, appVersion(a)]));
      return out(
        json
          ? JSON.stringify({ enabled, disabled })
          : `Enabled:\n${Object.entries(enabled).map(([a, v]) => `  - ${a}: ${v}`).join('\n')}\nDisabled:\n${Object.entries(disabled).map(([a, v]) => `  - ${a}: ${v}`).join('\n')}`,
      );
    }
    case 'background:cron':
      st.apps.core = { ...(st.apps.core ?? {}), backgroundjobs_mode: 'cron' };
      save(st);
      return out("Set mode for background jobs to 'cron'");
    case 'user:resetpassword': {
      // core/Command/User/ResetPassword.php: the user first, then OC_PASS with --password-from-env (never an argument).
      const user = st.users.find((u) => u.uid === rest[0]);
      if (!rest[0]) occFail('Not enough arguments (missing: "user").');
      if (!user) occFail('User does not exist');
      if (!opts.has('password-from-env')) occFail('Interactive input or --password-from-env is needed for entering a new password!');
      const password = process.env.OC_PASS;
      if (!password) occFail('--password-from-env given, but OC_PASS is empty!');
      user.passwordHash = hashPassword(password);
      save(st);
      return out(`Successfully reset password for ${user.uid}`);
    }
    case 'files:scan':
      return filesScan(st, rest, opts);
    case 'user:list':
      return out(json ? JSON.stringify(Object.fromEntries(st.users.map((u) => [u.uid, u.displayname]))) : st.users.map((u) => `  - ${u.uid}: ${u.displayname}`).join('\n'));
    case 'user_oidc:provider':
      return userOidcProvider(st, rest, opts, json);
    case 'user_oidc:provider:delete':
      if (!st.enabledApps.includes('user_oidc')) occFail(`\n  Command "${cmd}" is not defined.\n`);
      st.oidcProviders = st.oidcProviders.filter((p) => p.identifier !== rest[0]);
      save(st);
      return out(`Provider ${rest[0] ?? ''} deleted`);
    case 'list':
      return out(`Nextcloud ${versionString}\n\nAvailable commands:\n  status\n  maintenance:mode\n  config:system:get\n  config:system:set\n  config:app:get\n  config:app:set\n  app:install\n  app:enable\n  app:list\n  background:cron\n  user:list\n  user:resetpassword\n  user_oidc:provider`);
    default:
      occFail(`\n  Command "${cmd}" is not defined.\n`);
  }
}

const appVersion = (app: string): string => (app === 'user_oidc' ? '8.10.1' : `${versionString.split('.')[0] ?? '34'}.0.0`);

/**
 * `occ user_oidc:provider` (nextcloud/user_oidc lib/Command/UpsertProvider.php): without an identifier it lists the
 * providers; with one and no option it shows it (jsonSerialize + settings; "Provider not found", exit -1 = 255);
 * with options it creates or updates it. The secret comes from --clientsecret, --clientsecret-file or
 * --clientsecret-env (one of them), never printed back.
 */
const oidcSettingOptions: Record<string, string> = {
  'unique-uid': 'uniqueUid',
  'check-bearer': 'checkBearer',
  'bearer-provisioning': 'bearerProvisioning',
  'send-id-token-hint': 'sendIdTokenHint',
  'mapping-display-name': 'mappingDisplayName',
  'mapping-email': 'mappingEmail',
  'mapping-quota': 'mappingQuota',
  'mapping-uid': 'mappingUid',
  'mapping-groups': 'mappingGroups',
  'extra-claims': 'extraClaims',
  'group-provisioning': 'groupProvisioning',
  'group-whitelist-regex': 'groupWhitelistRegex',
  'group-restrict-login-to-whitelist': 'restrictLoginToGroups',
};
const oidcBooleanDefaults: Record<string, boolean> = { uniqueUid: true, checkBearer: false, bearerProvisioning: false, sendIdTokenHint: false, groupProvisioning: false, restrictLoginToGroups: false, providerBasedId: false };
const oidcSettingKeys = ['mappingDisplayName', 'mappingEmail', 'mappingQuota', 'mappingUid', 'mappingGroups', 'uniqueUid', 'checkBearer', 'sendIdTokenHint', 'bearerProvisioning', 'extraClaims', 'providerBasedId', 'groupProvisioning', 'groupWhitelistRegex', 'restrictLoginToGroups'];

function oidcJson(p: OidcProvider): Record<string, unknown> {
  return { id: p.id, identifier: p.identifier, clientId: p.clientId, discoveryEndpoint: p.discoveryEndpoint, endSessionEndpoint: p.endSessionEndpoint, postLogoutUri: p.postLogoutUri, scope: p.scope.trim() };
}
function oidcSettingsJson(p: OidcProvider): Record<string, unknown> {
  return Object.fromEntries(
    oidcSettingKeys.map((k) => {
      const raw = p.settings[k];
      return [k, k in oidcBooleanDefaults ? (raw === undefined ? oidcBooleanDefaults[k] : raw === '1') : (raw ?? '')];
    }),
  );
}

function userOidcProvider(st: State, rest: string[], opts: Map<string, string>, json: boolean): void {
  if (!st.enabledApps.includes('user_oidc')) occFail('\n  Command "user_oidc:provider" is not defined.\n');
  const secretSources = ['clientsecret', 'clientsecret-file', 'clientsecret-env'].filter((k) => opts.has(k));
  if (secretSources.length > 1) return occFail('Only one of "--clientsecret", "--clientsecret-file" or "--clientsecret-env" can be used.');
  let secret: string | undefined;
  if (opts.has('clientsecret')) secret = opts.get('clientsecret');
  else if (opts.has('clientsecret-file')) {
    const file = opts.get('clientsecret-file') ?? '';
    const v = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (v === '') return occFail(`Client secret file "${file}" could not be read or is empty`);
    out(`Client secret loaded from file "${file}"`);
    secret = v.trim();
  } else if (opts.has('clientsecret-env')) {
    const name = opts.get('clientsecret-env') ?? '';
    const v = process.env[name];
    if (!v) return occFail(`Client secret environment variable "${name}" could not be read or is empty`);
    out(`Client secret loaded from environment variable "${name}"`);
    secret = v.trim();
  }
  const id = rest[0];
  if (id === undefined) {
    if (json) return out(JSON.stringify(st.oidcProviders.map(oidcJson)));
    return out(st.oidcProviders.length === 0 ? 'No providers configured' : st.oidcProviders.map((p) => `| ${p.id} | ${p.identifier} | ${p.discoveryEndpoint} | ${p.endSessionEndpoint ?? ''} | ${p.clientId} |`).join('\n'));
  }
  const updates = ['clientid', 'clientsecret', 'discoveryuri', 'endsessionendpointuri', 'postlogouturi', 'scope', ...Object.keys(oidcSettingOptions)].filter((k) => opts.has(k));
  const existing = st.oidcProviders.find((p) => p.identifier === id);
  if (updates.length === 0 && secret === undefined) {
    if (!existing) {
      process.stdout.write('Provider not found\n');
      process.exit(255);
    }
    return out(json ? JSON.stringify({ ...oidcJson(existing), settings: oidcSettingsJson(existing) }) : `| ${existing.id} | ${existing.identifier} | ${existing.clientId} | ${existing.discoveryEndpoint} |`);
  }
  const hash = secret === undefined ? undefined : createHash('sha256').update(secret, 'utf8').digest('hex');
  let p = existing;
  if (!p) {
    // ProviderMapper::createOrUpdateProvider: a new provider needs its client id, secret and discovery URI.
    if (!opts.get('clientid') || hash === undefined || !opts.get('discoveryuri')) {
      process.stdout.write('Provider must be created with all required fields\n');
      process.exit(255);
    }
    p = { id: Math.max(0, ...st.oidcProviders.map((x) => x.id)) + 1, identifier: id, clientId: '', clientSecretSha256: '', discoveryEndpoint: '', endSessionEndpoint: null, postLogoutUri: null, scope: 'openid email profile', settings: {} };
    st.oidcProviders.push(p);
  }
  if (opts.has('clientid')) p.clientId = opts.get('clientid') ?? '';
  if (hash !== undefined) p.clientSecretSha256 = hash;
  if (opts.has('discoveryuri')) p.discoveryEndpoint = opts.get('discoveryuri') ?? '';
  if (opts.has('endsessionendpointuri')) p.endSessionEndpoint = opts.get('endsessionendpointuri') ?? null;
  if (opts.has('postlogouturi')) p.postLogoutUri = opts.get('postlogouturi') ?? null;
  if (opts.has('scope')) p.scope = opts.get('scope') ?? p.scope;
  for (const [opt, key] of Object.entries(oidcSettingOptions)) {
    if (!opts.has(opt)) continue;
    const v = opts.get(opt) ?? '';
    p.settings[key] = key in oidcBooleanDefaults ? (v === '0' ? '0' : '1') : v;
  }
  save(st);
}

/** Where the stand-in notes each files:scan (for tests: the real one updates oc_filecache instead). */
const scansFile = path.join(configDir, 'standin-scans.json');

/**
 * `occ files:scan` (apps/files/lib/Command/Scan.php): `--path=/alice/files/Music` limits the scan, the user taken from
 * the path; otherwise the user ids given, or `--all`. Refused in maintenance mode, like every occ command but
 * maintenance:mode. Counts what it walks (the folder itself too) and prints Symfony's summary table; an unknown user or
 * a path that is not there is a line of its own, and the table still follows.
 */
function filesScan(st: State, users: string[], opts: Map<string, string>): void {
  if (st.system.maintenance === true) occFail("Nextcloud is in maintenance mode, hence the database isn't accessible.\nCannot perform any command except 'maintenance:mode --off'");
  const dataDir = typeof st.system.datadirectory === 'string' ? st.system.datadirectory : path.join(root, 'data');
  const started = Date.now();
  const input = opts.get('path') ?? opts.get('p');
  const targets =
    input !== undefined && input !== 'true'
      ? [{ user: `/${input.replace(/^\/+|\/+$/g, '')}`.split('/')[1] ?? '', path: `/${input.replace(/^\/+|\/+$/g, '')}` }]
      : (opts.has('all') ? st.users.map((u) => u.uid) : users).map((u) => ({ user: u, path: `/${u}` }));
  if (targets.length === 0) occFail('Please specify the user id to scan, --all to scan for all users or --path=...');
  let folders = 0;
  let files = 0;
  targets.forEach((t, i) => {
    if (!st.users.some((u) => u.uid === t.user)) return out(`Unknown user ${i + 1} ${t.user}`);
    out(`Starting scan for user ${i + 1} out of ${targets.length} (${t.user})`);
    const abs = path.join(dataDir, t.path);
    if (!existsSync(abs)) return out(`Path not found: ${t.path}`);
    const walk = (p: string): void => {
      const s = lstatSync(p);
      if (s.isDirectory()) {
        folders++;
        for (const e of readdirSync(p)) walk(path.join(p, e));
      } else if (s.isFile()) files++;
    };
    walk(abs);
  });
  const scans = loadJson<Array<Record<string, unknown>>>(scansFile) ?? [];
  saveJson(scansFile, [...scans, { at: new Date().toISOString(), targets, folders, files }].slice(-50), wwwData);
  const secs = Math.round((Date.now() - started) / 1000);
  const elapsed = `${String(Math.floor(secs / 3600)).padStart(2, '0')}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
  const head = ['Folders', 'Files', 'New', 'Updated', 'Removed', 'Errors', 'Elapsed time'];
  const row = [String(folders), String(files), '0', '0', '0', '0', elapsed];
  const widths = head.map((h, i) => Math.max(h.length, row[i]?.length ?? 0));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const cells = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  out([line, cells(head), line, cells(row), line].join('\n'));
}

function php(args: string[]): void {
  if (args[0] === '-v' || args[0] === '--version') return out('PHP 8.4.11 (cli) (built: Aug  1 2026 00:00:00) (NTS)');
  const fIdx = args.indexOf('-f');
  const script = fIdx >= 0 ? args[fIdx + 1] : args[0];
  if (script === undefined) occFail('php: no script');
  const base = path.basename(script);
  if (base === 'occ') return occ(args.slice(args.indexOf(script) + 1));
  if (base === 'cron.php') return cronRun();
  occFail(`Could not open input file: ${script}`);
}

async function main(argv: string[]): Promise<void> {
  const [mode = 'entrypoint', ...rest] = argv;
  switch (mode) {
    case 'entrypoint':
      return entrypoint(rest);
    case 'cron':
      return cron();
    case 'php':
      return php(rest);
    case 'occ':
      return occ(rest);
    default:
      occFail(`unknown mode ${mode}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
