/**
 * Postgres stand-in (image postgres:16-alpine): `docker-entrypoint.sh postgres` refuses to initialise without
 * POSTGRES_PASSWORD (unless POSTGRES_HOST_AUTH_METHOD=trust), like the real image; it records
 * POSTGRES_USER/POSTGRES_DB in PGDATA, drops to uid 70 and accepts TCP on 5432 (no SQL).
 * `pg_isready` exits 0 when the port accepts; `pg_dump`/`pg_dumpall` print a small deterministic dump. With a
 * host (`-h`/PGHOST, not a socket path) they ask the server over TCP, checking user, database and PGPASSWORD the
 * way a real server would refuse them, so dump sidecars in other containers work as with the real image.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { dropPrivileges, env, handleControl, labStartupSwitches, loadJson, log, parseFlags, patchField, saveJson, serve, tcpReachable, imageTag } from './lib/common';

const major = imageTag(pinnedImages.postgres.tag).split(/[.-]/)[0] ?? '16';
const serverVersion = `${major}.10`;
const pgdata = env('PGDATA', '/var/lib/postgresql/data');
const infoFile = path.join(pgdata, 'standin.json');
const postgresUser = { uid: 70, gid: 70 };

interface Info {
  user: string;
  db: string;
  initializedAt: string;
}

function fail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : `${msg}\n`);
  process.exit(code);
}

async function server(args: string[]): Promise<void> {
  labStartupSwitches();
  if (args[0] !== undefined && args[0] !== 'postgres' && !args[0].startsWith('-')) fail(`exec: ${args[0]}: not found`, 127);
  const { flags } = parseFlags(args.slice(args[0] === 'postgres' ? 1 : 0), new Set(['p', 'c', 'D', 'h', 'N', 'B']));
  let port = Number(env('PGPORT', '5432'));
  if (flags.get('p')) port = Number(flags.get('p'));
  const c = flags.get('c');
  if (c?.startsWith('port=')) port = Number(c.slice(5));
  mkdirSync(pgdata, { recursive: true });
  const versionFile = path.join(pgdata, 'PG_VERSION');
  if (!existsSync(versionFile)) {
    if (!env('POSTGRES_PASSWORD') && !env('POSTGRES_PASSWORD_FILE') && env('POSTGRES_HOST_AUTH_METHOD') !== 'trust') {
      fail(
        [
          'Error: Database is uninitialized and superuser password is not specified.',
          '       You must specify POSTGRES_PASSWORD to a non-empty value for the',
          '       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".',
          '',
          '       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all',
          '       connections without a password. This is *not* recommended.',
          '',
          '       See PostgreSQL documentation about "trust":',
          '       https://www.postgresql.org/docs/current/auth-trust.html',
        ].join('\n'),
      );
    }
    const user = env('POSTGRES_USER', 'postgres');
    const db = env('POSTGRES_DB', user);
    log(`The files belonging to this database system will be owned by user "postgres".`);
    saveJson(infoFile, { user, db, initializedAt: new Date().toISOString() } satisfies Info);
    writeFileSync(versionFile, `${major}\n`);
    log('PostgreSQL init process complete; ready for start up.');
  } else log('PostgreSQL Database directory appears to contain a database; Skipping initialization');
  dropPrivileges(postgresUser.uid, postgresUser.gid, [pgdata, '/var/run/postgresql']);
  let healthy = true;
  const sockets = new Set<net.Socket>();
  let tcp: net.Server | undefined;
  const listen = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer((sock) => {
        // Accept and hold the connection; a client speaking the protocol gets no answer (the lab needs TCP only).
        // The stand-in's own pg_dump speaks one line of JSON instead (see remoteInfo).
        sock.once('data', (chunk) => {
          const text = chunk.toString('utf8');
          if (!text.startsWith(DUMP_HELLO)) return;
          sock.end(`${JSON.stringify(answerDump(text.slice(DUMP_HELLO.length)))}\n`);
        });
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
        sock.setTimeout(60_000, () => sock.destroy());
      });
      srv.once('error', reject);
      srv.listen(port, '0.0.0.0', () => {
        tcp = srv;
        resolve();
      });
    });
  await listen();
  // Control endpoint on a side port (the database port speaks no HTTP). healthy=false closes the database port,
  // so pg_isready and every client see the database go away; healthy=true opens it again.
  await serve(Number(env('M2_STANDIN_CONTROL_PORT', '5480')), '0.0.0.0', async (req, res, url) => {
    await handleControl(req, res, url, {
      get: () => ({ healthy, port }),
      set: (p) => {
        const h = patchField(p, 'healthy', 'boolean');
        if (h === undefined || h === healthy) return;
        healthy = h;
        if (!h) {
          tcp?.close();
          tcp = undefined;
          for (const s of sockets) s.destroy();
          log('LOG:  lab: database port closed');
        } else void listen().then(() => log('LOG:  lab: database port open again'));
      },
    });
  });
  log(`LOG:  starting PostgreSQL ${serverVersion} on x86_64-pc-linux-musl (stand-in)`);
  log(`LOG:  listening on IPv4 address "0.0.0.0", port ${port}`);
  log('LOG:  database system is ready to accept connections');
}

async function pgIsReady(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, new Set(['h', 'host', 'p', 'port', 'U', 'username', 'd', 'dbname', 't', 'timeout']), new Set(['q', 'quiet']));
  const hostFlag = flags.get('h') ?? flags.get('host') ?? env('PGHOST');
  const host = !hostFlag || hostFlag.startsWith('/') ? '127.0.0.1' : hostFlag;
  const port = Number(flags.get('p') ?? flags.get('port') ?? env('PGPORT', '5432'));
  const timeout = Number(flags.get('t') ?? flags.get('timeout') ?? '3') * 1000;
  const ok = await tcpReachable(host, port, timeout);
  const where = !hostFlag || hostFlag.startsWith('/') ? `${hostFlag || '/var/run/postgresql'}:${port}` : `${host}:${port}`;
  if (!flags.has('q') && !flags.has('quiet')) process.stdout.write(`${where} - ${ok ? 'accepting connections' : 'no response'}\n`);
  process.exit(ok ? 0 : 2);
}

const DUMP_HELLO = 'M2LAB-DUMP ';

interface DumpRequest {
  user: string;
  db: string | null;
  password: string;
}

/** The server side of the stand-in's pg_dump over TCP: who may dump what, as the real server would decide. */
function answerDump(line: string): { ok: true; info: Info } | { ok: false; error: string } {
  let req: DumpRequest;
  try {
    req = JSON.parse(line) as DumpRequest;
  } catch {
    return { ok: false, error: 'invalid request' };
  }
  const info = loadJson<Info>(infoFile);
  if (!info) return { ok: false, error: 'FATAL:  the database system is starting up' };
  const expected = env('POSTGRES_PASSWORD');
  if (req.user !== info.user && req.user !== 'postgres') return { ok: false, error: `FATAL:  role "${req.user}" does not exist` };
  if (expected && req.password !== expected) return { ok: false, error: `FATAL:  password authentication failed for user "${req.user}"` };
  if (req.db !== null && req.db !== info.db && req.db !== 'postgres') return { ok: false, error: `FATAL:  database "${req.db}" does not exist` };
  return { ok: true, info };
}

function remoteInfo(host: string, port: number, req: DumpRequest): Promise<Info> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = '';
    sock.setTimeout(10_000, () => {
      sock.destroy();
      fail(`pg_dump: error: connection to server at "${host}", port ${port} failed: timeout expired`);
    });
    sock.on('connect', () => sock.write(`${DUMP_HELLO}${JSON.stringify(req)}\n`));
    sock.on('data', (d) => (buf += d.toString('utf8')));
    sock.on('error', (err) => fail(`pg_dump: error: connection to server at "${host}", port ${port} failed: ${err.message}`));
    sock.on('end', () => {
      const answer = JSON.parse(buf) as ReturnType<typeof answerDump>;
      if (!answer.ok) fail(`pg_dump: error: connection to server at "${host}", port ${port} failed: ${answer.error}`);
      resolve(answer.info);
    });
  });
}

async function dump(args: string[], all: boolean): Promise<void> {
  const { flags, rest } = parseFlags(args, new Set(['U', 'username', 'd', 'dbname', 'h', 'host', 'p', 'port', 'F', 'format', 'f', 'file']), new Set(['c', 'clean', 'if-exists', 'no-owner', 'O', 'x', 'no-privileges', 'w', 'no-password']));
  const user = flags.get('U') ?? flags.get('username') ?? env('PGUSER', 'postgres');
  const db = flags.get('d') ?? flags.get('dbname') ?? rest[0] ?? (env('PGDATABASE') || user);
  const host = flags.get('h') ?? flags.get('host') ?? env('PGHOST');
  const port = Number(flags.get('p') ?? flags.get('port') ?? env('PGPORT', '5432'));
  const info = host && !host.startsWith('/') ? await remoteInfo(host, port, { user, db: all ? null : db, password: env('PGPASSWORD') }) : loadJson<Info>(infoFile);
  if (!info) fail('pg_dump: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory');
  if (user !== info.user && user !== 'postgres') fail(`pg_dump: error: connection to server failed: FATAL:  role "${user}" does not exist`);
  if (!all && db !== info.db && db !== 'postgres') fail(`pg_dump: error: connection to server failed: FATAL:  database "${db}" does not exist`);
  const text = [
    '--',
    `-- PostgreSQL database ${all ? 'cluster ' : ''}dump`,
    '--',
    '',
    `-- Dumped from database version ${serverVersion}`,
    `-- Dumped by pg_dump version ${serverVersion}`,
    '',
    "SET client_encoding = 'UTF8';",
    ...(all ? [`CREATE ROLE ${info.user};`, `CREATE DATABASE ${info.db} WITH OWNER = ${info.user};`] : []),
    `-- database ${all ? info.db : db}, initialised ${info.initializedAt}`,
    '',
    '--',
    `-- PostgreSQL database ${all ? 'cluster ' : ''}dump complete`,
    '--',
    '',
  ].join('\n');
  const file = flags.get('f') ?? flags.get('file');
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

async function main(argv: string[]): Promise<void> {
  const [mode = 'server', ...rest] = argv;
  if (mode === 'server') return server(rest);
  if (mode === 'pg_isready') return pgIsReady(rest);
  if (mode === 'pg_dump') return dump(rest, false);
  if (mode === 'pg_dumpall') return dump(rest, true);
  fail(`unknown mode ${mode}`);
}

main(process.argv.slice(2)).catch((err: unknown) => fail(String((err as Error)?.stack ?? err)));
