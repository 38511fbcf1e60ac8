import { describe, expect, it } from 'vitest';
import { DOCKER_SUBNETS, FallbackSettings, lanCidrProblem, parseIPv4Cidr } from '../../contract/fallback';
import { defaultSubnets } from '../stack/render';
import { AppError } from '../errors';
import { IP_FORWARD_HINT, ipForwardArgv, LAN_CHAIN, lanForwardCleanup, lanForwardRules, parseIpForward } from './lan-forward';
import { renderServerConfig } from './wg-config';
import { generateKeyPair } from './wg-keys';

const on = { allowLan: true, lanCidr: '192.168.1.0/24', subnet: '10.13.13.0/24' };

describe('the home network’s range', () => {
  it('parses IPv4 CIDRs exactly and refuses anything else', () => {
    expect(parseIPv4Cidr('192.168.1.0/24')).toEqual({ base: 0xc0a80100, bits: 24 });
    expect(parseIPv4Cidr('10.0.0.0/8')).toEqual({ base: 0x0a000000, bits: 8 });
    for (const bad of ['192.168.1.0', '192.168.1.0/33', '192.168.01.0/24', '192.168.1.0/024', '256.1.1.0/24', ' 192.168.1.0/24', '192.168.1.0/24 ', '192.168.1.0/24\n', 'fd00::/64', '1.2.3/24']) {
      expect(parseIPv4Cidr(bad), bad).toBeNull();
    }
  });

  it('must be a private range, written with its first address, /16 to /30, apart from the tunnel; the option needs it', () => {
    expect(lanCidrProblem(on)).toBeNull();
    expect(lanCidrProblem({ ...on, lanCidr: '172.20.0.0/16' })).toBeNull();
    expect(lanCidrProblem({ ...on, lanCidr: '10.0.5.0/24' })).toBeNull();
    expect(lanCidrProblem({ ...on, allowLan: false, lanCidr: '' })).toBeNull();
    expect(lanCidrProblem({ ...on, lanCidr: '' })).toMatch(/^Home network: enter your home network’s address range/);
    expect(lanCidrProblem({ ...on, lanCidr: '8.8.8.0/24' })).toMatch(/^Home network: use your private home range/);
    expect(lanCidrProblem({ ...on, lanCidr: '100.64.0.0/24' })).toMatch(/private/);
    expect(lanCidrProblem({ ...on, lanCidr: '172.32.0.0/16' })).toMatch(/private/);
    expect(lanCidrProblem({ ...on, lanCidr: '10.0.0.0/8' })).toMatch(/from \/16 to \/30/);
    expect(lanCidrProblem({ ...on, lanCidr: '192.168.1.1/32' })).toMatch(/from \/16 to \/30/);
    expect(lanCidrProblem({ ...on, lanCidr: '192.168.1.7/24' })).toBe('Home network: write the range with its first address: 192.168.1.0/24.');
    expect(lanCidrProblem({ ...on, lanCidr: '10.13.13.0/24' })).toMatch(/overlaps the tunnel subnet 10\.13\.13\.0\/24/);
    expect(lanCidrProblem({ ...on, lanCidr: '10.13.0.0/16' })).toMatch(/overlaps/);
    expect(lanCidrProblem({ ...on, lanCidr: '10.13.13.128/25' })).toMatch(/overlaps/);
    expect(lanCidrProblem({ ...on, lanCidr: '10.13.14.0/24' })).toBeNull();
  });

  it('must stay apart from Docker’s networks on the server: the stack’s subnets and the default bridge', () => {
    for (const lanCidr of ['172.30.0.0/16', '172.17.0.0/16', '172.30.80.0/24', '172.30.81.0/24', '172.30.82.128/25', '172.30.80.0/22', '172.17.5.0/24']) {
      const problem = lanCidrProblem({ ...on, lanCidr });
      expect(problem, lanCidr).toMatch(new RegExp(`^Home network: ${lanCidr.replace(/\./g, '\\.')} overlaps .+ on the server \\(172\\.(30|17)\\.`));
      expect(problem, lanCidr).toMatch(/enter the range your home router hands out/);
      expect(FallbackSettings.safeParse({ allowLan: true, lanCidr }).error?.issues[0]).toMatchObject({ path: ['lanCidr'], message: problem });
      expect(() => lanForwardRules({ ...on, lanCidr }), lanCidr).toThrow(expect.objectContaining({ code: 'fallback.invalid', field: 'lanCidr', message: problem }));
    }
    expect(lanCidrProblem({ ...on, lanCidr: '172.30.0.0/16' })).toContain('the stack’s edge network');
    expect(lanCidrProblem({ ...on, lanCidr: '172.17.0.0/16' })).toContain('Docker’s default network');
    // Next to them is fine.
    for (const lanCidr of ['172.30.84.0/24', '172.16.0.0/16', '172.18.0.0/16']) expect(lanCidrProblem({ ...on, lanCidr }), lanCidr).toBeNull();
    // The contract's list is the stack's: every subnet the product renders is refused.
    for (const [name, cidr] of Object.entries(defaultSubnets)) expect(DOCKER_SUBNETS.map((d) => d.cidr), name).toContain(cidr);
    // A stack rendered with other subnets passes them in.
    const other = [{ cidr: '172.31.5.0/24', name: 'the stack’s edge network' }];
    expect(lanCidrProblem({ ...on, lanCidr: '172.31.0.0/16' }, other)).toMatch(/overlaps the stack’s edge network on the server \(172\.31\.5\.0\/24\)/);
    expect(() => lanForwardRules({ ...on, lanCidr: '172.31.0.0/16', dockerSubnets: other })).toThrow(expect.objectContaining({ field: 'lanCidr' }));
  });

  it('the settings schema refuses hostile and wrong input naming the field, and keeps the old defaults', () => {
    expect(FallbackSettings.parse({})).toMatchObject({ allowLan: false, lanCidr: '' });
    expect(FallbackSettings.parse({ allowLan: true, lanCidr: ' 192.168.1.0/24 ' }).lanCidr).toBe('192.168.1.0/24');
    const hostile = ['192.168.1.0/24; reboot', '$(reboot)', '`id`', "192.168.1.0/24' -j ACCEPT", '192.168.1.0/24\n-j DROP', '１９２.168.1.0/24', 'x'.repeat(5000), '192.168.1.0/24\u202e', '8.8.8.0/24', '10.13.13.0/24'];
    for (const lanCidr of hostile) {
      const r = FallbackSettings.safeParse({ allowLan: true, lanCidr });
      expect(r.success, lanCidr.slice(0, 30)).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['lanCidr']);
      expect(r.error?.issues[0]?.message).toMatch(/^Home network: /);
    }
    const missing = FallbackSettings.safeParse({ allowLan: true, lanCidr: '' });
    expect(missing.error?.issues[0]).toMatchObject({ path: ['lanCidr'], message: expect.stringMatching(/^Home network: enter/) });
  });
});

describe('the server’s forwarding rules', () => {
  it('on: one chain per table, forward tunnel → LAN, replies back, masquerade, each jump added only when missing', () => {
    const r = lanForwardRules(on);
    expect(r.postUp).toEqual([
      // It heals itself: whatever a PostUp that failed half-way left goes first (wg-quick never runs PostDown then).
      ...lanForwardCleanup(),
      `iptables -N ${LAN_CHAIN} 2>/dev/null || iptables -F ${LAN_CHAIN}`,
      `iptables -A ${LAN_CHAIN} -i %i -o docker0 -j RETURN`,
      `iptables -A ${LAN_CHAIN} -i %i -o br-+ -j RETURN`,
      `iptables -A ${LAN_CHAIN} -i %i -s 10.13.13.0/24 -d 192.168.1.0/24 -j ACCEPT`,
      `iptables -A ${LAN_CHAIN} -o %i -s 192.168.1.0/24 -d 10.13.13.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `iptables -C FORWARD -j ${LAN_CHAIN} 2>/dev/null || iptables -I FORWARD 1 -j ${LAN_CHAIN}`,
      `iptables -t nat -N ${LAN_CHAIN} 2>/dev/null || iptables -t nat -F ${LAN_CHAIN}`,
      `iptables -t nat -A ${LAN_CHAIN} -s 10.13.13.0/24 -d 192.168.1.0/24 -j MASQUERADE`,
      `iptables -t nat -C POSTROUTING -j ${LAN_CHAIN} 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j ${LAN_CHAIN}`,
    ]);
    expect(r.postDown).toEqual(lanForwardCleanup());
    // Cleanup never fails: every line ends in `|| true`.
    for (const l of r.postDown) expect(l).toMatch(/ \|\| true$/);
  });

  it('off: PostUp and PostDown only remove the rules (what a half-done switch-on left goes at the next up)', () => {
    expect(lanForwardRules({ ...on, allowLan: false })).toEqual({ postUp: lanForwardCleanup(), postDown: lanForwardCleanup() });
    expect(lanForwardRules({ allowLan: false, lanCidr: '', subnet: '10.13.13.0/24' }).postUp).toEqual(lanForwardCleanup());
  });

  it('refuses a bad range even when called directly (the text never reaches a rule)', () => {
    for (const lanCidr of ['192.168.1.0/24; reboot', '$(id)', '8.8.8.0/24', '', '10.13.13.0/24']) {
      expect(() => lanForwardRules({ ...on, lanCidr })).toThrow(AppError);
      try {
        lanForwardRules({ ...on, lanCidr });
      } catch (err) {
        expect(err).toMatchObject({ code: 'fallback.invalid', field: 'lanCidr' });
      }
    }
  });

  it('lands in the server config as PostUp/PostDown lines that wg-quick runs in order', () => {
    const r = lanForwardRules(on);
    const conf = renderServerConfig({ privateKey: generateKeyPair().privateKey, address: '10.13.13.1/24', listenPort: 51820, peers: [], postUp: r.postUp, postDown: r.postDown }).content;
    const lines = conf.split('\n');
    expect(lines.filter((l) => l.startsWith('PostUp = '))).toHaveLength(15);
    expect(lines.filter((l) => l.startsWith('PostDown = '))).toHaveLength(6);
    expect(conf).toContain('PostUp = iptables -t nat -A M2-FALLBACK-LAN -s 10.13.13.0/24 -d 192.168.1.0/24 -j MASQUERADE\n');
  });
});

describe('IP forwarding', () => {
  it('is read from /proc without sudo; 1 is on, 0 off, anything else an error; the hint says what to run', () => {
    expect(ipForwardArgv()).toEqual(['cat', '/proc/sys/net/ipv4/ip_forward']);
    expect(parseIpForward('1\n')).toBe(true);
    expect(parseIpForward('0\n')).toBe(false);
    expect(() => parseIpForward('cat: /proc/sys/net/ipv4/ip_forward: No such file')).toThrow(AppError);
    expect(IP_FORWARD_HINT).toContain('sudo sysctl -w net.ipv4.ip_forward=1');
    expect(IP_FORWARD_HINT).toContain('/etc/sysctl.d/');
  });
});
