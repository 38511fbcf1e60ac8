/**
 * Whether the restore drill's scratch restore fits where it goes. The drill restores the whole latest snapshot into
 * the backup container's /tmp, which is Docker's disk (the container's writable layer) on a stock server: filling it
 * stops every service. So before restoring, the snapshot's size on disk is compared with that folder's free space,
 * with room to spare, and the drill refuses (saying so) rather than restore part of it: a drill that passed on a
 * sample would claim more than it proved.
 */
import { formatBytes } from '../preflight/checks';
import { parseDfRow } from '../preflight/parse';
import type { LsNode } from './restic-json';

/** Room kept free beyond the snapshot's size: a share of it plus a fixed amount (logs, other containers, restic's cache). */
export interface DrillHeadroom {
  readonly fraction: number;
  readonly bytes: number;
}
export const DRILL_HEADROOM: DrillHeadroom = { fraction: 0.1, bytes: 1024 ** 3 };

/** A filesystem block: a file takes whole blocks, a folder at least one, so many small files take far more than their sizes. */
const BLOCK = 4096;
const blocks = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** What restoring these nodes takes on disk, at least: each file's size rounded up to whole blocks, one block a folder. */
export function restoreFootprint(nodes: readonly LsNode[]): number {
  let total = 0;
  for (const n of nodes) {
    if (n.type === 'file') total += blocks(n.size ?? 0);
    else if (n.type === 'dir') total += BLOCK;
  }
  return total;
}

/** Free bytes from `df -Pk <folder>` (busybox or GNU), or null when its output is not a df row. */
export function freeBytesOfDf(stdout: string): { free: number; mountPoint: string } | null {
  const row = parseDfRow(stdout.trim(), 1024);
  return row ? { free: row.availableBytes, mountPoint: row.mountPoint } : null;
}

export type DrillSpace = { readonly enough: true; readonly needed: number } | { readonly enough: false; readonly needed: number };

/** The snapshot's footprint plus the headroom must be free; otherwise the drill does not restore. */
export function drillSpace(footprint: number, free: number, headroom: DrillHeadroom = DRILL_HEADROOM): DrillSpace {
  const needed = Math.ceil(footprint * (1 + headroom.fraction)) + headroom.bytes;
  return { enough: free >= needed, needed };
}

/** The words of the drill's free-space check, passed or not. */
export function drillSpaceWords(d: DrillSpace, footprint: number, free: number, where: string, headroom: DrillHeadroom = DRILL_HEADROOM): string {
  const spare = `${Math.round(headroom.fraction * 100)}% and ${formatBytes(headroom.bytes)} to spare`;
  if (d.enough) return `needs ${formatBytes(d.needed)} (the snapshot’s ${formatBytes(footprint)} plus ${spare}), ${formatBytes(free)} free in ${where}`;
  return (
    `not enough free space for a full restore drill: it needs ${formatBytes(d.needed)} (the snapshot’s ${formatBytes(footprint)} plus ${spare}), ` +
    `${formatBytes(free)} free in ${where}. Nothing was restored. Free space on that disk, then run the drill again.`
  );
}
