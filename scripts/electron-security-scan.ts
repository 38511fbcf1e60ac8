/**
 * A static scan of the Electron shell against Electron's security checklist
 * (https://www.electronjs.org/docs/latest/tutorial/security, items 1–20), run in CI by its test
 * (scripts/electron-security-scan.test.ts) and by hand with `npm run security:scan`.
 *
 * Why in-repo rather than @doyensec/electronegativity: its last release (1.10.3) pins TypeScript 4.2 and ESLint 7,
 * brings 405 packages (147 MB), fetches Electron's release list over the network on every run, and on this code
 * reports HIGH findings that are not there (it does not follow `webPreferences: secureWebPreferences(preload)`) while
 * finding nothing in the built bundle. This scan reads the TypeScript sources with the compiler the project already
 * has, knows the project's one-file security shape (DESIGN.md: electron/main/security.ts), and each rule has a
 * fixture in its test that proves it fires.
 */
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { cspFor } from '../electron/main/csp';

export type Severity = 'info' | 'low' | 'medium' | 'high';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high'];

export interface Finding {
  readonly rule: string;
  /** The item of Electron's checklist the rule answers. */
  readonly item: number;
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface ScanInput {
  /** Source files of the shipped Electron shell (main and preload), by path relative to the repository. */
  readonly files: ReadonlyMap<string, string>;
  /** electron-builder.yml as text (its electronFuses). */
  readonly builderConfig: string;
  /** package.json as text (the Electron version). */
  readonly packageJson: string;
  /** The production CSP the app sends (cspFor(false)). */
  readonly csp: string;
}

/** webPreferences the project requires, and the value each must have. */
export const REQUIRED_PREFERENCES: Readonly<Record<string, boolean>> = {
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
};
/** Preferences that must never be turned on, wherever they are written. */
const FORBIDDEN_ON: Readonly<Record<string, number>> = { experimentalFeatures: 9, enableBlinkFeatures: 10, nodeIntegration: 2, nodeIntegrationInWorker: 2, nodeIntegrationInSubFrames: 2, allowRunningInsecureContent: 8, webviewTag: 12 };
const FORBIDDEN_OFF: Readonly<Record<string, number>> = { sandbox: 4, contextIsolation: 3, webSecurity: 6 };

/** Fuses (electron-builder's electronFuses) and the value each must be set to. */
export const REQUIRED_FUSES: Readonly<Record<string, { value: boolean; severity: Severity }>> = {
  runAsNode: { value: false, severity: 'high' },
  enableNodeOptionsEnvironmentVariable: { value: false, severity: 'high' },
  enableNodeCliInspectArguments: { value: false, severity: 'high' },
  enableEmbeddedAsarIntegrityValidation: { value: true, severity: 'high' },
  onlyLoadAppFromAsar: { value: true, severity: 'high' },
  grantFileProtocolExtraPrivileges: { value: false, severity: 'high' },
  enableCookieEncryption: { value: true, severity: 'medium' },
};

interface Parsed {
  readonly file: string;
  readonly sf: ts.SourceFile;
}

const walk = (node: ts.Node, visit: (n: ts.Node) => void): void => {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
};

const lineOf = (p: Parsed, node: ts.Node): number => p.sf.getLineAndCharacterOfPosition(node.getStart(p.sf)).line + 1;

/** `a.b.c(...)` → 'c'; `c(...)` → 'c'. */
const calleeName = (call: ts.CallExpression): string | undefined => {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
};
const calleeObject = (call: ts.CallExpression): string | undefined => {
  const e = call.expression;
  if (ts.isPropertyAccessExpression(e)) {
    const o = e.expression;
    if (ts.isIdentifier(o)) return o.text;
    if (ts.isPropertyAccessExpression(o)) return o.name.text;
  }
  return undefined;
};

const propName = (p: ts.ObjectLiteralElementLike): string | undefined => {
  if (!p.name) return undefined;
  if (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) return p.name.text;
  return undefined;
};

const boolValue = (e: ts.Expression): boolean | undefined =>
  e.kind === ts.SyntaxKind.TrueKeyword ? true : e.kind === ts.SyntaxKind.FalseKeyword ? false : undefined;

const stringValue = (e: ts.Expression): string | undefined =>
  ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) ? e.text : ts.isTemplateExpression(e) ? e.head.text : undefined;

const isFunctionLike = (n: ts.Node): n is ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration =>
  ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isFunctionDeclaration(n);

/** Calls to `name` (by callee name), optionally on an object named `on`. */
const callsOf = (files: readonly Parsed[], name: string, on?: string): Array<{ p: Parsed; call: ts.CallExpression }> => {
  const out: Array<{ p: Parsed; call: ts.CallExpression }> = [];
  for (const p of files)
    walk(p.sf, (n) => {
      if (ts.isCallExpression(n) && calleeName(n) === name && (on === undefined || calleeObject(n) === on)) out.push({ p, call: n });
    });
  return out;
};

/** `x.on('event', handler)` registrations: the handler functions. */
const listenersOf = (files: readonly Parsed[], event: string): Array<{ p: Parsed; call: ts.CallExpression; fn: ts.Node | undefined }> =>
  [...callsOf(files, 'on'), ...callsOf(files, 'once')]
    .filter(({ call }) => call.arguments[0] !== undefined && stringValue(call.arguments[0]) === event)
    .map(({ p, call }) => ({ p, call, fn: call.arguments[1] }));

/** Does `fn` call `<first parameter>.preventDefault()`? */
const preventsDefault = (fn: ts.Node | undefined): boolean => {
  if (!fn || !isFunctionLike(fn)) return false;
  const first = fn.parameters[0];
  if (!first || !ts.isIdentifier(first.name)) return false;
  const eventName = first.name.text;
  let found = false;
  walk(fn, (n) => {
    if (ts.isCallExpression(n) && calleeName(n) === 'preventDefault' && calleeObject(n) === eventName) found = true;
  });
  return found;
};

/** Every value the function returns (expression bodies and return statements, not those of nested functions). */
const returnedValues = (fn: ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration): ts.Expression[] => {
  if (fn.body && !ts.isBlock(fn.body)) return [fn.body];
  const out: ts.Expression[] = [];
  const visit = (n: ts.Node): void => {
    if (isFunctionLike(n)) return;
    if (ts.isReturnStatement(n) && n.expression) out.push(n.expression);
    n.forEachChild(visit);
  };
  fn.body?.forEachChild(visit);
  return out;
};

const unwrap = (e: ts.Expression): ts.Expression => (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) ? unwrap(e.expression) : e);

/** Which required preferences an object literal gets wrong (missing, other value). */
const preferenceGaps = (obj: ts.ObjectLiteralExpression): string[] => {
  const got = new Map<string, ts.Expression>();
  for (const p of obj.properties) if (ts.isPropertyAssignment(p) && propName(p)) got.set(propName(p) as string, p.initializer);
  return Object.entries(REQUIRED_PREFERENCES)
    .filter(([k, v]) => {
      const e = got.get(k);
      return e === undefined || boolValue(e) !== v;
    })
    .map(([k, v]) => `${k}: ${String(v)}`);
};

/** The Content-Security-Policy as directive → sources. */
export const parseCsp = (csp: string): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const part of csp.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
};

export function scanElectronSecurity(input: ScanInput): Finding[] {
  const findings: Finding[] = [];
  const files: Parsed[] = [...input.files].map(([file, text]) => ({ file, sf: ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS) }));
  const main = files.filter((p) => !p.file.includes('/preload/'));
  const preload = files.filter((p) => p.file.includes('/preload/'));
  const add = (rule: string, item: number, severity: Severity, where: { p: Parsed; node: ts.Node } | { file: string; line?: number }, message: string): void => {
    const at = 'p' in where ? { file: where.p.file, line: lineOf(where.p, where.node) } : { file: where.file, line: where.line ?? 1 };
    findings.push({ rule, item, severity, ...at, message });
  };
  const anyMain = main[0]?.file ?? 'electron/main';

  // 1, 18: only our own content, never over http:// or file://.
  for (const { p, call } of [...callsOf(main, 'loadURL'), ...callsOf(main, 'loadFile')]) {
    const arg = call.arguments[0];
    const s = arg ? stringValue(arg) : undefined;
    if (calleeName(call) === 'loadFile') add('load-secure-content', 18, 'medium', { p, node: call }, 'loadFile serves the renderer from file://; serve it from the app:// protocol instead.');
    else if (s !== undefined && /^(http|file|ftp|ws):/i.test(s)) add('load-secure-content', 1, 'high', { p, node: call }, `loadURL loads insecure content (${s}).`);
  }

  // 2, 3, 4, 6, 8, 9, 10, 12: no preference that weakens the renderer, wherever it is written.
  for (const p of files)
    walk(p.sf, (n) => {
      if (!ts.isPropertyAssignment(n)) return;
      const name = propName(n);
      if (!name) return;
      const v = boolValue(unwrap(n.initializer));
      if (name === 'enableBlinkFeatures') add('web-preferences', 10, 'high', { p, node: n }, 'enableBlinkFeatures turns on Blink features Electron leaves off.');
      else if (name in FORBIDDEN_ON && v === true) add('web-preferences', FORBIDDEN_ON[name] as number, 'high', { p, node: n }, `${name}: true weakens the renderer.`);
      else if (name in FORBIDDEN_OFF && v === false) add('web-preferences', FORBIDDEN_OFF[name] as number, 'high', { p, node: n }, `${name}: false weakens the renderer.`);
      else if ((name in FORBIDDEN_ON || name in FORBIDDEN_OFF) && v === undefined && ts.isObjectLiteralExpression(n.parent) && isPreferences(n.parent))
        add('web-preferences', FORBIDDEN_ON[name] ?? FORBIDDEN_OFF[name] ?? 2, 'medium', { p, node: n }, `${name} is not a literal, so this scan cannot prove it is safe.`);
    });

  // 2–4: every window and view gets the project's secure preferences.
  const secureFn = findFunction(main, 'secureWebPreferences');
  if (!secureFn) add('secure-preferences', 2, 'high', { file: anyMain }, 'There is no secureWebPreferences(): one function must hold every window’s webPreferences.');
  else {
    const objs = returnedValues(secureFn.fn).map(unwrap).filter(ts.isObjectLiteralExpression);
    if (objs.length === 0) add('secure-preferences', 2, 'high', { p: secureFn.p, node: secureFn.fn }, 'secureWebPreferences() does not return an object literal this scan can read.');
    for (const o of objs) {
      const gaps = preferenceGaps(o);
      if (gaps.length) add('secure-preferences', 2, 'high', { p: secureFn.p, node: o }, `secureWebPreferences() must set ${gaps.join(', ')}.`);
    }
  }
  for (const p of main)
    walk(p.sf, (n) => {
      if (!ts.isNewExpression(n) || !ts.isIdentifier(n.expression) || !['BrowserWindow', 'BrowserView', 'WebContentsView'].includes(n.expression.text)) return;
      const opts = n.arguments?.[0] ? unwrap(n.arguments[0]) : undefined;
      const wp = opts && ts.isObjectLiteralExpression(opts) ? opts.properties.find((x) => propName(x) === 'webPreferences') : undefined;
      const value = wp && ts.isPropertyAssignment(wp) ? unwrap(wp.initializer) : undefined;
      const ok =
        value !== undefined &&
        ((ts.isCallExpression(value) && calleeName(value) === 'secureWebPreferences') || (ts.isObjectLiteralExpression(value) && preferenceGaps(value).length === 0));
      if (!ok) add('window-preferences', 2, 'high', { p, node: n }, `new ${n.expression.text}() must take webPreferences: secureWebPreferences(preload).`);
    });
  if (callsOf(main, 'enableSandbox', 'app').length === 0) add('sandbox', 4, 'medium', { file: anyMain }, 'app.enableSandbox() is never called: every renderer should be sandboxed, whatever its window says.');

  // 5: every permission request denied.
  const perm = callsOf(main, 'setPermissionRequestHandler');
  if (perm.length === 0) add('permissions', 5, 'high', { file: anyMain }, 'No setPermissionRequestHandler(): Electron grants every permission a page asks for.');
  for (const { p, call } of perm) {
    const fn = call.arguments[0];
    const cb = fn && isFunctionLike(fn) ? fn.parameters[2]?.name : undefined;
    let grants = !cb || !ts.isIdentifier(cb);
    if (fn && cb && ts.isIdentifier(cb))
      walk(fn, (n) => {
        if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === cb.text && (n.arguments[0] === undefined || boolValue(n.arguments[0]) !== false)) grants = true;
      });
    if (grants) add('permissions', 5, 'medium', { p, node: call }, 'The permission request handler may grant a permission; review each one it grants.');
  }
  if (callsOf(main, 'setPermissionCheckHandler').length === 0) add('permissions', 5, 'medium', { file: anyMain }, 'No setPermissionCheckHandler(): permission checks answer Electron’s defaults.');

  // 7: a strict CSP, sent with every response.
  const setsCsp = ({ p, call }: { p: Parsed; call: ts.CallExpression }): boolean => call.getText(p.sf).includes("'Content-Security-Policy'");
  if (!callsOf(main, 'onHeadersReceived').some(setsCsp)) add('csp', 7, 'high', { file: anyMain }, 'No Content-Security-Policy header is set on the session’s responses (webRequest.onHeadersReceived).');
  for (const h of callsOf(main, 'handle', 'protocol'))
    if (!setsCsp(h)) add('csp', 7, 'high', { p: h.p, node: h.call }, 'The app protocol’s responses carry no Content-Security-Policy header.');
  const csp = parseCsp(input.csp);
  const scriptSrc = csp.get('script-src') ?? csp.get('default-src');
  const styleSrc = csp.get('style-src') ?? csp.get('default-src');
  if (!csp.has('default-src')) add('csp', 7, 'medium', { file: 'CSP' }, 'The CSP has no default-src.');
  if (!scriptSrc) add('csp', 7, 'high', { file: 'CSP' }, 'The CSP does not restrict scripts.');
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:', 'blob:'])
    if (scriptSrc?.includes(bad)) add('csp', 7, 'high', { file: 'CSP' }, `script-src allows ${bad}.`);
  if (styleSrc?.includes("'unsafe-inline'")) add('csp', 7, 'low', { file: 'CSP' }, "style-src allows 'unsafe-inline'.");
  if (csp.get('object-src')?.join(' ') !== "'none'") add('csp', 7, 'medium', { file: 'CSP' }, "object-src is not 'none'.");
  if (!["'none'", "'self'"].includes(csp.get('base-uri')?.join(' ') ?? '')) add('csp', 7, 'low', { file: 'CSP' }, "base-uri is not 'none' or 'self'.");
  if (csp.get('frame-ancestors')?.join(' ') !== "'none'") add('csp', 7, 'low', { file: 'CSP' }, "frame-ancestors is not 'none'.");

  // 11, 12: no <webview> is ever attached.
  if (!listenersOf(main, 'will-attach-webview').some((l) => preventsDefault(l.fn)))
    add('webview', 12, 'medium', { file: anyMain }, 'No will-attach-webview handler prevents a <webview> from being attached.');

  // 13: navigation away from the app is stopped.
  const nav = listenersOf(main, 'will-navigate');
  if (nav.length === 0) add('navigation', 13, 'high', { file: anyMain }, 'No will-navigate handler: a page can navigate the window anywhere.');
  for (const l of nav) if (!preventsDefault(l.fn)) add('navigation', 13, 'high', { p: l.p, node: l.call }, 'The will-navigate handler never calls event.preventDefault().');

  // 14: no new windows.
  const opens = callsOf(main, 'setWindowOpenHandler');
  if (opens.length === 0) add('new-windows', 14, 'high', { file: anyMain }, 'No setWindowOpenHandler(): a page can open new windows.');
  for (const { p, call } of opens) {
    const fn = call.arguments[0];
    const values = fn && isFunctionLike(fn) ? returnedValues(fn).map(unwrap) : [];
    const allDeny =
      values.length > 0 &&
      values.every((v) => ts.isObjectLiteralExpression(v) && v.properties.some((x) => propName(x) === 'action' && ts.isPropertyAssignment(x) && stringValue(x.initializer) === 'deny'));
    if (!allDeny) add('new-windows', 14, 'high', { p, node: call }, "The window open handler does not always return { action: 'deny' }.");
  }
  if (listenersOf(main, 'web-contents-created').length === 0)
    add('new-windows', 13, 'medium', { file: anyMain }, 'No web-contents-created listener: contents created later do not get the navigation and window guards.');

  // 15: shell.openExternal only behind a check.
  for (const { p, call } of callsOf(files, 'openExternal')) {
    const arg = call.arguments[0];
    if (arg && stringValue(arg) !== undefined && ts.isStringLiteral(arg)) continue;
    let n: ts.Node = call;
    let guarded = false;
    while (n.parent && !isFunctionLike(n)) {
      const parent: ts.Node = n.parent;
      if ((ts.isConditionalExpression(parent) && parent.whenTrue === n) || (ts.isIfStatement(parent) && parent.thenStatement === n)) guarded = true;
      n = parent;
    }
    if (!guarded) add('open-external', 15, 'medium', { p, node: call }, 'shell.openExternal() with a URL no check has passed.');
  }

  // 16: a current Electron.
  const electronRange = (JSON.parse(input.packageJson) as { devDependencies?: Record<string, string>; dependencies?: Record<string, string> }).devDependencies?.electron;
  const major = Number(/(\d+)/.exec(electronRange ?? '')?.[1] ?? NaN);
  add('electron-version', 16, 'info', { file: 'package.json' }, Number.isFinite(major) ? `Electron ${electronRange}: check it is one of the three supported majors (electronjs.org/docs/latest/tutorial/electron-timelines).` : 'No Electron version in package.json.');

  // 17: every IPC call goes through the one router, whose dispatcher checks the sending frame.
  for (const method of ['handle', 'handleOnce', 'on', 'once', 'addListener'])
    for (const { p, call } of callsOf(main, method, 'ipcMain'))
      if (!p.file.endsWith('/ipc-router.ts')) add('ipc-sender', 17, 'high', { p, node: call }, `ipcMain.${method}() outside the contract's router: its sender is not checked.`);
  const router = main.find((p) => p.file.endsWith('/ipc-router.ts'));
  if (router && !router.sf.text.includes('senderFrame')) add('ipc-sender', 17, 'high', { file: router.file }, 'The router does not pass the sending frame (event.senderFrame) to the dispatcher.');
  const registrations = callsOf(main, 'registerContract');
  if (registrations.length === 0 && callsOf(main, 'handle', 'ipcMain').length > 0) add('ipc-sender', 17, 'high', { file: anyMain }, 'IPC is handled without registerContract (no sender check).');
  for (const { p, call } of registrations) {
    const opts = call.arguments[2] ? unwrap(call.arguments[2]) : undefined;
    const check = opts && ts.isObjectLiteralExpression(opts) ? opts.properties.find((x) => propName(x) === 'isTrustedSender') : undefined;
    const fn = check && ts.isPropertyAssignment(check) ? unwrap(check.initializer) : undefined;
    const trustsAll = fn !== undefined && isFunctionLike(fn) && returnedValues(fn).some((v) => boolValue(unwrap(v)) === true);
    if (!fn || trustsAll) add('ipc-sender', 17, 'high', { p, node: call }, 'registerContract() without a real isTrustedSender check.');
  }

  // 18: the app's own protocol, without privileges that bypass the CSP.
  const schemes = callsOf(main, 'registerSchemesAsPrivileged');
  if (schemes.length === 0) add('custom-protocol', 18, 'medium', { file: anyMain }, 'No custom protocol: the renderer would be served from file://.');
  for (const { p, call } of schemes)
    walk(call, (n) => {
      if (ts.isPropertyAssignment(n) && propName(n) === 'bypassCSP' && boolValue(n.initializer) === true) add('custom-protocol', 18, 'high', { p, node: n }, 'The app scheme bypasses the CSP.');
    });
  for (const name of ['registerFileProtocol', 'interceptFileProtocol'])
    for (const { p, call } of callsOf(main, name)) add('custom-protocol', 18, 'medium', { p, node: call }, `protocol.${name}() serves files outside the app's protocol handler.`);

  // 19: fuses set on purpose.
  const builder = parseYaml(input.builderConfig) as { electronFuses?: Record<string, unknown> } | null;
  const fuses = builder?.electronFuses ?? {};
  for (const [fuse, want] of Object.entries(REQUIRED_FUSES))
    if (fuses[fuse] !== want.value) add('fuses', 19, want.severity, { file: 'electron-builder.yml' }, `electronFuses.${fuse} must be ${String(want.value)} (it is ${fuses[fuse] === undefined ? 'not set' : String(fuses[fuse])}).`);

  // 20: Electron APIs never reach the page; the preload exposes only the typed bridge.
  for (const p of files)
    walk(p.sf, (n) => {
      if ((ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && n.moduleSpecifier.text === '@electron/remote') || (ts.isIdentifier(n) && n.text === 'remote' && ts.isPropertyAccessExpression(n.parent) && n.parent.name === n))
        add('expose-electron', 20, 'high', { p, node: n }, 'The remote module hands main-process objects to the page.');
    });
  for (const p of preload)
    walk(p.sf, (n) => {
      if (!ts.isIdentifier(n) || n.text !== 'ipcRenderer' || ts.isImportSpecifier(n.parent)) return;
      const access = n.parent;
      const ok = ts.isPropertyAccessExpression(access) && access.expression === n && ts.isCallExpression(access.parent) && access.parent.expression === access;
      if (!ok) add('expose-electron', 20, 'high', { p, node: n }, 'ipcRenderer is used as a value: it could reach the page through the bridge. Call its methods inside wrappers only.');
    });
  if (preload.length > 0 && callsOf(preload, 'exposeInMainWorld').length === 0) add('expose-electron', 20, 'medium', { file: preload[0]?.file ?? 'preload' }, 'The preload exposes nothing through contextBridge.');

  // DevTools stay out of the shipped app (the production menu has none).
  for (const { p, call } of callsOf(main, 'openDevTools')) add('devtools', 20, 'low', { p, node: call }, 'openDevTools() is called: make sure it never runs in the packaged app.');

  return findings;
}

/** A preferences object: the value of a `webPreferences` property or one with a known preference key. */
const isPreferences = (o: ts.ObjectLiteralExpression): boolean =>
  (ts.isPropertyAssignment(o.parent) && propName(o.parent) === 'webPreferences') || o.properties.some((p) => propName(p) === 'preload' || propName(p) === 'contextIsolation');

const findFunction = (files: readonly Parsed[], name: string): { p: Parsed; fn: ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration } | undefined => {
  for (const p of files) {
    let found: ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration | undefined;
    walk(p.sf, (n) => {
      if (found) return;
      if (ts.isFunctionDeclaration(n) && n.name?.text === name) found = n;
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer) {
        const init = unwrap(n.initializer);
        if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) found = init;
      }
    });
    if (found) return { p, fn: found };
  }
  return undefined;
};

const rank = (s: Severity): number => SEVERITIES.indexOf(s);
export const aboveLow = (findings: readonly Finding[]): Finding[] => findings.filter((f) => rank(f.severity) > rank('low'));

/** The shipped shell's sources, the builder config, package.json and the production CSP, read from the repository. */
export function loadRepository(root: string): ScanInput {
  const files = new Map<string, string>();
  for (const dir of ['electron/main', 'electron/preload'])
    for (const name of readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }))
      if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.set(`${dir}/${name.split(path.sep).join('/')}`, readFileSync(path.join(root, dir, name), 'utf8'));
  return {
    files,
    builderConfig: readFileSync(path.join(root, 'electron-builder.yml'), 'utf8'),
    packageJson: readFileSync(path.join(root, 'package.json'), 'utf8'),
    csp: cspFor(false),
  };
}

export const formatFindings = (findings: readonly Finding[]): string =>
  [...findings]
    .sort((a, b) => rank(b.severity) - rank(a.severity) || a.item - b.item)
    .map((f) => `${f.severity.toUpperCase().padEnd(6)} #${String(f.item).padEnd(2)} ${f.rule.padEnd(20)} ${f.file}:${f.line}  ${f.message}`)
    .join('\n');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const findings = scanElectronSecurity(loadRepository(root));
  console.log(formatFindings(findings) || 'no findings');
  const bad = aboveLow(findings);
  console.log(`\n${findings.length} finding(s), ${bad.length} above low.`);
  process.exitCode = bad.length > 0 ? 1 : 0;
}
