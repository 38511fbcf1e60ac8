import type { MenuItemConstructorOptions } from 'electron';

/**
 * The application menu. Production has no developer tools and no reload (a reload would drop live state); it keeps
 * the standard Edit menu, without which copy and paste do not work in a macOS app, and the usual app/window menus.
 * Development adds the View menu's reload and DevTools. Kept free of Electron values so it is tested as data.
 */
export function appMenuTemplate(opts: { platform: NodeJS.Platform; dev: boolean; appName: string }): MenuItemConstructorOptions[] {
  const mac = opts.platform === 'darwin';
  const view: MenuItemConstructorOptions[] = [
    ...(opts.dev ? ([{ role: 'reload' }, { role: 'forceReload' }, { role: 'toggleDevTools' }, { type: 'separator' }] as const) : []),
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  return [
    ...(mac ? [{ label: opts.appName, role: 'appMenu' } as const] : []),
    mac ? { role: 'fileMenu' } : { label: '&File', submenu: [{ role: 'quit' }] },
    { role: 'editMenu' },
    { label: '&View', submenu: view },
    { role: 'windowMenu' },
  ];
}
