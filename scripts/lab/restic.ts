/**
 * Lab backups: Debian's `restic` against a local repository in .lab/restic/repo (DESIGN.md §6, stack-facts §7).
 * The password lives in a file (mode 0600) passed as RESTIC_PASSWORD_FILE — never on argv.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { aptEnsure, type AptNeed } from './apt';
import { labPath } from './paths';
import { run } from './process';

export interface ResticRepo {
  /** Repository location (a local folder), for RESTIC_REPOSITORY / `-r`. */
  repo: string;
  /** Password file (mode 0600), for RESTIC_PASSWORD_FILE. */
  passwordFile: string;
  /** Env for running restic against this repo: RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, RESTIC_CACHE_DIR. */
  env: Record<string, string>;
  /** Installed restic version, e.g. "0.14.0". */
  version: string;
}

export const resticPackages: readonly AptNeed[] = [{ bin: 'restic', pkg: 'restic' }];

/** apt-get install restic when missing (root). */
export const installRestic = (): Promise<void> => aptEnsure(resticPackages, 'restic lab');

const dir = (...p: string[]): string => labPath('restic', ...p);

export const resticEnv = (): Record<string, string> => ({
  RESTIC_REPOSITORY: dir('repo'),
  RESTIC_PASSWORD_FILE: dir('password'),
  RESTIC_CACHE_DIR: dir('cache'),
});

/** Run restic with the lab repo's env (plus `extraEnv`), returning stdout. */
export const restic = (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<string> =>
  run('restic', args, { env: { ...process.env, ...resticEnv(), ...extraEnv }, timeoutMs: 300_000 });

/** "0.14.0" from `restic version` ("restic 0.14.0 compiled with go1.19.8 on linux/amd64"). */
export async function resticVersion(): Promise<string> {
  const out = await run('restic', ['version']);
  const m = /restic\s+v?(\d+\.\d+\.\d+)/.exec(out);
  if (!m?.[1]) throw new Error(`cannot parse restic version from: ${out.trim()}`);
  return m[1];
}

/** true when version a >= b (dotted numbers). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * Idempotent: install restic if missing, then reuse the lab repository (checked by opening it with the kept
 * password) or initialise a fresh one with a new random password.
 */
export async function ensureResticRepo(): Promise<ResticRepo> {
  await installRestic();
  const version = await resticVersion();
  mkdirSync(dir(), { recursive: true, mode: 0o700 });
  const repo = dir('repo');
  const passwordFile = dir('password');
  const env = resticEnv();
  const result = (): ResticRepo => ({ repo, passwordFile, env, version });

  if (existsSync(passwordFile) && existsSync(`${repo}/config`)) {
    chmodSync(passwordFile, 0o600);
    try {
      await restic(['cat', 'config', '--no-lock', '--quiet']);
      return result();
    } catch {
      // unreadable (wrong password, damaged): start over below
    }
  }
  rmSync(repo, { recursive: true, force: true });
  if (!existsSync(passwordFile) || readFileSync(passwordFile, 'utf8').trim() === '') {
    writeFileSync(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  chmodSync(passwordFile, 0o600);
  try {
    await restic(['init', '--quiet']);
  } catch (err) {
    throw new Error(`restic lab: could not initialise ${repo}: ${(err as Error).message}`, { cause: err });
  }
  return result();
}

/** Remove the lab repository, its cache and password (there is no daemon to stop). */
export function removeResticRepo(): void {
  rmSync(dir(), { recursive: true, force: true });
}
