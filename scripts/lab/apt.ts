import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from './process';

/** A Debian package a lab part needs, keyed by a program it provides. */
export interface AptNeed {
  /** A program the package installs, looked up on PATH and in the sbin folders. */
  bin: string;
  /** The Debian package that provides it. */
  pkg: string;
}

const searchDirs = (): string[] => [
  ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
  '/usr/local/sbin',
  '/usr/sbin',
  '/sbin',
];

/** Absolute path of a program, or undefined when it is not installed. */
export function whichBin(bin: string): string | undefined {
  for (const dir of searchDirs()) {
    const p = path.join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
// Other lab parts may run apt at the same time: wait for dpkg's lock instead of failing.
const lockOpts = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3'];

/**
 * Install (as root, with apt-get) whichever of the packages are missing. Fast no-op when all programs exist.
 * Tries without `apt-get update` first (a warm machine has lists), then updates and retries once.
 */
export async function aptEnsure(needs: readonly AptNeed[], what: string): Promise<void> {
  const missing = [...new Set(needs.filter((n) => whichBin(n.bin) === undefined).map((n) => n.pkg))];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${what}: missing Debian packages ${missing.join(', ')} and not root, so cannot apt-get install them`);
  }
  const install = (): Promise<string> =>
    run('apt-get', [...lockOpts, 'install', '-y', '--no-install-recommends', ...missing], { env: aptEnv(), timeoutMs: 900_000 });
  try {
    await install();
  } catch {
    try {
      await run('apt-get', [...lockOpts, 'update'], { env: aptEnv(), timeoutMs: 900_000 });
      await install();
    } catch (err) {
      throw new Error(`${what}: could not apt-get install ${missing.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
  }
  const still = needs.filter((n) => whichBin(n.bin) === undefined);
  if (still.length > 0) {
    throw new Error(`${what}: after apt-get install, still missing ${still.map((n) => `${n.bin} (${n.pkg})`).join(', ')}`);
  }
}
