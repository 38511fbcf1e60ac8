import { app, BrowserWindow, clipboard, dialog, Menu, shell } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoreServices, createHandlers } from '../core/services';
import { createEmitter, registerContract, type Emit } from '../core/ipc/dispatch';
import { createAppLog, RedactingSecretStore } from '../core/diagnostics/app-log';
import { KeyringSecretStore } from '../core/secrets/keychain';
import { StatusTray } from '../core/status/status-tray';
import { toErrorShape } from '../core/errors';
import { createElectronRouter } from './ipc-router';
import { registerAppScheme, serveRenderer } from './protocol';
import { hardenApp, hardenSession, isTrustedUrl } from './security';
import { createShellTray } from './tray';
import { createMainWindow } from './window';
import { savePagePdf } from './print-pdf';
import { appMenuTemplate } from './menu';

// The composition root of the desktop app: Electron specifics here, product logic in core.
const here = path.dirname(fileURLToPath(import.meta.url));
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const preload = path.join(here, '../preload/index.cjs');

app.enableSandbox();
registerAppScheme();
// Links open once the services (and their link policy) exist; before that, none does.
const linkPolicy: { allows?: (url: string) => Promise<boolean> } = {};
hardenApp(devUrl, (url) => linkPolicy.allows?.(url) ?? Promise.resolve(false));

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let mainWindow: BrowserWindow | undefined;
  let keepInTray = false;
  const openWindow = (): void => {
    if (!mainWindow || mainWindow.isDestroyed()) {
      mainWindow = createMainWindow({ preload, devUrl });
      return;
    }
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.show();
    mainWindow.focus();
  };
  app.on('second-instance', () => {
    if (mainWindow) openWindow();
  });

  void app.whenReady().then(() => {
    hardenSession(devUrl !== undefined);
    // Production menu: no DevTools, the standard Edit menu (copy/paste on macOS).
    Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate({ platform: process.platform, dev: !app.isPackaged, appName: app.getName() })));
    serveRenderer(path.join(here, '../renderer'));
    // The log file in the platform's log folder (Linux ~/.config/M2 Companion/logs, macOS ~/Library/Logs/M2 Companion,
    // Windows %APPDATA%\M2 Companion\logs), rotated at 1 MiB into main.old.log; every line redacted before it is written.
    const appLog = createAppLog({ dir: app.getPath('logs') });
    const log = appLog.log;
    log.info('M2 Companion started', { version: app.getVersion(), platform: process.platform, arch: process.arch, electron: process.versions.electron });
    const platform = ['linux', 'darwin', 'win32'].includes(process.platform) ? (process.platform as 'linux' | 'darwin' | 'win32') : 'other';
    // A window that goes away gives back its live-status subscriptions (called only once services exist).
    const router = createElectronRouter((profileId) => services.status.unsubscribe(profileId));
    const toWindows = createEmitter(router, log);
    // The tray sees the same events the windows do (status updates and notifications), tapped here.
    const tap: { tray?: StatusTray } = {};
    const emit: Emit = (event, payload) => {
      toWindows(event, payload);
      tap.tray?.event(event, payload);
    };
    const services = createCoreServices(
      {
        dataDir: app.getPath('userData'),
        appInfo: { name: app.getName(), version: app.getVersion(), platform, arch: process.arch, host: 'electron' },
        log,
        // The keychain tells the log's redactor every value it reads or writes.
        vault: new RedactingSecretStore(new KeyringSecretStore(), appLog.redactor),
        appLog: { redactor: appLog.redactor, path: appLog.file.path, files: appLog.file.files },
        showItemInFolder: (file) => shell.showItemInFolder(file),
        chooseDiagnosticsTarget: async (suggestedName) => {
          const options = {
            title: 'Export diagnostics',
            defaultPath: path.join(app.getPath('documents'), suggestedName),
            filters: [{ name: 'Diagnostics archive', extensions: ['gz'] }],
          };
          const parent = BrowserWindow.getFocusedWindow() ?? mainWindow;
          const r = parent && !parent.isDestroyed() ? await dialog.showSaveDialog(parent, options) : await dialog.showSaveDialog(options);
          return r.canceled || !r.filePath ? undefined : r.filePath;
        },
        // Copying a password happens here, so the window never holds it; the guard clears it again after 30 s.
        clipboard: { writeText: (t) => clipboard.writeText(t), readText: () => clipboard.readText(), clear: () => clipboard.clear() },
        // The recovery kit's Save as PDF: the window that asked is the focused one (the click came from it).
        savePdf: (suggestedName) => savePagePdf(BrowserWindow.getFocusedWindow() ?? mainWindow, suggestedName),
        // The scripts run on the server ship inside app.asar (electron-builder.yml), under its integrity check.
        resourcesDir: path.join(app.getAppPath(), 'resources'),
      },
      emit,
    );
    linkPolicy.allows = (url) => services.links.allows(url);
    const shellTray = createShellTray({
      open: openWindow,
      quit: () => app.quit(),
      switchFallback: (profileId, on) =>
        void services.fallback.switch(profileId, on).catch((err: unknown) =>
          shellTray.notify({ profileId, title: on ? 'The fallback did not turn on' : 'The fallback did not turn off', body: toErrorShape(err).userMessage, severity: 'error' }),
        ),
      onError: (err) => log.warn('no tray on this desktop; the app quits with its last window', { error: err instanceof Error ? err.message : String(err) }),
    });
    keepInTray = shellTray.present;
    const statusTray = new StatusTray({
      fallback: async (profileId) => {
        const v = await services.fallback.view(profileId, { live: false });
        return { ready: v.ready, on: v.mode.kind === 'on' };
      },
      status: services.status,
      profiles: () => services.profiles.list(),
      hasStack: async (profileId) => (await services.stack.view(profileId)).saved,
      onView: (view) => shellTray.show(view),
      onNotify: (n) => shellTray.notify(n),
      log,
    });
    tap.tray = statusTray;
    void statusTray.start();

    // Quit once the status agents are stopped and the SSH connections closed (at most 3 s), so nothing is left
    // running on the server.
    let closing = false;
    app.on('before-quit', (e) => {
      if (closing) return;
      closing = true;
      e.preventDefault();
      statusTray.stop();
      services.outage.stop();
      services.fallback.stop();
      // A copied password does not outlive the app on the clipboard.
      const done = Promise.allSettled([services.status.stopAll().then(() => services.servers.closeAll()), services.clipboard?.dispose()]);
      void Promise.race([done, new Promise((r) => setTimeout(r, 3_000))]).then(() => {
        shellTray.destroy();
        app.quit();
      });
    });
    registerContract(router, createHandlers(services), {
      isTrustedSender: (sender) => isTrustedUrl(sender.url, devUrl),
      log,
    });
    mainWindow = createMainWindow({ preload, devUrl });
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createMainWindow({ preload, devUrl });
    });
  });

  // With a tray, live status keeps running (and notifying) after the window closes; Quit is in the tray's menu.
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin' && !keepInTray) app.quit();
  });
}
