import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isDnsName, isHostAddress, isIPv4, isIPv6, isUnixUser } from './validation';
import { ProfileInput } from './profiles';
import { StackSettings } from './stack';

describe('address validation', () => {
  it('accepts host names and addresses an admin types', () => {
    for (const ok of ['homeserver', 'homeserver.local', 'nas-1.home.arpa', '192.168.1.20', '10.0.0.1', '::1', 'fe80::1', '2001:db8::8a2e:370:7334', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8']) {
      expect(isHostAddress(ok), ok).toBe(true);
    }
  });

  it('refuses what is not a host', () => {
    for (const bad of ['', ' ', 'a b', '-lead.example', 'trail-.example', 'x..y', 'host.', '$(id)', '`id`', "a'b", 'a\nb', 'a;b', '256.1.1.1', '1:2:3:4:5:6:7:8:9', ':::', 'a'.repeat(64), `${'a.'.repeat(130)}a`]) {
      expect(isHostAddress(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('never accepts a shell metacharacter, whitespace or control character', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        // eslint-disable-next-line no-control-regex -- the point is to include control characters
        if (/[\s$`'"\\;|&<>(){}*?!#~\0-\x1f]/.test(s)) expect(isHostAddress(s) || isUnixUser(s)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every generated IPv4, IPv6 and domain name, and never takes an IPv4 for a name', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isIPv4(ip) && !isIPv6(ip) && !isDnsName(ip)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(isIPv6(ip)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.domain(), (d) => {
        expect(isDnsName(d)).toBe(true);
      }),
    );
  });
});

describe('the profile input schema', () => {
  it('names the field at fault in its message', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '', host: 'h', username: 'admin' }, 'Name:'],
      [{ name: 'n', host: 'h h', username: 'admin' }, 'Host:'],
      [{ name: 'n', host: 'h', port: 70000, username: 'admin' }, 'Port:'],
      [{ name: 'n', host: 'h', username: 'ad min' }, 'User:'],
      [{ name: 'n', host: 'h', username: 'admin', auth: { kind: 'key', keyPath: 'a\nb' } }, 'Key file:'],
    ];
    for (const [input, prefix] of cases) {
      const r = ProfileInput.safeParse(input);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message.startsWith(prefix), JSON.stringify(input)).toBe(true);
    }
  });
});

describe('the stack settings schema', () => {
  it('names the field at fault for any bad value in any field: too long, hostile, the wrong type, negative', () => {
    const base = StackSettings.parse({ modules: { jellyfin: { mediaPaths: ['/srv/media'] } } });
    const leaves: Array<Array<string | number>> = [];
    const walk = (v: unknown, at: Array<string | number>): void => {
      if (typeof v === 'string' || typeof v === 'number') leaves.push(at);
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    };
    walk(base, []);
    expect(leaves.length).toBeGreaterThan(20);
    const unnamed: string[] = [];
    for (const at of leaves) {
      for (const bad of [`${'a'.repeat(5000)}$(reboot)\n`, -5, 'é"\'`;|&', null]) {
        const input = structuredClone(base) as unknown as Record<string | number, unknown>;
        let o = input;
        for (const k of at.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[at.at(-1) as string | number] = bad;
        const r = StackSettings.safeParse(input);
        for (const issue of r.success ? [] : r.error.issues) if (!/^[A-Z][^:\n]{1,60}: /.test(issue.message)) unnamed.push(`${at.join('.')} = ${JSON.stringify(bad)?.slice(0, 12)}: ${issue.message}`);
      }
    }
    expect(unnamed).toEqual([]);
  });
});
