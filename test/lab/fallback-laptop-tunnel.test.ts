/**
 * This computer's tunnel through the real wg-quick: a home-server namespace runs wireguard-go with the config
 * renderServerConfig makes (reloaded the way the server does it: `wg setconf` of `wg-quick strip`), and
 * LaptopTunnelManager brings the laptop's side up inside a laptop namespace (its runner prefixes
 * `ip netns exec`), carries a TCP connection through the tunnel, and takes it down again.
 *
 *   m2-lt-lap-<r> [m2ltl<r> 10.213.90.x+2/30] ==veth== [m2lts<r> 10.213.90.x+1/30] m2-lt-srv-<r>
 *   m2-lt-lap-<r> [m2lt-<r> 10.213.91.2/32] ~~WireGuard udp/51820~~ [m2lw<r> 10.213.91.1/24] m2-lt-srv-<r>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LaptopTunnelManager, localRunner, localWhich, type Runner } from '../../electron/core/fallback/laptop-tunnel';
import { configFileName, parseWgShowDump, renderPeerConfig, renderServerConfig } from '../../electron/core/fallback/wg-config';
import { generateKeyPair, generatePresharedKey } from '../../electron/core/fallback/wg-keys';
import { Secret } from '../../electron/core/secrets/secret';
import { labPath } from '../../scripts/lab/paths';
import { isAlive, run, sleep, waitFor } from '../../scripts/lab/process';

const r = randomBytes(3).toString('hex');
const SRV_NS = `m2-lt-srv-${r}`;
const LAP_NS = `m2-lt-lap-${r}`;
const SRV_VETH = `m2lts${r}`;
const LAP_VETH = `m2ltl${r}`;
/** wireguard-go's sockets share /var/run/wireguard across namespaces: interface names carry the random part. */
const SRV_IF = `m2lw${r}`;
const TUNNEL_NAME = `m2lt ${r}`;
const LAP_IF = path.basename(configFileName(TUNNEL_NAME), '.conf');
const block = 4 * randomInt(0, 64);
const SRV_VETH_IP = `10.213.90.${block + 1}`;
const LAP_VETH_IP = `10.213.90.${block + 2}`;
const SRV_WG_IP = '10.213.91.1';
const LAP_WG_IP = '10.213.91.2';
const WG_PORT = 51820;
const ECHO_PORT = 40_000 + randomInt(0, 20_000);

const dir = labPath(`fallback-lt-${r}`);
const configDir = path.join(dir, 'laptop');
const wgEnv = { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' };
const started: ChildProcess[] = [];

const server = generateKeyPair();
const laptop = generateKeyPair();
const psk = generatePresharedKey();

const inNs = (ns: string, file: string, args: readonly string[]): Promise<string> => run('ip', ['netns', 'exec', ns, file, ...args], { env: wgEnv, timeoutMs: 30_000 });

/** The laptop's commands run inside its namespace; argv and stdin pass through untouched. */
const laptopRunner: Runner = (file, args, opts) => localRunner('ip', ['netns', 'exec', LAP_NS, file, ...args], opts);

const manager = (): LaptopTunnelManager =>
  new LaptopTunnelManager({
    run: laptopRunner,
    // NetworkManager is installed here (the lab runs it only in its own namespace, see fallback-networkmanager);
    // hiding nmcli keeps this test on the wg-quick path.
    which: async (bin) => (bin === 'nmcli' ? undefined : localWhich(bin)),
    platform: 'linux',
    isRoot: true,
    configDir,
    env: wgEnv,
  });

const laptopConfig = (): Secret =>
  new Secret(
    renderPeerConfig({
      privateKey: laptop.privateKey,
      address: `${LAP_WG_IP}/32`,
      serverPublicKey: server.publicKey,
      presharedKey: psk,
      endpoint: `${SRV_VETH_IP}:${WG_PORT}`,
      allowedIps: [`${SRV_WG_IP}/32`],
      persistentKeepalive: 25,
    }),
  );

// A client in the laptop namespace: send a payload, print what comes back, give up after 3 s.
const clientScript = `
const net = require('node:net');
const [host, port, payload] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
let got = '';
const t = setTimeout(() => { console.error('timeout'); process.exit(2); }, 3000);
s.on('connect', () => s.write(payload));
s.on('data', (d) => { got += d; if (got.length >= payload.length) { clearTimeout(t); process.stdout.write(got); s.destroy(); } });
s.on('error', (e) => { console.error(e.message); process.exit(3); });
`;

async function echo(): Promise<{ payload: string; got: string }> {
  const payload = `through-the-tunnel-${randomBytes(8).toString('hex')}`;
  const got = await inNs(LAP_NS, process.execPath, ['-e', clientScript, SRV_WG_IP, String(ECHO_PORT), payload]).catch(() => '');
  return { payload, got };
}

const serverPeer = async () => parseWgShowDump(await inNs(SRV_NS, 'wg', ['show', SRV_IF, 'dump']))?.peers.find((p) => p.publicKey === laptop.publicKey);

function startInNs(ns: string, file: string, args: readonly string[], ready: (out: string) => boolean, what: string): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { env: { ...wgEnv, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return waitFor(`${what} (output: ${out})`, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${out}`);
    return ready(out);
  }, 15_000);
}

beforeAll(async () => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const ns of [SRV_NS, LAP_NS]) {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await run('ip', ['link', 'add', LAP_VETH, 'netns', LAP_NS, 'type', 'veth', 'peer', 'name', SRV_VETH, 'netns', SRV_NS]);
  await run('ip', ['-n', LAP_NS, 'addr', 'add', `${LAP_VETH_IP}/30`, 'dev', LAP_VETH]);
  await run('ip', ['-n', SRV_NS, 'addr', 'add', `${SRV_VETH_IP}/30`, 'dev', SRV_VETH]);
  await run('ip', ['-n', LAP_NS, 'link', 'set', LAP_VETH, 'up']);
  await run('ip', ['-n', SRV_NS, 'link', 'set', SRV_VETH, 'up']);

  // The home server: wireguard-go (foreground, its pid ours) configured from the rendered server config.
  await startInNs(SRV_NS, 'wireguard-go', ['-f', SRV_IF], () => existsSync(`/var/run/wireguard/${SRV_IF}.sock`), `wireguard-go ${SRV_IF} in ${SRV_NS}`);
  const { content } = renderServerConfig({
    privateKey: server.privateKey,
    address: `${SRV_WG_IP}/24`,
    listenPort: WG_PORT,
    peers: [{ id: 'laptop0001', name: 'This computer', publicKey: laptop.publicKey, presharedKey: psk, allowedIps: [`${LAP_WG_IP}/32`] }],
  });
  const conf = path.join(dir, `${SRV_IF}.conf`);
  writeFileSync(conf, content, { mode: 0o600 });
  const stripped = path.join(dir, `${SRV_IF}.stripped`);
  writeFileSync(stripped, await run('wg-quick', ['strip', conf], { env: wgEnv }), { mode: 0o600 });
  await inNs(SRV_NS, 'wg', ['setconf', SRV_IF, stripped]);
  await run('ip', ['-n', SRV_NS, 'addr', 'add', `${SRV_WG_IP}/24`, 'dev', SRV_IF]);
  await run('ip', ['-n', SRV_NS, 'link', 'set', SRV_IF, 'up']);

  // A TCP echo service bound only to the server's tunnel address.
  const serverScript = `require('node:net').createServer((s) => s.pipe(s)).listen(${ECHO_PORT}, '${SRV_WG_IP}', () => console.log('listening'));`;
  await startInNs(SRV_NS, process.execPath, ['-e', serverScript], (out) => out.includes('listening'), `echo server on ${SRV_WG_IP}:${ECHO_PORT}`);
});

afterAll(async () => {
  for (const c of started) if (c.pid !== undefined && isAlive(c.pid)) process.kill(c.pid, 'SIGTERM');
  // Whatever still runs in these namespaces (wg-quick's wireguard-go) was started by this file.
  for (const ns of [LAP_NS, SRV_NS]) {
    const pids = (await run('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').map(Number).filter((p) => p > 0);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGTERM');
  }
  await sleep(200);
  for (const ns of [LAP_NS, SRV_NS]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('this computer’s tunnel through wg-quick (wireguard-go in namespaces)', () => {
  it('finds wg-quick as the way on a Linux without NetworkManager', async () => {
    expect(await manager().detect()).toBe('wg-quick');
  });

  it('cannot reach the server’s tunnel address before the tunnel is up', async () => {
    const { got } = await echo();
    expect(got).toBe('');
  });

  it('brings the tunnel up from a 0600 file and carries a TCP connection to the server through it', async () => {
    const m = manager();
    const t = await m.up(TUNNEL_NAME, laptopConfig());
    expect(t).toEqual({ method: 'wg-quick', state: 'up', detail: `The tunnel ${LAP_IF} is up (wg-quick).`, sshOverWireguard: false });
    expect(statSync(m.configPath(TUNNEL_NAME)).mode & 0o777).toBe(0o600);
    expect(await run('ip', ['-n', LAP_NS, '-o', 'addr', 'show', 'dev', LAP_IF])).toContain(`inet ${LAP_WG_IP}/32`);

    const { payload, got } = await echo();
    expect(got).toBe(payload);
    const peer = await serverPeer();
    expect(peer?.latestHandshake).toBeGreaterThan(0);
    expect(peer?.endpoint).toMatch(new RegExp(`^${LAP_VETH_IP.replaceAll('.', '\\.')}:\\d+$`));
    expect(peer?.rxBytes).toBeGreaterThan(0);
  });

  it('brings it up again without fuss when it is already up', async () => {
    const before = (await serverPeer())?.rxBytes ?? 0;
    expect((await manager().up(TUNNEL_NAME, laptopConfig())).state).toBe('up');
    const { payload, got } = await echo();
    expect(got).toBe(payload);
    expect((await serverPeer())?.rxBytes).toBeGreaterThan(before);
  });

  it('takes the tunnel down: the interface, its wireguard-go and the config file are gone', async () => {
    const m = manager();
    expect(await m.down(TUNNEL_NAME)).toEqual({ method: 'wg-quick', state: 'down', detail: `The tunnel ${LAP_IF} is down.`, sshOverWireguard: false });
    await expect(run('ip', ['-n', LAP_NS, 'link', 'show', 'dev', LAP_IF])).rejects.toThrow(/does not exist/);
    expect(existsSync(m.configPath(TUNNEL_NAME))).toBe(false);
    await waitFor(`wireguard-go for ${LAP_IF} to exit`, async () => (await run('ip', ['netns', 'pids', LAP_NS])).trim() === '', 10_000);
    expect((await echo()).got).toBe('');
    expect((await m.down(TUNNEL_NAME)).state).toBe('down');
  });
});
