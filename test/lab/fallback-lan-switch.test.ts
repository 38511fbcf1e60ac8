import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FallbackProgress, FallbackView } from '../../electron/contract/fallback';
import { FallbackSettings } from '../../electron/contract/fallback';
import { AppError } from '../../electron/core/errors';
import { FallbackService } from '../../electron/core/fallback/fallback-service';
import { createFallbackStore } from '../../electron/core/fallback/fallback-store';
import { IP_FORWARD_HINT, lanForwardCleanup, lanForwardRules, LAN_CHAIN } from '../../electron/core/fallback/lan-forward';
import { ServerWireGuard } from '../../electron/core/fallback/server-wireguard';
import { renderServerConfig } from '../../electron/core/fallback/wg-config';
import { generateKeyPair } from '../../electron/core/fallback/wg-keys';
import { createLogger } from '../../electron/core/log';
import { MemorySecretStore } from '../../electron/core/secrets/keychain';
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
 * "Let devices reach the whole home network" turned on the way the admin does it (issue 12): fallback settings with
 * the option and the lab's home LAN saved through FallbackService, a household device added there, the switch turned
 * on through the service — over the lab's sshd, into the stack's WireGuard toolbox (the real stand-in image on the
 * host network, as the stack runs it) — and the phone in m2-phone bringing its tunnel up from the config the app
 * generated for it. The phone then reaches a host on the router's LAN (10.213.82.1, beyond the server's m2rr), which
 * sees the server's address (masqueraded); switched off, the rules are gone from the firewall and the LAN is out of
 * reach. The root namespace is the server. fallback-lan.test.ts proves the rules one level down (ServerWireGuard).
 */
const project = `m2lab-fblsw-${process.pid}`;
const root = `/tmp/m2-fblsw-lab-${process.pid}`;
const dataRoot = path.join(root, 'data');
const peerDir = labPath('fallback-lan-switch-peers');
const profileId = 'lab-lan-switch';
const LAN = '10.213.82.0/24';
const PHONE_IF = 'm2fblsw';

let sshd: LabSshd;
let net: FallbackNet;
let router: LabRouter;
let conn: SshConnection;
let service: FallbackService<SshConnection>;
let wg: ServerWireGuard;
let lanHost: ChildProcess | undefined;
let lanPort = 0;
/** A TCP service on the server (this namespace, every address): answers "server", so the tunnel itself is proven. */
let serverHost: Server | undefined;
let serverPort = 0;
let containerId = '';
let appDir = '';
let phoneConf = '';
let releaseLock: () => void = () => undefined;
const progress: FallbackProgress[] = [];
const logLines: string[] = [];

const inNs = (ns: string, file: string, args: readonly string[], timeoutMs = 15_000): Promise<string> => run('ip', ['netns', 'exec', ns, file, ...args], { env: wgEnv(), timeoutMs });

// A TCP client in the phone's namespace: prints the first line it is sent, exit ≠ 0 on failure.
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
/** The LAN host's answer to the phone: the address the connection came from, as the LAN saw it. */
const reachLan = (timeoutMs = 3000): Promise<string | undefined> => fromPhone(router.routerLanIp, lanPort, timeoutMs);
/** The server's own service at its tunnel address: the tunnel works. */
const reachServer = async (): Promise<boolean> => (await fromPhone(net.serverTunnelIp, serverPort, 3000)) === 'server';

/** Every line of the server's firewall (this machine's, where the host-network toolbox puts them) naming the option's chain. */
async function rulesNow(): Promise<string[]> {
  const filter = (await exec('iptables', ['-S'])).stdout;
  const nat = (await exec('iptables', ['-t', 'nat', '-S'])).stdout;
  return [...filter.split('\n'), ...nat.split('\n').map((l) => (l ? `nat ${l}` : l))].filter((l) => l.includes(LAN_CHAIN));
}

/** The same, as seen from inside the WireGuard container (host network: the same firewall, through its own iptables). */
async function containerRules(): Promise<string> {
  const r = await exec('docker', ['exec', project, 'sh', '-c', 'iptables -S; iptables -t nat -S']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function phoneDown(): Promise<void> {
  if (phoneConf) await inNs(net.phone.ns, 'wg-quick', ['down', phoneConf]).catch(() => undefined);
  rmSync(`/var/run/wireguard/${PHONE_IF}.sock`, { force: true });
}

/** The phone's tunnel from the config the app generated for it (the .conf the admin saves or the QR holds). */
async function phoneUp(view: FallbackView): Promise<string> {
  const device = view.devices.find((d) => d.name === 'Phone');
  expect(device, JSON.stringify(view.devices)).toBeDefined();
  const cfg = await service.deviceConfig(profileId, device?.id ?? '');
  phoneConf = path.join(peerDir, `${PHONE_IF}.conf`);
  writeFileSync(phoneConf, cfg.config, { mode: 0o600 });
  await phoneDown();
  await inNs(net.phone.ns, 'wg-quick', ['up', phoneConf], 30_000);
  return cfg.config;
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
  for (const name of out.split('\n').filter((n) => /^m2lab-fblsw-\d+$/.test(n))) {
    if (!isAlive(Number(name.split('-').pop()))) await exec('docker', ['rm', '--force', name]);
  }
  const others = async (): Promise<string[]> => (await exec('docker', ['ps', '--format', '{{.Names}}', '--filter', 'label=com.docker.compose.service=wireguard'])).stdout.split('\n').filter(Boolean);
  await waitFor('other WireGuard toolboxes and m2wg0 to go', async () => (await others()).length === 0 && (await exec('ip', ['link', 'show', 'dev', 'm2wg0'])).code !== 0, 600_000, 1000);
}

const readForward = async (): Promise<string> => (await exec('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim();
let forwardBefore = '';

beforeAll(async () => {
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  net = await ensureFallbackNet();
  router = await ensureRouter();
  releaseLock = await acquireFallbackLock(`test/lab/fallback-lan-switch.test.ts (${project})`);
  await clearTheWay();
  forwardBefore = await readForward();

  // A host on the home LAN (the router's LAN address): answers every connection with the address it came from.
  lanPort = 45000 + (process.pid % 2000);
  const script = `require('node:net').createServer((s) => s.end(s.remoteAddress.replace(/^::ffff:/, '') + '\\n')).listen(${lanPort}, '${router.routerLanIp}', () => console.log('listening'));`;
  const host = spawn('ip', ['netns', 'exec', router.routerNs, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  lanHost = host;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('LAN host did not start within 10 s')), 10_000);
    host.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && (clearTimeout(t), resolve()));
    host.once('exit', (code) => (clearTimeout(t), reject(new Error(`LAN host exited ${String(code)}`))));
  });
  serverHost = createServer((s) => s.end('server\n'));
  await new Promise<void>((resolve) => serverHost?.listen(0, '0.0.0.0', resolve));
  const addr = serverHost.address();
  serverPort = typeof addr === 'object' && addr ? addr.port : 0;

  const user = sshd.sudoUser;
  const uid = Number((await exec('id', ['-u', user.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', user.name])).stdout.trim());
  for (const d of [root, dataRoot, path.join(dataRoot, 'wireguard')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  mkdirSync(peerDir, { recursive: true, mode: 0o700 });
  containerId = await startToolbox();
  conn = await connectToLab(sshd, user);
  appDir = mkdtempSync(path.join(os.tmpdir(), 'm2-fblsw-app-'));
  wg = new ServerWireGuard({ conn, dataRoot, sudo: true, project });
  service = new FallbackService<SshConnection>({
    store: createFallbackStore(path.join(appDir, 'fallback')),
    secrets: new MemorySecretStore(),
    connection: () => conn,
    // The stack as installed with WireGuard on (the toolbox above is its container); nothing published on the LAN.
    stackFacts: async () => ({ installed: true, wireguardEnabled: true, port: net.wireguardPort, jellyfinPort: null }),
    serverWireGuard: () => wg,
    // A router without UPnP or NAT-PMP: the switch says which port to forward (the phone is on the server's side of it).
    portMapper: () => ({
      discover: async () => ({ upnp: false, natpmp: false, externalIp: null, lanIp: null, router: null, cgnat: false, detail: 'no router answered' }),
      map: async () => {
        throw new AppError('fallback.port-mapping', 'The router does not map ports.');
      },
      unmap: async () => undefined,
    }),
    laptop: {
      detect: async () => 'none',
      up: async () => ({ method: 'none', state: 'failed', detail: 'not in this test', sshOverWireguard: false }),
      down: async () => ({ method: 'none', state: 'down', detail: 'not in this test', sshOverWireguard: false }),
    },
    log: createLogger((l) => logLines.push(l)),
    onProgress: (p) => progress.push(p),
    onChanged: () => undefined,
  });
}, 1_200_000);

afterAll(async () => {
  if (forwardBefore && (await readForward()) !== forwardBefore) await exec('sysctl', ['-w', `net.ipv4.ip_forward=${forwardBefore}`]);
  await service?.switch(profileId, false).catch(() => undefined);
  service?.stop();
  await phoneDown();
  if (containerId) await exec('docker', ['rm', '--force', project]);
  // Whatever a failed step left in this machine's firewall: the same cleanup the config's PostDown runs.
  for (const line of lanForwardCleanup()) {
    const argv = line.replace(/ 2>\/dev\/null \|\| true$/, '').split(' ');
    await exec(argv[0] ?? 'iptables', argv.slice(1));
  }
  lanHost?.kill('SIGTERM');
  await new Promise((r) => serverHost?.close(r) ?? r(undefined));
  await conn?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(peerDir, { recursive: true, force: true });
  if (appDir) rmSync(appDir, { recursive: true, force: true });
  releaseLock();
}, 120_000);

describe('the home-network option through the real switch (FallbackService, lab sshd, the WireGuard container)', () => {
  it('saved with the lab’s LAN, a phone added, switched on: the phone’s own config reaches the LAN host, masqueraded', async () => {
    await service.saveSettings(
      profileId,
      // The phone reaches home at the server's address on its side (no router between them in this test).
      FallbackSettings.parse({ subnet: net.tunnelSubnet, endpointName: net.phone.rootIp, allowLan: true, lanCidr: LAN }),
    );
    await service.addDevice(profileId, 'Phone');
    const on = await service.switch(profileId, true);
    expect(on.mode.kind).toBe('on');
    expect(on.lanWarning).toBeNull();
    const home = progress.find((p) => p.step === 'Home network' && p.state === 'done');
    expect(home?.detail).toBe(`Devices reach ${LAN} through the server (forwarded and masqueraded).`);

    const rules = await containerRules();
    expect(rules).toContain(`-A FORWARD -j ${LAN_CHAIN}`);
    // New connections from the tunnel to the LAN (whatever else the rule excludes, such as Docker's bridges).
    const re = (x: string): string => x.replace(/[./+]/g, '\\$&');
    expect(rules).toMatch(new RegExp(`^-A ${LAN_CHAIN} -s ${re(net.tunnelSubnet)} -d ${re(LAN)} -i m2wg0 (.* )?-j ACCEPT$`, 'm'));
    expect(rules).toContain(`-A ${LAN_CHAIN} -s ${net.tunnelSubnet} -d ${LAN} -j MASQUERADE`);

    const config = await phoneUp(on);
    // The config the app made routes the LAN through the tunnel, and nothing wider.
    expect(config).toMatch(new RegExp(`^AllowedIPs = ${net.serverTunnelIp.replace(/\./g, '\\.')}/32, ${LAN.replace(/[./]/g, '\\$&')}$`, 'm'));
    await waitFor('the phone to reach the server through the tunnel', reachServer, 20_000, 200);
    // The LAN host has no route to the tunnel's subnet: it sees (and answers) the server's address on its LAN.
    expect(await reachLan()).toBe(router.serverIp);
    const view = await service.view(profileId);
    expect(view.devices.find((d) => d.name === 'Phone')?.lastHandshake).not.toBeNull();
  }, 180_000);

  it('turned off in the settings while on: the rules go at once (LAN out of reach, server not); turned on again, they come back', async () => {
    const settings = (allowLan: boolean): FallbackSettings =>
      FallbackSettings.parse({ subnet: net.tunnelSubnet, endpointName: net.phone.rootIp, allowLan, lanCidr: allowLan ? LAN : '' });
    await service.saveSettings(profileId, settings(false));
    expect(await containerRules()).not.toContain(LAN_CHAIN);
    // The phone's config still routes the LAN into the tunnel (as an old config would): the server no longer carries it.
    expect(await reachLan(2500)).toBeUndefined();
    expect(await reachServer()).toBe(true);
    await service.saveSettings(profileId, settings(true));
    expect((await rulesNow()).filter((l) => l === `-A FORWARD -j ${LAN_CHAIN}`)).toHaveLength(1);
    expect(await reachLan()).toBe(router.serverIp);
  }, 120_000);

  it('switched off: no M2-FALLBACK-LAN rule is left in the container’s firewall, and the LAN host is out of reach', async () => {
    const off = await service.switch(profileId, false);
    expect(off.mode.kind).toBe('off');
    expect(await containerRules()).not.toContain(LAN_CHAIN);
    expect(await rulesNow()).toEqual([]);
    expect(await reachLan(2500)).toBeUndefined();
    expect(await reachServer()).toBe(false);
  }, 120_000);

  it('with IP forwarding off on the server: switch-on says so with the exact sysctl command, and the endpoint still opens', async () => {
    // The server is this namespace: forwarding off here for the length of one switch-on, then back as it was.
    expect(forwardBefore).toBe('1');
    await exec('sysctl', ['-w', 'net.ipv4.ip_forward=0']);
    let on: FallbackView;
    try {
      on = await service.switch(profileId, true);
    } finally {
      await exec('sysctl', ['-w', `net.ipv4.ip_forward=${forwardBefore}`]);
    }
    expect(await readForward()).toBe(forwardBefore);
    expect(on.mode.kind).toBe('on');
    expect(on.lanWarning).toContain('sudo sysctl -w net.ipv4.ip_forward=1');
    expect(on.lanWarning).toContain(IP_FORWARD_HINT);
    const failed = progress.filter((p) => p.step === 'Home network' && p.state === 'failed').at(-1);
    expect(failed?.detail).toContain('sudo sysctl -w net.ipv4.ip_forward=1');
    // The endpoint is open: the phone's tunnel (still configured) reaches the server again.
    await waitFor('the phone to reach the server through the tunnel again', reachServer, 20_000, 200);
    let off = await service.switch(profileId, false);
    expect(off.mode.kind).toBe('off');
    expect(await rulesNow()).toEqual([]);
    // Forwarding back on: the next switch-on checks again and the warning goes.
    const again = await service.switch(profileId, true);
    expect(again.lanWarning).toBeNull();
    // The endpoint was closed and opened again: the phone's old session is stale until WireGuard's own rekey
    // (up to 15 s after unanswered data), as a real phone's is.
    await waitFor('the phone to reach the LAN host again', async () => (await reachLan()) === router.serverIp, 40_000, 200);
    off = await service.switch(profileId, false);
    expect(off.mode.kind).toBe('off');
    expect(await rulesNow()).toEqual([]);
  }, 180_000);

  it('a PostUp that fails half-way in the container leaves nothing behind: the endpoint stays shut, no rule of the option stays', async () => {
    // The option's own rules, then a line the server's iptables refuses (a firewall that will not take the masquerade, say).
    const rules = lanForwardRules({ allowLan: true, lanCidr: LAN, subnet: net.tunnelSubnet });
    const content = renderServerConfig({
      privateKey: generateKeyPair().privateKey,
      address: `${net.serverTunnelIp}/24`,
      listenPort: net.wireguardPort,
      peers: [],
      postUp: [...rules.postUp, `iptables -A ${LAN_CHAIN} -j M2-NO-SUCH-TARGET`],
      postDown: rules.postDown,
    }).content;
    await wg.writeConfig(content);
    await expect(wg.up()).rejects.toThrow(/WireGuard endpoint on failed/);
    expect(await wg.state()).toBe('down');
    expect(await containerRules()).not.toContain(LAN_CHAIN);
    expect(await rulesNow()).toEqual([]);
    // A replay of the same config on an open endpoint fails the same way and leaves no half of it either.
    await wg.writeConfig(renderServerConfig({ privateKey: generateKeyPair().privateKey, address: `${net.serverTunnelIp}/24`, listenPort: net.wireguardPort, peers: [], postUp: rules.postUp, postDown: rules.postDown }).content);
    await wg.up();
    expect((await rulesNow()).length).toBeGreaterThan(0);
    await wg.writeConfig(content);
    await expect(wg.applyRules()).rejects.toThrow();
    expect(await rulesNow()).toEqual([]);
    expect(await wg.state()).toBe('up');
    await wg.down();
    expect(await rulesNow()).toEqual([]);
  }, 120_000);
});
