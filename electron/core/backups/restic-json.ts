/**
 * restic's JSON as the Backups page reads it (stack-facts §7): `snapshots --json` (one array), `stats --json` (one
 * object), `ls --json` (a snapshot line, then one line per node), `backup --json` (status lines, then a summary),
 * and the backup module's status file. Each is checked with zod; what does not parse is skipped or said, never
 * passed on as is.
 */
import path from 'node:path';
import { z } from 'zod';
import { BackupLastRun, type BackupProgress, type SnapshotEntry, type SnapshotSummary } from '../../contract/backups';

const RawSnapshot = z.object({
  id: z.string().regex(/^[0-9a-f]{8,64}$/),
  short_id: z.string().optional(),
  time: z.string(),
  paths: z.array(z.string()).default([]),
  tags: z.array(z.string()).nullish(),
  hostname: z.string().default(''),
  summary: z
    .object({ backup_end: z.string().optional(), total_bytes_processed: z.number().optional(), total_files_processed: z.number().optional() })
    .optional(),
});

/** Newest first. */
export function parseSnapshots(stdout: string): SnapshotSummary[] {
  const raw = z.array(z.unknown()).parse(JSON.parse(stdout.trim() || '[]'));
  const out: SnapshotSummary[] = [];
  for (const r of raw) {
    const s = RawSnapshot.safeParse(r);
    if (!s.success) continue;
    const v = s.data;
    out.push({
      id: v.id,
      shortId: v.short_id ?? v.id.slice(0, 8),
      time: v.time,
      endedAt: v.summary?.backup_end ?? null,
      paths: v.paths,
      tags: v.tags ?? [],
      hostname: v.hostname,
      sizeBytes: v.summary?.total_bytes_processed ?? null,
      files: v.summary?.total_files_processed ?? null,
    });
  }
  return out.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/** `restic stats --json <id>` (restore-size mode): total_size and total_file_count. */
export function parseStats(stdout: string): { bytes: number; files: number } | null {
  try {
    const s = z.object({ total_size: z.number(), total_file_count: z.number() }).safeParse(JSON.parse(stdout.trim()));
    return s.success ? { bytes: s.data.total_size, files: s.data.total_file_count } : null;
  } catch {
    return null;
  }
}

const RawNode = z.object({
  name: z.string(),
  type: z.string(),
  path: z.string(),
  size: z.number().optional(),
  mtime: z.string().optional(),
  struct_type: z.string().optional(),
});
export type LsNode = z.infer<typeof RawNode>;

/** The node lines of `restic ls --json` (the snapshot line and anything unreadable are left out). */
export function parseLs(stdout: string): LsNode[] {
  const nodes: LsNode[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    const n = RawNode.safeParse(v);
    if (n.success && n.data.struct_type !== 'snapshot') nodes.push(n.data);
  }
  return nodes;
}

/** The children of `dir` (what `ls` without --recursive lists besides the folder itself), folders first. */
export function childrenOf(nodes: readonly LsNode[], dir: string, base: string): SnapshotEntry[] {
  return nodes
    .filter((n) => path.posix.dirname(n.path) === dir && n.path !== dir)
    .map((n) => ({
      name: n.name,
      path: path.posix.relative(base, n.path),
      type: n.type === 'file' ? ('file' as const) : n.type === 'dir' ? ('dir' as const) : ('other' as const),
      size: n.type === 'file' ? (n.size ?? 0) : null,
      mtime: n.mtime ?? null,
    }))
    .sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || a.name.localeCompare(b.name));
}

/** Files at or below `p` in a snapshot listing. */
export const filesAtOrBelow = (nodes: readonly LsNode[], p: string): number => nodes.filter((n) => n.type === 'file' && (n.path === p || n.path.startsWith(`${p}/`))).length;

const BackupStatusLine = z.object({
  message_type: z.literal('status'),
  percent_done: z.number().optional(),
  total_files: z.number().optional(),
  files_done: z.number().optional(),
  total_bytes: z.number().optional(),
  bytes_done: z.number().optional(),
});

/** A `backup --json` status line as the page's progress, or null for any other line. */
export function progressOf(line: string, profileId: string): Extract<BackupProgress, { kind: 'status' }> | null {
  if (!line.includes('"status"')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const s = BackupStatusLine.safeParse(v);
  if (!s.success) return null;
  const d = s.data;
  return {
    kind: 'status',
    profileId,
    percent: Math.min(1, Math.max(0, d.percent_done ?? 0)),
    filesDone: Math.trunc(d.files_done ?? 0),
    totalFiles: d.total_files !== undefined ? Math.trunc(d.total_files) : null,
    bytesDone: d.bytes_done ?? 0,
    totalBytes: d.total_bytes ?? null,
  };
}

const StatusFile = z.object({ version: z.literal(1), running: z.boolean(), lastRun: BackupLastRun.nullable(), nextRun: z.string().nullable() });
export type BackupStatusFile = z.infer<typeof StatusFile>;

/** The backup module's status file, or null when it is missing or not the shape the script writes. */
export function parseStatusFile(stdout: string): BackupStatusFile | null {
  try {
    const s = StatusFile.safeParse(JSON.parse(stdout.trim()));
    return s.success ? s.data : null;
  } catch {
    return null;
  }
}

/** `m2-restored files=N bytes=M` / `m2-drill restore=R files=N` from the constant scripts. */
export function parseMarker(stdout: string, marker: string): Record<string, number> | null {
  const line = stdout.split('\n').find((l) => l.startsWith(`${marker} `));
  if (!line) return null;
  const out: Record<string, number> = {};
  for (const m of line.slice(marker.length + 1).matchAll(/([a-z]+)=(\d+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}

/** The reason restic's check gives for a damaged repository, in a line or two. */
export function checkReason(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(using temporary cache|create exclusive lock|load indexes|check all packs|check snapshots|read .* of data|no errors were found|\[\d)/i.test(l))
    // restic's advice after a damaged pack (repair commands, where to report) says nothing about this repository.
    .filter((l) => !/^(the repository contains damaged pack files|damaged pack files can be caused|restic repair |please |https?:)/i.test(l));
  const telling = lines.filter((l) => /error|invalid|damaged|missing|does not exist|not found|fatal|wrong|mismatch|unexpected|too short|corrupt/i.test(l));
  // The first words name the damage (which pack, which file); the last one is restic's verdict.
  const said = [...new Set(telling.length ? telling : lines)];
  return (said.length > 3 ? [...said.slice(0, 2), ...said.slice(-1)] : said).join(' ').slice(0, 500);
}
