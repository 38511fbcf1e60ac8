import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FallbackProgress, FallbackView, LaptopTunnel, PortMapping } from '../../contract/fallback';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { MemorySecretStore } from '../secrets/keychain';
import type { Secret } from '../secrets/secret';
import { createFallbackStore } from './fallback-store';
import { FallbackService, laptopTunnelName, type FallbackServiceDeps, type LaptopTunnelPort, type PortMapperPort, type ServerWireGuardPort, type StackFacts } from './fallback-service';
import type { parseWgShowDump } from './wg-config';

const P = 'home';
const hooks = (config: string, key: 'PostUp' | 'PostDown'): string[] =>
  config
    .split('\n')
    .filter((l) => l.startsWith(`${key} = `))
    .map((l) => l.slice(key.length + 3));

/** The server's interface as the service sees it: up or down, the last config written, and failures to inject. */
class FakeServerWg implements ServerWireGuardPort {
  up_ = false;
  config = '';
  syncs = 0;
  running = true;
  failUp: AppError | undefined;
  calls: string[] = [];
  async writeConfig(content: string): Promise<void> {
    this.calls.push('write');
    this.config = content;
  }
  async up(): Promise<void> {
    this.calls.push('up');
    if (this.failUp) throw this.failUp;
    this.up_ = true;
    this.rules = hooks(this.config, 'PostUp');
  }
  async down(): Promise<void> {
    this.calls.push('down');
    this.up_ = false;
    this.rules = [];
  }
  /** The firewall lines in force: the config's PostUp, as `wg-quick up` and the rules replay leave them. */
  rules: string[] = [];
  forwarding = true;
  async applyRules(): Promise<void> {
    this.calls.push('rules');
    if (this.up_) this.rules = hooks(this.config, 'PostUp');
  }
  async ipForwarding(): Promise<boolean> {
    return this.forwarding;
  }
  async sync(): Promise<void> {
    this.calls.push('sync');
    if (this.up_) this.syncs++;
  }
  async isUp(): Promise<boolean> {
    return this.up_;
  }
  /** What `wg show` reports while up: the peers with their endpoints and handshakes, set by a test. */
  peers: NonNullable<ReturnType<typeof parseWgShowDump>>['peers'] = [];
  async show(): Promise<ReturnType<typeof parseWgShowDump>> {
    return this.up_ ? { publicKey: 'server', listenPort: 51820, peers: this.peers } : null;
  }
  async containerRunning(): Promise<boolean> {
    return this.running;
  }
}

class FakeMapper implements PortMapperPort {
  mapped: PortMapping[] = [];
  unmapped = 0;
  router: 'upnp' | 'none' = 'upnp';
  async discover(): Promise<Awaited<ReturnType<PortMapperPort['discover']>>> {
    return { upnp: this.router === 'upnp', natpmp: false, externalIp: '198.51.100.7', lanIp: '192.168.1.20', router: '192.168.1.1', cgnat: false, detail: '' };
  }
  async map(port: number): Promise<PortMapping> {
    if (this.router === 'none') throw new AppError('fallback.port-mapping', 'The router answers neither UPnP nor NAT-PMP.');
    const m: PortMapping = { kind: 'upnp', externalPort: port, externalIp: '198.51.100.7', router: '192.168.1.1' };
    this.mapped.push(m);
    return m;
  }
  async unmap(): Promise<void> {
    this.unmapped++;
  }
}

class FakeLaptop implements LaptopTunnelPort {
  configs: string[] = [];
  async detect(): Promise<LaptopTunnel['method']> {
    return 'wg-quick';
  }
  async up(_name: string, config: Secret): Promise<LaptopTunnel> {
    this.configs.push(config.reveal());
    return { method: 'wg-quick', state: 'up', detail: 'Up with wg-quick.', sshOverWireguard: false };
  }
  async down(): Promise<LaptopTunnel> {
    return { method: 'wg-quick', state: 'down', detail: 'Down.', sshOverWireguard: false };
  }
}

let dir: string;
let wg: FakeServerWg;
let mapper: FakeMapper;
let laptop: FakeLaptop;
let secrets: MemorySecretStore;
let progress: FallbackProgress[];
let changes: FallbackView[];
let facts: StackFacts;
let connected: boolean;
let routes: Array<{ host: string; port: number } | null>;

/** The service over this test's fakes; `changes` replaces or drops (with undefined) any dependency. */
const service = (changes_: Partial<FallbackServiceDeps> = {}): FallbackService => {
  const deps: FallbackServiceDeps = {
    store: createFallbackStore(dir),
    secrets,
    connection: () => {
      if (!connected) throw new AppError('server.not-connected', 'Not connected to this server.');
      return { target: { host: '192.168.1.20', port: 22 } };
    },
    stackFacts: async () => facts,
    serverWireGuard: () => wg,
    portMapper: () => mapper,
    publicIp: async () => '198.51.100.7',
    laptop,
    routeSsh: async (_p, via) => {
      routes.push(via);
      return true;
    },
    log: silentLogger,
    onProgress: (p) => progress.push(p),
    onChanged: (v) => changes.push(v),
  };
  return new FallbackService({ ...deps, ...changes_ });
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'm2-fallback-'));
  wg = new FakeServerWg();
  mapper = new FakeMapper();
  laptop = new FakeLaptop();
  secrets = new MemorySecretStore();
  progress = [];
  changes = [];
  facts = { installed: true, wireguardEnabled: true, port: 51820, jellyfinPort: 8096 };
  connected = true;
  routes = [];
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('this computer’s tunnel name', () => {
  it('is a valid interface name, and servers whose ids start alike never share one', () => {
    const a = laptopTunnelName('home-server-upstairs');
    const b = laptopTunnelName('home-server-downstairs');
    for (const n of [a, b, laptopTunnelName('x'), laptopTunnelName('a'.repeat(64))]) expect(n).toMatch(/^[a-zA-Z0-9_=+.-]{1,15}$/);
    expect(a).not.toBe(b);
    expect(a).toBe(laptopTunnelName('home-server-upstairs'));
    expect(a.startsWith('m2-home-se')).toBe(true);
  });
});

describe('the fallback switch', () => {
  it('is not ready until the wireguard module is installed, and says what to do', async () => {
    facts = { ...facts, wireguardEnabled: false };
    const s = service();
    const v = await s.view(P);
    expect(v.ready).toBe(false);
    expect(v.notReadyReason).toMatch(/Turn on WireGuard in Services/);
    await expect(s.switch(P, true)).rejects.toMatchObject({ code: 'fallback.switch-failed' });
    expect(wg.calls).toEqual([]);
    expect((await s.view(P)).mode.kind).toBe('failed');
  });

  it('turns on: keys made, config written before the interface comes up, router port mapped, endpoint seen', async () => {
    const s = service();
    const v = await s.switch(P, true);
    expect(v.mode).toMatchObject({ kind: 'on', mapping: { kind: 'upnp', externalPort: 51820 } });
    expect(wg.calls).toEqual(['write', 'up']);
    expect(wg.up_).toBe(true);
    expect(wg.config).toMatch(/^\[Interface\]/m);
    expect(wg.config).toContain('Address = 10.13.13.1/24');
    expect(wg.config).toContain('ListenPort = 51820');
    // This computer is the first device, at .2, reaching only the server.
    expect(v.devices).toHaveLength(1);
    expect(v.devices[0]).toMatchObject({ kind: 'laptop', address: '10.13.13.2', allowedIps: ['10.13.13.1/32'] });
    expect(v.endpoint.lastKnownIp).toBe('198.51.100.7');
    expect(v.services).toContainEqual({ service: 'Jellyfin', url: 'http://10.13.13.1:8096' });
    // The router and the public address are asked while the config is written and the endpoint opens.
    const done = progress.filter((p) => p.state === 'done').map((p) => p.step);
    expect(done.slice(0, 2)).toEqual(['Check the server', 'Keys']);
    expect([...done.slice(2)].sort()).toEqual(['Endpoint address', 'Map the router port', 'Open the endpoint', 'Write the WireGuard config']);
    expect(done.indexOf('Write the WireGuard config')).toBeLessThan(done.indexOf('Open the endpoint'));
    const started = progress.filter((p) => p.state === 'running').map((p) => p.step);
    expect(started.indexOf('Map the router port')).toBeLessThan(started.indexOf('Open the endpoint'));
    // The server's private key is in the keychain and in the server's config only; the view never holds it.
    const key = await secrets.get(P, 'fallback.server-key');
    expect(key).toBeDefined();
    expect(wg.config).toContain(key?.reveal());
    expect(JSON.stringify(v)).not.toContain(key?.reveal());
    expect(await readFile(path.join(dir, `${P}.json`), 'utf8')).not.toContain(key?.reveal());
  });

  it('asked twice changes nothing twice: one config, one up, one mapping, one laptop device', async () => {
    const s = service();
    const [a, b] = await Promise.all([s.switch(P, true), s.switch(P, true)]);
    expect(a).toBe(b);
    await s.switch(P, true);
    expect(wg.calls.filter((c) => c === 'up')).toHaveLength(1);
    expect(mapper.mapped).toHaveLength(1);
    expect((await s.view(P)).devices).toHaveLength(1);
  });

  it('refuses to switch the other way while a switch runs', async () => {
    const s = service();
    const on = s.switch(P, true);
    await expect(s.switch(P, false)).rejects.toMatchObject({ code: 'fallback.busy' });
    await on;
  });

  it('fails closed: an interface that cannot come up leaves nothing open, and a retry finishes the job', async () => {
    wg.failUp = new AppError('stack.remote-failed', 'wg-quick up failed on the server.');
    const s = service();
    await expect(s.switch(P, true)).rejects.toMatchObject({ code: 'fallback.switch-failed', userMessage: 'wg-quick up failed on the server.' });
    expect(wg.up_).toBe(false);
    expect(wg.calls.at(-1)).toBe('down');
    // The router was asked at the same time; its mapping is taken away again.
    expect(mapper.unmapped).toBe(mapper.mapped.length);
    const failed = await s.view(P);
    expect(failed.mode).toMatchObject({ kind: 'failed', to: 'on' });
    wg.failUp = undefined;
    expect((await s.switch(P, true)).mode.kind).toBe('on');
    expect((await s.view(P)).devices).toHaveLength(1);
  });

  it('fails closed when the router step fails for another reason (the connection cut): the endpoint opened meanwhile is closed', async () => {
    const cut = new AppError('ssh.disconnected', 'The connection to the server was lost.');
    mapper.map = async () => {
      // Slower than the endpoint: the interface is up by the time the router step fails.
      await new Promise((r) => setTimeout(r, 50));
      throw cut;
    };
    const s = service();
    await expect(s.switch(P, true)).rejects.toMatchObject({ code: 'fallback.switch-failed', userMessage: 'The connection to the server was lost.' });
    expect(wg.calls).toContain('up');
    expect(wg.calls.at(-1)).toBe('down');
    expect(wg.up_).toBe(false);
    expect((await s.view(P)).mode).toMatchObject({ kind: 'failed', to: 'on' });
  });

  it('Nextcloud answers at the tunnel address: told while the endpoint opens, listed for the household', async () => {
    facts = { ...facts, nextcloudPort: 8080 };
    const told: string[] = [];
    const v = await service({
      trustTunnelAddress: async (_p, _c, address) => {
        told.push(address);
        return `Nextcloud now trusts ${address}.`;
      },
    }).switch(P, true);
    expect(told).toEqual(['10.13.13.1']);
    expect(progress.find((p) => p.step === 'Services at the tunnel address' && p.state === 'done')?.detail).toBe('Nextcloud now trusts 10.13.13.1.');
    expect(v.services).toContainEqual({ service: 'Nextcloud', url: 'http://10.13.13.1:8080' });
  });

  it('a Nextcloud that cannot be told does not keep the endpoint shut; its step says why', async () => {
    facts = { ...facts, nextcloudPort: 8080 };
    const v = await service({
      trustTunnelAddress: async () => {
        throw new AppError('stack.configure-failed', 'Nextcloud: its container is not running.');
      },
    }).switch(P, true);
    expect(v.mode.kind).toBe('on');
    expect(progress.find((p) => p.step === 'Services at the tunnel address' && p.state === 'failed')?.detail).toBe('Nextcloud: its container is not running.');
  });

  it('without Nextcloud at the tunnel address, nothing is asked of it', async () => {
    let asked = false;
    await service({
      trustTunnelAddress: async () => {
        asked = true;
        return '';
      },
    }).switch(P, true);
    expect(asked).toBe(false);
    expect(progress.some((p) => p.step === 'Services at the tunnel address')).toBe(false);
  });

  it('says the forwarded port works only once the server saw a device connect from outside the home', async () => {
    mapper.router = 'none';
    const s = service();
    await s.switch(P, true);
    const phone = (await s.addDevice(P, 'Anna’s phone')).devices.find((d) => d.name === 'Anna’s phone');
    const laptop = (await s.view(P)).devices.find((d) => d.kind === 'laptop');
    expect((await s.view(P)).endpoint.reachedFromOutside).toBeNull();
    const now = Math.floor(Date.now() / 1000);
    const peer = (publicKey: string, endpoint: string | null, latestHandshake: number) => ({ publicKey, endpoint, allowedIps: [], latestHandshake, rxBytes: 1, txBytes: 1, persistentKeepalive: null });
    // At home (the server's own /24, through the router's hairpin), from the tunnel, over IPv6, or before the switch: no proof.
    wg.peers = [
      peer(phone?.publicKey ?? '', '192.168.1.1:40000', now),
      peer(laptop?.publicKey ?? '', '10.13.13.9:40000', now),
      peer(phone?.publicKey ?? '', '[2001:db8::1]:40000', now),
      peer(laptop?.publicKey ?? '', '198.51.100.20:40000', now - 3600),
    ];
    expect((await s.view(P)).endpoint.reachedFromOutside).toBeNull();
    // The phone on mobile data: the port forwarded by hand works, and the page can say who proved it and when.
    wg.peers = [peer(phone?.publicKey ?? '', '198.51.100.20:40000', now)];
    expect((await s.view(P)).endpoint.reachedFromOutside).toEqual({ device: 'Anna’s phone', from: '198.51.100.20', at: new Date(now * 1000).toISOString() });
  });

  it('a router without UPnP or NAT-PMP: on, with the exact port to forward by hand', async () => {
    mapper.router = 'none';
    const v = await service().switch(P, true);
    expect(v.mode).toMatchObject({ kind: 'on', mapping: { kind: 'manual', externalPort: 51820 } });
    expect(v.mode.kind === 'on' && v.mode.mapping.kind === 'manual' ? v.mode.mapping.instructions : '').toMatch(/Forward UDP port 51820/);
  });

  it('turns off: the router mapping removed, the interface down, this computer’s tunnel down', async () => {
    const s = service();
    await s.switch(P, true);
    await s.laptopTunnel(P, true);
    const v = await s.switch(P, false);
    expect(v.mode.kind).toBe('off');
    expect(mapper.unmapped).toBe(1);
    expect(wg.up_).toBe(false);
    expect(v.laptop.state).toBe('down');
    expect(routes.at(-1)).toBeNull();
    // Off again: nothing to do.
    await s.switch(P, false);
    expect(mapper.unmapped).toBe(1);
  });

  it('moves this computer’s SSH back to the usual path before closing the endpoint it runs through, or stays on and says why', async () => {
    const s = service();
    await s.switch(P, true);
    await s.laptopTunnel(P, true);
    let usualPath = false;
    const order: string[] = [];
    const original = wg.down.bind(wg);
    wg.down = async () => {
      order.push('endpoint down');
      await original();
    };
    const blocked = service({
      routeSsh: async (_p, via) => {
        order.push(via ? 'ssh to tunnel' : 'ssh back');
        return via ? true : usualPath;
      },
    });
    await blocked.laptopTunnel(P, true);
    await expect(blocked.switch(P, false)).rejects.toMatchObject({ userMessage: expect.stringMatching(/only through the fallback/) as string });
    expect(wg.up_).toBe(true);
    expect(order).toEqual(['ssh to tunnel', 'ssh back']);
    usualPath = true;
    expect((await blocked.switch(P, false)).mode.kind).toBe('off');
    expect(order).toEqual(['ssh to tunnel', 'ssh back', 'ssh back', 'endpoint down']);
  });

  it('a cut connection during switch-off says so, and switching off again finishes', async () => {
    const s = service();
    await s.switch(P, true);
    connected = false;
    await expect(s.switch(P, false)).rejects.toMatchObject({ code: 'fallback.switch-failed' });
    connected = true;
    expect((await s.switch(P, false)).mode.kind).toBe('off');
    expect(wg.up_).toBe(false);
  });
});

describe('an outage', () => {
  const outage = (kind: 'healthy' | 'cloudflare-outage' | 'tunnel-broken'): Parameters<FallbackService['onOutage']>[1] => ({
    kind,
    since: new Date().toISOString(),
    reason: kind,
    evidence: [],
    probes: [],
    serverReachable: true,
    checkedAt: null,
  });

  it('never switches on by itself unless the admin opted in, and then once', async () => {
    const s = service();
    await s.onOutage(P, outage('cloudflare-outage'));
    expect(wg.up_).toBe(false);
    const base = (await s.view(P)).settings;
    await s.saveSettings(P, { ...base, autoSwitch: true });
    await s.onOutage(P, outage('healthy'));
    expect(wg.up_).toBe(false);
    await Promise.all([s.onOutage(P, outage('tunnel-broken')), s.onOutage(P, outage('tunnel-broken'))]);
    expect(wg.up_).toBe(true);
    expect(wg.calls.filter((c) => c === 'up')).toHaveLength(1);
    // Healthy again: it says so (the view carries the state) and leaves switching back to the admin.
    await s.onOutage(P, outage('healthy'));
    expect(wg.up_).toBe(true);
  });
});

describe('the router mapping while on', () => {
  it('is asked again before it expires, never duplicated, and no longer once off', async () => {
    const s = service({ renewMappingMs: 40 });
    await s.switch(P, true);
    await new Promise((r) => setTimeout(r, 150));
    const renewed = mapper.mapped.length;
    expect(renewed).toBeGreaterThanOrEqual(2);
    expect(new Set(mapper.mapped.map((m) => (m.kind === 'upnp' ? m.externalPort : 0)))).toEqual(new Set([51820]));
    await s.switch(P, false);
    await new Promise((r) => setTimeout(r, 150));
    expect(mapper.mapped.length).toBeLessThanOrEqual(renewed + 1);
    const settled = mapper.mapped.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(mapper.mapped.length).toBe(settled);
    s.stop();
  }, 10_000);
});

describe('the switch and stack applies', () => {
  it('reopens the endpoint after an apply recreated the container while the fallback was on, and leaves it shut while off', async () => {
    const s = service();
    await s.afterApply(P);
    expect(wg.calls).toEqual([]);
    await s.switch(P, true);
    // The recreated container took the interface down on its way out.
    wg.up_ = false;
    wg.calls = [];
    await s.afterApply(P);
    expect(wg.calls).toEqual(['write', 'up']);
    expect(wg.up_).toBe(true);
    wg.calls = [];
    await s.afterApply(P);
    expect(wg.calls).toEqual([]);
  });
});

describe('fallback settings', () => {
  it('keeps the endpoint name inside the admin’s Cloudflare zone, naming the field, and saves nothing otherwise', async () => {
    const s = service({ zoneName: async () => 'example.com' });
    const base = (await s.view(P)).settings;
    await expect(s.saveSettings(P, { ...base, endpointName: 'home.example.org' })).rejects.toMatchObject({ code: 'fallback.invalid', field: 'endpointName' });
    expect((await s.view(P)).settings.endpointName).toBe('');
    expect((await s.saveSettings(P, { ...base, endpointName: 'home.example.com' })).settings.endpointName).toBe('home.example.com');
    expect((await s.saveSettings(P, { ...base, endpointName: '198.51.100.7' })).settings.endpointName).toBe('198.51.100.7');
  });
});

describe('letting devices reach the home network', () => {
  it('refuses a bad or hostile range naming the field, and saves nothing', async () => {
    const s = service();
    const base = (await s.view(P)).settings;
    for (const lanCidr of ['', '192.168.1.0/24; reboot', '$(reboot)/24', '8.8.8.0/24', '192.168.1.7/24', '10.13.13.0/24', '10.0.0.0/8', '192.168.1.0/24\n-j ACCEPT']) {
      await expect(s.saveSettings(P, { ...base, allowLan: true, lanCidr })).rejects.toMatchObject({ code: 'fallback.invalid', field: 'lanCidr', userMessage: expect.stringMatching(/^Home network: /) });
    }
    expect((await s.view(P)).settings).toMatchObject({ allowLan: false, lanCidr: '' });
    expect(wg.calls).toEqual([]);
  });

  it('on: devices route the range, the server config forwards and masquerades it, and a switch-on checks IP forwarding', async () => {
    const s = service();
    const base = (await s.view(P)).settings;
    await s.saveSettings(P, { ...base, allowLan: true, lanCidr: '192.168.1.0/24' });
    const v = await s.switch(P, true);
    // This computer keeps reaching the server only: the range is for household devices.
    expect(v.devices[0]?.allowedIps).toEqual(['10.13.13.1/32']);
    expect(wg.rules.join('\n')).toContain('iptables -t nat -A M2-FALLBACK-LAN -s 10.13.13.0/24 -d 192.168.1.0/24 -j MASQUERADE');
    expect(wg.rules.join('\n')).toContain('iptables -A M2-FALLBACK-LAN -i %i -s 10.13.13.0/24 -d 192.168.1.0/24 -j ACCEPT');
    expect(progress.find((p) => p.step === 'Home network' && p.state === 'done')?.detail).toMatch(/Devices reach 192\.168\.1\.0\/24/);
    expect(v.lanWarning).toBeNull();
    // A device added now gets the range too, in its config.
    const phone = (await s.addDevice(P, 'Phone')).devices[1];
    expect(phone?.allowedIps).toEqual(['10.13.13.1/32', '192.168.1.0/24']);
    expect((await s.deviceConfig(P, phone?.id ?? '')).config).toContain('AllowedIPs = 10.13.13.1/32, 192.168.1.0/24');
  });

  it('with IP forwarding off, the endpoint still opens and the page says what to run on the server', async () => {
    wg.forwarding = false;
    const s = service();
    const base = (await s.view(P)).settings;
    await s.saveSettings(P, { ...base, allowLan: true, lanCidr: '192.168.1.0/24' });
    const v = await s.switch(P, true);
    expect(v.mode.kind).toBe('on');
    expect(progress.find((p) => p.step === 'Home network' && p.state === 'failed')?.detail).toMatch(/IP forwarding is off.*sudo sysctl -w net\.ipv4\.ip_forward=1/);
    expect(v.lanWarning).toMatch(/IP forwarding is off/);
    // Turned on meanwhile, the next save checks again and the warning goes.
    wg.forwarding = true;
    const again = await s.saveSettings(P, { ...v.settings, lanCidr: '192.168.0.0/16' });
    expect(again.lanWarning).toBeNull();
  });

  it('turned off while on: the rules are removed at once; saving the same again changes nothing twice', async () => {
    const s = service();
    const base = (await s.view(P)).settings;
    await s.saveSettings(P, { ...base, allowLan: true, lanCidr: '192.168.1.0/24' });
    await s.switch(P, true);
    expect((await s.addDevice(P, 'Phone')).devices[1]?.allowedIps).toEqual(['10.13.13.1/32', '192.168.1.0/24']);
    expect(wg.rules.length).toBeGreaterThan(0);
    wg.calls = [];
    const off = await s.saveSettings(P, { ...base, allowLan: false, lanCidr: '192.168.1.0/24' });
    expect(wg.calls).toEqual(['write', 'sync', 'rules']);
    // PostUp is the cleanup alone now (every line removes, `|| true`): nothing of the option is added.
    expect(wg.rules.filter((l) => !l.endsWith(' || true'))).toEqual([]);
    // The config keeps only the PostDown that removes the rules, so a later close cleans up whatever is there.
    expect(hooks(wg.config, 'PostDown').join('\n')).toContain('iptables -t nat -X M2-FALLBACK-LAN');
    expect(off.devices[1]?.allowedIps).toEqual(['10.13.13.1/32']);
    wg.calls = [];
    await s.saveSettings(P, off.settings);
    expect(wg.calls).toEqual(['write', 'sync']);
  });

  it('a failed open names the option when the firewall refused its rules, and nothing stays open', async () => {
    wg.failUp = new AppError('fallback.switch-failed', 'Turning the WireGuard endpoint on failed on the server: iptables: No chain/target/match by that name.', { hint: 'Check that the WireGuard container runs.' });
    const s = service();
    const base = (await s.view(P)).settings;
    await s.saveSettings(P, { ...base, allowLan: true, lanCidr: '192.168.1.0/24' });
    await expect(s.switch(P, true)).rejects.toMatchObject({ hint: expect.stringMatching(/turn “Let devices reach the home network” off/) });
    expect(wg.up_).toBe(false);
    expect(wg.calls).toContain('down');
  });
});

describe('what the tunnel does not carry', () => {
  it('says that sign-in with Authentik waits for Cloudflare when Authentik is installed, and nothing otherwise', async () => {
    expect((await service().view(P)).unavailable).toEqual([]);
    facts = { ...facts, authentikHost: 'auth.example.com' };
    const [u] = (await service().view(P)).unavailable;
    expect(u?.service).toBe('Sign-in with Authentik');
    expect(u?.reason).toMatch(/auth\.example\.com is reached only through Cloudflare/);
    expect(u?.reason).toMatch(/Jellyfin answers at its address above with its own sign-in page\.$/);
    facts = { ...facts, nextcloudPort: 8080 };
    expect((await service().view(P)).unavailable[0]?.reason).toMatch(/Jellyfin and Nextcloud answer at their addresses above/);
  });
});

describe('household devices', () => {
  it('adds a device without restarting anything: config rewritten and synced while on', async () => {
    const s = service();
    await s.switch(P, true);
    const v = await s.addDevice(P, 'Anna’s phone');
    expect(v.devices.map((d) => [d.name, d.address])).toEqual([
      ['This computer', '10.13.13.2'],
      ['Anna’s phone', '10.13.13.3'],
    ]);
    expect(wg.syncs).toBe(1);
    expect(wg.calls.filter((c) => c === 'up')).toHaveLength(1);
    const anna = v.devices[1];
    expect(wg.config).toContain(anna?.publicKey);
  });

  it('refuses a duplicate name, in any case or width, naming the field', async () => {
    const s = service();
    await s.addDevice(P, 'Tablet');
    await expect(s.addDevice(P, '  TABLET ')).rejects.toMatchObject({ code: 'fallback.duplicate', field: 'name' });
    await expect(s.addDevice(P, 'this computer')).rejects.toMatchObject({ code: 'fallback.duplicate' });
    expect((await s.view(P)).devices).toHaveLength(1);
  });

  it('keeps a hostile name as text only: it never reaches the server config outside a comment', async () => {
    const s = service();
    await s.switch(P, true);
    const name = 'x\n[Peer]\nPublicKey = $(reboot)';
    // Control characters are refused by the contract; the service keeps what reaches it as a name, never as config.
    const v = await s.addDevice(P, name.replace(/\n/g, ' '));
    const lines = wg.config.split('\n');
    expect(lines.filter((l) => l.startsWith('[Peer]'))).toHaveLength(2);
    expect(lines.filter((l) => /^PublicKey/.test(l))).toHaveLength(2);
    expect(v.devices[1]?.name).toBe('x [Peer] PublicKey = $(reboot)');
  });

  it('reveals a device config only through deviceConfig: endpoint, its key, the server only, and a QR code', async () => {
    const s = service();
    await s.switch(P, true);
    const v = await s.addDevice(P, 'Phone');
    const phone = v.devices.find((d) => d.name === 'Phone');
    if (!phone) throw new Error('no phone');
    const c = await s.deviceConfig(P, phone.id);
    const key = await secrets.get(P, `fallback.device.${phone.id}.key`);
    expect(c.config).toContain(`PrivateKey = ${key?.reveal()}`);
    expect(c.config).toContain('Endpoint = 198.51.100.7:51820');
    expect(c.config).toContain('AllowedIPs = 10.13.13.1/32');
    expect(c.config).toContain('Address = 10.13.13.3/32');
    expect(c.qrSvgDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(c.fileName).toMatch(/^[A-Za-z0-9_=+.-]{1,15}\.conf$/);
    // No event carried it.
    expect(JSON.stringify(changes)).not.toContain(key?.reveal());
  });

  it('revokes a device: gone from the server config (synced), the list and the keychain', async () => {
    const s = service();
    await s.switch(P, true);
    const v = await s.addDevice(P, 'Phone');
    const phone = v.devices.find((d) => d.name === 'Phone');
    if (!phone) throw new Error('no phone');
    const after = await s.revokeDevice(P, phone.id);
    expect(after.devices.map((d) => d.name)).toEqual(['This computer']);
    expect(wg.config).not.toContain(phone.publicKey);
    expect(wg.syncs).toBe(2);
    expect(await secrets.get(P, `fallback.device.${phone.id}.key`)).toBeUndefined();
    await expect(s.revokeDevice(P, phone.id)).rejects.toMatchObject({ code: 'fallback.not-found' });
  });

  it('a device the server could not take is not left half-added', async () => {
    const s = service();
    await s.switch(P, true);
    connected = false;
    await expect(s.addDevice(P, 'Phone')).rejects.toMatchObject({ code: 'server.not-connected' });
    connected = true;
    expect((await s.view(P)).devices.map((d) => d.name)).toEqual(['This computer']);
    expect((await s.addDevice(P, 'Phone')).devices).toHaveLength(2);
  });

  it('a device config needs to know where home is', async () => {
    const s = service({ publicIp: undefined });
    await s.switch(P, true);
    const v = await s.addDevice(P, 'Phone');
    const id = v.devices[1]?.id ?? '';
    await expect(s.deviceConfig(P, id)).rejects.toMatchObject({ code: 'fallback.not-ready', field: 'endpointName' });
  });
});

describe('this computer', () => {
  it('brings its tunnel up with its own config and moves SSH onto the server’s tunnel address', async () => {
    const s = service();
    await s.switch(P, true);
    const v = await s.laptopTunnel(P, true);
    expect(v.laptop).toMatchObject({ state: 'up', sshOverWireguard: true });
    expect(laptop.configs[0]).toContain('Address = 10.13.13.2/32');
    expect(routes).toEqual([{ host: '10.13.13.1', port: 0 }]);
  });

  it('refuses to bring the tunnel up while the fallback is off', async () => {
    await expect(service().laptopTunnel(P, true)).rejects.toMatchObject({ code: 'fallback.not-ready' });
  });
});
