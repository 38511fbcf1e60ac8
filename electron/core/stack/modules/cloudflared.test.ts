import { describe, expect, it } from 'vitest';
import { VarRef } from '../types';
import { cloudflaredModule } from './cloudflared';
import { cloudflaredAddresses } from './common';
import { testContext } from './test-context';

describe('cloudflared module', () => {
  it('takes the token from the env file, never argv, and checks readiness on explicit metrics', () => {
    const out = cloudflaredModule.render(testContext());
    expect(Object.keys(out.services)).toEqual(['cloudflared']);
    expect(out.services.cloudflared).toMatchObject({
      image: 'cloudflare/cloudflared:2026.8.2',
      command: ['tunnel', '--metrics', '0.0.0.0:2000', 'run'],
      environment: { TUNNEL_TOKEN: new VarRef('CLOUDFLARED_TUNNEL_TOKEN') },
      networks: ['edge'],
      healthcheck: { test: ['CMD', 'cloudflared', 'tunnel', '--metrics', '127.0.0.1:2000', 'ready'] },
    });
    expect(out.envFiles.map((f) => [f.name, f.entries.map(([k]) => k)])).toEqual([['cloudflared', ['CLOUDFLARED_TUNNEL_TOKEN']]]);
  });

  it('runs a second identical connector for two replicas', () => {
    const out = cloudflaredModule.render(testContext({ modules: { cloudflared: { replicas: 2 } } }));
    expect(Object.keys(out.services)).toEqual(['cloudflared', 'cloudflared-2']);
    expect(out.services['cloudflared-2']).toEqual(out.services.cloudflared);
  });

  it('asks for a tunnel token it cannot generate', () => {
    expect(cloudflaredModule.secrets(testContext().settings)).toEqual([{ name: 'cloudflared.tunnel-token', kind: 'token', generated: false }]);
  });

  it('has fixed edge addresses when Nextcloud also answers on the home network (it rewrites links for these only)', () => {
    const one = cloudflaredModule.render(testContext({ modules: { wireguard: { enabled: true } } }));
    expect(one.services.cloudflared).toMatchObject({ networks: { edge: { ipv4_address: '172.30.80.254' } } });
    const two = cloudflaredModule.render(testContext({ modules: { wireguard: { enabled: true }, cloudflared: { replicas: 2 } } }));
    expect(two.services['cloudflared-2']).toMatchObject({ networks: { edge: { ipv4_address: '172.30.80.253' } } });
    // Without Nextcloud there is nothing to tell apart.
    const noNc = cloudflaredModule.render(testContext({ modules: { wireguard: { enabled: true }, nextcloud: { enabled: false } } }));
    expect(noNc.services.cloudflared).toMatchObject({ networks: ['edge'] });
  });

  it('takes the fixed addresses from the top of any edge subnet, and refuses one too small for them', () => {
    expect(cloudflaredAddresses('10.20.0.0/16', 2)).toEqual(['10.20.255.254', '10.20.255.253']);
    expect(cloudflaredAddresses('192.168.7.8/29', 1)).toEqual(['192.168.7.14']);
    expect(cloudflaredAddresses('172.30.80.0/24', 1)).toEqual(['172.30.80.254']);
    expect(() => cloudflaredAddresses('10.0.0.0/30', 1)).toThrow(/too small/);
  });
});
