/**
 * A file or folder of Nextcloud's data back in its place (pure parts: no server). Only a user's files
 * (`<user>/files/…`) go back in place: Nextcloud's own folders (versions, trash, app data) are its database's to
 * keep. What is there now is never deleted: it is kept beside the restored one under a name saying so, which the
 * rescan makes visible to the user.
 */
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors';

/** The longest file name most Linux filesystems take, in bytes. */
const NAME_MAX_BYTES = 255;

/** The path `occ files:scan --path` is given: the restored item's folder (so the kept one is found too), `/<user>/files` at least. */
export function scanPathOf(rel: string): string {
  const parts = rel.split('/');
  if (parts.length < 2 || parts[1] !== 'files') {
    throw new AppError('backups.not-found', `What to restore: only a user’s files (like admin/files/Photos) can go back in place; “${rel.slice(0, 200)}” is Nextcloud’s own data.`, {
      field: 'path',
      hint: 'Restore it into a new folder instead.',
    });
  }
  return `/${(parts.length <= 2 ? parts : parts.slice(0, -1)).join('/')}`;
}

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * The name what is there now is kept under, beside the restored one: `notes (before restore 2026-12-05 05.31.07).txt`,
 * a folder without the extension split; the stem is shortened so the name fits the filesystem.
 */
export function keptName(name: string, isDir: boolean, at: Date): string {
  const stamp = `${at.getUTCFullYear()}-${two(at.getUTCMonth() + 1)}-${two(at.getUTCDate())} ${two(at.getUTCHours())}.${two(at.getUTCMinutes())}.${two(at.getUTCSeconds())}`;
  const dot = isDir ? -1 : name.lastIndexOf('.');
  const [stem, ext] = dot > 0 && name.length - dot <= 16 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const suffix = ` (before restore ${stamp})${ext}`;
  let s = stem;
  while (Buffer.byteLength(s + suffix) > NAME_MAX_BYTES) s = [...s].slice(0, -1).join('');
  return s + suffix;
}

/** Owner and mode of a file as `restic ls --json` lists them (restic dump restores neither). */
const OwnedNode = z.object({ path: z.string(), type: z.string(), uid: z.number().int().nonnegative().optional(), gid: z.number().int().nonnegative().optional(), mode: z.number().int().nonnegative().optional() });

export function ownerAndMode(stdout: string, snapshotPath: string): { owner: string; mode: string } {
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    const n = OwnedNode.safeParse(v);
    if (n.success && n.data.path === snapshotPath) {
      // Go's FileMode: permission bits low, type and special bits high.
      return { owner: `${n.data.uid ?? 0}:${n.data.gid ?? 0}`, mode: ((n.data.mode ?? 0o644) & 0o777).toString(8).padStart(3, '0') };
    }
  }
  return { owner: '0:0', mode: '644' };
}

/** What `occ files:scan` counted, from its summary table (`| Folders | Files | … | Errors | Elapsed time |`). */
export function parseFilesScan(stdout: string): { folders: number | null; files: number | null; errors: number | null; problem: string | null } {
  const rows = stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim()),
    );
  const header = rows.find((r) => r.includes('Folders') && r.includes('Files'));
  const values = header ? rows[rows.indexOf(header) + 1] : undefined;
  const col = (name: string): number | null => {
    const i = header?.indexOf(name) ?? -1;
    const v = i >= 0 ? values?.[i] : undefined;
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  const problem = stdout.split('\n').find((l) => /^(Path not found|Exception during scan|Unknown user|Home storage for user)/.test(l.trim()))?.trim() ?? null;
  return { folders: col('Folders'), files: col('Files'), errors: col('Errors'), problem };
}

/** `<data>/<rel>`'s folder and name on the server. */
export const placeOf = (dataDir: string, rel: string): { parent: string; name: string; full: string } => {
  const full = path.posix.join(dataDir, rel);
  return { parent: path.posix.dirname(full), name: path.posix.basename(full), full };
};
