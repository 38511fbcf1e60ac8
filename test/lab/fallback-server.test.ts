import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackSettings } from '../../electron/contract/stack';
import { ServerWireGuard } from '../../electron/core/fallback/server-wireguard';
import { renderPeerConfig, renderServerConfig, type ServerPeer } from '../../electron/core/fallback/wg-config';
import { generateKeyPair, generatePresharedKey } from '../../electron/core/fallback/wg-keys';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import type { Secret } from '../../electron/core/secrets/secret';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { acquireFallbackLock, ensureFallbackNet, type FallbackNet, type FallbackSide } from '../../scripts/lab/fallback-net';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { wgEnv } from '../../scripts/lab/netns';
import { labPath } from '../../scripts/lab/paths';
import { freePort, isAlive, run, sleep, waitFor } from '../../scripts/lab/process';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets } from '../support/subnets';

/**
 * The server side of the WireGuard fallback against the real lab (issue 12): the stack service installs Jellyfin and
 * the WireGuard toolbox (host network) over the lab sshd as the sudo user (docker through sudo -n; its own project,
 * ~/m2 and data folder, so it never meets the admin's stacks), then ServerWireGuard turns the endpoint on and off
 * and changes peers while real peers — wg-quick + wireguard-go in the m2-phone and m2-away namespaces, which have no
 * route to the server's LAN address — reach Jellyfin and sshd on 10.213.79.1 only through the tunnel.
 */
const profileId = `lab-fallback-${randomBytes(3).toString('hex')}`;
const project = `m2lab-fallback-${process.pid}`;
const root = `/tmp/m2-fallback-lab-${process.pid}`;
const peerDir = labPath('fallback-peers');
const keychain = new KeyringSecretStore();
const logLines: string[] = [];

let sshd: LabSshd;
let net: FallbackNet;
let conn: SshConnection;
let stack: StackService;
let wg: ServerWireGuard;
let appDir = '';
let m2Dir = '';
let lanPort = 0;
let releaseLock: () => void = () => undefined;
const timings: Record<string, number[]> = {};

interface Peer {
  readonly side: FallbackSide;
  /** Interface (and config file) name in the device's namespace. */
  readonly iface: string;
  readonly address: string;
  readonly key: { privateKey: Secret; publicKey: string };
  readonly psk?: Secret;
  readonly conf: string;
}
let server: { privateKey: Secret; publicKey: string };
let phone: Peer;
let away: Peer;

const tag = (name: string, ms: number): void => void (timings[name] ??= []).push(Math.round(ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const serverPeer = (p: Peer, id: string): ServerPeer => ({ id, name: id, publicKey: p.key.publicKey, allowedIps: [`${p.address}/32`], ...(p.psk ? { presharedKey: p.psk } : {}) });
const serverConfig = (peers: ReadonlyArray<[Peer, string]>): string =>
  renderServerConfig({ privateKey: server.privateKey, address: `${net.serverTunnelIp}/24`, listenPort: net.wireguardPort, peers: peers.map(([p, id]) => serverPeer(p, id)) }).content;

function makePeer(side: FallbackSide, iface: string, address: string, psk: boolean): Peer {
  const key = generateKeyPair();
  const conf = path.join(peerDir, `${iface}.conf`);
  return { side, iface, address, key, ...(psk ? { psk: generatePresharedKey() } : {}), conf };
}

/** The device's wg-quick config as the app would hand it out: the server's LAN address and tunnel address only. */
function writePeerConfig(p: Peer): void {
  const text = renderPeerConfig({
    privateKey: p.key.privateKey,
    address: `${p.address}/32`,
    serverPublicKey: server.publicKey,
    ...(p.psk ? { presharedKey: p.psk } : {}),
    endpoint: `${p.side.rootIp}:${net.wireguardPort}`,
    allowedIps: [`${net.serverTunnelIp}/32`, `${net.serverLanIp}/32`],
  });
  writeFileSync(p.conf, text, { mode: 0o600 });
  chmodSync(p.conf, 0o600);
}

const inNs = (ns: string, file: string, args: readonly string[], timeoutMs = 15_000): Promise<string> => run('ip', ['netns', 'exec', ns, file, ...args], { env: wgEnv(), timeoutMs });
const peerUp = async (p: Peer): Promise<void> => void (await inNs(p.side.ns, 'wg-quick', ['up', p.conf], 30_000));
async function peerDown(p: Peer): Promise<void> {
  await inNs(p.side.ns, 'wg-quick', ['down', p.conf]).catch(() => undefined);
  // A wireguard-go of an earlier, killed run of this file: its socket going away makes it exit (what wg-quick does).
  rmSync(`/var/run/wireguard/${p.iface}.sock`, { force: true });
}
/** Forget the server on the device (no handshake in flight, no retry timer), keeping its config. */
const peerReset = async (p: Peer): Promise<void> => {
  await inNs(p.side.ns, 'wg', ['set', p.iface, 'peer', server.publicKey, 'remove']);
  await inNs(p.side.ns, 'wg', ['setconf', p.iface, p.conf + '.stripped']);
};
const handshakeOf = async (p: Peer): Promise<number> => Number((await inNs(p.side.ns, 'wg', ['show', p.iface, 'latest-handshakes'])).trim().split(/\s+/)[1] ?? 0);
const transferOf = async (p: Peer): Promise<number> => {
  const [, rx = '0', tx = '0'] = (await inNs(p.side.ns, 'wg', ['show', p.iface, 'transfer'])).trim().split(/\s+/);
  return Number(rx) + Number(tx);
};

// A TCP client inside a namespace: connect, read until `until` is seen (or the first bytes), print them; exit 2 on failure.
const tcpScript = `
const net = require('node:net');
const [host, port, send, until, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
let got = '';
const t = setTimeout(() => { console.error('timeout'); process.exit(2); }, Number(ms));
s.on('connect', () => { if (send) s.write(send.replace(/\\\\r\\\\n/g, '\\r\\n')); });
s.on('data', (d) => { got += d; if (got.includes(until)) { clearTimeout(t); process.stdout.write(got); s.destroy(); process.exit(0); } });
s.on('error', (e) => { console.error(e.code || e.message); process.exit(3); });
`;
async function tcp(p: Peer, port: number, opts: { send?: string; until: string; timeoutMs?: number }): Promise<string | undefined> {
  try {
    return await inNs(p.side.ns, process.execPath, ['-e', tcpScript, net.serverLanIp, String(port), opts.send ?? '', opts.until, String(opts.timeoutMs ?? 4000)], (opts.timeoutMs ?? 4000) + 5000);
  } catch {
    return undefined;
  }
}
const sshBanner = (p: Peer, timeoutMs = 4000): Promise<string | undefined> => tcp(p, sshd.port, { until: '\n', timeoutMs });
const jellyfinInfo = (p: Peer): Promise<string | undefined> =>
  tcp(p, lanPort, { send: `GET /System/Info/Public HTTP/1.1\\r\\nHost: ${'10.213.79.1'}\\r\\nConnection: close\\r\\n\\r\\n`, until: '}', timeoutMs: 6000 });

/**
 * A prober in the device's namespace that tries a TCP connect to the LAN sshd every 20 ms (200 ms timeout each) and
 * prints the epoch ms of the first success: how long the device waits for the way home.
 */
const proberScript = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const tryOnce = () => {
  const s = net.connect({ host, port: Number(port) });
  const t = setTimeout(() => { s.destroy(); setTimeout(tryOnce, 20); }, 200);
  s.on('connect', () => { clearTimeout(t); process.stdout.write(String(Date.now())); s.destroy(); process.exit(0); });
  s.on('error', () => { clearTimeout(t); setTimeout(tryOnce, 20); });
};
tryOnce();
setTimeout(() => process.exit(2), 60000);
`;
function startProber(p: Peer): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', p.side.ns, process.execPath, '-e', proberScript, net.serverLanIp, String(sshd.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`prober exited ${String(code)}`))));
  });
}

/** The toolbox container as the engine has it (root, locally). */
async function toolbox(): Promise<{ id: string; startedAt: string; networkMode: string; entrypoint: string[]; running: boolean }> {
  const id = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=wireguard'])).stdout.trim();
  const j = JSON.parse((await exec('docker', ['inspect', '--type', 'container', id])).stdout) as Array<{ State: { StartedAt: string; Running: boolean }; HostConfig: { NetworkMode: string }; Config: { Entrypoint: string[] } }>;
  const c = j[0];
  if (!c) throw new Error('no wireguard container');
  return { id, startedAt: c.State.StartedAt, networkMode: c.HostConfig.NetworkMode, entrypoint: c.Config.Entrypoint, running: c.State.Running };
}
/** m2wg0 in the root namespace (the server's): its ifindex, or undefined when it does not exist. */
const serverIfIndex = async (): Promise<number | undefined> => {
  const r = await exec('ip', ['-o', 'link', 'show', 'dev', 'm2wg0']);
  return r.code === 0 ? Number(r.stdout.split(':')[0]) : undefined;
};
/** What listens on the UDP port in the root namespace, with the process (empty: nothing, the endpoint is silent). */
const udpListeners = async (port: number): Promise<string> => (await exec('ss', ['-Hlunp', `sport = :${port}`])).stdout.trim();

async function composeDownOurs(): Promise<void> {
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '10'], { timeoutMs: 180_000 });
}

/** Stacks of earlier, killed runs of this file hold m2wg0 and the port: take them down (their pid is gone). */
/** Another project's toolbox (a test that does not take the lock, e.g. a render test) shares m2wg0: wait until it is gone. */
async function waitForOtherToolboxes(): Promise<void> {
  const others = async (): Promise<string[]> =>
    (await exec('docker', ['ps', '--format', '{{.Label "com.docker.compose.project"}}', '--filter', 'label=com.docker.compose.service=wireguard'])).stdout
      .split('\n')
      .filter((p) => p !== '' && p !== project);
  await waitFor(`other stacks' WireGuard toolboxes to go (${(await others()).join(', ')})`, async () => (await others()).length === 0 && (await serverIfIndex()) === undefined, 600_000, 1000);
}

async function removeStaleRuns(): Promise<void> {
  const out = (await exec('docker', ['ps', '--all', '--format', '{{.Label "com.docker.compose.project"}}', '--filter', 'label=com.docker.compose.project'])).stdout;
  for (const p of new Set(out.split('\n').filter((l) => /^m2lab-fallback-\d+$/.test(l)))) {
    if (p === project || isAlive(Number(p.split('-').pop()))) continue;
    await exec('docker', ['compose', '--project-name', p, 'down', '--volumes', '--remove-orphans', '--timeout', '10'], { timeoutMs: 180_000 });
  }
}

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  net = await ensureFallbackNet();
  releaseLock = await acquireFallbackLock(`test/lab/fallback-server.test.ts (${project})`);
  await removeStaleRuns();
  await waitForOtherToolboxes();
  mkdirSync(peerDir, { recursive: true, mode: 0o700 });

  server = generateKeyPair();
  phone = makePeer(net.phone, 'm2fbph', '10.213.88.2', true);
  away = makePeer(net.away, 'm2fbaw', '10.213.88.3', false);
  for (const p of [phone, away]) {
    await peerDown(p);
    writePeerConfig(p);
    // What wg setconf takes (no Address): for resetting the device's session between measurements.
    writeFileSync(`${p.conf}.stripped`, await run('wg-quick', ['strip', p.conf], { env: wgEnv() }), { mode: 0o600 });
  }

  const user = sshd.sudoUser;
  const uid = Number((await exec('id', ['-u', user.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', user.name])).stdout.trim());
  m2Dir = `/home/${user.name}/m2`;
  rmSync(m2Dir, { recursive: true, force: true });
  for (const d of [root, path.join(root, 'data')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  conn = await connectToLab(sshd, user);
  appDir = mkdtempSync(path.join(os.tmpdir(), 'm2-fallback-app-'));
  stack = new StackService({
    settings: new StackSettingsStore(path.join(appDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: keychain,
    log: createLogger((l) => logLines.push(l)),
    onProgress: () => undefined,
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    renderOverrides: { project, subnets: await freeSubnets('10.234', (process.pid * 13) % 250) },
  });
  // The preflight found Docker only through sudo for this user.
  stack.recordPreflight(profileId, { checks: [], dockerAccess: { kind: 'sudo' }, gpu: { kind: 'none' }, startedAt: new Date().toISOString(), durationMs: 0 });
  lanPort = await freePort();
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      // Published on every address, so Jellyfin answers on the server's LAN address too.
      publishAddress: '0.0.0.0',
      uid,
      gid,
      hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: {
        jellyfin: { lanPort },
        nextcloud: { enabled: false },
        authentik: { enabled: false },
        cloudflared: { enabled: false },
        backup: { enabled: false },
        wireguard: { enabled: true, port: net.wireguardPort },
      },
    }),
  );
  const result = await stack.apply(profileId);
  if (result.kind !== 'applied') throw new Error(`stack apply: ${JSON.stringify(result)}\n${logLines.slice(-20).join('\n')}`);
  wg = new ServerWireGuard({ conn, dataRoot: path.join(root, 'data'), sudo: true, project });
  await wg.writeConfig(serverConfig([[phone, 'phone']]));
}, 1_500_000);

afterAll(async () => {
  await wg?.down().catch(() => undefined);
  for (const p of [phone, away]) if (p) await peerDown(p);
  await composeDownOurs();
  rmSync(m2Dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  if (appDir) rmSync(appDir, { recursive: true, force: true });
  rmSync(peerDir, { recursive: true, force: true });
  for (const n of ['jellyfin.admin-password', 'jellyfin.api-key']) await keychain.delete(profileId, n).catch(() => undefined);
  await conn?.close();
  releaseLock();
  process.stdout.write(`fallback-server timings (ms): ${JSON.stringify(timings)}\n`);
}, 240_000);

describe('the WireGuard fallback on the server (toolbox, switch, peers)', () => {
  it('installs the toolbox on the host network, not linuxserver init, and leaves the endpoint off', async () => {
    const c = await toolbox();
    expect(c.running).toBe(true);
    expect(c.networkMode).toBe('host');
    expect(c.entrypoint[0]).toBe('/bin/sh');
    expect(c.entrypoint.join(' ')).not.toContain('/init');
    expect(await wg.containerRunning()).toBe(true);
    expect(await wg.state()).toBe('down');
    expect(await wg.isUp()).toBe(false);
    expect(await wg.show()).toBeNull();
    expect(await serverIfIndex()).toBeUndefined();
    expect(await udpListeners(net.wireguardPort)).toBe('');
    // The config with the server's private key: 0600 in a 0700 folder, the SSH user's, never in a release or log.
    const st = (await exec('stat', ['-c', '%a %U', wg.configPath, path.dirname(wg.configPath)])).stdout.trim().split('\n');
    expect(st).toEqual([`600 ${sshd.sudoUser.name}`, `700 ${sshd.sudoUser.name}`]);
    expect(readFileSync(wg.configPath, 'utf8')).toContain(server.privateKey.reveal());
    expect(logLines.join('\n')).not.toContain(server.privateKey.reveal());
  }, 60_000);

  it('while off, a household device gets no handshake and cannot reach the LAN address at all', async () => {
    // Without a tunnel the device has no route to the LAN address.
    expect(await sshBanner(phone, 1500)).toBeUndefined();
    await peerUp(phone);
    expect(await sshBanner(phone, 3000)).toBeUndefined();
    await sleep(2000);
    expect(await handshakeOf(phone)).toBe(0);
    expect(await udpListeners(net.wireguardPort)).toBe('');
  }, 60_000);

  it('up(): the device handshakes and reaches Jellyfin and sshd on the LAN address through the tunnel', async () => {
    await peerReset(phone);
    const t0 = Date.now();
    await wg.up();
    tag('up', Date.now() - t0);
    const connectedAt = await startProber(phone);
    tag('upToFirstConnect', connectedAt - t0);
    expect(await wg.state()).toBe('up');
    expect(await udpListeners(net.wireguardPort)).toContain('wireguard-go');
    const before = await transferOf(phone);
    expect(await sshBanner(phone)).toMatch(/^SSH-2\.0-/);
    const info = await jellyfinInfo(phone);
    expect(info).toMatch(/^HTTP\/1\.1 200/);
    expect(info).toMatch(/"ServerName"|"Version"/);
    expect(await transferOf(phone)).toBeGreaterThan(before);
    expect(await handshakeOf(phone)).toBeGreaterThan(0);
    const dump = await wg.show();
    expect(dump).toMatchObject({ publicKey: server.publicKey, listenPort: net.wireguardPort });
    expect(dump?.peers.map((p) => p.publicKey)).toEqual([phone.key.publicKey]);
    expect(dump?.peers[0]?.latestHandshake).toBeGreaterThan(0);
    expect(dump?.peers[0]?.endpoint).toMatch(/^10\.213\.81\.2:\d+$/);
  }, 90_000);

  it('up() and down() twice are no-ops: the interface is not recreated, the session keeps going', async () => {
    const idx = await serverIfIndex();
    const started = (await toolbox()).startedAt;
    await wg.up();
    expect(await serverIfIndex()).toBe(idx);
    expect((await toolbox()).startedAt).toBe(started);
    expect(await sshBanner(phone)).toMatch(/^SSH-2\.0-/);
  }, 60_000);

  it('a second device added with sync(): nothing restarts, the first device’s session keeps working', async () => {
    const idx = await serverIfIndex();
    const started = (await toolbox()).startedAt;
    const hsBefore = (await wg.show())?.peers.find((p) => p.publicKey === phone.key.publicKey)?.latestHandshake;
    await wg.writeConfig(serverConfig([[phone, 'phone'], [away, 'laptop']]));
    const t0 = Date.now();
    await wg.sync();
    tag('sync', Date.now() - t0);
    expect((await toolbox()).startedAt).toBe(started);
    expect(await serverIfIndex()).toBe(idx);
    // The first device: same session (no new handshake needed), still through.
    expect(await sshBanner(phone)).toMatch(/^SSH-2\.0-/);
    expect((await wg.show())?.peers.find((p) => p.publicKey === phone.key.publicKey)?.latestHandshake).toBe(hsBefore);
    // The second: from the away namespace, through its own tunnel.
    expect(await sshBanner(away, 1500)).toBeUndefined();
    await peerUp(away);
    expect(await sshBanner(away, 8000)).toMatch(/^SSH-2\.0-/);
    expect(await jellyfinInfo(away)).toMatch(/^HTTP\/1\.1 200/);
    expect((await wg.show())?.peers.map((p) => p.publicKey).sort()).toEqual([phone.key.publicKey, away.key.publicKey].sort());
  }, 90_000);

  it('a revoked device is refused after sync(); the other keeps working', async () => {
    await wg.writeConfig(serverConfig([[away, 'laptop']]));
    await wg.sync();
    expect((await wg.show())?.peers.map((p) => p.publicKey)).toEqual([away.key.publicKey]);
    const before = (await inNs(phone.side.ns, 'wg', ['show', phone.iface, 'transfer'])).trim().split(/\s+/)[1];
    expect(await sshBanner(phone, 3000)).toBeUndefined();
    // Its packets still leave, but nothing comes back: received bytes do not grow.
    expect((await inNs(phone.side.ns, 'wg', ['show', phone.iface, 'transfer'])).trim().split(/\s+/)[1]).toBe(before);
    expect(await sshBanner(away)).toMatch(/^SSH-2\.0-/);
  }, 60_000);

  it('down(): the endpoint is silent and the interface is gone; a second down() is a no-op', async () => {
    const t0 = Date.now();
    await wg.down();
    tag('down', Date.now() - t0);
    expect(await serverIfIndex()).toBeUndefined();
    expect(await udpListeners(net.wireguardPort)).toBe('');
    expect(await wg.state()).toBe('down');
    expect(await wg.show()).toBeNull();
    expect(await sshBanner(away, 3000)).toBeUndefined();
    await wg.down();
    expect(await wg.state()).toBe('down');
    expect((await toolbox()).running).toBe(true);
  }, 60_000);

  it('a cut SSH connection in the middle of up() leaves up or down, and the next up() works', async () => {
    const cut = await connectToLab(sshd, sshd.sudoUser);
    const cutWg = new ServerWireGuard({ conn: cut, dataRoot: path.join(root, 'data'), sudo: true, project });
    const pending = cutWg.up().catch((e: unknown) => e);
    // Cut as soon as the interface starts to exist (wg-quick is running in the container), or after 1.5 s.
    await waitFor('m2wg0 to appear', async () => (await serverIfIndex()) !== undefined, 1500, 10).catch(() => undefined);
    await cut.close();
    await pending;
    // Whatever was running in the container finishes or dies; it never stays half-made.
    let settled: string = await wg.state();
    await waitFor('a settled state', async () => {
      settled = await wg.state();
      return settled !== 'partial';
    }, 15_000, 200);
    expect(['up', 'down']).toContain(settled);
    await wg.up();
    expect(await wg.state()).toBe('up');
    // The device's session died with the earlier down(); it would rehandshake by itself within ~15 s (WireGuard's
    // keepalive + rekey timeouts), a fresh start of its side makes that immediate.
    await peerReset(away);
    expect(await sshBanner(away, 8000)).toMatch(/^SSH-2\.0-/);
    await wg.down();
  }, 90_000);

  it('a half-made interface (wg-quick killed after creating it) is reported partial, and up() redoes it', async () => {
    const c = await toolbox();
    // What a killed `wg-quick up` leaves behind: the interface, no keys, no address, no marker.
    await run('docker', ['exec', c.id, 'wireguard-go', 'm2wg0'], { env: process.env, timeoutMs: 30_000 });
    expect(await serverIfIndex()).toBeDefined();
    expect(await wg.state()).toBe('partial');
    expect(await wg.isUp()).toBe(false);
    await wg.up();
    expect(await wg.state()).toBe('up');
    await peerReset(away);
    expect(await sshBanner(away, 8000)).toMatch(/^SSH-2\.0-/);
    // down() also clears a partial interface.
    await wg.down();
    await run('docker', ['exec', c.id, 'wireguard-go', 'm2wg0'], { env: process.env, timeoutMs: 30_000 });
    await wg.down();
    expect(await serverIfIndex()).toBeUndefined();
  }, 90_000);

  it('stopping or recreating the container turns the fallback off (fail-closed)', async () => {
    await wg.up();
    expect(await serverIfIndex()).toBeDefined();
    await exec('docker', ['restart', '--time', '10', (await toolbox()).id], { timeoutMs: 60_000 });
    await waitFor('the toolbox to run again', async () => (await toolbox()).running, 30_000);
    expect(await serverIfIndex()).toBeUndefined();
    expect(await wg.state()).toBe('down');
    expect(await udpListeners(net.wireguardPort)).toBe('');
  }, 90_000);

  it('measures: up() from off to the first TCP connect, against `docker compose up -d wireguard` cold', async () => {
    const composeArgs = readFileSync(path.join(m2Dir, 'current', 'compose.args'), 'utf8').split('\n').filter(Boolean);
    const composeSsh = async (args: string[]): Promise<void> => {
      const r = await conn.exec(['sudo', '-n', '--', 'docker', 'compose', ...composeArgs, ...args], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`compose ${args.join(' ')}: ${r.stderr}`);
    };
    for (let i = 0; i < 3; i++) {
      // The switch: the toolbox runs, the interface is down.
      await wg.down();
      await peerReset(away);
      let t0 = Date.now();
      await wg.up();
      tag('bench.switch.up', Date.now() - t0);
      tag('bench.switch.firstConnect', (await startProber(away)) - t0);

      // The naive way: the container is off (removed), and "on" is compose creating and starting it cold, then the interface.
      await wg.down();
      await composeSsh(['rm', '--stop', '--force', 'wireguard']);
      await peerReset(away);
      t0 = Date.now();
      await composeSsh(['up', '--detach', '--no-deps', '--pull', 'never', 'wireguard']);
      tag('bench.compose.upD', Date.now() - t0);
      await wg.up();
      tag('bench.compose.firstConnect', (await startProber(away)) - t0);
    }
    const switchMs = median(timings['bench.switch.firstConnect'] ?? []);
    const composeMs = median(timings['bench.compose.firstConnect'] ?? []);
    process.stdout.write(`fallback up → first TCP connect, median of 3: switch ${switchMs} ms, compose up -d cold ${composeMs} ms\n`);
    expect(switchMs).toBeGreaterThan(0);
    expect(switchMs).toBeLessThan(composeMs);
    await wg.down();
  }, 300_000);
});
