/**
 * The lab's "laptop away from home" for the web host (development and tests only; never shipped): this computer's
 * WireGuard commands run inside a network namespace, and SSH streams to the addresses that only the tunnel
 * reaches are opened from inside it. Everything else dials as usual, so the app still reaches the lab's server on
 * 127.0.0.1 the normal way. Namespace and host names come from the command line of the web host, never from a page.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { CoreConfig } from '../core/services';
import { localRunner, type Runner } from '../core/fallback/laptop-tunnel';

/** A TCP pipe run by node inside the namespace: stdin → socket → stdout. */
const PIPE = [
  "const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]) });",
  'process.stdin.pipe(s); s.pipe(process.stdout);',
  "s.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });",
  "s.on('close', () => process.exit(0));",
].join(' ');

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

export function labNetnsConfig(ns: string, tunnelHosts: readonly string[], router?: { address: string; rootDescUrl?: string }): Pick<CoreConfig, 'fallback' | 'dialSocket'> {
  if (!NAME.test(ns)) throw new Error(`lab netns: invalid namespace name ${ns}`);
  const hosts = new Set(tunnelHosts.filter((h) => net.isIPv4(h)));
  const run: Runner = (file, args, opts = {}) =>
    localRunner('ip', ['netns', 'exec', ns, file, ...args], {
      ...opts,
      env: { ...process.env, ...opts.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' },
    });
  const dialSocket = async (host: string, port: number): Promise<Duplex> => {
    if (!hosts.has(host)) {
      return new Promise<Duplex>((resolve, reject) => {
        const s = net.connect({ host, port });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    }
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', PIPE, host, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
    child.once('exit', (code) => {
      if (code !== 0) stream.destroy(Object.assign(new Error(stderr.trim() || `connect ${host}:${port} from ${ns} failed`), { code: /ECONNREFUSED/.test(stderr) ? 'ECONNREFUSED' : 'EHOSTUNREACH' }));
      else stream.destroy();
    });
    stream.once('close', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    return stream;
  };
  // The lab's router, so the server never asks the machine's real gateway (no traffic leaves the lab's namespaces).
  const routerSeam = router && net.isIPv4(router.address) ? { router: { router: router.address, ...(router.rootDescUrl ? { upnp: { rootDescUrl: router.rootDescUrl } } : {}) } } : {};
  return { fallback: { laptop: { run, isRoot: true }, traceUrl: null, ...routerSeam }, dialSocket };
}
