import { describe, expect, it } from 'vitest';
import { VarRef } from '../types';
import { cloudflaredModule } from './cloudflared';
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
});
