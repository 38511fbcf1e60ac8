/**
 * Redis stand-in (image redis:7.4-alpine): `docker-entrypoint.sh redis-server [--port n] [--requirepass p] [conf]`
 * speaking RESP on 6379 (PING, ECHO, AUTH, SELECT, GET/SET/DEL/EXISTS/INCR/EXPIRE/KEYS, INFO, CLIENT, QUIT), in memory;
 * `redis-cli [-h] [-p] [-a] cmd…` prints replies like the real client.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { dropPrivileges, env, handleControl, labStartupSwitches, log, parseFlags, patchField, serve, imageTag } from './lib/common';

const version = `${imageTag(pinnedImages.redis.tag).replace(/-.*$/, '')}.5`;

type Reply = { t: '+'; v: string } | { t: '-'; v: string } | { t: ':'; v: number } | { t: '$'; v: string | null } | { t: '*'; v: Reply[] };

function encode(r: Reply): string {
  switch (r.t) {
    case '+':
    case '-':
      return `${r.t}${r.v}\r\n`;
    case ':':
      return `:${r.v}\r\n`;
    case '$':
      return r.v === null ? '$-1\r\n' : `$${Buffer.byteLength(r.v)}\r\n${r.v}\r\n`;
    case '*':
      return `*${r.v.length}\r\n${r.v.map(encode).join('')}`;
  }
}

/** Parse one RESP value (array of bulk strings, or an inline command) from buf; undefined when incomplete. */
function parseCommand(buf: Buffer): { args: string[]; used: number } | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] !== 0x2a) {
    const nl = buf.indexOf('\n');
    if (nl === -1) return undefined;
    return { args: buf.subarray(0, nl).toString('utf8').trim().split(/\s+/).filter(Boolean), used: nl + 1 };
  }
  let pos = buf.indexOf('\r\n');
  if (pos === -1) return undefined;
  const n = Number(buf.subarray(1, pos).toString());
  pos += 2;
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const end = buf.indexOf('\r\n', pos);
    if (end === -1 || buf[pos] !== 0x24) return undefined;
    const len = Number(buf.subarray(pos + 1, end).toString());
    const start = end + 2;
    if (buf.length < start + len + 2) return undefined;
    args.push(buf.subarray(start, start + len).toString('utf8'));
    pos = start + len + 2;
  }
  return { args, used: pos };
}

async function server(args: string[]): Promise<void> {
  labStartupSwitches();
  const rest = args[0] === 'redis-server' ? args.slice(1) : args;
  const conf = new Map<string, string>();
  if (rest[0] && !rest[0].startsWith('-') && existsSync(rest[0])) {
    for (const line of readFileSync(rest[0], 'utf8').split('\n')) {
      const m = /^\s*([a-z-]+)\s+(.+?)\s*$/.exec(line);
      if (m?.[1] && m[2] && !line.trim().startsWith('#')) conf.set(m[1], m[2].replace(/^"|"$/g, ''));
    }
  }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? '';
    if (a.startsWith('--')) {
      conf.set(a.slice(2), rest[i + 1] ?? '');
      i++;
    }
  }
  const port = Number(conf.get('port') ?? '6379');
  const password = conf.get('requirepass');
  const store = new Map<string, { v: string; exp?: number }>();
  const get = (k: string): string | undefined => {
    const e = store.get(k);
    if (e?.exp !== undefined && e.exp < Date.now()) {
      store.delete(k);
      return undefined;
    }
    return e?.v;
  };
  let healthy = true;
  let commands = 0;

  const exec = (a: string[], session: { authed: boolean }): Reply | 'quit' => {
    const cmd = (a[0] ?? '').toUpperCase();
    commands++;
    if (password !== undefined && !session.authed && !['AUTH', 'HELLO', 'QUIT'].includes(cmd)) return { t: '-', v: 'NOAUTH Authentication required.' };
    if (!healthy && cmd !== 'QUIT') return { t: '-', v: 'LOADING Redis is loading the dataset in memory' };
    switch (cmd) {
      case 'PING':
        return a[1] !== undefined ? { t: '$', v: a[1] } : { t: '+', v: 'PONG' };
      case 'ECHO':
        return { t: '$', v: a[1] ?? '' };
      case 'AUTH': {
        const pw = a.length >= 3 ? a[2] : a[1];
        if (password === undefined) return { t: '-', v: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?' };
        if (pw !== password) return { t: '-', v: 'WRONGPASS invalid username-password pair or user is disabled.' };
        session.authed = true;
        return { t: '+', v: 'OK' };
      }
      case 'HELLO':
        return { t: '-', v: 'NOPROTO sorry, this protocol version is not supported' };
      case 'SELECT':
      case 'CLIENT':
      case 'FLUSHALL':
      case 'FLUSHDB':
        if (cmd.startsWith('FLUSH')) store.clear();
        return { t: '+', v: 'OK' };
      case 'SET':
        store.set(a[1] ?? '', { v: a[2] ?? '' });
        if ((a[3] ?? '').toUpperCase() === 'EX') store.set(a[1] ?? '', { v: a[2] ?? '', exp: Date.now() + Number(a[4]) * 1000 });
        return { t: '+', v: 'OK' };
      case 'GET':
        return { t: '$', v: get(a[1] ?? '') ?? null };
      case 'DEL':
        return { t: ':', v: a.slice(1).filter((k) => store.delete(k)).length };
      case 'EXISTS':
        return { t: ':', v: a.slice(1).filter((k) => get(k) !== undefined).length };
      case 'INCR': {
        const n = Number(get(a[1] ?? '') ?? '0') + 1;
        store.set(a[1] ?? '', { v: String(n) });
        return { t: ':', v: n };
      }
      case 'EXPIRE': {
        const e = store.get(a[1] ?? '');
        if (!e) return { t: ':', v: 0 };
        e.exp = Date.now() + Number(a[2]) * 1000;
        return { t: ':', v: 1 };
      }
      case 'KEYS': {
        const re = new RegExp(`^${(a[1] ?? '*').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
        return { t: '*', v: [...store.keys()].filter((k) => re.test(k) && get(k) !== undefined).map((k) => ({ t: '$', v: k })) };
      }
      case 'DBSIZE':
        return { t: ':', v: store.size };
      case 'INFO':
        return { t: '$', v: `# Server\r\nredis_version:${version}\r\nredis_mode:standalone\r\ntcp_port:${port}\r\n# Stats\r\ntotal_commands_processed:${commands}\r\n# Keyspace\r\ndb0:keys=${store.size},expires=0\r\n` };
      case 'COMMAND':
        return { t: '*', v: [] };
      case 'QUIT':
        return 'quit';
      default:
        return { t: '-', v: `ERR unknown command '${a[0] ?? ''}', with args beginning with: ${a.slice(1).map((x) => `'${x}' `).join('')}` };
    }
  };

  dropPrivileges(999, 1000, ['/data']);
  const tcp = net.createServer((sock) => {
    const session = { authed: false };
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseCommand(buf);
        if (!parsed) break;
        buf = buf.subarray(parsed.used);
        if (parsed.args.length === 0) continue;
        const r = exec(parsed.args, session);
        if (r === 'quit') {
          sock.end('+OK\r\n');
          return;
        }
        sock.write(encode(r));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '0.0.0.0', () => resolve());
  });
  await serve(Number(env('M2_STANDIN_CONTROL_PORT', '6380')), '0.0.0.0', async (req, res, url) => {
    await handleControl(req, res, url, { get: () => ({ healthy, keys: store.size, commands }), set: (p) => (healthy = patchField(p, 'healthy', 'boolean') ?? healthy) });
  });
  log(`1:M * Redis version=${version}, bits=64, commit=00000000, modified=0, pid=${process.pid}, just started (stand-in)`);
  log(`1:M * Running mode=standalone, port=${port}.`);
  log('1:M * Ready to accept connections tcp');
}

function show(r: Reply, depth = 0): string {
  switch (r.t) {
    case '+':
      return r.v;
    case '-':
      return `(error) ${r.v}`;
    case ':':
      return depth === 0 ? String(r.v) : `(integer) ${r.v}`;
    case '$':
      return r.v === null ? '' : r.v;
    case '*':
      return r.v.length === 0 ? '' : r.v.map((x) => show(x, depth + 1)).join('\n');
  }
}

function readReply(buf: Buffer): { r: Reply; used: number } | undefined {
  const nl = buf.indexOf('\r\n');
  if (nl === -1) return undefined;
  const head = buf.subarray(1, nl).toString('utf8');
  switch (String.fromCharCode(buf[0] ?? 0)) {
    case '+':
      return { r: { t: '+', v: head }, used: nl + 2 };
    case '-':
      return { r: { t: '-', v: head }, used: nl + 2 };
    case ':':
      return { r: { t: ':', v: Number(head) }, used: nl + 2 };
    case '$': {
      const len = Number(head);
      if (len < 0) return { r: { t: '$', v: null }, used: nl + 2 };
      if (buf.length < nl + 2 + len + 2) return undefined;
      return { r: { t: '$', v: buf.subarray(nl + 2, nl + 2 + len).toString('utf8') }, used: nl + 2 + len + 2 };
    }
    case '*': {
      const n = Number(head);
      const items: Reply[] = [];
      let pos = nl + 2;
      for (let i = 0; i < n; i++) {
        const sub = readReply(buf.subarray(pos));
        if (!sub) return undefined;
        items.push(sub.r);
        pos += sub.used;
      }
      return { r: { t: '*', v: items }, used: pos };
    }
  }
  return undefined;
}

async function cli(args: string[]): Promise<void> {
  const { flags, rest } = parseFlags(args, new Set(['h', 'p', 'a', 'n', 'u', 'user', 'pass']), new Set(['no-auth-warning', 'raw', 'e']));
  const host = flags.get('h') ?? '127.0.0.1';
  const port = Number(flags.get('p') ?? '6379');
  const pw = flags.get('a') ?? flags.get('pass') ?? (env('REDISCLI_AUTH') || undefined);
  if (pw !== undefined && !flags.has('no-auth-warning')) process.stderr.write('Warning: Using a password with \'-a\' or \'-u\' option on the command line interface may not be safe.\n');
  const cmds: string[][] = [];
  if (pw !== undefined) cmds.push(['AUTH', pw]);
  cmds.push(rest.length ? rest : ['PING']);
  const sock = net.connect({ host, port });
  sock.setTimeout(5_000, () => {
    process.stderr.write(`Could not connect to Redis at ${host}:${port}: Connection timed out\n`);
    process.exit(1);
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`Could not connect to Redis at ${host}:${port}: ${err.code === 'ECONNREFUSED' ? 'Connection refused' : err.message}\n`);
    process.exit(1);
  });
  sock.on('connect', () => {
    for (const c of cmds) sock.write(`*${c.length}\r\n${c.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`);
  });
  let buf = Buffer.alloc(0);
  const replies: Reply[] = [];
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const got = readReply(buf);
      if (!got) break;
      buf = buf.subarray(got.used);
      replies.push(got.r);
    }
    if (replies.length >= cmds.length) {
      const last = replies[replies.length - 1];
      const authFailed = pw !== undefined && replies[0]?.t === '-';
      const shown = authFailed && replies[0] ? replies[0] : last;
      if (shown) process.stdout.write(`${show(shown)}\n`);
      sock.destroy();
      process.exit(shown?.t === '-' ? 1 : 0);
    }
  });
}

async function main(argv: string[]): Promise<void> {
  const [mode = 'server', ...rest] = argv;
  if (mode === 'server') return server(rest);
  if (mode === 'redis-cli') return cli(rest);
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(1);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
