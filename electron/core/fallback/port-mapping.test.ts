import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';
import type { CommandRunner, ExecResult } from '../ssh/runner';
import {
  classifyExternalIp,
  manualInstructions,
  natWarning,
  parseDefaultRoute,
  parseNatpmp,
  parseRouteGet,
  parseUpnpAdd,
  parseUpnpDelete,
  parseUpnpList,
  parseUpnpStatus,
  PortMapper,
  portMapCommands,
} from './port-mapping';

/** Outputs recorded from upnpc 2.2.4 and natpmpc 20150609 against miniupnpd 2.3.1 (nftables) in the lab. */
const fx = (name: string): string => readFileSync(path.join(__dirname, 'fixtures', `${name}.txt`), 'utf8');

describe('port mapping commands', () => {
  it('bounds every router call with timeout and passes data as separate arguments', () => {
    expect(portMapCommands.upnpStatus({ multicastIf: 'eth0' })).toEqual(['timeout', '-k', '2', '12', 'upnpc', '-m', 'eth0', '-s']);
    expect(portMapCommands.upnpList({ rootDescUrl: 'http://10.0.0.1:5000/rootDesc.xml', multicastIf: 'eth0' })).toEqual([
      'timeout', '-k', '2', '12', 'upnpc', '-u', 'http://10.0.0.1:5000/rootDesc.xml', '-l',
    ]);
    expect(portMapCommands.upnpAdd({}, { lanIp: '192.168.1.20', port: 51820, description: 'M2 WireGuard', lifetimeSeconds: 3600 })).toEqual([
      'timeout', '-k', '2', '12', 'upnpc', '-e', 'M2 WireGuard', '-a', '192.168.1.20', '51820', '51820', 'UDP', '3600',
    ]);
    expect(portMapCommands.upnpDelete({ multicastIf: 'm2rr' }, 51820)).toEqual(['timeout', '-k', '2', '12', 'upnpc', '-m', 'm2rr', '-d', '51820', 'UDP']);
    expect(portMapCommands.natpmpPublicIp(null)).toEqual(['timeout', '-k', '2', '6', 'natpmpc']);
    expect(portMapCommands.natpmpMap('192.168.1.1', 51820, 0)).toEqual(['timeout', '-k', '2', '6', 'natpmpc', '-g', '192.168.1.1', '-a', '51820', '51820', 'udp', '0']);
    expect(portMapCommands.defaultRoute()).toEqual(['ip', '-4', 'route', 'show', 'default']);
    expect(portMapCommands.routeTo('10.213.82.1')).toEqual(['ip', '-4', '-o', 'route', 'get', '10.213.82.1']);
  });
});

describe('parsing the tools’ recorded output', () => {
  it('reads the IGD, this host’s LAN address and the external address from upnpc -s', () => {
    expect(parseUpnpStatus(fx('upnpc-s'))).toEqual({
      found: true,
      rootDescUrl: 'http://10.213.82.1:37895/rootDesc.xml',
      controlUrl: 'http://10.213.82.1:37895/ctl/IPConn',
      router: '10.213.82.1',
      lanIp: '10.213.82.2',
      externalIp: '203.0.114.7',
    });
  });

  it('sees no router when discovery finds none or the description URL refuses', () => {
    for (const f of ['upnpc-s-noigd', 'upnpc-s-noigd-url']) {
      expect(parseUpnpStatus(fx(f))).toMatchObject({ found: false, externalIp: null, lanIp: null });
    }
  });

  it('lists the router’s mappings from upnpc -l, UPnP and NAT-PMP ones alike', () => {
    expect(parseUpnpList(fx('upnpc-l-empty'))).toEqual([]);
    expect(parseUpnpList(fx('upnpc-l-one'))).toEqual([{ externalPort: 51830, protocol: 'UDP', internalIp: '10.213.82.2', internalPort: 51830, description: 'M2 WireGuard' }]);
    expect(parseUpnpList(fx('upnpc-l-natpmp'))).toEqual([
      { externalPort: 51833, protocol: 'UDP', internalIp: '10.213.82.2', internalPort: 51833, description: 'NAT-PMP 51833 udp' },
      { externalPort: 51830, protocol: 'UDP', internalIp: '10.213.82.2', internalPort: 51830, description: 'M2 WireGuard' },
    ]);
  });

  it('reads a redirection, and a refusal with its UPnP code (718 in secure mode for another address)', () => {
    expect(parseUpnpAdd(fx('upnpc-a-self'))).toEqual({ ok: true, externalIp: '203.0.114.7', externalPort: 51832, internalIp: '10.213.82.2', internalPort: 51832, durationSeconds: 3600 });
    expect(parseUpnpAdd(fx('upnpc-r'))).toMatchObject({ ok: true, externalPort: 51830, durationSeconds: 604800 });
    expect(parseUpnpAdd(fx('upnpc-a-other'))).toEqual({ ok: false, code: 718, reason: '718 ConflictInMappingEntry' });
    expect(parseUpnpAdd(fx('upnpc-s-noigd'))).toEqual({ ok: false, code: null, reason: 'no UPnP router answered' });
    expect(parseUpnpAdd('AddPortMapping(1, 1, 10.0.0.2) failed with code 501 (Action Failed)')).toEqual({ ok: false, code: 501, reason: '501 Action Failed' });
  });

  it('takes a delete of a missing mapping as done, and a missing answer as a failure', () => {
    expect(parseUpnpDelete(fx('upnpc-d'))).toEqual({ ok: true, code: 0 });
    expect(parseUpnpDelete(fx('upnpc-d-missing'))).toEqual({ ok: true, code: 0 });
    expect(parseUpnpDelete('UPNP_DeletePortMapping() returned : 714')).toEqual({ ok: true, code: 714 });
    expect(parseUpnpDelete('UPNP_DeletePortMapping() returned : 606')).toEqual({ ok: false, code: 606 });
    expect(parseUpnpDelete(fx('upnpc-s-noigd'))).toEqual({ ok: false, code: null });
  });

  it('reads natpmpc’s public address, mapping (lifetime 0 deletes) and failure', () => {
    expect(parseNatpmp(fx('natpmpc-public'))).toEqual({ publicIp: '203.0.114.7', mapped: null, failure: null });
    expect(parseNatpmp(fx('natpmpc-a'))).toEqual({ publicIp: '203.0.114.7', mapped: { publicPort: 51833, protocol: 'UDP', privatePort: 51833, lifetimeSeconds: 3600 }, failure: null });
    expect(parseNatpmp(fx('natpmpc-del')).mapped).toEqual({ publicPort: 0, protocol: 'UDP', privatePort: 51833, lifetimeSeconds: 0 });
    expect(parseNatpmp(fx('natpmpc-timeout'))).toEqual({ publicIp: null, mapped: null, failure: 'the gateway does not support nat-pmp' });
  });

  it('finds the router and this host’s address from ip route', () => {
    expect(parseDefaultRoute('default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.20 metric 100\n')).toEqual({ gateway: '192.168.1.1', dev: 'eth0' });
    expect(parseDefaultRoute('')).toBeNull();
    expect(parseRouteGet('10.213.82.1 dev m2rr src 10.213.82.2 uid 1001 \\    cache \n')).toEqual({ dev: 'm2rr', src: '10.213.82.2' });
  });
});

describe('CGNAT and double NAT', () => {
  it('classifies the router’s internet address', () => {
    expect(classifyExternalIp('100.64.0.1')).toBe('cgnat');
    expect(classifyExternalIp('100.127.255.254')).toBe('cgnat');
    expect(classifyExternalIp('100.128.0.1')).toBe('public');
    expect(classifyExternalIp('10.1.2.3')).toBe('private');
    expect(classifyExternalIp('172.16.0.1')).toBe('private');
    expect(classifyExternalIp('172.32.0.1')).toBe('public');
    expect(classifyExternalIp('192.168.0.1')).toBe('private');
    expect(classifyExternalIp('203.0.114.7')).toBe('public');
    expect(classifyExternalIp(null)).toBe('unknown');
  });

  it('warns in words that port forwarding cannot work', () => {
    expect(natWarning('100.70.1.2')).toMatch(/carrier-grade NAT.*port forwarding on this router cannot make the server reachable/);
    expect(natWarning('192.168.0.7')).toMatch(/double NAT/);
    expect(natWarning('203.0.114.7', '198.51.99.1')).toMatch(/another NAT sits in between/);
    expect(natWarning('203.0.114.7', '203.0.114.7')).toBeNull();
  });

  it('manual instructions name the UDP port and the server’s LAN address', () => {
    expect(manualInstructions(51820, '192.168.1.20', 'No router answered.')).toBe(
      'No router answered. Forward UDP port 51820 by hand: in your router\'s settings (usually "Port forwarding" or "Virtual server"), send UDP port 51820 from the internet to the server\'s address on your home network, 192.168.1.20, port 51820. Protocol UDP only; no TCP is needed.',
    );
  });
});

/** A server whose tools answer with recorded outputs; `calls` keeps every argv in order. */
function fakeServer(answer: (argv: Argv) => Partial<ExecResult>): CommandRunner & { calls: Argv[] } {
  const calls: Argv[] = [];
  return {
    calls,
    exec: async (argv) => {
      calls.push(argv);
      return { code: 0, stdout: '', stderr: '', ...answer(argv) };
    },
  };
}

const routes = (argv: Argv): Partial<ExecResult> | undefined => {
  if (argv[0] !== 'ip') return undefined;
  return argv.includes('default') ? { stdout: 'default via 10.213.82.1 dev m2rr\n' } : { stdout: '10.213.82.1 dev m2rr src 10.213.82.2 uid 1001 \\    cache\n' };
};

describe('PortMapper against recorded router answers', () => {
  it('maps over UPnP towards the router found from the default route, with the IGD URL it discovered', async () => {
    let listed = 'upnpc-l-empty';
    const conn = fakeServer((argv) => {
      const r = routes(argv);
      if (r) return r;
      if (argv.includes('-s')) return { stdout: fx('upnpc-s') };
      if (argv.includes('natpmpc')) return { stdout: fx('natpmpc-public') };
      if (argv.includes('-l')) return { stdout: fx(listed) };
      if (argv.includes('-a')) {
        listed = 'upnpc-l-one';
        return { stdout: fx('upnpc-r') };
      }
      return { code: 1 };
    });
    const mapper = new PortMapper({ conn });
    await expect(mapper.map(51830, { description: 'M2 WireGuard' })).resolves.toEqual({ kind: 'upnp', externalPort: 51830, externalIp: '203.0.114.7', router: '10.213.82.1' });
    expect(conn.calls).toContainEqual(['timeout', '-k', '2', '12', 'upnpc', '-m', 'm2rr', '-s']);
    expect(conn.calls).toContainEqual(['timeout', '-k', '2', '6', 'natpmpc', '-g', '10.213.82.1']);
    expect(conn.calls).toContainEqual([
      'timeout', '-k', '2', '12', 'upnpc', '-u', 'http://10.213.82.1:37895/rootDesc.xml', '-e', 'M2 WireGuard', '-a', '10.213.82.2', '51830', '51830', 'UDP', '86400',
    ]);
    await expect(mapper.isMapped(51830)).resolves.toBe(true);
  });

  it('asks the IGD it found directly next time, and discovers again when that stops answering', async () => {
    let up = true;
    const conn = fakeServer((argv) => {
      const r = routes(argv);
      if (r) return r;
      if (argv.includes('natpmpc')) return { stdout: fx('natpmpc-public') };
      if (argv.includes('-u')) return up ? { stdout: fx('upnpc-u-s') } : { code: 1, stdout: fx('upnpc-s-noigd-url') };
      return { stdout: fx('upnpc-s') };
    });
    const mapper = new PortMapper({ conn, router: '10.213.82.1' });
    const upnpCalls = (): Argv[] => conn.calls.filter((a) => a.includes('upnpc'));
    await mapper.discover();
    expect(upnpCalls().at(-1)).toEqual(['timeout', '-k', '2', '12', 'upnpc', '-m', 'm2rr', '-s']);
    const again = await mapper.discover();
    expect(upnpCalls().at(-1)).toEqual(['timeout', '-k', '2', '12', 'upnpc', '-u', 'http://10.213.82.1:37895/rootDesc.xml', '-s']);
    expect(again).toMatchObject({ upnp: true, externalIp: '203.0.114.7', lanIp: '10.213.82.2', rootDescUrl: 'http://10.213.82.1:37895/rootDesc.xml' });
    up = false;
    const n = upnpCalls().length;
    await mapper.discover();
    expect(upnpCalls().slice(n)).toEqual([
      ['timeout', '-k', '2', '12', 'upnpc', '-u', 'http://10.213.82.1:37895/rootDesc.xml', '-s'],
      ['timeout', '-k', '2', '12', 'upnpc', '-m', 'm2rr', '-s'],
    ]);
  });

  it('refuses a port the router already forwards to another device, naming the field', async () => {
    const other = fx('upnpc-l-one').replace("10.213.82.2:51830 'M2 WireGuard'", "10.213.82.9:51830 'Game console'");
    const conn = fakeServer((argv) => routes(argv) ?? (argv.includes('-s') ? { stdout: fx('upnpc-s') } : argv.includes('-l') ? { stdout: other } : { code: 1 }));
    const err = await new PortMapper({ conn }).map(51830, { description: 'M2 WireGuard' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).userMessage).toMatch(/^WireGuard port: the router already forwards UDP port 51830 to another device \(10\.213\.82\.9, "Game console"\)/);
    expect(conn.calls.some((a) => a.includes('-a'))).toBe(false);
  });

  it('falls back to NAT-PMP when UPnP refuses, and to manual words when both refuse', async () => {
    const conn = fakeServer(
      (argv) =>
        routes(argv) ??
        (argv.includes('-s') ? { stdout: fx('upnpc-s') } : argv.includes('-l') ? { stdout: fx('upnpc-l-empty') } : argv.includes('upnpc') ? { code: 2, stdout: fx('upnpc-a-other') } : { stdout: fx('natpmpc-a') }),
    );
    await expect(new PortMapper({ conn }).map(51833, { description: 'M2 WireGuard', lifetimeSeconds: 3600 })).resolves.toEqual({
      kind: 'nat-pmp', externalPort: 51833, externalIp: '203.0.114.7', lifetimeSeconds: 3600,
    });
    const refused = await new PortMapper({ conn }).map(51830, { description: 'M2 WireGuard' });
    // natpmpc mapped 51833, not 51830: the offer is given back and the admin gets instructions.
    expect(refused).toMatchObject({ kind: 'manual', externalPort: 51830 });
    expect(refused.kind === 'manual' && refused.instructions).toMatch(/718 ConflictInMappingEntry.*offered port 51833 instead of 51830.*Forward UDP port 51830 by hand.*10\.213\.82\.2, port 51830/);
    expect(conn.calls.at(-1)).toEqual(['timeout', '-k', '2', '6', 'natpmpc', '-g', '10.213.82.1', '-a', '51830', '51830', 'udp', '0']);
  });

  it('says the tools are missing (and how to install them) and answers manual', async () => {
    const conn = fakeServer((argv) => routes(argv) ?? { code: 127, stderr: fx('timeout-missing') });
    const mapper = new PortMapper({ conn });
    const d = await mapper.discover();
    expect(d).toMatchObject({ upnp: false, natpmp: false, tools: { upnpc: false, natpmpc: false }, lanIp: '10.213.82.2', router: '10.213.82.1' });
    expect(d.detail).toContain('sudo apt install miniupnpc natpmpc');
    const m = await mapper.map(51820, { description: 'M2 WireGuard' });
    expect(m.kind).toBe('manual');
    expect(m.kind === 'manual' && m.instructions).toMatch(/sudo apt install miniupnpc natpmpc.*Forward UDP port 51820 by hand.*10\.213\.82\.2, port 51820/);
  });

  it('flags a carrier-grade NAT address on the router', async () => {
    const conn = fakeServer((argv) => routes(argv) ?? (argv.includes('-s') ? { stdout: fx('upnpc-s').replace('203.0.114.7', '100.71.3.4') } : { code: 1, stdout: fx('natpmpc-timeout') }));
    const d = await new PortMapper({ conn }).discover();
    expect(d).toMatchObject({ upnp: true, natpmp: false, externalIp: '100.71.3.4', cgnat: true });
    expect(d.detail).toMatch(/carrier-grade NAT/);
  });

  it('refuses a port or description that is not one', async () => {
    const mapper = new PortMapper({ conn: fakeServer(() => ({})) });
    await expect(mapper.map(70000, { description: 'M2 WireGuard' })).rejects.toMatchObject({ code: 'fallback.invalid', field: 'WireGuard port' });
    await expect(mapper.map(51820, { description: "x' ; rm -rf /" })).rejects.toMatchObject({ code: 'fallback.invalid', field: 'Port mapping description' });
  });
});
