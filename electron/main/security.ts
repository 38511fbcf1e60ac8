import { app, session, shell, type BrowserWindowConstructorOptions, type WebContents } from 'electron';
import { cspFor } from './csp';

/** The scheme the packaged renderer is served from (never file://). */
export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://m2`;

/** Whether an outside link may open in the system browser: the core's link policy (electron/core/links.ts). */
export type LinkCheck = (url: string) => Promise<boolean>;

export const secureWebPreferences = (preload: string): BrowserWindowConstructorOptions['webPreferences'] => ({
  preload,
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
});

/** Is this frame URL one of ours (the packaged renderer, or the dev server while developing)? */
export const isTrustedUrl = (url: string, devUrl: string | undefined): boolean => {
  try {
    const u = new URL(url);
    if (`${u.protocol}//${u.host}` === APP_ORIGIN) return true;
    return devUrl !== undefined && u.origin === new URL(devUrl).origin;
  } catch {
    return false;
  }
};

/** Session-wide defaults: CSP on every response, every permission request denied. */
export function hardenSession(dev: boolean): void {
  const ses = session.defaultSession;
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [cspFor(dev)] } });
  });
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

/** Open `url` in the system browser when the policy allows it; anything else goes nowhere. */
const openOutside = (url: string, allowed: LinkCheck): void =>
  void allowed(url).then(
    (ok) => (ok ? shell.openExternal(url) : undefined),
    () => undefined,
  );

/** Per-window: no navigation away, no new windows; allowed links open in the system browser. */
export function hardenContents(contents: WebContents, devUrl: string | undefined, allowed: LinkCheck): void {
  contents.on('will-navigate', (event, url) => {
    if (isTrustedUrl(url, devUrl)) return;
    event.preventDefault();
    openOutside(url, allowed);
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openOutside(url, allowed);
    return { action: 'deny' };
  });
}

/** App-wide: every web contents created later gets the same treatment. */
export function hardenApp(devUrl: string | undefined, allowed: LinkCheck): void {
  app.on('web-contents-created', (_e, contents) => hardenContents(contents, devUrl, allowed));
}
