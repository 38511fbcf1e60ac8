/**
 * Postgres stand-in (image postgres:16-alpine): `docker-entrypoint.sh postgres` refuses to initialise without
 * POSTGRES_PASSWORD (unless POSTGRES_HOST_AUTH_METHOD=trust), like the real image; it records
 * POSTGRES_USER/POSTGRES_DB in PGDATA, drops to uid 70 and accepts TCP on 5432 (no SQL).
 * `pg_isready` exits 0 when the port accepts; `pg_dump`/`pg_dumpall` print a small deterministic dump. With a
 * host (`-h`/PGHOST, not a socket path) they ask the server over TCP, checking user, database and PGPASSWORD the
 * way a real server would refuse them, so dump sidecars in other containers work as with the real image.
 * Like the real server, the role's password is set once at initialisation (from POSTGRES_PASSWORD, kept hashed in
 * PGDATA) and changed only by SQL: later POSTGRES_PASSWORD values are ignored. `psql` runs `ALTER ROLE … PASSWORD`
 * and `SELECT 1` (from `-c` or standard input): without `-h` over the local socket, which the official image
 * trusts; with `-h` over TCP, where PGPASSWORD must match the role's password. `psql -f` of a dump the stand-in's
 * pg_dump made loads it whole or not at all (a statement it does not know fails it) and records its origin.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** role → sha256 of its password (absent in data folders made before the stand-in kept them: POSTGRES_PASSWORD then). */
  passwords?: Record<string, string>;
  /** The dump this database was loaded from (`psql -f`), by the dumped database's name and initialisation time. */
  restoredFrom?: { db: string; initializedAt: string; at: string };
}

const hashPassword = (pw: string): string => createHash('sha256').update(`m2lab:${pw}`, 'utf8').digest('hex');

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
    const password = env('POSTGRES_PASSWORD') || (env('POSTGRES_PASSWORD_FILE') ? readFileSync(env('POSTGRES_PASSWORD_FILE'), 'utf8').trim() : '');
    saveJson(infoFile, { user, db, initializedAt: new Date().toISOString(), ...(password ? { passwords: { [user]: hashPassword(password) } } : {}) } satisfies Info);
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
        let hello = '';
        const onData = (chunk: Buffer): void => {
          hello += chunk.toString('utf8');
          if (!DUMP_HELLO.startsWith(hello.slice(0, DUMP_HELLO.length))) return void sock.off('data', onData);
          if (!hello.includes('\n')) return;
          sock.off('data', onData);
          const line = hello.slice(DUMP_HELLO.length, hello.indexOf('\n'));
          const answer = answerDump(line);
          let sql: string | undefined;
          try {
            sql = (JSON.parse(line) as DumpRequest).sql;
          } catch {
            sql = undefined;
          }
          sock.end(`${JSON.stringify(answer.ok && sql !== undefined ? runSql(answer.info, sql) : answer)}\n`);
        };
        sock.on('data', onData);
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
  /** psql over the local socket: trusted, as the official image's pg_hba.conf has it (`local all all trust`). */
  local?: boolean;
  /** psql: statements to run once connected. */
  sql?: string;
}

type SqlAnswer = { ok: true; output: string } | { ok: false; error: string };

/**
 * The few statements the stand-in understands, run as the connected role: `ALTER ROLE|USER name [WITH] [ENCRYPTED]
 * PASSWORD '…'` (changes what TCP clients must present) and `SELECT 1`. Anything else is a syntax error.
 */
function runSql(info: Info, sql: string): SqlAnswer {
  // A dump this stand-in's pg_dump made (loaded with psql -f into a fresh database): checked whole first, like the one
  // transaction of `psql --single-transaction -v ON_ERROR_STOP=1`, then its origin is recorded in PGDATA.
  const origin = /^-- database (\S+), initialised (\S+)$/m.exec(sql);
  if (origin?.[1] && origin[2] && /^-- PostgreSQL database dump\s*$/m.test(sql)) {
    if (!/^-- PostgreSQL database dump complete\s*$/m.test(sql)) return { ok: false, error: 'ERROR:  syntax error at end of input' };
    for (const st of statementsOf(sql)) {
      if (!/^(SET\s+\w+\s*(=|TO)\s*.+|SELECT\s+pg_catalog\.set_config\(.*\))$/is.test(st)) return { ok: false, error: `ERROR:  syntax error at or near "${st.split(/\s+/)[0] ?? ''}"` };
    }
    const now = loadJson<Info>(infoFile) ?? info;
    saveJson(infoFile, { ...now, restoredFrom: { db: origin[1], initializedAt: origin[2], at: new Date().toISOString() } } satisfies Info);
    log(`LOG:  lab: database loaded from a dump of ${origin[1]} initialised ${origin[2]}`);
    return { ok: true, output: 'SET' };
  }
  const out: string[] = [];
  const statements = sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--') && !l.trim().startsWith('\\'))
    .join('\n')
    .split(';')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const st of statements) {
    const alter = /^ALTER\s+(?:ROLE|USER)\s+("(?:[^"]|"")+"|[a-z_][a-z0-9_]*)\s+(?:WITH\s+)?(?:ENCRYPTED\s+)?PASSWORD\s+'((?:[^']|'')*)'$/i.exec(st);
    if (alter?.[1] && alter[2] !== undefined) {
      const role = alter[1].startsWith('"') ? alter[1].slice(1, -1).replace(/""/g, '"') : alter[1].toLowerCase();
      if (role !== info.user && role !== 'postgres') return { ok: false, error: `ERROR:  role "${role}" does not exist` };
      const password = alter[2].replace(/''/g, "'");
      const now = loadJson<Info>(infoFile) ?? info;
      saveJson(infoFile, { ...now, passwords: { ...(now.passwords ?? {}), [role]: hashPassword(password) } } satisfies Info);
      log(`LOG:  lab: password of role "${role}" changed`);
      out.push('ALTER ROLE');
      continue;
    }
    if (/^SELECT\s+1$/i.test(st)) {
      out.push(' ?column? \n----------\n        1\n(1 row)\n');
      continue;
    }
    const near = st.split(/\s+/)[0] ?? '';
    return { ok: false, error: `ERROR:  syntax error at or near "${near}"` };
  }
  return { ok: true, output: out.join('\n') };
}

/** The statements of a script: comment and backslash lines left out, split at `;`. */
const statementsOf = (sql: string): string[] =>
  sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--') && !l.trim().startsWith('\\'))
    .join('\n')
    .split(';')
    .map((x) => x.trim())
    .filter(Boolean);

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
  if (req.user !== info.user && req.user !== 'postgres') return { ok: false, error: `FATAL:  role "${req.user}" does not exist` };
  if (!req.local) {
    // The role's own password as set at initialisation or by ALTER ROLE; POSTGRES_PASSWORD for older data folders.
    const stored = info.passwords?.[req.user] ?? info.passwords?.[info.user];
    const env0 = env('POSTGRES_PASSWORD');
    const ok = stored !== undefined ? hashPassword(req.password) === stored : !env0 || req.password === env0;
    if (!ok) return { ok: false, error: `FATAL:  password authentication failed for user "${req.user}"` };
  }
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

/** What the server answered a psql connection, or the failure as psql prints it. */
function askServer(host: string, port: number, req: DumpRequest, where: string): Promise<SqlAnswer> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = '';
    sock.setTimeout(10_000, () => {
      sock.destroy();
      resolve({ ok: false, error: `psql: error: connection to server ${where} failed: timeout expired` });
    });
    sock.on('connect', () => sock.write(`${DUMP_HELLO}${JSON.stringify(req)}\n`));
    sock.on('data', (d) => (buf += d.toString('utf8')));
    sock.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, error: `psql: error: connection to server ${where} failed: ${err.code === 'ECONNREFUSED' ? 'Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?' : err.message}` }),
    );
    sock.on('end', () => {
      try {
        const a = JSON.parse(buf) as SqlAnswer | { ok: true; info: Info };
        if (!a.ok) resolve({ ok: false, error: a.error.startsWith('FATAL') ? `psql: error: connection to server ${where} failed: ${a.error}` : a.error });
        else resolve('output' in a ? a : { ok: true, output: '' });
      } catch {
        resolve({ ok: false, error: `psql: error: connection to server ${where} failed: server closed the connection unexpectedly` });
      }
    });
  });
}

async function psql(args: string[]): Promise<void> {
  const { flags, rest } = parseFlags(args, new Set(['h', 'host', 'p', 'port', 'U', 'username', 'd', 'dbname', 'c', 'command', 'v', 'set', 'f', 'file']), new Set(['X', 'no-psqlrc', 'q', 'quiet', 'w', 'no-password', 'A', 't', 'tuples-only', 'no-align']));
  const user = flags.get('U') ?? flags.get('username') ?? (env('PGUSER') || 'postgres');
  const db = flags.get('d') ?? flags.get('dbname') ?? rest[0] ?? (env('PGDATABASE') || user);
  const hostFlag = flags.get('h') ?? flags.get('host') ?? env('PGHOST');
  const local = !hostFlag || hostFlag.startsWith('/');
  const port = Number(flags.get('p') ?? flags.get('port') ?? env('PGPORT', '5432'));
  const command = flags.get('c') ?? flags.get('command');
  const file = flags.get('f') ?? flags.get('file');
  const stopOnError = (flags.get('v') ?? flags.get('set') ?? '').replace(/\s/g, '') === 'ON_ERROR_STOP=1';
  const sql = command ?? (file && file !== '-' ? readFileSync(file, 'utf8') : readFileSync(0, 'utf8'));
  const where = local ? `on socket "${hostFlag || '/var/run/postgresql'}/.s.PGSQL.${port}"` : `at "${hostFlag}", port ${port}`;
  const answer = await askServer(local ? '127.0.0.1' : (hostFlag ?? '127.0.0.1'), port, { user, db, password: env('PGPASSWORD'), local, sql }, where);
  if (!answer.ok) {
    process.stderr.write(`${answer.error}\n`);
    // psql: 2 when the connection failed; 1 for an error in -c; 3 for a script stopped by ON_ERROR_STOP.
    process.exit(answer.error.startsWith('psql: error: connection') ? 2 : command !== undefined ? 1 : stopOnError ? 3 : 0);
  }
  // -q leaves out the command tags (ALTER ROLE), not query results.
  const quiet = flags.has('q') || flags.has('quiet');
  const shown = answer.output.split('\n').filter((l) => !(quiet && l === 'ALTER ROLE')).join('\n').trim();
  if (shown) process.stdout.write(`${shown}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [mode = 'server', ...rest] = argv;
  if (mode === 'server') return server(rest);
  if (mode === 'pg_isready') return pgIsReady(rest);
  if (mode === 'pg_dump') return dump(rest, false);
  if (mode === 'pg_dumpall') return dump(rest, true);
  if (mode === 'psql') return psql(rest);
  fail(`unknown mode ${mode}`);
}

main(process.argv.slice(2)).catch((err: unknown) => fail(String((err as Error)?.stack ?? err)));
