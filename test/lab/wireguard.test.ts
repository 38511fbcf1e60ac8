import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutLink, ensureWireGuardLab, latestHandshake, nsExecArgs, nsRun, restoreLink, wgShow, type WireGuardLab } from '../../scripts/lab/netns';
import { isAlive, waitFor } from '../../scripts/lab/process';

let lab: WireGuardLab;
let server: ChildProcess | undefined;
const PORT = 40_000 + Math.floor(Math.random() * 20_000); // random: a stale echo server from a killed run cannot block us

// A TCP echo server, bound only to the server's WireGuard address inside the server namespace.
const serverScript = `
const net = require('node:net');
const srv = net.createServer((s) => s.pipe(s));
srv.listen(${PORT}, process.argv[1], () => console.log('listening'));
`;

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

async function echoThroughTunnel(): Promise<{ ok: boolean; payload: string; got: string }> {
  const payload = `hello-${randomBytes(16).toString('hex')}`;
  try {
    const got = await nsRun(lab.laptopNs, process.execPath, ['-e', clientScript, lab.serverWgIp, String(PORT), payload], { timeoutMs: 10_000 });
    return { ok: got === payload, payload, got };
  } catch {
    return { ok: false, payload, got: '' };
  }
}

const transferBytes = async (): Promise<number> => {
  const out = await wgShow(lab.laptopNs, lab.laptopIf, 'transfer'); // "<peer>\t<rx>\t<tx>"
  const [, rx = '0', tx = '0'] = out.trim().split(/\s+/);
  return Number(rx) + Number(tx);
};

beforeAll(async () => {
  try {
    lab = await ensureWireGuardLab();
  } catch (err) {
    throw new Error(`WireGuard lab could not start (needs root, ip netns, wireguard-go, wg, /dev/net/tun): ${(err as Error).message}`, { cause: err });
  }
  const [file, args] = nsExecArgs(lab.serverNs, process.execPath, ['-e', serverScript, lab.serverWgIp]);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(`echo server on ${lab.serverWgIp}:${PORT} in ${lab.serverNs} (output: ${out})`, () => {
    if (child.exitCode !== null) throw new Error(`echo server exited: ${out}`);
    return out.includes('listening');
  }, 15_000);
});

afterAll(async () => {
  await restoreLink().catch(() => undefined);
  const pid = server?.pid;
  if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGTERM');
});

describe('lab WireGuard (wireguard-go in two namespaces over veth)', () => {
  it('has a handshake between laptop and server', async () => {
    expect(await latestHandshake(lab.laptopNs, lab.laptopIf)).toBeGreaterThan(0);
    expect(await latestHandshake(lab.serverNs, lab.serverIf)).toBeGreaterThan(0);
    const peers = await wgShow(lab.serverNs, lab.serverIf, 'endpoints');
    expect(peers).toContain(lab.laptopPublicKey);
    expect(peers).toContain(lab.laptopVethIp);
  });

  it('carries a TCP connection through the tunnel', async () => {
    const before = await transferBytes();
    const r = await echoThroughTunnel();
    expect(r.got).toBe(r.payload);
    // The bytes went through wgm2l, not around it.
    expect(await transferBytes()).toBeGreaterThan(before);
  });

  it('stops carrying traffic when the link is cut and recovers when it is restored', async () => {
    await cutLink();
    expect((await echoThroughTunnel()).ok).toBe(false);
    await restoreLink();
    await waitFor('traffic through the tunnel after restoreLink()', async () => (await echoThroughTunnel()).ok, 30_000, 500);
    expect((await echoThroughTunnel()).ok).toBe(true);
  });

  it('ensureWireGuardLab is idempotent and heals a cut link', async () => {
    await cutLink();
    const again = await ensureWireGuardLab();
    expect(again.serverPublicKey).toBe(lab.serverPublicKey);
    expect((await echoThroughTunnel()).ok).toBe(true);
  });
});
