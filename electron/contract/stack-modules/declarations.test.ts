import { describe, expect, it } from 'vitest';
import { StackSettings } from '../stack';
import type { FormField } from './declare';
import { hostnameModules, imageModules, moduleDeclarations, moduleIds, pinnedImages, serviceModules } from '.';

/** The settings keys a module's fields edit (rows opened up). */
const keysOf = (fields: readonly FormField[]): string[] =>
  fields.flatMap((f) => (f.kind === 'row' ? keysOf(f.fields) : f.kind === 'widget' ? [...f.keys] : [f.key]));

describe('the module declarations', () => {
  it('give every module its defaults from {} and the stack settings exactly those, in module order', () => {
    const defaults = StackSettings.parse({});
    expect(Object.keys(defaults.modules)).toEqual([...moduleIds]);
    for (const d of moduleDeclarations) expect(defaults.modules[d.id]).toEqual(d.settings.parse({}));
    expect(Object.keys(defaults.hostnames)).toEqual(hostnameModules.map((d) => d.id));
    expect(defaults.hostnames).toEqual({ jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' });
  });

  it('have a form field for every setting but the switch, and none for a setting that does not exist', () => {
    for (const d of moduleDeclarations) {
      const settingKeys = Object.keys(d.settings.shape).filter((k) => k !== 'enabled');
      expect(keysOf(d.fields).sort(), d.id).toEqual(settingKeys.sort());
    }
  });

  it('list each pinned image once, under the first module that uses it, and refuse two modules pinning one key differently', () => {
    const keys = Object.keys(pinnedImages) as Array<keyof typeof pinnedImages>;
    expect(keys.slice(0, 4)).toEqual(['jellyfin', 'nextcloud', 'postgres', 'redis']);
    // Grouped by module, in module order.
    const order = keys.map((k) => moduleIds.indexOf(imageModules[k]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(imageModules.postgres).toBe('nextcloud');
    expect(imageModules.restic).toBe('backup');
    for (const d of moduleDeclarations) {
      for (const [key, image] of Object.entries(d.images)) expect(pinnedImages[key as keyof typeof pinnedImages], `${d.id} ${key}`).toEqual(image);
    }
  });

  it('declare each service name in one module only', () => {
    const all = moduleDeclarations.flatMap((d) => Object.keys(d.services));
    expect(new Set(all).size).toBe(all.length);
    expect(serviceModules.get('nextcloud-db-dump')).toBe('backup');
    expect(serviceModules.get('cloudflared-2')).toBe('cloudflared');
  });

  it('say everything the form and the lists show: a title, a description, a label on every field', () => {
    const labels = (fields: readonly FormField[]): string[] =>
      fields.flatMap((f) => (f.kind === 'row' ? labels(f.fields) : f.kind === 'widget' ? Object.values(f.labels) : [f.label]));
    for (const d of moduleDeclarations) {
      expect(d.title.length, d.id).toBeGreaterThan(0);
      expect(d.description.length, d.id).toBeGreaterThan(0);
      for (const l of labels(d.fields)) expect(l).toMatch(/^[A-Z]/);
    }
  });
});
