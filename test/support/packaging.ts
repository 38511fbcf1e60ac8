import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The fuse wire's marker in an Electron binary (@electron/fuses src/constants.ts). */
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

/**
 * Electron 45's fuse wire as it ships (0x31 on, 0x30 off), in wire order: RunAsNode on, EnableCookieEncryption off,
 * EnableNodeOptionsEnvironmentVariable on, EnableNodeCliInspectArguments on, EnableEmbeddedAsarIntegrityValidation
 * off, OnlyLoadAppFromAsar off, LoadBrowserProcessSpecificV8Snapshot off, GrantFileProtocolExtraPrivileges on,
 * WasmTrapHandlers on.
 */
export const ELECTRON_DEFAULT_WIRE = [1, 0, 1, 1, 0, 0, 0, 1, 1] as const;

/**
 * A stand-in unpacked Electron distribution for Linux x64 (the real one cannot be downloaded here): the files
 * electron-builder moves, renames or deletes (`electron`, `chrome-sandbox`, `version`, the licenses; no
 * `default_app.asar`, which electron-builder would delete),
 * and an `electron` that carries a fuse wire where the real binary does, so `electronFuses` flips it and the check
 * can read it back.
 */
export function writeElectronStandin(dir: string, version: string): void {
  mkdirSync(path.join(dir, 'resources'), { recursive: true });
  const wire = Buffer.from([1, ELECTRON_DEFAULT_WIRE.length, ...ELECTRON_DEFAULT_WIRE.map((on) => (on ? 0x31 : 0x30))]);
  const exe = Buffer.concat([
    Buffer.from('#!/bin/sh\necho "stand-in Electron: not runnable" >&2\nexit 1\n# ', 'utf8'),
    Buffer.from(FUSE_SENTINEL, 'ascii'),
    wire,
    Buffer.from('\n', 'utf8'),
  ]);
  writeFileSync(path.join(dir, 'electron'), exe);
  chmodSync(path.join(dir, 'electron'), 0o755);
  writeFileSync(path.join(dir, 'chrome-sandbox'), '#!/bin/sh\nexit 1\n');
  chmodSync(path.join(dir, 'chrome-sandbox'), 0o755);
  writeFileSync(path.join(dir, 'version'), `v${version}`);
  writeFileSync(path.join(dir, 'LICENSE'), 'Electron license (stand-in)\n');
  writeFileSync(path.join(dir, 'LICENSES.chromium.html'), '<p>Chromium licenses (stand-in)</p>\n');
}

/**
 * Runs electron-builder for Linux x64 from the repository's config and built `out/`, against `electronDist`,
 * writing into `outDir`. The deb target's fpm is the stand-in in test/support/fpm-standin.mjs.
 */
export async function packageLinux(opts: { repo: string; electronDist: string; outDir: string; targets: readonly string[] }): Promise<string> {
  const result = await run(
    process.execPath,
    [
      path.join(opts.repo, 'node_modules/electron-builder/cli.js'),
      '--linux',
      ...opts.targets,
      '--x64',
      '--publish',
      'never',
      `-c.electronDist=${opts.electronDist}`,
      `-c.directories.output=${opts.outDir}`,
    ],
    {
      cwd: opts.repo,
      env: { ...process.env, CUSTOM_FPM_PATH: path.join(opts.repo, 'test/support/fpm-standin.mjs'), CSC_IDENTITY_AUTO_DISCOVERY: 'false' },
      maxBuffer: 32 * 1024 * 1024,
    },
  ).catch((err: unknown) => {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    throw new Error(`electron-builder failed:\n${`${e.stdout ?? ''}${e.stderr ?? ''}`.slice(-6000) || (e.message ?? String(err))}`);
  });
  return result.stdout + result.stderr;
}
