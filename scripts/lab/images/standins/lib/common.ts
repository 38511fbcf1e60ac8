/**
 * Shared by every stand-in server (bundled into each one by esbuild; runs inside the stand-in containers on the
 * host's own node binary, so only node: built-ins and bundled packages are available).
 */
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

export const env = (name: string, fallback = ''): string => process.env[name] ?? fallback;

/** The image's tag: the pinned one, or the tag a stand-in was built under for update tests (M2_STANDIN_VERSION). */
export const imageTag = (pinned: string): string => process.env.M2_STANDIN_VERSION || pinned;

export const log = (...parts: unknown[]): void => {
  process.stdout.write(`${new Date().toISOString()} ${parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')}\n`);
};

export const die = (message: string, code = 1): never => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

/** Lab switches every stand-in honours: crash on start, or start with failing health. */
export function labStartupSwitches(): { healthy: boolean } {
  if (env('M2_STANDIN_CRASH') === '1') die('stand-in: M2_STANDIN_CRASH=1, exiting with 1 as asked');
  return { healthy: env('M2_STANDIN_UNHEALTHY') !== '1' };
}

export function send(res: http.ServerResponse, status: number, body?: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, headers);
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8', ...headers });
}

export function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const servers: net.Server[] = [];
let shuttingDown = false;
const shutdownHooks: Array<() => void> = [];

export const onShutdown = (fn: () => void): void => {
  shutdownHooks.push(fn);
};

/** Node as PID 1 ignores SIGTERM by default: handle it so `docker stop` is quick, like a real server's. */
function installSignalHandlers(): void {
  const stop = (sig: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`received ${sig}, shutting down`);
    for (const fn of shutdownHooks) {
      try {
        fn();
      } catch {
        /* best effort */
      }
    }
    for (const s of servers) s.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
installSignalHandlers();

/** Listen with an async handler; thrown HttpErrors become their status, anything else a 500. */
export function serve(port: number, host: string, handler: Handler): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .then(() => {
        if (!res.headersSent) send(res, 404, 'Not Found', { 'content-type': 'text/plain' });
      })
      .catch((err: unknown) => {
        if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
        else {
          log('handler error', String((err as Error)?.stack ?? err));
          send(res, 500, 'Internal Server Error');
        }
      });
  });
  server.keepAliveTimeout = 5_000;
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function tcpReachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Read a JSON state file, or undefined when it does not exist / cannot be parsed. */
export function loadJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Atomic write (tmp + rename), optionally chowned so another uid (www-data, postgres) can rewrite it. */
export function saveJson(file: string, value: unknown, owner?: { uid: number; gid: number }): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  if (owner && process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, file);
}

/** Give up root for a fixed uid/gid after preparing folders, like su-exec/gosu in the real images' entrypoints. */
export function dropPrivileges(uid: number, gid: number, ownDirs: string[] = []): void {
  if (process.getuid?.() !== 0) return;
  for (const d of ownDirs) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  process.setuid?.(uid);
}

/**
 * The lab control endpoint every stand-in serves: `GET /__lab/state` returns the test-controllable state,
 * `POST /__lab/state` merges a JSON patch into it (the stand-in validates what it accepts).
 */
export async function handleControl(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  control: { get: () => unknown; set: (patch: Record<string, unknown>) => void },
): Promise<boolean> {
  if (url.pathname !== '/__lab/state') return false;
  if (req.method === 'GET') {
    sendJson(res, 200, control.get());
    return true;
  }
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    const body = await readJson(req);
    if (!isRecord(body)) throw new HttpError(400, 'state patch must be a JSON object');
    control.set(body);
    sendJson(res, 200, control.get());
    return true;
  }
  send(res, 405, 'Method Not Allowed');
  return true;
}

/** Pick a boolean/number/string from a patch with a type check; throws 400 on the wrong type. */
export function patchField<T extends 'boolean' | 'number' | 'string'>(
  patch: Record<string, unknown>,
  key: string,
  type: T,
): (T extends 'boolean' ? boolean : T extends 'number' ? number : string) | undefined {
  if (!(key in patch)) return undefined;
  const v = patch[key];
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) throw new HttpError(400, `${key} must be a ${type}`);
  return v as never;
}

/** Parse `--flag value`, `--flag=value` and bare flags; `valued` names flags that take a value. */
export function parseFlags(
  args: readonly string[],
  valued: ReadonlySet<string>,
  bools: ReadonlySet<string> = new Set(),
): { flags: Map<string, string>; rest: string[]; unknown: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (!a.startsWith('-') || a === '-') {
      rest.push(a);
      continue;
    }
    const body = a.replace(/^-+/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (valued.has(name)) {
      if (inline !== undefined) flags.set(name, inline);
      else {
        flags.set(name, args[i + 1] ?? '');
        i++;
      }
    } else if (bools.has(name)) flags.set(name, inline ?? 'true');
    else unknown.push(a);
  }
  return { flags, rest, unknown };
}

/** Minimal Prometheus text exposition. */
export function promMetric(name: string, type: 'gauge' | 'counter', help: string, samples: Array<{ labels?: Record<string, string>; value: number }>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const s of samples) {
    const labels = s.labels
      ? `{${Object.entries(s.labels)
          .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
          .join(',')}}`
      : '';
    lines.push(`${name}${labels} ${s.value}`);
  }
  return lines.join('\n');
}

export const fileExists = existsSync;
