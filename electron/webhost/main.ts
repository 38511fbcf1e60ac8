import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createAppLog } from '../core/diagnostics/app-log';
import { startWebHost } from './server';
import { labNetnsConfig } from './lab-netns';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string', default: path.join(os.homedir(), '.m2-companion-web') },
    json: { type: 'boolean', default: false },
    /** Lab only: this computer's WireGuard runs in this network namespace (the laptop away from home). */
    'lab-laptop-netns': { type: 'string' },
    /** Lab only: comma-separated addresses that SSH reaches from inside that namespace (through the tunnel). */
    'lab-tunnel-hosts': { type: 'string', default: '' },
    /** Lab only: the home router's LAN address (and its UPnP description URL) the server asks for port mappings. */
    'lab-router': { type: 'string' },
    'lab-upnp-url': { type: 'string' },
    /** Lab only: where Cloudflare's edge is for the outage probe (the edge stand-in, plain HTTP on loopback), host:port. */
    'lab-edge': { type: 'string' },
  },
});

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { productName: string; version: string };
const platform = ['linux', 'darwin', 'win32'].includes(process.platform) ? (process.platform as 'linux' | 'darwin' | 'win32') : 'other';

/** The lab's edge stand-in as the outage probe's destination, from `--lab-edge 127.0.0.1:PORT`. */
function labEdge(arg: string | undefined): { outageProbe?: { connect: { host: string; port: number; tls: false } } } {
  const m = arg ? /^(127\.0\.0\.1):(\d{1,5})$/.exec(arg) : null;
  return m ? { outageProbe: { connect: { host: m[1] ?? '127.0.0.1', port: Number(m[2]), tls: false } } } : {};
}

// The web host's log: <data-dir>/logs/main.log, redacted like the app's.
const appLog = createAppLog({ dir: path.join(path.resolve(values['data-dir']), 'logs') });
appLog.log.info('M2 Companion web host started', { version: pkg.version, platform, arch: process.arch, node: process.versions.node });
const host = await startWebHost({
  port: Number(values.port),
  dataDir: path.resolve(values['data-dir']),
  rendererDir: path.join(root, 'out', 'renderer'),
  clientScript: path.join(root, 'out', 'webclient', 'm2-web-client.js'),
  appInfo: { name: pkg.productName, version: pkg.version, platform, arch: process.arch, host: 'web' },
  log: appLog.log,
  appLog,
  core: {
    ...labEdge(values['lab-edge']),
    ...(values['lab-laptop-netns']
      ? labNetnsConfig(
          values['lab-laptop-netns'],
          values['lab-tunnel-hosts'].split(',').filter(Boolean),
          values['lab-router'] ? { address: values['lab-router'], ...(values['lab-upnp-url'] ? { rootDescUrl: values['lab-upnp-url'] } : {}) } : undefined,
        )
      : {}),
  },
});

if (values.json) process.stdout.write(`${JSON.stringify({ url: host.url, port: host.port, pid: process.pid })}\n`);
else process.stdout.write(`M2 Companion web host (development only)\n  open: ${host.url}\n  data: ${values['data-dir']}\n`);

const stop = (): void => void host.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
