import { describe, expect, it } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { appMenuTemplate } from './menu';

/** Every role in the menu, however deep. */
const roles = (items: readonly MenuItemConstructorOptions[]): string[] =>
  items.flatMap((i) => [...(i.role ? [i.role] : []), ...(Array.isArray(i.submenu) ? roles(i.submenu) : [])]);

describe('application menu', () => {
  for (const platform of ['darwin', 'linux', 'win32'] as const) {
    it(`ships no developer tools and no reload on ${platform}`, () => {
      const r = roles(appMenuTemplate({ platform, dev: false, appName: 'M2 Companion' }));
      expect(r).not.toContain('toggleDevTools');
      expect(r).not.toContain('reload');
      expect(r).not.toContain('forceReload');
      // The standard Edit menu: copy and paste (and their shortcuts) work in text fields, on macOS too.
      expect(r).toContain('editMenu');
      expect(r).toContain('windowMenu');
    });
  }

  it('has the macOS app menu only on macOS, and a way to quit elsewhere', () => {
    expect(roles(appMenuTemplate({ platform: 'darwin', dev: false, appName: 'M2 Companion' }))).toContain('appMenu');
    const linux = roles(appMenuTemplate({ platform: 'linux', dev: false, appName: 'M2 Companion' }));
    expect(linux).not.toContain('appMenu');
    expect(linux).toContain('quit');
  });

  it('offers developer tools while developing', () => {
    expect(roles(appMenuTemplate({ platform: 'linux', dev: true, appName: 'M2 Companion' }))).toContain('toggleDevTools');
  });
});
