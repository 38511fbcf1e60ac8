/** Builds a ModuleContext the way renderStack does, for unit tests of single modules. */
import { StackSettings, type StackSettingsInput } from '../../../contract/stack';
import { Secret } from '../../secrets/secret';
import { defaultSubnets, moduleFilePath } from '../render';
import type { ModuleContext } from '../types';
import { imageRef, type ImageKey } from '../versions';

export const testM2Dir = '/home/admin/m2';

/** Settings parsed from partial input, and a secret `value-of-<name>` for every name asked. */
export function testContext(input: StackSettingsInput = {}): ModuleContext {
  const settings = StackSettings.parse(input);
  return {
    settings,
    secrets: { get: (name: string) => new Secret(`value-of-${name}`), has: () => true } as unknown as ModuleContext['secrets'],
    image: (key) => imageRef(key as ImageKey),
    fileRef: (file) => moduleFilePath(testM2Dir, file),
    subnets: defaultSubnets,
  };
}
