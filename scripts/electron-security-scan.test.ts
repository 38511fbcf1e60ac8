import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aboveLow, formatFindings, loadRepository, scanElectronSecurity, type ScanInput, type Severity } from './electron-security-scan';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The repository with one file changed: the exact text must be there, so a refactor fails the case loudly. */
const withChange = (repo: ScanInput, file: string, from: string, to: string): ScanInput => {
  if (file === 'CSP') return { ...repo, csp: swap(repo.csp, from, to, file) };
  if (file === 'electron-builder.yml') return { ...repo, builderConfig: swap(repo.builderConfig, from, to, file) };
  const text = repo.files.get(file);
  if (text === undefined) throw new Error(`${file} is not among the scanned files`);
  return { ...repo, files: new Map([...repo.files, [file, swap(text, from, to, file)]]) };
};
const swap = (text: string, from: string, to: string, file: string): string => {
  if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update this case`);
  return text.replace(from, to);
};

describe('the Electron security scan', () => {
  it('finds nothing above low in the shipped shell (main, preload, fuses, CSP)', () => {
    const findings = scanElectronSecurity(loadRepository(root));
    expect(aboveLow(findings), formatFindings(findings)).toEqual([]);
    // It did read the shell: the version note is always there.
    expect(findings.map((f) => f.rule)).toContain('electron-version');
  });

  const cases: Array<{ title: string; file: string; from: string; to: string; rule: string; severity: Severity }> = [
    { title: 'a sandbox turned off', file: 'electron/main/security.ts', from: 'sandbox: true,', to: 'sandbox: false,', rule: 'web-preferences', severity: 'high' },
    { title: 'Node integration turned on', file: 'electron/main/security.ts', from: 'nodeIntegration: false,', to: 'nodeIntegration: true,', rule: 'web-preferences', severity: 'high' },
    { title: 'context isolation left out', file: 'electron/main/security.ts', from: 'contextIsolation: true,', to: '', rule: 'secure-preferences', severity: 'high' },
    { title: 'Blink features enabled', file: 'electron/main/security.ts', from: 'spellcheck: false,', to: "spellcheck: false, enableBlinkFeatures: 'CSSVariables',", rule: 'web-preferences', severity: 'high' },
    { title: 'a window with its own preferences', file: 'electron/main/window.ts', from: 'webPreferences: secureWebPreferences(opts.preload)', to: 'webPreferences: { preload: opts.preload }', rule: 'window-preferences', severity: 'high' },
    { title: 'no app-wide sandbox', file: 'electron/main/index.ts', from: 'app.enableSandbox();', to: '', rule: 'sandbox', severity: 'medium' },
    { title: 'a permission granted', file: 'electron/main/security.ts', from: 'callback(false));', to: 'callback(true));', rule: 'permissions', severity: 'medium' },
    { title: 'no permission handler', file: 'electron/main/security.ts', from: 'ses.setPermissionRequestHandler(', to: 'void (', rule: 'permissions', severity: 'high' },
    { title: "inline scripts in the CSP", file: 'CSP', from: "script-src 'self'", to: "script-src 'self' 'unsafe-inline'", rule: 'csp', severity: 'high' },
    { title: "inline styles in the CSP", file: 'CSP', from: "style-src 'self'", to: "style-src 'self' 'unsafe-inline'", rule: 'csp', severity: 'low' },
    { title: 'no CSP header on responses', file: 'electron/main/security.ts', from: "'Content-Security-Policy': [cspFor(dev)]", to: "'X-Policy': [cspFor(dev)]", rule: 'csp', severity: 'high' },
    { title: 'no CSP on the app protocol', file: 'electron/main/protocol.ts', from: "headers.set('Content-Security-Policy', cspFor(false));", to: '', rule: 'csp', severity: 'high' },
    { title: 'navigation let through', file: 'electron/main/security.ts', from: 'event.preventDefault();\n    openOutside', to: 'openOutside', rule: 'navigation', severity: 'high' },
    { title: 'a new window allowed', file: 'electron/main/security.ts', from: "return { action: 'deny' };", to: "return { action: 'allow' };", rule: 'new-windows', severity: 'high' },
    { title: 'webviews attached', file: 'electron/main/security.ts', from: "contents.on('will-attach-webview', (event) => event.preventDefault());", to: '', rule: 'webview', severity: 'medium' },
    { title: 'openExternal without the link check', file: 'electron/main/security.ts', from: '(ok) => (ok ? shell.openExternal(url) : undefined)', to: '() => shell.openExternal(url)', rule: 'open-external', severity: 'medium' },
    { title: 'an IPC handler outside the router', file: 'electron/main/index.ts', from: 'app.enableSandbox();', to: "app.enableSandbox();\nipcMain.handle('x', () => 1);", rule: 'ipc-sender', severity: 'high' },
    { title: 'every sender trusted', file: 'electron/main/index.ts', from: 'isTrustedSender: (sender) => isTrustedUrl(sender.url, devUrl),', to: 'isTrustedSender: () => true,', rule: 'ipc-sender', severity: 'high' },
    { title: 'an app scheme that bypasses the CSP', file: 'electron/main/protocol.ts', from: 'supportFetchAPI: true', to: 'supportFetchAPI: true, bypassCSP: true', rule: 'custom-protocol', severity: 'high' },
    { title: 'the renderer from file://', file: 'electron/main/window.ts', from: 'void win.loadURL(', to: "void win.loadFile('index.html');\n  void win.loadURL(", rule: 'load-secure-content', severity: 'medium' },
    { title: 'the run-as-node fuse left on', file: 'electron-builder.yml', from: 'runAsNode: false', to: 'runAsNode: true', rule: 'fuses', severity: 'high' },
    { title: 'the file-protocol privileges fuse unset', file: 'electron-builder.yml', from: 'grantFileProtocolExtraPrivileges: false', to: '', rule: 'fuses', severity: 'high' },
    { title: 'ipcRenderer handed to the page', file: 'electron/preload/index.ts', from: "contextBridge.exposeInMainWorld('m2', m2);", to: "contextBridge.exposeInMainWorld('m2', m2);\ncontextBridge.exposeInMainWorld('ipc', ipcRenderer);", rule: 'expose-electron', severity: 'high' },
  ];
  it.each(cases)('reports $title ($rule, $severity)', ({ file, from, to, rule, severity }) => {
    const findings = scanElectronSecurity(withChange(loadRepository(root), file, from, to));
    expect(findings.filter((f) => f.rule === rule).map((f) => f.severity), formatFindings(findings)).toContain(severity);
  });
});
