import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lanForwardCleanup, lanForwardRules, LAN_CHAIN } from '../../electron/core/fallback/lan-forward';
import { ServerWireGuard } from '../../electron/core/fallback/server-wireguard';
import { renderPeerConfig, renderServerConfig } from '../../electron/core/fallback/wg-config';
import { generateKeyPair, generatePresharedKey } from '../../electron/core/fallback/wg-keys';
import type { Secret } from '../../electron/core/secrets/secret';
import { toolboxEntrypoint } from '../../electron/core/stack/modules/wireguard';
import { imageRef } from '../../electron/core/stack/versions';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { acquireFallbackLock, ensureFallbackNet, type FallbackNet } from '../../scripts/lab/fallback-net';
import { ensureStandInImages } from '../../scripts/lab/images';
import { wgEnv } from '../../scripts/lab/netns';
import { labPath } from '../../scripts/lab/paths';
import { isAlive, run, waitFor } from '../../scripts/lab/process';
import { ensureRouter, type LabRouter } from '../../scripts/lab/router';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';

/**
 * "Let devices reach the home network" with real WireGuard (issue 12): the stack's WireGuard toolbox (the stand-in
 * image with the host's wg-quick, wireguard-go and iptables, on the host network as the stack runs it) gets the
 * app's PostUp/PostDown rules; a phone in m2-phone, whose only way home is the tunnel, reaches a host on the home
 * LAN — the lab router's LAN address 10.213.82.1, on the far side of the server's m2rr — only while the option is on.
 * The LAN host has no route back to the tunnel's subnet, as a real one has none: it answers only because the server
 * masquerades. The root namespace is the server, so the rules land in this machine's firewall, in their own chain.
 */
const project = `m2lab-fblan-${process.pid}`;
const root = `/tmp/m2-fblan-lab-${process.pid}`;
const dataRoot = path.join(root, 'data');
const peerDir = labPath('fallback-lan-peers');
const LAN = '10.213.82.0/24';

let sshd: LabSshd;
let net: FallbackNet;
let router: LabRouter;
let conn: SshConnection;
let wg: ServerWireGuard;
let lanHost: ChildProcess | undefined;
let lanPort = 0;
let containerId = '';
let releaseLock: () => void = () => undefined;

const server = generateKeyPair();
const phone = { iface: 'm2fblph', address: '10.213.88.2', key: generateKeyPair(), psk: generatePresharedKey() as Secret, conf: path.join(peerDir, 'm2fblph.conf') };

const serverConfig = (allowLan: boolean): string => {
  const rules = lanForwardRules({ allowLan, lanCidr: allowLan ? LAN : '', subnet: net.tunnelSubnet });
  return renderServerConfig({
    privateKey: server.privateKey,
    address: `${net.serverTunnelIp}/24`,
    listenPort: net.wireguardPort,
    peers: [{ id: 'phone', name: 'Phone', publicKey: phone.key.publicKey, presharedKey: phone.psk, allowedIps: [`${phone.address}/32`] }],
    postUp: rules.postUp,
    postDown: rules.postDown,
  }).content;
};

const inNs = (ns: string, file: string, args: readonly string[], timeoutMs = 15_000): Promise<string> => run('ip', ['netns', 'exec', ns, file, ...args], { env: wgEnv(), timeoutMs });

// A TCP client in the phone's namespace: prints the first answer (the LAN host's whole line, sshd's banner), exit ≠ 0 on failure.
const tcpScript = `
const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
let got = '';
const t = setTimeout(() => { console.error('timeout'); process.exit(2); }, Number(ms));
s.on('data', (d) => { got += d; if (got.includes('\\n')) { clearTimeout(t); process.stdout.write(got.trim()); process.exit(0); } });
s.on('end', () => { clearTimeout(t); process.stdout.write(got); process.exit(got ? 0 : 4); });
s.on('error', (e) => { console.error(e.code || e.message); process.exit(3); });
`;
async function fromPhone(host: string, port: number, timeoutMs = 3000): Promise<string | undefined> {
  try {
    return await inNs(net.phone.ns, process.execPath, ['-e', tcpScript, host, String(port), String(timeoutMs)], timeoutMs + 5000);
  } catch {
    return undefined;
  }
}
/** The LAN host's answer to the phone: the address the phone's connection came from, as the LAN saw it. */
const reachLan = (timeoutMs = 3000): Promise<string | undefined> => fromPhone(router.routerLanIp, lanPort, timeoutMs);
/** sshd's banner on the server's LAN address: the tunnel itself works. */
const reachServer = async (): Promise<boolean> => /^SSH-2\.0-/.test((await fromPhone(net.serverLanIp, sshd.port, 4000).catch(() => undefined)) ?? '');

/** This machine's (the server's) rules of the option: every line that names its chain, in both tables. */
async function rulesNow(): Promise<string[]> {
  const filter = (await exec('iptables', ['-S'])).stdout;
  const nat = (await exec('iptables', ['-t', 'nat', '-S'])).stdout;
  return [...filter.split('\n'), ...nat.split('\n').map((l) => (l ? `nat ${l}` : l))].filter((l) => l.includes(LAN_CHAIN));
}

async function phoneDown(): Promise<void> {
  await inNs(net.phone.ns, 'wg-quick', ['down', phone.conf]).catch(() => undefined);
  rmSync(`/var/run/wireguard/${phone.iface}.sock`, { force: true });
}

/** The toolbox as the stack runs it: host network, NET_ADMIN, /dev/net/tun, docker-init, the module's entrypoint, compose labels. */
async function startToolbox(): Promise<string> {
  const [entry, ...args] = toolboxEntrypoint;
  const r = await exec('docker', [
    'run', '--detach', '--name', project,
    '--label', `com.docker.compose.project=${project}`,
    '--label', 'com.docker.compose.service=wireguard',
    '--label', 'com.docker.compose.oneoff=False',
    '--network', 'host', '--cap-add', 'NET_ADMIN', '--device', '/dev/net/tun:/dev/net/tun', '--init',
    '--volume', `${path.join(dataRoot, 'wireguard')}:/config`,
    '--entrypoint', entry ?? '/bin/sh',
    imageRef('wireguard'), ...args,
  ]);
  if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
  return r.stdout.trim();
}

/** Toolboxes of earlier, killed runs of this file, and other stacks' toolboxes, hold m2wg0 and the port. */
async function clearTheWay(): Promise<void> {
  const out = (await exec('docker', ['ps', '--all', '--format', '{{.Names}}', '--filter', 'label=com.docker.compose.service=wireguard'])).stdout;
  for (const name of out.split('\n').filter((n) => /^m2lab-fblan-\d+$/.test(n))) {
    if (!isAlive(Number(name.split('-').pop()))) await exec('docker', ['rm', '--force', name]);
  }
  const others = async (): Promise<string[]> => (await exec('docker', ['ps', '--format', '{{.Names}}', '--filter', 'label=com.docker.compose.service=wireguard'])).stdout.split('\n').filter(Boolean);
  await waitFor('other WireGuard toolboxes and m2wg0 to go', async () => (await others()).length === 0 && (await exec('ip', ['link', 'show', 'dev', 'm2wg0'])).code !== 0, 600_000, 1000);
}

beforeAll(async () => {
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  net = await ensureFallbackNet();
  router = await ensureRouter();
  releaseLock = await acquireFallbackLock(`test/lab/fallback-lan.test.ts (${project})`);
  await clearTheWay();

  // A host on the home LAN (the router's LAN address): answers every connection with the address it came from.
  lanPort = 47000 + (process.pid % 2000);
  const script = `require('node:net').createServer((s) => s.end(s.remoteAddress.replace(/^::ffff:/, '') + '\\n')).listen(${lanPort}, '${router.routerLanIp}', () => console.log('listening'));`;
  const host = spawn('ip', ['netns', 'exec', router.routerNs, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  lanHost = host;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('LAN host did not start within 10 s')), 10_000);
    host.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(t), resolve()));
    host.once('exit', (code) => (clearTimeout(t), reject(new Error(`LAN host exited ${String(code)}`))));
  });

  const user = sshd.sudoUser;
  const uid = Number((await exec('id', ['-u', user.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', user.name])).stdout.trim());
  for (const d of [root, dataRoot, path.join(dataRoot, 'wireguard')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  containerId = await startToolbox();
  conn = await connectToLab(sshd, user);
  wg = new ServerWireGuard({ conn, dataRoot, sudo: true, project });

  // The phone's config: the server, its LAN address and — as if the admin had allowed it, or the config were edited
  // by hand — the home LAN. Without the option the server must not carry it there.
  mkdirSync(peerDir, { recursive: true, mode: 0o700 });
  await phoneDown();
  writeFileSync(
    phone.conf,
    renderPeerConfig({
      privateKey: phone.key.privateKey,
      address: `${phone.address}/32`,
      serverPublicKey: server.publicKey,
      presharedKey: phone.psk,
      endpoint: `${net.phone.rootIp}:${net.wireguardPort}`,
      allowedIps: [`${net.serverTunnelIp}/32`, `${net.serverLanIp}/32`, LAN],
      persistentKeepalive: 1,
    }),
    { mode: 0o600 },
  );
  chmodSync(phone.conf, 0o600);
  await inNs(net.phone.ns, 'wg-quick', ['up', phone.conf], 30_000);
}, 1_200_000);

afterAll(async () => {
  await wg?.down().catch(() => undefined);
  await phoneDown();
  if (containerId) await exec('docker', ['rm', '--force', project]);
  // Whatever a failed step left in this machine's firewall: the same cleanup the config's PostDown runs.
  for (const line of lanForwardCleanup()) {
    const argv = line.replace(/ 2>\/dev\/null \|\| true$/, '').split(' ');
    await exec(argv[0] ?? 'iptables', argv.slice(1));
  }
  lanHost?.kill('SIGTERM');
  await conn?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(peerDir, { recursive: true, force: true });
  releaseLock();
}, 120_000);

describe('letting household devices reach the home network (real WireGuard, real iptables)', () => {
  it('the server forwards IPv4 (what the switch checks before it says devices reach the LAN)', async () => {
    expect(await wg.ipForwarding()).toBe(true);
  });

  it('without the option: the phone reaches the server through the tunnel, but no host on the home LAN', async () => {
    await wg.writeConfig(serverConfig(false));
    await wg.up();
    await waitFor('the phone to reach the server through the tunnel', reachServer, 20_000, 200);
    expect(await rulesNow()).toEqual([]);
    // Even with the LAN in its own config (edited by hand), nothing comes back from the LAN: no forwarding rule, no NAT.
    expect(await reachLan(2500)).toBeUndefined();
  }, 90_000);

  it('with the option: the same phone reaches the LAN host, which sees the server’s LAN address (masqueraded)', async () => {
    await wg.writeConfig(serverConfig(true));
    await wg.applyRules();
    const rules = await rulesNow();
    expect(rules).toContain(`-A FORWARD -j ${LAN_CHAIN}`);
    expect(rules).toContain(`-A ${LAN_CHAIN} -s 10.213.88.0/24 -d ${LAN} -i m2wg0 -j ACCEPT`);
    // Nothing from the tunnel is let into a Docker bridge by this chain: it goes back to Docker's own rules first.
    expect(rules.indexOf(`-A ${LAN_CHAIN} -i m2wg0 -o docker0 -j RETURN`)).toBeGreaterThan(-1);
    expect(rules.indexOf(`-A ${LAN_CHAIN} -i m2wg0 -o br-+ -j RETURN`)).toBeGreaterThan(-1);
    expect(rules.indexOf(`-A ${LAN_CHAIN} -i m2wg0 -o br-+ -j RETURN`)).toBeLessThan(rules.indexOf(`-A ${LAN_CHAIN} -s 10.213.88.0/24 -d ${LAN} -i m2wg0 -j ACCEPT`));
    expect(rules).toContain(`nat -A ${LAN_CHAIN} -s 10.213.88.0/24 -d ${LAN} -j MASQUERADE`);
    expect(await reachLan()).toBe(router.serverIp);
    expect(await reachServer()).toBe(true);
  }, 90_000);

  it('replaying the rules, or opening again, changes nothing twice: one chain, one jump each', async () => {
    const before = await rulesNow();
    await wg.applyRules();
    await wg.applyRules();
    await wg.up();
    expect(await rulesNow()).toEqual(before);
    expect(before.filter((l) => l === `-A FORWARD -j ${LAN_CHAIN}`)).toHaveLength(1);
    expect(before.filter((l) => l === `nat -A POSTROUTING -j ${LAN_CHAIN}`)).toHaveLength(1);
    expect(await reachLan()).toBe(router.serverIp);
  }, 90_000);

  it('turned off while the endpoint is open: the rules go at once, the LAN is out of reach, the server is not', async () => {
    await wg.writeConfig(serverConfig(false));
    await wg.sync();
    await wg.applyRules();
    expect(await rulesNow()).toEqual([]);
    expect(await reachLan(2500)).toBeUndefined();
    expect(await reachServer()).toBe(true);
    await wg.applyRules();
    expect(await rulesNow()).toEqual([]);
  }, 90_000);

  it('closing the endpoint with the option on removes its rules (wg-quick runs the PostDown)', async () => {
    await wg.writeConfig(serverConfig(true));
    await wg.applyRules();
    expect((await rulesNow()).length).toBeGreaterThan(0);
    await wg.down();
    expect(await rulesNow()).toEqual([]);
    expect(await wg.state()).toBe('down');
  }, 90_000);
});
