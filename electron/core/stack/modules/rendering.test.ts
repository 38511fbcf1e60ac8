import { describe, expect, it } from 'vitest';
import { moduleDeclarations, moduleIds } from '../../../contract/stack-modules';
import { StackSettings } from '../../../contract/stack';
import { Secret } from '../../secrets/secret';
import { renderStack, requiredSecrets } from '../render';
import { stackModules } from '.';

describe('each module renders what it declares', () => {
  it('renders in the declarations order, each rendering under its own id', () => {
    expect(stackModules.map((m) => m.id)).toEqual([...moduleIds]);
  });

  it('with every module on (two connectors), renders exactly the services the declarations list, each under its module', () => {
    const everyModule = Object.fromEntries(moduleIds.map((id) => [id, { enabled: true }]));
    const settings = StackSettings.parse({ modules: { ...everyModule, cloudflared: { enabled: true, replicas: 2 } } });
    const secrets = new Map(requiredSecrets(settings).map((r) => [r.name, new Secret(`value-of-${r.name}-0123456789`)]));
    const rendered = renderStack(settings, secrets, { m2Dir: '/home/admin/m2' });
    const declared = Object.fromEntries(moduleDeclarations.flatMap((d) => Object.keys(d.services).map((s) => [s, d.id])));
    expect(rendered.serviceModules).toEqual(declared);
  });
});
