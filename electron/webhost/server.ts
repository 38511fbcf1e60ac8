import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, readFile } from 'node:fs/promises';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Result } from '../contract/errors';
import { registerContract, createEmitter, type Router, type SenderInfo } from '../core/ipc/dispatch';
import { createCoreServices, createHandlers, type CoreConfig, type CoreServices } from '../core/services';
import { KeyringSecretStore } from '../core/secrets/keychain';
import { writeFileAtomic } from '../core/fs/atomic-write';
import { SenderSubscriptions } from '../core/status/subscriptions';
import type { Logger } from '../core/log';
import type { AppInfo } from '../contract/app';
import { RedactingSecretStore, type AppLog } from '../core/diagnostics/app-log';
import { cspFor } from '../main/csp';
import { ClientMessage, CLIENT_SCRIPT_PATH, TOKEN_PARAM, WS_PATH, type ServerMessage } from './protocol';

export interface WebHostOptions {
  readonly port?: number;
  readonly dataDir: string;
  /** The built renderer (out/renderer). */
  readonly rendererDir: string;
  /** The built browser client that provides window.m2 over the socket (out/webclient/m2-web-client.js). */
  readonly clientScript: string;
  readonly appInfo: AppInfo;
  readonly log: Logger;
  /** The log file and its redactor (createAppLog); the keychain feeds the redactor. */
  readonly appLog?: AppLog;
  /** Development and test seams of the core (the lab's laptop namespace). */
  readonly core?: Pick<CoreConfig, 'fallback' | 'dialSocket' | 'outageProbe'>;
}

export interface WebHost {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly services: CoreServices;
  close(): Promise<void>;
}

/** The web host's CSP: the desktop app's production policy (the socket is 'self'). */
export const WEB_CSP = cspFor(false);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Development and test host: the same core services and contract as the desktop app, carried over a
 * WebSocket bound to 127.0.0.1, guarded by a random token and an Origin check. Not shipped.
 */
export async function startWebHost(opts: WebHostOptions): Promise<WebHost> {
  const token = await webHostToken(opts.dataDir);
  const sockets = new Set<WebSocket>();
  const handlersByChannel = new Map<string, (sender: SenderInfo, payload: unknown) => Promise<Result<unknown>>>();
  const router: Router = {
    handle: (channel, dispatch) => void handlersByChannel.set(channel, dispatch),
    emit: (event, payload) => {
      const frame = JSON.stringify({ t: 'event', event, payload } satisfies ServerMessage);
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(frame);
    },
  };
  let origin = '';
  const services = createCoreServices(
    {
      dataDir: opts.dataDir,
      appInfo: opts.appInfo,
      log: opts.log,
      vault: opts.appLog ? new RedactingSecretStore(new KeyringSecretStore(), opts.appLog.redactor) : new KeyringSecretStore(),
      ...(opts.appLog ? { appLog: { redactor: opts.appLog.redactor, path: opts.appLog.file.path, files: opts.appLog.file.files } } : {}),
      resourcesDir: fileURLToPath(new URL('../../resources', import.meta.url)),
      ...(opts.core ?? {}),
    },
    createEmitter(router, opts.log),
  );
  // A page that closes or reloads without unsubscribing gives its live-status subscriptions back with its socket.
  const subscriptions = new SenderSubscriptions<WebSocket>((profileId) => services.status.unsubscribe(profileId));
  registerContract(router, createHandlers(services), {
    isTrustedSender: (sender) => sender.url === origin,
    log: opts.log,
  });

  const server = createServer((req, res) => {
    serveStatic(req, res, opts).catch((err: unknown) => {
      opts.log.error('web host could not serve a file', { url: req.url, error: err });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const expected = Buffer.from(token);

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    const given = Buffer.from(url.searchParams.get(TOKEN_PARAM) ?? '');
    const tokenOk = given.length === expected.length && timingSafeEqual(given, expected);
    if (url.pathname !== WS_PATH || !tokenOk || req.headers.origin !== origin) {
      opts.log.warn('web host refused a socket', { path: url.pathname, origin: req.headers.origin ?? null, tokenOk });
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      // A page that (re)joins — after a reload or a restart of this host — learns every server's connection state at once.
      for (const payload of services.servers.states()) ws.send(JSON.stringify({ t: 'event', event: 'server:state', payload } satisfies ServerMessage));
      ws.on('close', () => {
        sockets.delete(ws);
        subscriptions.release(ws);
      });
      ws.on('message', (data) => void onMessage(ws, data.toString()));
    });
  });

  const onMessage = async (ws: WebSocket, text: string): Promise<void> => {
    const msg = ClientMessage.safeParse(safeJson(text));
    if (!msg.success) return;
    const dispatch = handlersByChannel.get(msg.data.channel);
    // A page gives back only live-status subscriptions it holds (never the tray's or another page's).
    const result: Result<unknown> = !subscriptions.admits(ws, msg.data.channel, msg.data.payload)
      ? { ok: true, value: { unsubscribed: true } }
      : dispatch
      ? await dispatch({ url: origin }, msg.data.payload)
      : { ok: false, error: { code: 'ipc.unknown-channel', userMessage: `There is no call named "${msg.data.channel}".` } };
    subscriptions.observe(ws, msg.data.channel, msg.data.payload, result.ok);
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'result', id: msg.data.id, result } satisfies ServerMessage));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/?${TOKEN_PARAM}=${token}`,
    origin,
    port,
    services,
    close: async () => {
      // Stop outage probes and the status agents on the servers before their connections close.
      services.outage.stop();
      services.fallback.stop();
      await services.status.stopAll();
      await services.servers.closeAll();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serveStatic(req: IncomingMessage, res: ServerResponse, opts: WebHostOptions): Promise<void> {
  const headers = {
    'Content-Security-Policy': WEB_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, headers).end();
    return;
  }
  const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (pathname === CLIENT_SCRIPT_PATH) {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.js'] }).end(await readFile(opts.clientScript));
    return;
  }
  const root = path.resolve(opts.rendererDir);
  const file = path.resolve(root, `.${pathname}`);
  const inside = file.startsWith(root + path.sep);
  const ext = path.extname(file);
  if (inside && ext && ext !== '.html') {
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[ext] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, headers).end();
    }
    return;
  }
  // Every other path is the single-page app; the client script goes first so window.m2 exists before the app runs.
  const html = await readFile(path.join(root, 'index.html'), 'utf8');
  const withClient = html.replace('<head>', `<head>\n    <script src="${CLIENT_SCRIPT_PATH}"></script>`);
  res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html'] }).end(withClient);
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * The socket's token, kept in the data folder (0600, like everything else there), so a page left open across a restart
 * of the host with the same --data-dir joins again and follows its servers reconnecting instead of being refused.
 */
async function webHostToken(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'webhost-token');
  const kept = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (/^[A-Za-z0-9_-]{32}$/.test(kept)) return kept;
  const token = randomBytes(24).toString('base64url');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${token}\n`, { mode: 0o600 });
  return token;
}
