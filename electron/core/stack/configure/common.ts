/**
 * What post-install configuration shares: the target (one SSH connection, how it reaches Docker, the Compose
 * project), finding a service's container by its Compose labels, reaching its HTTP port through an SSH port
 * forward (HTTP is spoken from Node, so no password or key ever appears on a command line on the server), and
 * errors whose text never carries a secret value.
 */
import http from 'node:http';
import { secretMask, type TranscodingCheck } from '../../../contract/stack';
import { AppError } from '../../errors';
import type { Secret } from '../../secrets/secret';
import { withSudo, type Argv } from '../../ssh/argv';
import { checkExit } from '../../ssh/remote-command';
import type { CommandRunner, ExecResult } from '../../ssh/runner';

/** What configuration needs of the SSH connection (SshConnection has both). */
export interface ConfigureConnection extends CommandRunner {
  forward(remoteHost: string, remotePort: number): Promise<{ port: number; close: () => Promise<void> }>;
}

export interface ConfigureTarget {
  readonly conn: ConfigureConnection;
  /** 'sudo': the SSH user is outside the docker group and runs docker through passwordless sudo. */
  readonly dockerAccess: 'group' | 'sudo';
  /** The Compose project: `m2` in the product. */
  readonly project: string;
}

export type ConfiguredService = 'jellyfin' | 'nextcloud' | 'authentik';

/** One step's outcome: `changed` is false when the service already was as wanted (a re-run changes nothing). */
export interface ConfigureStep {
  readonly service: ConfiguredService;
  readonly changed: boolean;
  readonly message: string;
  /** Jellyfin only: what its test encode decided, as configured. */
  readonly transcoding?: TranscodingCheck;
}

export const serviceTitle: Record<ConfiguredService, string> = { jellyfin: 'Jellyfin', nextcloud: 'Nextcloud', authentik: 'Authentik' };

/** Replace every known secret value in `text` with the mask (values under 4 characters would mask ordinary text). */
export function maskSecrets(text: string, secrets: ReadonlyArray<Secret | undefined>): string {
  let out = text;
  const values = secrets
    .map((s) => s?.reveal() ?? '')
    .filter((v) => v.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join(secretMask);
  return out;
}

/** `stack.configure-failed`, naming the service, with every known secret masked out of the message and hint. */
export function configureFailed(service: ConfiguredService, message: string, hint: string, secrets: ReadonlyArray<Secret | undefined> = [], cause?: unknown): AppError {
  return new AppError('stack.configure-failed', maskSecrets(`${serviceTitle[service]}: ${message}`, secrets), {
    hint: maskSecrets(hint, secrets),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A configure command's result when it exited 0; else configureFailed's words, with the command, its status and stderr kept for the log. */
export function checkConfigureCommand(
  service: ConfiguredService,
  argv: Argv,
  r: ExecResult,
  message: (said: string, facts: { readonly output: string; readonly exitCode: number | null }) => string,
  hint: string,
  secrets: ReadonlyArray<Secret | undefined> = [],
): ExecResult {
  const known = secrets.filter((x): x is Secret => x !== undefined);
  return checkExit(argv, r, { code: 'stack.configure-failed', message: (said, facts) => `${serviceTitle[service]}: ${message(said, facts)}`, hint }, { secrets: known });
}

/** The argv as the target runs docker: directly, or through `sudo -n`. */
export const dockerArgv = (target: Pick<ConfigureTarget, 'dockerAccess'>, argv: Argv): Argv => (target.dockerAccess === 'sudo' ? withSudo(argv) : argv);

/** `docker ps` for the running container of one Compose service of the project. */
export const findContainerArgv = (project: string, service: string): Argv => [
  'docker',
  'ps',
  '--filter',
  `label=com.docker.compose.project=${project}`,
  '--filter',
  `label=com.docker.compose.service=${service}`,
  '--format',
  '{{.ID}}',
];

export const containerNetworksArgv = (id: string): Argv => ['docker', 'inspect', '--format', '{{json .NetworkSettings.Networks}}', '--', id];

/** The IPv4 addresses of a container on its networks, from `docker inspect … .NetworkSettings.Networks`. */
export function parseContainerAddresses(stdout: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim());
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const out: string[] = [];
  for (const net of Object.values(parsed as Record<string, unknown>)) {
    const ip = typeof net === 'object' && net !== null ? (net as { IPAddress?: unknown }).IPAddress : undefined;
    if (typeof ip === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && !out.includes(ip)) out.push(ip);
  }
  return out;
}

const firstLine = (output: string): string => output.trim().split('\n')[0] ?? '';

/** The id of the running container of `service`, or an error saying the stack is not running. */
export async function findContainer(target: ConfigureTarget, service: ConfiguredService, composeService: string): Promise<string> {
  const argv = dockerArgv(target, findContainerArgv(target.project, composeService));
  const r = checkConfigureCommand(
    service,
    argv,
    await target.conn.exec(argv, { timeoutMs: 30_000 }),
    (_, { output }) => `Docker did not list the containers (${firstLine(output)}).`,
    'Check that Docker runs on the server and that the SSH user may use it, then try again.',
  );
  const id = r.stdout.trim().split('\n')[0]?.trim() ?? '';
  if (!/^[0-9a-f]{12,64}$/.test(id)) {
    throw configureFailed(service, `no running container for the service ${composeService} of the project ${target.project}.`, 'Install or apply the stack first; if it is installed, start it again from the Services page.');
  }
  return id;
}

export async function containerAddresses(target: ConfigureTarget, id: string): Promise<string[]> {
  const r = await target.conn.exec(dockerArgv(target, containerNetworksArgv(id)), { timeoutMs: 30_000 });
  return r.code === 0 ? parseContainerAddresses(r.stdout) : [];
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** One HTTP request to 127.0.0.1:port (a forward), without keep-alive so the forward closes promptly. */
export function httpRequest(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; json?: unknown; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const body = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json), 'utf8');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: opts.timeoutMs ?? 15_000,
        headers: {
          accept: 'application/json',
          connection: 'close',
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round((opts.timeoutMs ?? 15_000) / 1000)} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface Endpoint {
  /** The local port of the forward. */
  readonly port: number;
  /** host:port as seen from the server, for messages. */
  readonly via: string;
  readonly close: () => Promise<void>;
}

/**
 * A forward to the first of `candidates` (host:port as seen from the server) that answers HTTP on `probePath`.
 * Candidates that do not answer (an internal network the host cannot route to) are closed again.
 */
export async function openEndpoint(
  target: ConfigureTarget,
  service: ConfiguredService,
  candidates: ReadonlyArray<{ host: string; port: number }>,
  probePath: string,
  opts: { probeTimeoutMs?: number } = {},
): Promise<Endpoint> {
  const tried: string[] = [];
  for (const c of candidates) {
    const via = `${c.host}:${c.port}`;
    const fwd = await target.conn.forward(c.host, c.port);
    try {
      await httpRequest(fwd.port, 'GET', probePath, { timeoutMs: opts.probeTimeoutMs ?? 4_000 });
      return { port: fwd.port, via, close: () => closeBounded(fwd.close) };
    } catch (err) {
      tried.push(`${via} (${(err as Error).message})`);
      await closeBounded(fwd.close);
    }
  }
  throw configureFailed(
    service,
    `its API could not be reached from the server${tried.length ? `: tried ${tried.join(', ')}` : ''}.`,
    'Check on the Services page that it is running and healthy, then try again.',
  );
}

/**
 * Close a forward without waiting on a socket that never finishes (a channel the server could not open):
 * the listener is closed at once either way, and the SSH connection outlives it.
 */
async function closeBounded(close: () => Promise<void>, ms = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([close(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Poll `check` until it returns a value, or `deadline` passes (then the last undefined is returned). */
export async function pollUntil<T>(check: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number }): Promise<T | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 1_000, Math.max(0, deadline - Date.now()))));
  }
}

/** Parse JSON from a response body, or undefined. */
export function jsonBody(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    return undefined;
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
