import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { isInSubnet, nextFreeAddress, parseSubnet24, serverAddress } from './addresses';

describe('tunnel addresses', () => {
  it('parses the settings form of a /24 and puts the server at .1', () => {
    expect(parseSubnet24('10.13.13.0/24')).toEqual({ prefix: '10.13.13', cidr: '10.13.13.0/24' });
    expect(parseSubnet24(' 192.168.250.0/24 ')).toEqual({ prefix: '192.168.250', cidr: '192.168.250.0/24' });
    expect(serverAddress('10.13.13.0/24')).toBe('10.13.13.1');
    expect(serverAddress(parseSubnet24('172.16.5.0/24'))).toBe('172.16.5.1');
  });

  it('refuses anything that is not a.b.c.0/24, naming the field', () => {
    for (const bad of ['10.13.13.1/24', '10.13.13.0/16', '10.13.13.0', '256.1.1.0/24', '10.13.0/24', '10.13.13.0/24; rm -rf /', '', '010.1.1.0/24x']) {
      try {
        parseSubnet24(bad);
        expect.unreachable(bad);
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe('fallback.invalid');
        expect((err as AppError).userMessage).toMatch(/^Tunnel subnet:/);
        expect((err as AppError).field).toBe('subnet');
      }
    }
  });

  it('gives the lowest free address from .2, whatever form the used addresses take', () => {
    expect(nextFreeAddress('10.13.13.0/24', [])).toBe('10.13.13.2');
    expect(nextFreeAddress('10.13.13.0/24', ['10.13.13.2/32', '10.13.13.3'])).toBe('10.13.13.4');
    expect(nextFreeAddress('10.13.13.0/24', ['10.13.13.3', '10.99.99.2', '10.13.13.1'])).toBe('10.13.13.2');
    expect(nextFreeAddress('10.13.13.0/24', ['10.13.13.2', '10.13.13.4/32'])).toBe('10.13.13.3');
  });

  it('says so when the subnet is full', () => {
    const all = Array.from({ length: 253 }, (_, i) => `10.13.13.${i + 2}`);
    expect(nextFreeAddress('10.13.13.0/24', all.slice(1))).toBe('10.13.13.2');
    expect(() => nextFreeAddress('10.13.13.0/24', all)).toThrow(/no free address left/);
    try {
      nextFreeAddress('10.13.13.0/24', all);
    } catch (err) {
      expect((err as AppError).code).toBe('fallback.invalid');
      expect((err as AppError).hint).toMatch(/Remove a device/);
    }
  });

  it('never hands out the network, the server, the broadcast or a used address', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 250 }), (hosts) => {
        const used = hosts.map((h) => `10.1.2.${h}`);
        const got = nextFreeAddress('10.1.2.0/24', used);
        const h = Number(got.split('.')[3]);
        expect(h).toBeGreaterThanOrEqual(2);
        expect(h).toBeLessThanOrEqual(254);
        expect(used).not.toContain(got);
        for (let lower = 2; lower < h; lower++) expect(hosts).toContain(lower);
      }),
    );
  });

  it('knows which addresses are in the subnet', () => {
    expect(isInSubnet('10.13.13.7', '10.13.13.0/24')).toBe(true);
    expect(isInSubnet('10.13.13.7/32', '10.13.13.0/24')).toBe(true);
    expect(isInSubnet('10.13.131.7', '10.13.13.0/24')).toBe(false);
    expect(isInSubnet('10.13.14.7', '10.13.13.0/24')).toBe(false);
    expect(isInSubnet('10.13.13.256', '10.13.13.0/24')).toBe(false);
    expect(isInSubnet('fd00::1', '10.13.13.0/24')).toBe(false);
  });
});
