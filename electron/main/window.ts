import { BrowserWindow, nativeTheme } from 'electron';
import { APP_ORIGIN, secureWebPreferences } from './security';

export function createMainWindow(opts: { preload: string; devUrl: string | undefined }): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 800,
    minHeight: 560,
    show: false,
    title: 'M2 Companion',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#16181d' : '#f6f7f9',
    webPreferences: secureWebPreferences(opts.preload),
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(opts.devUrl ?? `${APP_ORIGIN}/index.html`);
  return win;
}
