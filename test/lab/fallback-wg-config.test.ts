/**
 * The fallback's WireGuard text against the real tools: `wg pubkey` agrees with our keys, `wg-quick strip` and
 * `wg setconf` take the server's config (hostile device names included), a real `wg-quick up` (wireguard-go, in a
 * throwaway namespace) takes a device's config, and `zbarimg` reads a device's config back from its QR code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../electron/core/secrets/secret';
import { qrPng, qrSvgDataUrl } from '../../electron/core/fallback/qr';
import { configFileName, parseWgShowDump, renderPeerConfig, renderServerConfig, type ServerPeer } from '../../electron/core/fallback/wg-config';
import { generateKeyPair, generatePresharedKey, publicKeyOf } from '../../electron/core/fallback/wg-keys';
import { labPath } from '../../scripts/lab/paths';
import { isAlive, run, waitFor } from '../../scripts/lab/process';

const rand = randomBytes(3).toString('hex');
const NS = `m2-wgcfg-${rand}`;
/** wireguard-go's sockets share /var/run/wireguard across namespaces: names carry this run's random part. */
const SERVER_IF = `m2c${rand}`;
const dir = labPath(`fallback-wgcfg-${rand}`);
const wgEnv = { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' };
let wgGo: ChildProcess | undefined;

const inNs = (file: string, args: readonly string[], input?: string): Promise<string> =>
  run('ip', ['netns', 'exec', NS, file, ...args], { env: wgEnv, timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });

/** A file (0600) in this run's folder. */
const put = (name: string, content: string | Buffer): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
};

const HOSTILE_NAMES = [
  'Anna’s phone',
  'evil\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nAllowedIPs = 0.0.0.0/0',
  'cr\rPrivateKey = x',
  'ls\u2028[Interface]\u2029ListenPort = 1',
  'nel\u0085AllowedIPs = 0.0.0.0/0',
  '# = [ ] \\ ; $(id) `id`',
  '日本語の電話 📱',
  'x'.repeat(200),
  '',
];

beforeAll(async () => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  // The interface `wg setconf` is pointed at: wireguard-go in the foreground, so its pid is ours to stop.
  const child = spawn('ip', ['netns', 'exec', NS, 'wireguard-go', '-f', SERVER_IF], { env: { ...wgEnv, LOG_LEVEL: 'error' }, stdio: 'ignore' });
  wgGo = child;
  await waitFor(`wireguard-go ${SERVER_IF} in ${NS}`, async () => {
    if (child.exitCode !== null) throw new Error('wireguard-go exited');
    await inNs('wg', ['show', SERVER_IF]);
    return true;
  }, 15_000);
});

afterAll(async () => {
  if (wgGo?.pid !== undefined && isAlive(wgGo.pid)) process.kill(wgGo.pid, 'SIGTERM');
  // wireguard-go daemons that this file's `wg-quick up` started live only in this namespace.
  const pids = (await run('ip', ['netns', 'pids', NS]).catch(() => '')).split('\n').map(Number).filter((p) => p > 0);
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGTERM');
  await run('ip', ['netns', 'del', NS]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('WireGuard keys against wg', () => {
  it('wg pubkey derives the same public key as generateKeyPair', async () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      expect((await run('wg', ['pubkey'], { input: `${privateKey.reveal()}\n` })).trim()).toBe(publicKey);
    }
  });

  it('publicKeyOf agrees with wg pubkey on keys wg genkey made', async () => {
    for (let i = 0; i < 5; i++) {
      const priv = (await run('wg', ['genkey'])).trim();
      expect(publicKeyOf(new Secret(priv))).toBe((await run('wg', ['pubkey'], { input: `${priv}\n` })).trim());
    }
  });
});

describe('the server config against wg-quick and wg', () => {
  it('passes wg-quick strip and wg setconf with hostile device names, and the interface holds exactly the devices', async () => {
    const server = generateKeyPair();
    const names = [...HOSTILE_NAMES, ...fc.sample(fc.string({ unit: 'binary', maxLength: 60 }), { numRuns: 25, seed: 7 })];
    const devices = names.map((name, i) => ({ name, pair: generateKeyPair(), psk: generatePresharedKey(), address: `10.13.13.${i + 2}/32` }));
    const peers: ServerPeer[] = devices.map((d, i) => ({ id: `dev${String(i).padStart(5, '0')}`, name: d.name, publicKey: d.pair.publicKey, presharedKey: d.psk, allowedIps: [d.address] }));
    const { content } = renderServerConfig({
      privateKey: server.privateKey,
      address: '10.13.13.1/24',
      listenPort: 51820,
      peers,
      postUp: ['iptables -A FORWARD -i %i -j ACCEPT'],
      postDown: ['iptables -D FORWARD -i %i -j ACCEPT'],
    });

    const stripped = await run('wg-quick', ['strip', put('m2wg0.conf', content)], { env: wgEnv });
    expect(stripped).not.toMatch(/^(Address|PostUp|PostDown)\s*=/m);
    expect(stripped.match(/^PublicKey = /gm)).toHaveLength(devices.length);

    await inNs('wg', ['setconf', SERVER_IF, put('m2wg0.stripped', stripped)]);
    const dump = parseWgShowDump(await inNs('wg', ['show', SERVER_IF, 'dump']));
    expect(dump?.publicKey).toBe(server.publicKey);
    expect(dump?.listenPort).toBe(51820);
    expect(dump?.peers.map((p) => [p.publicKey, p.allowedIps]).sort()).toEqual(devices.map((d) => [d.pair.publicKey, [d.address]]).sort());
    expect(dump?.peers.every((p) => p.endpoint === null && p.latestHandshake === 0 && p.persistentKeepalive === null)).toBe(true);
    // The keys came through byte for byte: wg keeps a private key as given only when it is already clamped.
    const showconf = await inNs('wg', ['showconf', SERVER_IF]);
    expect(showconf).toContain(`PrivateKey = ${server.privateKey.reveal()}\n`);
    const psks = await inNs('wg', ['show', SERVER_IF, 'preshared-keys']);
    for (const d of devices) expect(psks).toContain(`${d.pair.publicKey}\t${d.psk.reveal()}`);
  });
});

describe('a device config against wg-quick up', () => {
  it('is brought up by a real wg-quick (wireguard-go) with its address, key and peer, and down again', async () => {
    const server = generateKeyPair();
    const device = generateKeyPair();
    const psk = generatePresharedKey();
    const file = configFileName(`phone ${rand}`);
    const iface = path.basename(file, '.conf');
    expect(file).toBe(`phone-${rand}.conf`);
    const config = renderPeerConfig({
      privateKey: device.privateKey,
      address: '10.13.13.2/32',
      serverPublicKey: server.publicKey,
      presharedKey: psk,
      endpoint: '10.213.93.1:51820',
      allowedIps: ['10.13.13.1/32', '192.168.77.0/24'],
      persistentKeepalive: 25,
    });
    const conf = put(file, config);
    await inNs('wg-quick', ['up', conf]);
    try {
      expect(await run('ip', ['-n', NS, '-o', 'addr', 'show', 'dev', iface])).toContain('inet 10.13.13.2/32');
      const routes = await run('ip', ['-n', NS, 'route', 'show', 'dev', iface]);
      expect(routes).toContain('10.13.13.1');
      expect(routes).toContain('192.168.77.0/24');
      const dump = parseWgShowDump(await inNs('wg', ['show', iface, 'dump']));
      expect(dump).toMatchObject({ publicKey: device.publicKey, peers: [{ publicKey: server.publicKey, endpoint: '10.213.93.1:51820', allowedIps: ['10.13.13.1/32', '192.168.77.0/24'], persistentKeepalive: 25 }] });
      expect(await inNs('wg', ['show', iface, 'preshared-keys'])).toContain(psk.reveal());
    } finally {
      await inNs('wg-quick', ['down', conf]);
    }
    await expect(run('ip', ['-n', NS, 'link', 'show', 'dev', iface])).rejects.toThrow(/does not exist/);
  });
});

/** A QR code's SVG (qrcode's `M x y` / `m dx dy` / `h n` path of dark runs) drawn into a greyscale PNG. */
function svgToPng(svg: string, scale = 8): Buffer {
  const size = Number(/viewBox="0 0 (\d+) \d+"/.exec(svg)?.[1]);
  const d = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(svg)?.[1] ?? '';
  const dark = Array.from({ length: size }, () => new Uint8Array(size));
  let x = 0;
  let y = 0;
  for (const [, op, a = '0', b = '0'] of d.matchAll(/([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?/g)) {
    if (op === 'M') [x, y] = [Number(a), Number(b) - 0.5];
    else if (op === 'm') [x, y] = [x + Number(a), y + Number(b)];
    else for (let n = 0; n < Number(a); n++, x++) dark[y]![x] = 1;
  }
  const w = size * scale;
  const raw = Buffer.alloc((w + 1) * w, 255);
  for (let py = 0; py < w; py++) {
    raw[py * (w + 1)] = 0; // filter: none
    for (let px = 0; px < w; px++) if (dark[Math.floor(py / scale)]![Math.floor(px / scale)]) raw[py * (w + 1) + 1 + px] = 0;
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(w, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('a device config as a QR code', () => {
  const config = renderPeerConfig({
    privateKey: generateKeyPair().privateKey,
    address: '10.13.13.2/32',
    serverPublicKey: generateKeyPair().publicKey,
    presharedKey: generatePresharedKey(),
    endpoint: 'home.example.com:51820',
    allowedIps: ['10.13.13.1/32'],
    persistentKeepalive: 25,
    dns: ['10.13.13.1'],
  });

  it('reads back from the PNG with zbarimg exactly, and what it reads passes wg-quick strip', async () => {
    const decoded = await run('zbarimg', ['--raw', '-q', put('device.png', await qrPng(config))]);
    expect(decoded).toBe(`${config}\n`); // zbarimg ends each symbol with a newline
    const stripped = await run('wg-quick', ['strip', put(`m2qr${rand}.conf`, decoded.slice(0, -1))], { env: wgEnv });
    expect(stripped).toMatch(/^PrivateKey = /m);
    expect(stripped).toMatch(/^Endpoint = home\.example\.com:51820$/m);
    expect(stripped).not.toMatch(/^(Address|DNS) =/m);
  });

  it('reads back from the SVG data URL exactly', async () => {
    const url = await qrSvgDataUrl(config);
    const svg = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString('utf8');
    expect(await run('zbarimg', ['--raw', '-q', put('device-svg.png', svgToPng(svg))])).toBe(`${config}\n`);
  });
});
