/**
 * `curl` for the stand-ins whose real image ships it (Jellyfin, Nextcloud, Authentik, linuxserver): enough of it for
 * healthchecks and scripts (`-f -s -S -L -k -o -X -H -d -m -w '%{http_code}' -I -u`; `-H @file` and `-H @-` read
 * header lines from a file or stdin, as curl 7.55+ does, which keeps a token off the command line). Exit codes follow curl:
 * 22 for HTTP >= 400 with -f, 7 connection refused, 28 timeout, 6 unresolvable host, 2 bad usage.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

function usage(msg: string): never {
  process.stderr.write(`curl: ${msg}\ncurl: try 'curl --help' for more information\n`);
  process.exit(2);
}

/** One -H value: `Name: value`, or `@file` / `@-` with one header per line (curl 7.55+). */
function addHeader(headers: Record<string, string>, v: string): void {
  const lines = v.startsWith('@') ? readFileSync(v === '@-' ? 0 : v.slice(1), 'utf8').split(/\r?\n/) : [v];
  for (const h of lines) {
    const c = h.indexOf(':');
    if (c > 0) headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
  }
}

interface Opts {
  fail: boolean;
  silent: boolean;
  showError: boolean;
  follow: boolean;
  output?: string;
  method?: string;
  headers: Record<string, string>;
  data?: string;
  maxTimeS: number;
  writeOut?: string;
  head: boolean;
  user?: string;
  url?: string;
}

function parse(args: string[]): Opts {
  const o: Opts = { fail: false, silent: false, showError: false, follow: false, headers: {}, maxTimeS: 0, head: false };
  const value = (i: number, name: string): string => {
    const v = args[i + 1];
    if (v === undefined) usage(`option ${name}: requires parameter`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a.startsWith('--')) {
      switch (a) {
        case '--fail':
          o.fail = true;
          break;
        case '--silent':
          o.silent = true;
          break;
        case '--show-error':
          o.showError = true;
          break;
        case '--location':
          o.follow = true;
          break;
        case '--insecure':
          break;
        case '--head':
          o.head = true;
          break;
        case '--output':
          o.output = value(i++, a);
          break;
        case '--request':
          o.method = value(i++, a);
          break;
        case '--header':
          addHeader(o.headers, value(i++, a));
          break;
        case '--data':
        case '--data-raw':
        case '--data-binary':
          o.data = value(i++, a);
          break;
        case '--max-time':
        case '--connect-timeout':
          o.maxTimeS = Number(value(i++, a));
          break;
        case '--write-out':
          o.writeOut = value(i++, a);
          break;
        case '--user':
          o.user = value(i++, a);
          break;
        case '--retry':
          i++;
          break;
        default:
          usage(`option ${a}: is unknown`);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      const letters = a.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const ch = letters[j];
        const needsValue = 'oXHdmwu'.includes(ch ?? '');
        if (needsValue) {
          const v = letters.length > j + 1 ? letters.slice(j + 1) : value(i++, `-${ch}`);
          if (ch === 'o') o.output = v;
          else if (ch === 'X') o.method = v;
          else if (ch === 'H') addHeader(o.headers, v);
          else if (ch === 'd') o.data = v;
          else if (ch === 'm') o.maxTimeS = Number(v);
          else if (ch === 'w') o.writeOut = v;
          else if (ch === 'u') o.user = v;
          break;
        }
        if (ch === 'f') o.fail = true;
        else if (ch === 's') o.silent = true;
        else if (ch === 'S') o.showError = true;
        else if (ch === 'L') o.follow = true;
        else if (ch === 'k') void 0;
        else if (ch === 'I') o.head = true;
        else usage(`option -${ch}: is unknown`);
      }
    } else o.url = a;
  }
  if (o.url === undefined) usage('no URL specified');
  return o;
}

function request(o: Opts, url: URL, redirects: number): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== 'http:') {
      reject(Object.assign(new Error(`Protocol "${url.protocol.replace(':', '')}" not supported`), { curlCode: 1 }));
      return;
    }
    const headers: Record<string, string> = { 'user-agent': 'curl/8.14.1', accept: '*/*', ...o.headers };
    if (o.user) headers.authorization = `Basic ${Buffer.from(o.user).toString('base64')}`;
    if (o.data !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const method = o.method ?? (o.head ? 'HEAD' : o.data !== undefined ? 'POST' : 'GET');
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const loc = res.headers.location;
        if (o.follow && status >= 300 && status < 400 && loc && redirects < 50) {
          request({ ...o, data: undefined, method: undefined }, new URL(loc, url), redirects + 1).then(resolve, reject);
        } else resolve({ status, body: Buffer.concat(chunks), headers: res.headers });
      });
    });
    if (o.maxTimeS > 0) req.setTimeout(o.maxTimeS * 1000, () => req.destroy(Object.assign(new Error('Operation timed out'), { curlCode: 28 })));
    req.on('error', (err: NodeJS.ErrnoException & { curlCode?: number }) => {
      if (err.curlCode === undefined) {
        err.curlCode = err.code === 'ECONNREFUSED' ? 7 : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 6 : 56;
      }
      reject(err);
    });
    req.end(o.data);
  });
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(o.url ?? '') ? (o.url ?? '') : `http://${o.url ?? ''}`);
  } catch {
    process.stderr.write('curl: (3) URL rejected: Malformed input to a URL function\n');
    process.exit(3);
  }
  try {
    const r = await request(o, url, 0);
    if (o.fail && r.status >= 400) {
      if (!o.silent || o.showError) process.stderr.write(`curl: (22) The requested URL returned error: ${r.status}\n`);
      process.exit(22);
    }
    const out = o.head
      ? Buffer.from(`HTTP/1.1 ${r.status}\r\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('')}\r\n`)
      : r.body;
    if (o.output !== undefined && o.output !== '-') writeFileSync(o.output, out);
    else process.stdout.write(out);
    if (o.writeOut !== undefined) process.stdout.write(o.writeOut.replace(/%\{http_code\}/g, String(r.status).padStart(3, '0')).replace(/\\n/g, '\n'));
  } catch (err) {
    const e = err as Error & { curlCode?: number };
    const code = e.curlCode ?? 56;
    if (!o.silent || o.showError) process.stderr.write(`curl: (${code}) ${e.message}\n`);
    process.exit(code);
  }
}

void main();
