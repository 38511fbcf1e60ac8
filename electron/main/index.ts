import { app, BrowserWindow } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoreServices, createHandlers } from '../core/services';
import { createEmitter, registerContract } from '../core/ipc/dispatch';
import { createLogger } from '../core/log';
import { KeyringSecretStore } from '../core/secrets/keychain';
import { createElectronRouter } from './ipc-router';
import { registerAppScheme, serveRenderer } from './protocol';
import { hardenApp, hardenSession, isTrustedUrl } from './security';
import { createMainWindow } from './window';

// The composition root of the desktop app: Electron specifics here, product logic in core.
const here = path.dirname(fileURLToPath(import.meta.url));
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const preload = path.join(here, '../preload/index.cjs');

app.enableSandbox();
registerAppScheme();
hardenApp(devUrl);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let mainWindow: BrowserWindow | undefined;
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  void app.whenReady().then(() => {
    hardenSession(devUrl !== undefined);
    serveRenderer(path.join(here, '../renderer'));
    const log = createLogger();
    const platform = ['linux', 'darwin', 'win32'].includes(process.platform) ? (process.platform as 'linux' | 'darwin' | 'win32') : 'other';
    const router = createElectronRouter();
    const services = createCoreServices(
      {
        dataDir: app.getPath('userData'),
        appInfo: { name: app.getName(), version: app.getVersion(), platform, arch: process.arch, host: 'electron' },
        log,
        vault: new KeyringSecretStore(),
        // electron-builder copies resources/ to <resourcesPath>/resources (extraResources).
        resourcesDir: app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(app.getAppPath(), 'resources'),
      },
      createEmitter(router, log),
    );
    app.on('before-quit', () => void services.servers.closeAll());
    registerContract(router, createHandlers(services), {
      isTrustedSender: (sender) => isTrustedUrl(sender.url, devUrl),
      log,
    });
    mainWindow = createMainWindow({ preload, devUrl });
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createMainWindow({ preload, devUrl });
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}
