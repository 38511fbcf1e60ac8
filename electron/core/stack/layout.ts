/**
 * Where a stack lives on the server (Kamal style, DESIGN.md §3):
 *
 *   <m2Dir>/releases/<id>/      compose.yaml, env/<module>.env (0600), compose.args, release.json
 *   <m2Dir>/releases/<id>.partial/   an upload in progress (removed by the next apply when cut off)
 *                               releases kept: `current`, its rollback target and a few others (retention.ts);
 *                               an apply with the same content as a kept release reuses its folder
 *   <m2Dir>/current             symlink → releases/<id>, switched atomically (ln -s tmp && mv -T)
 *   <m2Dir>/files/<sha16>/<name>    content-addressed module files, never modified
 *   <m2Dir>/bin/m2-apply.sh     the apply guard, uploaded before each apply
 *   <m2Dir>/.staging/<random>/  a plan's scratch copy of compose + env files, removed after
 *   <m2Dir>/.lock               flock'ed by the guard for the whole apply
 */
import { remoteCommandFailed } from '../ssh/remote-command';
import type { CommandRunner } from '../ssh/runner';

export interface M2Layout {
  readonly root: string;
  readonly releases: string;
  readonly current: string;
  readonly files: string;
  readonly bin: string;
  readonly guard: string;
  readonly staging: string;
  readonly lock: string;
}

export const layoutOf = (m2Dir: string): M2Layout => ({
  root: m2Dir,
  releases: `${m2Dir}/releases`,
  current: `${m2Dir}/current`,
  files: `${m2Dir}/files`,
  bin: `${m2Dir}/bin`,
  guard: `${m2Dir}/bin/m2-apply.sh`,
  staging: `${m2Dir}/.staging`,
  lock: `${m2Dir}/.lock`,
});

export const releaseDir = (l: M2Layout, id: string): string => `${l.releases}/${id}`;
export const partialDir = (l: M2Layout, id: string): string => `${l.releases}/${id}.partial`;

/** `20261125T190512Z-3fa9c1d2`, optionally `-2`, `-3` when the same second and digest come twice. */
export const RELEASE_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}(?:-[0-9]{1,3})?$/;

/** UTC timestamp (sorts by time) and the first 8 hex digits of the rendered digest. */
export function makeReleaseId(now: Date, digest: string, taken: ReadonlySet<string> = new Set()): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  const short = digest.replace(/^sha256:/, '').slice(0, 8).toLowerCase();
  if (!/^[0-9a-f]{8}$/.test(short)) throw new Error(`a release digest must be hex: ${digest}`);
  const base = `${stamp}-${short}`;
  if (!taken.has(base)) return base;
  for (let n = 2; n < 1000; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  throw new Error('too many releases in one second');
}

/** Names a path may hold on the server for us to pass it through files the guard reads line by line. */
const safeServerPath = (p: string): boolean => p.startsWith('/') && !/\p{Cc}/u.test(p) && !p.split('/').includes('..');

/**
 * `$HOME/m2` of the SSH user. `$HOME` is read by the server's shell from a constant script (no user input);
 * a home with control characters is refused, since release paths travel line by line to the guard.
 */
export async function resolveM2Dir(runner: CommandRunner): Promise<string> {
  const argv = ['sh', '-c', 'printf %s "$HOME"'];
  const r = await runner.exec(argv);
  const home = r.stdout.replace(/\/+$/, '');
  if (r.code !== 0 || !safeServerPath(home === '' ? '/' : home)) {
    throw remoteCommandFailed(argv, r, {
      code: 'stack.remote-failed',
      message: () => 'Could not find the SSH user’s home folder on the server.',
      hint: 'Check that the user has a home folder (getent passwd <user>) whose name has no line breaks.',
    });
  }
  return `${home}/m2`;
}
