/**
 * The WireGuard port through a real home router: PortMapper runs its commands on the lab server (the root
 * namespace) over a real SSH connection as the lab admin, against miniupnpd in `m2-router`; a household device
 * away from home sends from `m2-inet` to the router's WAN address, and a UDP listener on the server proves what
 * arrives.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PortMapper } from '../../electron/core/fallback/port-mapping';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { holdRouter, releaseRouter, routerRules, sendUdpFromInternet, startMiniupnpd, stopMiniupnpd } from '../../scripts/lab/router';
import { connectToLab } from '../support/ssh';

const lab = inject('lab');
const r = lab.router;
let conn: SshConnection;
// Random ports: other WireGuard tests on this machine bind 5182x on every address, and a listener of a killed run may linger.
const BASE = 52_000 + Math.floor(Math.random() * 2_000) * 4;

/** Whether a random payload sent from the internet to the router's WAN port reaches the server on `port`. */
async function delivered(port: number, waitMs = 2_000): Promise<boolean> {
  const payload = `m2-${randomBytes(12).toString('hex')}`;
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, r.serverIp, () => resolve());
  });
  try {
    const got = new Promise<boolean>((resolve) => {
      sock.on('message', (m) => {
        if (m.toString() === payload) resolve(true);
      });
      setTimeout(() => resolve(false), waitMs);
    });
    // Three datagrams a little apart: one lost to a first ARP resolution must not fail the proof.
    for (let i = 0; i < 3; i++) {
      await sendUdpFromInternet(r.routerWanIp, port, payload);
      await new Promise((res) => setTimeout(res, 100));
    }
    return await got;
  } finally {
    sock.close();
  }
}

/** The router's own list, read with the real tool on the server (not through PortMapper's parser). */
async function upnpRows(port: number): Promise<string[]> {
  const out = await conn.exec(['upnpc', '-u', r.rootDescUrl, '-l']);
  return out.stdout.split('\n').filter((l) => new RegExp(`^\\s*\\d+\\s+UDP\\s+${port}->`).test(l));
}

const dnatFor = async (port: number): Promise<boolean> => new RegExp(`dport ${port} dnat ip to ${r.serverIp.replace(/\./g, '\\.')}:${port}`).test(await routerRules());

beforeAll(async () => {
  // Another run's lab setup would otherwise restart miniupnpd while a test has it stopped or NAT-PMP only.
  holdRouter();
  await startMiniupnpd();
  conn = await connectToLab(lab.ssh);
});

afterAll(async () => {
  await conn?.close();
  // Leave the router as the lab expects it: both protocols, a clean ruleset.
  try {
    await startMiniupnpd();
  } finally {
    releaseRouter();
  }
});

describe('PortMapper against a real router (miniupnpd, nftables)', () => {
  it('finds UPnP and NAT-PMP, the router’s internet address and the server’s LAN address from the router’s address alone', async () => {
    const d = await new PortMapper({ conn, router: r.routerLanIp }).discover();
    expect(d).toMatchObject({ upnp: true, natpmp: true, externalIp: r.externalIp, lanIp: r.serverIp, router: r.routerLanIp, cgnat: false, tools: { upnpc: true, natpmpc: true } });
    expect(d.rootDescUrl).toBe(r.rootDescUrl);
    expect(d.detail).toContain('UPnP and NAT-PMP');
  });

  it('maps a UDP port over UPnP so a packet from the internet reaches the server, once however often it is asked, and unmaps it', async () => {
    const port = BASE;
    const mapper = new PortMapper({ conn, router: r.routerLanIp });
    expect(await delivered(port, 1_000)).toBe(false);

    const m = await mapper.map(port, { description: 'M2 WireGuard' });
    expect(m).toEqual({ kind: 'upnp', externalPort: port, externalIp: r.externalIp, router: r.routerLanIp });
    expect(await delivered(port)).toBe(true);

    await expect(mapper.map(port, { description: 'M2 WireGuard' })).resolves.toEqual(m);
    expect(await upnpRows(port)).toHaveLength(1);
    expect(await mapper.isMapped(port)).toBe(true);
    expect(await mapper.list()).toContainEqual({ externalPort: port, protocol: 'UDP', internalIp: r.serverIp, internalPort: port, description: 'M2 WireGuard' });
    expect(await dnatFor(port)).toBe(true);

    await mapper.unmap(m);
    expect(await dnatFor(port)).toBe(false);
    expect(await upnpRows(port)).toHaveLength(0);
    expect(await mapper.isMapped(port)).toBe(false);
    expect(await delivered(port)).toBe(false);
    // A mapping that is already gone unmaps without complaint.
    await expect(mapper.unmap(m)).resolves.toBeUndefined();
  });

  it('maps over NAT-PMP when the router does not speak UPnP', async () => {
    await startMiniupnpd({ upnp: false });
    const port = BASE + 1;
    const mapper = new PortMapper({ conn, router: r.routerLanIp });
    const d = await mapper.discover();
    expect(d).toMatchObject({ upnp: false, natpmp: true, externalIp: r.externalIp });

    const m = await mapper.map(port, { description: 'M2 WireGuard', lifetimeSeconds: 600 });
    expect(m).toEqual({ kind: 'nat-pmp', externalPort: port, externalIp: r.externalIp, lifetimeSeconds: 600 });
    expect(await dnatFor(port)).toBe(true);
    expect(await delivered(port)).toBe(true);

    await mapper.unmap(m);
    expect(await dnatFor(port)).toBe(false);
    expect(await delivered(port)).toBe(false);
  });

  it('answers manual, naming the port and the server’s LAN address, within a bounded time when no router answers', async () => {
    await stopMiniupnpd();
    const mapper = new PortMapper({ conn, router: r.routerLanIp });
    const t0 = performance.now();
    const port = BASE + 2;
    const m = await mapper.map(port, { description: 'M2 WireGuard' });
    const ms = performance.now() - t0;
    expect(m.kind).toBe('manual');
    if (m.kind !== 'manual') return;
    expect(m.externalPort).toBe(port);
    expect(m.instructions).toContain(`Forward UDP port ${port} by hand`);
    expect(m.instructions).toContain(`${r.serverIp}, port ${port}`);
    expect(m.instructions).toContain('No router answered UPnP or NAT-PMP');
    expect(ms).toBeLessThan(20_000);
  });
});
