import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { extractAll, extractFile, getRawHeader, listPackage } from '@electron/asar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTRON_DEFAULT_WIRE, FUSE_SENTINEL, packageLinux, writeElectronStandin } from '../support/packaging';

/**
 * The Linux app as `npm run dist` builds it (electron-builder.yml, the built out/), packaged `--dir` and `.deb`
 * against a stand-in Electron distribution (the real binary cannot be downloaded here; test/support/packaging.ts),
 * then inspected: what app.asar holds, the server scripts under its integrity hashes, the fuses read back from the
 * executable, the .deb's layout and fields, and the size against a budget. Needs `npm run build` first (npm test
 * builds before it runs).
 */
const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const electronVersion = (JSON.parse(readFileSync(path.join(repo, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;

/**
 * What the installed app may weigh (app.asar plus the native modules unpacked beside it), not counting Electron
 * itself (~250 MB unpacked). Measured 8.6 MB: main 3.7 MB (unminified on purpose, so stack traces in the log stay
 * readable), renderer 0.9 MB, the keychain's native module 3.3 MB.
 */
const APP_BUDGET_BYTES = 10 * 1024 * 1024;
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MB`;

/** Every package the app's runtime dependencies pull in (dependencies and optional ones), by walking node_modules. */
function runtimeClosure(): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const file = path.join(repo, 'node_modules', name, 'package.json');
    if (!existsSync(file)) return; // an optional dependency for another platform
    seen.add(name);
    const p = JSON.parse(readFileSync(file, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) visit(d);
  };
  for (const d of Object.keys(pkg.dependencies)) visit(d);
  return seen;
}

/** Sum of file sizes under a directory. */
function du(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(path.join(e.parentPath, e.name)).size;
  return total;
}

interface AsarNode {
  files?: Record<string, AsarNode>;
  size?: number;
  unpacked?: boolean;
  integrity?: { algorithm: string; hash: string };
}

describe('packaging (Linux, --dir and .deb, stand-in Electron)', () => {
  let work: string;
  let out: string;
  let appDir: string;
  let asarPath: string;
  let entries: string[];
  let log: string;

  beforeAll(async () => {
    if (!existsSync(path.join(repo, pkg.main))) throw new Error(`${pkg.main} is missing: run npm run build before this test`);
    work = mkdtempSync(path.join(tmpdir(), 'm2-packaging-'));
    const dist = path.join(work, 'electron-dist');
    writeElectronStandin(dist, electronVersion);
    out = path.join(work, 'dist');
    log = await packageLinux({ repo, electronDist: dist, outDir: out, targets: ['dir', 'deb'] });
    appDir = path.join(out, 'linux-unpacked');
    asarPath = path.join(appDir, 'resources', 'app.asar');
    entries = listPackage(asarPath, { isPack: false });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('skips the native rebuild (cpu-features is never built) and packs the app', () => {
    expect(log).not.toMatch(/rebuilding native dependencies|cpu-features.*(rebuild|gyp)/i);
    expect(existsSync(path.join(appDir, 'm2-companion'))).toBe(true);
    expect(existsSync(asarPath)).toBe(true);
  });

  it('app.asar holds what runs: main, preload, renderer, the server scripts and package.json', () => {
    for (const f of ['/package.json', `/${pkg.main}`, '/out/preload/index.cjs', '/out/renderer/index.html', '/resources/stack/m2-apply.sh', '/resources/status/m2-status-agent.sh']) {
      expect(entries).toContain(f);
    }
    const packed = JSON.parse(extractFile(asarPath, 'package.json').toString('utf8')) as { main: string };
    expect(packed.main).toBe(pkg.main);
  });

  it('and nothing else: no web host, tests, TypeScript sources, source maps or dev dependencies', () => {
    const offending = entries.filter(
      (e) =>
        /\.map$/.test(e) ||
        /(^|\/)webclient(\/|$)|(^|\/)webhost(\/|$)/.test(e) ||
        /\.(test|spec)\.[cm]?[jt]sx?$/.test(e) ||
        (/\.[cm]?tsx?$/.test(e) && !e.endsWith('.d.ts')) ||
        e.startsWith('/electron/') ||
        e.startsWith('/renderer/') ||
        e.startsWith('/test/') ||
        e.startsWith('/scripts/') ||
        e.startsWith('/resources/build'),
    );
    expect(offending).toEqual([]);
    const modules = new Set(
      entries
        .map((e) => /^\/node_modules\/(@[^/]+\/[^/]+|[^@/][^/]*)/.exec(e)?.[1])
        .filter((m): m is string => m !== undefined),
    );
    const allowed = runtimeClosure();
    expect([...modules].filter((m) => !allowed.has(m))).toEqual([]);
    expect([...modules].filter((m) => m in pkg.devDependencies)).toEqual([]);
    // ssh2's optional native parts stay out: their install scripts never ran, and ssh2 works without them.
    expect([...modules].filter((m) => ['cpu-features', 'nan', 'buildcheck'].includes(m))).toEqual([]);
  });

  it('main bundles its libraries: it imports only Electron, Node built-ins and the runtime dependencies', () => {
    const main = readFileSync(path.join(repo, pkg.main), 'utf8');
    // The bundle's own module requests (rolldown writes them with double quotes: static imports at the start of a
    // line, dynamic import() and require() calls); bare specifiers only.
    const patterns = [/^import\s[^;]*?\bfrom\s*"([^"]+)"/gm, /^import\s*"([^"]+)"/gm, /\bimport\(\s*"([^"]+)"\s*\)/g, /\brequire\(\s*"([^"]+)"\s*\)/g];
    const specifiers = new Set(patterns.flatMap((re) => [...main.matchAll(re)].map((m) => m[1] as string)).filter((s) => !/^[./]/.test(s)));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const root = (s: string): string => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] as string));
    const unexpected = [...specifiers].filter((s) => !builtins.has(s) && root(s) !== 'electron' && !(root(s) in pkg.dependencies));
    expect(unexpected).toEqual([]);
  });

  it('the packed app loads from the archive alone: main evaluates (Electron stubbed), its runtime dependencies import', async () => {
    const extracted = path.join(work, 'app-extracted');
    extractAll(asarPath, extracted);
    const main = readFileSync(path.join(extracted, pkg.main), 'utf8');
    const names = [...main.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']electron["']/g)].flatMap((m) =>
      (m[1] as string).split(',').map((n) => n.trim().split(/\s+as\s+/)[0] as string).filter(Boolean),
    );
    const env = { ...process.env, M2_ELECTRON_STUB_EXPORTS: [...new Set(names)].join(','), NODE_PATH: '' };
    const register = path.join(repo, 'test/support/electron-stub-register.mjs');
    // Top level of the bundle (every statically bundled library) with only what the archive holds beside it.
    await run(process.execPath, ['--import', register, path.join(extracted, pkg.main)], { cwd: extracted, env, timeout: 60_000 });
    // What main imports lazily (the keychain) and ssh2, resolved from the archive's node_modules.
    const probe = Object.keys(pkg.dependencies)
      .map((d) => `await import(${JSON.stringify(d)});`)
      .join(' ');
    await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: extracted, env, timeout: 60_000 });
  });

  it('the scripts run on the server are inside the archive, under its integrity hashes', () => {
    const header = getRawHeader(asarPath).header as AsarNode;
    const node = (p: string): AsarNode | undefined => p.split('/').reduce<AsarNode | undefined>((n, part) => n?.files?.[part], header);
    for (const rel of ['resources/stack/m2-apply.sh', 'resources/status/m2-status-agent.sh']) {
      const entry = node(rel);
      const source = readFileSync(path.join(repo, rel));
      expect(entry?.unpacked ?? false).toBe(false);
      expect(entry?.integrity?.algorithm).toBe('SHA256');
      expect(entry?.integrity?.hash).toBe(createHash('sha256').update(source).digest('hex'));
      expect(extractFile(asarPath, rel).equals(source)).toBe(true);
    }
    // Nothing of the app's own left outside the archive: electron-builder unpacks only native modules' packages.
    const unpacked = path.join(appDir, 'resources', 'app.asar.unpacked');
    if (existsSync(unpacked)) {
      const files = readdirSync(unpacked, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      expect(files.map((e) => path.relative(unpacked, path.join(e.parentPath, e.name))).filter((f) => !f.startsWith('node_modules/'))).toEqual([]);
      expect(files.some((e) => e.name.endsWith('.node'))).toBe(true);
    }
    // Beside the archive only electron-builder's AppArmor profile (for Ubuntu 24.04's user-namespace rule).
    expect(readdirSync(path.join(appDir, 'resources')).filter((f) => !f.startsWith('app.asar'))).toEqual(['apparmor-profile']);
  });

  it('every fuse is set as electron-builder.yml says, read back from the executable', () => {
    const exe = readFileSync(path.join(appDir, 'm2-companion'));
    const at = exe.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
    expect(at).toBeGreaterThan(FUSE_SENTINEL.length - 1);
    expect(exe[at]).toBe(1); // wire version
    const length = exe[at + 1] as number;
    expect(length).toBe(ELECTRON_DEFAULT_WIRE.length);
    const state = (i: number): 'on' | 'off' => (exe[at + 2 + i] === 0x31 ? 'on' : 'off');
    expect({
      runAsNode: state(0),
      cookieEncryption: state(1),
      nodeOptionsEnv: state(2),
      nodeCliInspect: state(3),
      asarIntegrityValidation: state(4),
      onlyLoadAppFromAsar: state(5),
      browserProcessV8Snapshot: state(6),
      fileProtocolExtraPrivileges: state(7),
      // Not settable through electron-builder 26's electronFuses; Electron's default (on) is the one we want.
      wasmTrapHandlers: state(8),
    }).toEqual({
      runAsNode: 'off',
      cookieEncryption: 'on',
      nodeOptionsEnv: 'off',
      nodeCliInspect: 'off',
      asarIntegrityValidation: 'on',
      onlyLoadAppFromAsar: 'on',
      browserProcessV8Snapshot: 'off',
      fileProtocolExtraPrivileges: 'off',
      wasmTrapHandlers: 'on',
    });
  });

  it('the .deb installs the app, its icons and a desktop entry, with the fields apt shows', async () => {
    const deb = readdirSync(out).find((f) => f.endsWith('.deb'));
    expect(deb).toBeDefined();
    const debPath = path.join(out, deb as string);
    const { stdout: listing } = await run('dpkg-deb', ['--contents', debPath]);
    const files = listing.split('\n').map((l) => l.replace(/^.*?\s\.\//, '/').replace(/ -> .*$/, ''));
    for (const f of ['/opt/M2 Companion/m2-companion', '/opt/M2 Companion/resources/app.asar', '/usr/share/applications/m2-companion.desktop']) {
      expect(files).toContain(f);
    }
    for (const size of [16, 32, 48, 64, 128, 256, 512]) {
      expect(files).toContain(`/usr/share/icons/hicolor/${String(size)}x${String(size)}/apps/m2-companion.png`);
    }
    const { stdout: fields } = await run('dpkg-deb', ['--field', debPath, 'Package', 'Version', 'Architecture']);
    expect(fields).toContain(`Package: ${pkg.name}`);
    expect(fields).toContain(`Version: ${pkg.version}`);
    expect(fields).toContain('Architecture: amd64');
  });

  it('stays within the size budget (printed)', () => {
    const asar = statSync(asarPath).size;
    const unpacked = existsSync(path.join(appDir, 'resources', 'app.asar.unpacked')) ? du(path.join(appDir, 'resources', 'app.asar.unpacked')) : 0;
    const total = asar + unpacked;
    const deb = readdirSync(out).find((f) => f.endsWith('.deb'));
    console.log(
      `packaged app: app.asar ${mb(asar)} + unpacked ${mb(unpacked)} = ${mb(total)} (budget ${mb(APP_BUDGET_BYTES)}), ` +
        `${String(entries.length)} entries; .deb ${mb(statSync(path.join(out, deb as string)).size)} with a stand-in Electron`,
    );
    expect(total).toBeLessThanOrEqual(APP_BUDGET_BYTES);
  });
});
