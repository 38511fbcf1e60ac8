/**
 * Authentik stand-in (image ghcr.io/goauthentik/server): `ak server`, `ak worker`, `ak healthcheck`,
 * `ak hash_password`; health endpoints per stack-facts §5.3 (ready only while the Postgres at
 * AUTHENTIK_POSTGRESQL__HOST accepts authentik's login with AUTHENTIK_POSTGRESQL__PASSWORD); the worker discovers blueprints under /blueprints (§5.5) and records
 * what it applied in /data (shared with the server in the official compose), readable at /api/v3/managed/blueprints/.
 */
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { handleCore, type CoreOptions } from './lib/authentik-core';
import { handleOutposts, withOutpostTokens, type OutpostsOptions } from './lib/authentik-outposts';
import { HttpError, env, handleControl, labStartupSwitches, loadJson, log, patchField, saveJson, send, sendJson, serve, sleep, tcpReachable, imageTag } from './lib/common';

const version = imageTag(pinnedImages.authentik.tag);
const modeFile = path.join(env('TMPDIR', '/tmp'), 'authentik-mode');
const blueprintsDir = env('AUTHENTIK_BLUEPRINTS_DIR', '/blueprints');
const sharedStateFile = path.join(env('M2_STANDIN_AUTHENTIK_STATE_DIR', '/data'), '.m2-standin', 'authentik.json');

const listen = (name: string, fallback: string): { host: string; port: number } => {
  const v = env(`AUTHENTIK_LISTEN__${name}`, fallback);
  const i = v.lastIndexOf(':');
  return { host: v.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(v.slice(i + 1)) };
};
const pg = { host: env('AUTHENTIK_POSTGRESQL__HOST', 'localhost'), port: Number(env('AUTHENTIK_POSTGRESQL__PORT', '5432')) };

// ---- blueprints ----
interface BlueprintInstance {
  pk: string;
  name: string;
  path: string;
  context: Record<string, unknown>;
  last_applied: string;
  last_applied_hash: string;
  status: 'successful' | 'warning' | 'error' | 'orphaned' | 'unknown';
  enabled: boolean;
  managed_models: string[];
  metadata: { name: string; labels: Record<string, string> };
  content: string;
  entries: Array<{ model: string; identifiers: Record<string, unknown>; attrs: Record<string, unknown> }>;
  error?: string;
}
interface SharedState {
  blueprints: BlueprintInstance[];
  bootstrap?: { email: string; tokenHash?: string; passwordSet: boolean };
  /** Outpost API tokens the worker made (lib/authentik-outposts.ts): identifier → key. */
  outpostTokens?: Record<string, string>;
}

const envTag = {
  tag: '!Env',
  resolve: (value: string): string => process.env[value] ?? '',
};
const envSeqTag = {
  tag: '!Env',
  collection: 'seq' as const,
  resolve: (seq: unknown): unknown => {
    const items = (seq as { items?: Array<{ value?: unknown } | unknown> }).items ?? [];
    const first = items[0] as { value?: unknown } | string | undefined;
    const name = typeof first === 'object' && first !== null ? String(first.value) : String(first);
    const def = items[1] as { value?: unknown } | string | undefined;
    return process.env[name] ?? (typeof def === 'object' && def !== null ? String(def.value) : String(def ?? ''));
  },
};

function walkYaml(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walkYaml(p, out);
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

function applyBlueprints(previous: BlueprintInstance[]): BlueprintInstance[] {
  const out: BlueprintInstance[] = [];
  for (const file of walkYaml(blueprintsDir)) {
    const rel = path.relative(blueprintsDir, file);
    const content = readFileSync(file, 'utf8');
    const hash = createHash('sha512').update(content).digest('hex');
    const prev = previous.find((b) => b.path === rel);
    if (prev && prev.last_applied_hash === hash) {
      out.push(prev);
      continue;
    }
    const pk = createHash('sha256').update(rel).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
    let doc: Record<string, unknown> | undefined;
    let error: string | undefined;
    try {
      const parsed = YAML.parse(content, { customTags: [envTag, envSeqTag], logLevel: 'silent' }) as unknown;
      if (typeof parsed !== 'object' || parsed === null) throw new Error('blueprint is not a mapping');
      doc = parsed as Record<string, unknown>;
      if (doc.version !== 1) throw new Error(`unsupported blueprint version ${String(doc.version)}`);
      if (!Array.isArray(doc.entries)) throw new Error('blueprint has no entries list');
    } catch (err) {
      error = (err as Error).message;
    }
    const metadata = (doc?.metadata ?? {}) as { name?: string; labels?: Record<string, string> };
    const labels = metadata.labels ?? {};
    if (labels['blueprints.goauthentik.io/instantiate'] === 'false') continue;
    const entries = ((doc?.entries ?? []) as Array<Record<string, unknown>>).map((e) => ({
      model: String(e.model ?? ''),
      identifiers: (e.identifiers ?? {}) as Record<string, unknown>,
      attrs: (e.attrs ?? {}) as Record<string, unknown>,
    }));
    if (!error && entries.some((e) => !/^[a-z0-9_]+\.[a-z0-9_]+$/.test(e.model))) error = 'entry with an invalid model name';
    const inst: BlueprintInstance = {
      pk,
      name: metadata.name ?? rel,
      path: rel,
      context: {},
      last_applied: new Date().toISOString(),
      last_applied_hash: hash,
      status: error ? 'error' : 'successful',
      enabled: true,
      managed_models: [...new Set(entries.map((e) => e.model))],
      metadata: { name: metadata.name ?? rel, labels },
      content: '',
      entries,
      ...(error ? { error } : {}),
    };
    log(`{"event": "Blueprint ${error ? 'failed' : 'applied'}", "path": ${JSON.stringify(rel)}, "name": ${JSON.stringify(inst.name)}${error ? `, "error": ${JSON.stringify(error)}` : ''}, "logger": "authentik.blueprints.v1.tasks"}`);
    out.push(inst);
  }
  return out;
}

const readShared = (): SharedState => loadJson<SharedState>(sharedStateFile) ?? { blueprints: [] };

// ---- HTTP ----
let healthy = true;
let role: 'server' | 'worker' = 'server';

function paginated(results: unknown[]): Record<string, unknown> {
  return {
    pagination: { next: 0, previous: 0, count: results.length, current: 1, total_pages: 1, start_index: results.length ? 1 : 0, end_index: results.length },
    results,
    autocomplete: {},
  };
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function requireToken(req: http.IncomingMessage): void {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) throw new HttpError(403, 'Authentication credentials were not provided.');
  const known = readShared().bootstrap?.tokenHash ?? (env('AUTHENTIK_BOOTSTRAP_TOKEN') ? sha256(env('AUTHENTIK_BOOTSTRAP_TOKEN')) : undefined);
  if (known !== undefined && sha256(m[1]) !== known) throw new HttpError(403, 'Token invalid/expired');
}

function objectsOf(model: string): Array<Record<string, unknown>> {
  const objs: Array<Record<string, unknown>> = [];
  for (const b of readShared().blueprints) {
    if (b.status !== 'successful') continue;
    for (const e of b.entries) if (e.model === model) objs.push({ ...e.identifiers, ...e.attrs, blueprint: b.path });
  }
  return objs;
}

const staticFlows = [
  { pk: '2a0b6a4e-0000-4000-8000-000000000001', slug: 'default-provider-authorization-implicit-consent', name: 'Authorize Application', designation: 'authorization' },
  { pk: '2a0b6a4e-0000-4000-8000-000000000002', slug: 'default-provider-authorization-explicit-consent', name: 'Authorize Application', designation: 'authorization' },
  { pk: '2a0b6a4e-0000-4000-8000-000000000003', slug: 'default-provider-invalidation-flow', name: 'Logged out of application', designation: 'invalidation' },
  { pk: '2a0b6a4e-0000-4000-8000-000000000004', slug: 'default-authentication-flow', name: 'Welcome to authentik!', designation: 'authentication' },
];
const staticScopes = ['openid', 'email', 'profile', 'offline_access', 'entitlements'].map((s, i) => ({
  pk: `3b1c7b5f-0000-4000-8000-00000000000${i + 1}`,
  managed: `goauthentik.io/providers/oauth2/scope-${s}`,
  name: `authentik default OAuth Mapping: OpenID '${s}'`,
  scope_name: s,
}));

/** The household's users and groups (lib/authentik-core.ts), asked with the same token as the rest of the API. */
const core: CoreOptions = {
  requireToken,
  blueprintRecoveryFlow: () => {
    const flow = objectsOf('authentik_flows.flow').find((f) => f.designation === 'recovery');
    return flow ? String(flow.slug) : null;
  },
  bootstrapEmail: () => readShared().bootstrap?.email ?? env('AUTHENTIK_BOOTSTRAP_EMAIL', 'root@localhost'),
  applications: () => objectsOf('authentik_core.application'),
};

/** The blueprint's LDAP outpost and its token (lib/authentik-outposts.ts). */
const successfulEntries = (blueprints: BlueprintInstance[]): BlueprintInstance['entries'] => blueprints.filter((b) => b.status === 'successful').flatMap((b) => b.entries);
const outpostsApi: OutpostsOptions = {
  requireToken,
  entries: () => successfulEntries(readShared().blueprints),
  tokens: () => readShared().outpostTokens ?? {},
};

async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (await handleControl(req, res, url, { get: () => ({ healthy, role, postgres: pg }), set: (p) => (healthy = patchField(p, 'healthy', 'boolean') ?? healthy) })) return;
  if (await handleCore(req, res, url, core)) return;
  if (handleOutposts(req, res, url, outpostsApi)) return;
  const p = url.pathname;
  if (p === '/-/health/live/') return send(res, healthy ? 200 : 503);
  if (p === '/-/health/ready/') return send(res, healthy && (await dbAccepts()) ? 200 : 503);
  if (p === '/if/flow/initial-setup/') return send(res, 200, '<!DOCTYPE html><html><head><title>authentik</title></head><body><ak-flow-executor flowSlug="initial-setup"></ak-flow-executor></body></html>', { 'content-type': 'text/html; charset=utf-8' });
  if (p === '/') return send(res, 302, undefined, { location: '/if/flow/default-authentication-flow/?next=%2F' });
  if (p === '/api/v3/root/config/') return sendJson(res, 200, { error_reporting: { enabled: false }, capabilities: ['can_save_media'], cache_timeout: 300 });
  if (p === '/api/v3/admin/version/') {
    requireToken(req);
    return sendJson(res, 200, { version_current: version, version_latest: version, version_latest_valid: true, build_hash: 'standin', outdated: false, outpost_outdated: false });
  }
  if (p === '/api/v3/managed/blueprints/') {
    requireToken(req);
    const name = url.searchParams.get('name');
    const list = readShared()
      .blueprints.filter((b) => name === null || b.name === name)
      .map(({ entries: _e, error: _r, ...b }) => b);
    return sendJson(res, 200, paginated(list));
  }
  if (p === '/api/v3/providers/oauth2/') {
    requireToken(req);
    return sendJson(res, 200, paginated(objectsOf('authentik_providers_oauth2.oauth2provider').map(({ client_secret: _s, ...o }) => o)));
  }
  if (p === '/api/v3/flows/instances/') {
    requireToken(req);
    const slug = url.searchParams.get('slug');
    return sendJson(res, 200, paginated(staticFlows.filter((f) => slug === null || f.slug === slug)));
  }
  if (p === '/api/v3/propertymappings/provider/scope/') {
    requireToken(req);
    const managed = url.searchParams.get('managed');
    return sendJson(res, 200, paginated(staticScopes.filter((s) => managed === null || s.managed === managed)));
  }
  const oidc = /^\/application\/o\/([^/]+)\/\.well-known\/openid-configuration$/.exec(p);
  if (oidc) {
    const slug = oidc[1] ?? '';
    if (!objectsOf('authentik_core.application').some((a) => a.slug === slug)) return sendJson(res, 404, { detail: 'Not found.' });
    const base = `${(req.headers['x-forwarded-proto'] as string | undefined) ?? 'http'}://${req.headers.host ?? 'localhost'}`;
    return sendJson(res, 200, {
      issuer: `${base}/application/o/${slug}/`,
      authorization_endpoint: `${base}/application/o/authorize/`,
      token_endpoint: `${base}/application/o/token/`,
      userinfo_endpoint: `${base}/application/o/userinfo/`,
      end_session_endpoint: `${base}/application/o/${slug}/end-session/`,
      jwks_uri: `${base}/application/o/${slug}/jwks/`,
      response_types_supported: ['code', 'id_token', 'id_token token', 'code token', 'code id_token', 'code id_token token'],
      scopes_supported: ['openid', 'email', 'profile'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['HS256'],
    });
  }
}

/**
 * Ready means the database accepts authentik's login (user, database and AUTHENTIK_POSTGRESQL__PASSWORD), as the real
 * readiness check opens a connection: spoken to the Postgres stand-in as its clients do (one JSON hello line).
 */
function dbAccepts(): Promise<boolean> {
  const req = { user: env('AUTHENTIK_POSTGRESQL__USER', 'authentik'), db: env('AUTHENTIK_POSTGRESQL__NAME', 'authentik'), password: env('AUTHENTIK_POSTGRESQL__PASSWORD'), sql: 'SELECT 1' };
  return new Promise((resolve) => {
    const sock = net.connect({ host: pg.host, port: pg.port });
    let buf = '';
    sock.setTimeout(1_000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('connect', () => sock.write(`M2LAB-DUMP ${JSON.stringify(req)}\n`));
    sock.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    sock.on('error', () => resolve(false));
    sock.on('end', () => {
      try {
        resolve((JSON.parse(buf) as { ok?: unknown }).ok === true);
      } catch {
        resolve(false);
      }
    });
  });
}

async function waitForDb(): Promise<void> {
  for (let i = 0; ; i++) {
    if (await tcpReachable(pg.host, pg.port, 1_000)) {
      log('{"event": "PostgreSQL connection successful", "logger": "authentik.lib.config"}');
      return;
    }
    if (i % 5 === 0) log(`{"event": "PostgreSQL connection failed, retrying... (${pg.host}:${pg.port})", "logger": "authentik.lib.config"}`);
    await sleep(1_000);
  }
}

async function runService(mode: 'server' | 'worker'): Promise<void> {
  role = mode;
  healthy = labStartupSwitches().healthy;
  if (!env('AUTHENTIK_SECRET_KEY')) {
    process.stderr.write('{"event": "Secret key missing, check https://goauthentik.io/docs/installation/.", "level": "error"}\n');
    process.exit(1);
  }
  writeFileSync(modeFile, mode);
  await waitForDb();
  const http1 = listen('HTTP', '0.0.0.0:9000');
  const metrics = listen('METRICS', '0.0.0.0:9300');
  await serve(http1.port, http1.host, handle);
  await serve(metrics.port, metrics.host, async (req, res, url) => {
    if (await handleControl(req, res, url, { get: () => ({ healthy, role }), set: (p) => (healthy = patchField(p, 'healthy', 'boolean') ?? healthy) })) return;
    if (url.pathname === '/metrics') {
      send(res, 200, `# HELP authentik_main_request_duration_seconds API request latencies\n# TYPE authentik_main_request_duration_seconds histogram\nauthentik_main_request_duration_seconds_count{dest="core"} 0\n`, { 'content-type': 'text/plain; version=0.0.4' });
    }
  });
  log(`{"event": "Starting authentik ${mode}", "version": "${version}", "logger": "authentik.lib.config"}`);
  if (mode === 'worker') {
    const bootstrapPw = env('AUTHENTIK_BOOTSTRAP_PASSWORD');
    const bootstrapHash = env('AUTHENTIK_BOOTSTRAP_PASSWORD_HASH');
    if (bootstrapPw && bootstrapHash) {
      process.stderr.write('{"event": "AUTHENTIK_BOOTSTRAP_PASSWORD and AUTHENTIK_BOOTSTRAP_PASSWORD_HASH are both set", "level": "error"}\n');
      process.exit(1);
    }
    const shared = readShared();
    if (!shared.bootstrap && (bootstrapPw || bootstrapHash || env('AUTHENTIK_BOOTSTRAP_TOKEN'))) {
      // Read only on first startup, like the real bootstrap.
      shared.bootstrap = {
        email: env('AUTHENTIK_BOOTSTRAP_EMAIL', 'root@localhost'),
        passwordSet: Boolean(bootstrapPw || bootstrapHash),
        ...(env('AUTHENTIK_BOOTSTRAP_TOKEN') ? { tokenHash: sha256(env('AUTHENTIK_BOOTSTRAP_TOKEN')) } : {}),
      };
    }
    const tick = (): void => {
      try {
        const cur = readShared();
        const blueprints = applyBlueprints(cur.blueprints);
        const outpostTokens = withOutpostTokens(successfulEntries(blueprints), cur.outpostTokens);
        const next = { ...cur, ...(shared.bootstrap ? { bootstrap: shared.bootstrap } : {}), blueprints, ...(Object.keys(outpostTokens).length ? { outpostTokens } : {}) };
        if (JSON.stringify(next) !== JSON.stringify(cur)) saveJson(sharedStateFile, next);
      } catch (err) {
        log(`{"event": "blueprint discovery failed", "error": ${JSON.stringify((err as Error).message)}}`);
      }
    };
    tick();
    setInterval(tick, Number(env('M2_STANDIN_BLUEPRINT_INTERVAL_MS', '2000'))).unref();
  }
}

/** `ak healthcheck`: the server checks liveness, the worker checks readiness (its DB), as the real entrypoint does. */
async function healthcheck(): Promise<void> {
  const mode = existsSync(modeFile) ? readFileSync(modeFile, 'utf8').trim() : 'server';
  const { port } = listen('HTTP', '0.0.0.0:9000');
  const pathName = mode === 'worker' ? '/-/health/ready/' : '/-/health/live/';
  const status = await new Promise<number>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathName, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
  process.exit(status === 200 ? 0 : 1);
}

/** Django's pbkdf2_sha256 hash of the password read from stdin (2026.8 form) or given as an argument. */
async function hashPassword(args: string[]): Promise<void> {
  let pw = args[0];
  if (pw === undefined) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    pw = Buffer.concat(chunks).toString('utf8');
  }
  const salt = randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 22);
  const iterations = 1_000_000;
  const hash = pbkdf2Sync(pw, salt, iterations, 32, 'sha256').toString('base64');
  process.stdout.write(`pbkdf2_sha256$${iterations}$${salt}$${hash}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [cmd = 'server', ...rest] = argv;
  switch (cmd) {
    case 'server':
    case 'worker':
      return runService(cmd);
    case 'healthcheck':
      return healthcheck();
    case 'hash_password':
      return hashPassword(rest);
    case 'bootstrap_tasks':
      return;
    default:
      process.stderr.write(`Unknown command: '${cmd}'\nType 'manage.py help' for usage.\n`);
      process.exit(1);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
