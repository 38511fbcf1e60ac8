/**
 * Lab home router: the root namespace plays the home server (sshd, dockerd); a namespace `m2-router` is its router,
 * running miniupnpd (UPnP IGD + NAT-PMP, nftables backend) in secure mode; a namespace `m2-inet` is the internet,
 * where a household device away from home sits (facts §3).
 *
 *   root (server) [m2rr 10.213.82.2/24] ==veth== [m2rl 10.213.82.1/24] m2-router [m2rw 10.213.83.1/24] ==veth== [m2ih 10.213.83.2/24] m2-inet
 *
 * The root namespace gets one route (10.213.83.0/24 via the router, so replies go back through it) and nothing else;
 * no default route changes anywhere. miniupnpd needs a public address on its WAN side: `ext_ip` is set to a
 * public-looking label it reports as the router's internet address; nothing ever sends traffic to it. The router
 * has its own nftables ruleset (table inet filter with the chains miniupnpd fills), reloaded clean whenever
 * miniupnpd starts. Its pid is recorded like the other lab daemons (.lab/pids/miniupnpd.pid).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { aptEnsure, type AptNeed } from './apt';
import { labPath } from './paths';
import { isAlive, readPid, run, startDaemon, stopDaemon, waitFor } from './process';

export const ROUTER_NS = 'm2-router';
export const INET_NS = 'm2-inet';
const ROOT_IF = 'm2rr';
const LAN_IF = 'm2rl';
const WAN_IF = 'm2rw';
const INET_IF = 'm2ih';
const ROOT_IP = '10.213.82.2';
const LAN_IP = '10.213.82.1';
const WAN_IP = '10.213.83.1';
const INET_IP = '10.213.83.2';
const LAN_NET = '10.213.82.0/24';
const WAN_NET = '10.213.83.0/24';
/** A public-looking label only: miniupnpd refuses private WAN addresses; no packet is ever sent to it. */
const EXTERNAL_IP_LABEL = '203.0.114.7';
const HTTP_PORT = 46321;
const NATPMP_PORT = 5351;
const DAEMON = 'miniupnpd';
const UUID = '3e1c5a0e-6b1a-4c6e-9d2f-7a3b2c1d0e42';

export interface LabRouter {
  routerNs: string;
  inetNs: string;
  /** The server's side (root namespace): the interface and address towards the router. */
  serverIf: string;
  serverIp: string;
  routerLanIf: string;
  routerLanIp: string;
  routerWanIf: string;
  routerWanIp: string;
  inetIf: string;
  inetIp: string;
  /** What miniupnpd reports as the router's internet address (a label; never reached). */
  externalIp: string;
  rootDescUrl: string;
  configFile: string;
}

export const routerPackages: readonly AptNeed[] = [
  { bin: 'miniupnpd', pkg: 'miniupnpd-nftables' },
  { bin: 'upnpc', pkg: 'miniupnpc' },
  { bin: 'natpmpc', pkg: 'natpmpc' },
  { bin: 'nft', pkg: 'nftables' },
];

/** apt-get install miniupnpd (nftables backend), upnpc, natpmpc and nft when any is missing (root). */
export const installRouter = (): Promise<void> => aptEnsure(routerPackages, 'router lab');

export const labRouterInfo = (): LabRouter => ({
  routerNs: ROUTER_NS,
  inetNs: INET_NS,
  serverIf: ROOT_IF,
  serverIp: ROOT_IP,
  routerLanIf: LAN_IF,
  routerLanIp: LAN_IP,
  routerWanIf: WAN_IF,
  routerWanIp: WAN_IP,
  inetIf: INET_IF,
  inetIp: INET_IP,
  externalIp: EXTERNAL_IP_LABEL,
  rootDescUrl: `http://${LAN_IP}:${HTTP_PORT}/rootDesc.xml`,
  configFile: labPath('router', 'miniupnpd.conf'),
});

/**
 * The router's firewall: the LAN may go out (masqueraded behind the WAN address, as a home router does); from the
 * internet only what miniupnpd opens comes in; the nat chains jump to miniupnpd's (facts §3).
 */
export const routerRuleset = (): string => `table inet filter
delete table inet filter
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "${LAN_IF}" oifname "${WAN_IF}" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump postrouting_miniupnpd
    oifname "${WAN_IF}" masquerade
  }
  chain postrouting_miniupnpd {
  }
}
`;

export interface MiniupnpdOptions {
  upnp?: boolean;
  natpmp?: boolean;
}

export const miniupnpdConfig = (o: MiniupnpdOptions = {}): string =>
  [
    `ext_ifname=${WAN_IF}`,
    `ext_ip=${EXTERNAL_IP_LABEL}`,
    `listening_ip=${LAN_IF}`,
    `http_port=${HTTP_PORT}`,
    `enable_upnp=${o.upnp === false ? 'no' : 'yes'}`,
    `enable_natpmp=${o.natpmp === false ? 'no' : 'yes'}`,
    'secure_mode=yes',
    'system_uptime=yes',
    `uuid=${UUID}`,
    `allow 1024-65535 ${LAN_NET} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n');

const ns = (name: string, file: string, args: readonly string[], input?: string): Promise<string> =>
  run('ip', ['netns', 'exec', name, file, ...args], input === undefined ? { timeoutMs: 15_000 } : { input, timeoutMs: 15_000 });

async function namespaces(): Promise<Set<string>> {
  const out = await run('ip', ['netns', 'list']);
  return new Set(out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
}

/** Whether miniupnpd (started by this lab) listens where the lab expects. */
async function miniupnpdListening(o: MiniupnpdOptions): Promise<boolean> {
  if (readPid(DAEMON) === undefined) return false;
  const tcp = await ns(ROUTER_NS, 'ss', ['-Hltn', `sport = :${HTTP_PORT}`]);
  const udp = await ns(ROUTER_NS, 'ss', ['-Hlun', `sport = :${NATPMP_PORT}`]);
  return (o.upnp === false || tcp.trim() !== '') && (o.natpmp === false || udp.trim() !== '');
}

/** Stop miniupnpd (by its recorded pid). Its mappings stay in nftables until the next start reloads the ruleset. */
export const stopMiniupnpd = (): Promise<boolean> => stopDaemon(DAEMON, 5_000);

/** (Re)start miniupnpd with a clean ruleset and the given protocols; resolves once it listens. */
export async function startMiniupnpd(o: MiniupnpdOptions = {}): Promise<void> {
  await stopMiniupnpd();
  await ns(ROUTER_NS, 'nft', ['-f', '-'], routerRuleset());
  const info = labRouterInfo();
  mkdirSync(labPath('router'), { recursive: true, mode: 0o700 });
  writeFileSync(info.configFile, miniupnpdConfig(o), { mode: 0o600 });
  const pid = startDaemon(DAEMON, 'ip', ['netns', 'exec', ROUTER_NS, 'miniupnpd', '-d', '-f', info.configFile, '-P', labPath('router', 'miniupnpd.pid')]);
  await waitFor(`miniupnpd (pid ${pid}) in ${ROUTER_NS} to listen (log .lab/logs/${DAEMON}.log)`, async () => {
    if (readPid(DAEMON) === undefined) throw new Error('exited');
    return miniupnpdListening(o);
  }, 15_000);
}

async function healthy(): Promise<boolean> {
  try {
    const have = await namespaces();
    if (!have.has(ROUTER_NS) || !have.has(INET_NS)) return false;
    const [root, lan, wan, inet, route, fwd, rules] = await Promise.all([
      run('ip', ['-o', '-4', 'addr', 'show', 'dev', ROOT_IF]),
      run('ip', ['-n', ROUTER_NS, '-o', '-4', 'addr', 'show', 'dev', LAN_IF]),
      run('ip', ['-n', ROUTER_NS, '-o', '-4', 'addr', 'show', 'dev', WAN_IF]),
      run('ip', ['-n', INET_NS, '-o', '-4', 'addr', 'show', 'dev', INET_IF]),
      run('ip', ['-4', 'route', 'show', WAN_NET]),
      ns(ROUTER_NS, 'sysctl', ['-n', 'net.ipv4.ip_forward']),
      ns(ROUTER_NS, 'nft', ['list', 'chain', 'inet', 'filter', 'postrouting']),
    ]);
    // A ruleset from an older lab (without the LAN's way out) counts as unhealthy and is rebuilt.
    return rules.includes(`oifname "${WAN_IF}" masquerade`) && root.includes(`${ROOT_IP}/24`) && lan.includes(`${LAN_IP}/24`) && wan.includes(`${WAN_IP}/24`) && inet.includes(`${INET_IP}/24`) && route.includes(`via ${LAN_IP}`) && fwd.trim() === '1';
  } catch {
    return false;
  }
}

async function build(): Promise<void> {
  for (const name of [ROUTER_NS, INET_NS]) {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }
  // LAN: the server's side stays in the root namespace.
  await run('ip', ['link', 'add', ROOT_IF, 'type', 'veth', 'peer', 'name', LAN_IF, 'netns', ROUTER_NS]);
  await run('ip', ['addr', 'add', `${ROOT_IP}/24`, 'dev', ROOT_IF]);
  await run('ip', ['link', 'set', ROOT_IF, 'up']);
  await run('ip', ['-n', ROUTER_NS, 'addr', 'add', `${LAN_IP}/24`, 'dev', LAN_IF]);
  await run('ip', ['-n', ROUTER_NS, 'link', 'set', LAN_IF, 'up']);
  // WAN: the internet namespace.
  await run('ip', ['-n', ROUTER_NS, 'link', 'add', WAN_IF, 'type', 'veth', 'peer', 'name', INET_IF, 'netns', INET_NS]);
  await run('ip', ['-n', ROUTER_NS, 'addr', 'add', `${WAN_IP}/24`, 'dev', WAN_IF]);
  await run('ip', ['-n', ROUTER_NS, 'link', 'set', WAN_IF, 'up']);
  await run('ip', ['-n', INET_NS, 'addr', 'add', `${INET_IP}/24`, 'dev', INET_IF]);
  await run('ip', ['-n', INET_NS, 'link', 'set', INET_IF, 'up']);
  await ns(ROUTER_NS, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  // Replies from the server to the internet side go back through the router; nothing else changes in root.
  await run('ip', ['route', 'replace', WAN_NET, 'via', LAN_IP, 'dev', ROOT_IF]);
}

const holdFile = (): string => labPath('router', 'held-by.pid');

/**
 * A test that stops miniupnpd or turns a protocol off holds the router meanwhile, so that another run's lab setup
 * (ensureRouter in a parallel vitest) does not restart it under the test. The hold ends with its process.
 */
export function holdRouter(): void {
  mkdirSync(labPath('router'), { recursive: true, mode: 0o700 });
  writeFileSync(holdFile(), `${process.pid}\n`);
}

export function releaseRouter(): void {
  if (heldBy() === process.pid) rmSync(holdFile(), { force: true });
}

function heldBy(): number | undefined {
  if (!existsSync(holdFile())) return undefined;
  const pid = Number(readFileSync(holdFile(), 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/**
 * Idempotent: install what is missing, reuse healthy namespaces or rebuild them, and make sure miniupnpd runs
 * with both protocols (a lab test may have left it stopped or with one protocol off), unless a live test holds it.
 */
export async function ensureRouter(): Promise<LabRouter> {
  if (process.getuid?.() !== 0) throw new Error('router lab needs root (network namespaces, nftables)');
  await installRouter();
  if (!(await healthy())) {
    await stopRouter();
    try {
      await build();
    } catch (err) {
      await stopRouter().catch(() => undefined);
      throw err;
    }
  }
  if (heldBy() === undefined && !(await miniupnpdListening({}).catch(() => false))) await startMiniupnpd();
  return labRouterInfo();
}

/** Stop miniupnpd (by pid) and delete both namespaces; the veths and the root route go with them. */
export async function stopRouter(): Promise<void> {
  await stopMiniupnpd();
  const have = await namespaces().catch(() => new Set<string>());
  for (const name of [ROUTER_NS, INET_NS]) {
    if (have.has(name)) await run('ip', ['netns', 'del', name]);
  }
  // A root-side veth whose peer namespace is gone disappears with it; a stale route would go with the interface.
}

/** The router's nftables ruleset now (the DNAT rules miniupnpd added show up here). */
export const routerRules = (): Promise<string> => ns(ROUTER_NS, 'nft', ['list', 'ruleset']);

/** Send one UDP datagram from the internet namespace to `host:port` (a household device away from home). */
export async function sendUdpFromInternet(host: string, port: number, payload: string): Promise<void> {
  const script = "const s=require('node:dgram').createSocket('udp4');s.send(Buffer.from(process.argv[3]),Number(process.argv[2]),process.argv[1],(e)=>{s.close();if(e){console.error(e.message);process.exit(1)}})";
  await ns(INET_NS, process.execPath, ['-e', script, host, String(port), payload]);
}

/**
 * A stand-in for Cloudflare's trace on the internet side (m2-inet): answers every GET with `key=value` lines whose
 * `ip=` is the address the request came from, as https://1.1.1.1/cdn-cgi/trace does. Stopped by its own pid.
 */
export async function startTraceStandIn(port: number): Promise<{ url: string; close: () => Promise<void> }> {
  const script = [
    "const http=require('node:http');",
    "http.createServer((q,s)=>{const ip=q.socket.remoteAddress.replace(/^::ffff:/,'');",
    "s.setHeader('content-type','text/plain');",
    "s.end(['fl=1f1','h=1.1.1.1','ip='+ip,'ts='+(Date.now()/1000),'visit_scheme=http','uag='+(q.headers['user-agent']||''),'colo=LAB','http=http/1.1','loc=XX','tls=off','sni=off','warp=off',''].join('\\n'))})",
    `.listen(Number(process.argv[1]),'${INET_IP}',()=>console.log('listening'));`,
  ].join('');
  const child = spawn('ip', ['netns', 'exec', INET_NS, process.execPath, '-e', script, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('trace stand-in did not start within 10 s')), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`trace stand-in exited (${String(code)})`));
    });
  });
  return {
    url: `http://${INET_IP}:${port}/cdn-cgi/trace`,
    close: async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
