/**
 * Whether the restore drill's scratch restore fits where it goes. The drill restores the whole latest snapshot into
 * the backup container's /tmp, which is Docker's disk (the container's writable layer) on a stock server: filling it
 * stops every service. So before restoring, the snapshot's size on disk is compared with that folder's free space,
 * with room to spare, and the drill refuses (saying so) rather than restore part of it: a drill that passed on a
 * sample would claim more than it proved. The drill script (drill-script.ts) measures and decides on the server —
 * the snapshot's footprint (each file in whole 4 KiB blocks, one block a folder) plus `fraction` of it plus `bytes`
 * must be free — and these are its words.
 */
import { formatBytes } from '../preflight/checks';

/** Room kept free beyond the snapshot's size: a share of it plus a fixed amount (logs, other containers, restic's cache). */
export interface DrillHeadroom {
  readonly fraction: number;
  readonly bytes: number;
}
export const DRILL_HEADROOM: DrillHeadroom = { fraction: 0.1, bytes: 1024 ** 3 };

export type DrillSpace = { readonly enough: boolean; readonly needed: number };

/** The words of the drill's free-space check, passed or not. */
export function drillSpaceWords(d: DrillSpace, footprint: number, free: number, where: string, headroom: DrillHeadroom = DRILL_HEADROOM): string {
  const spare = `${Math.round(headroom.fraction * 100)}% and ${formatBytes(headroom.bytes)} to spare`;
  if (d.enough) return `needs ${formatBytes(d.needed)} (the snapshot’s ${formatBytes(footprint)} plus ${spare}), ${formatBytes(free)} free in ${where}`;
  return (
    `not enough free space for a full restore drill: it needs ${formatBytes(d.needed)} (the snapshot’s ${formatBytes(footprint)} plus ${spare}), ` +
    `${formatBytes(free)} free in ${where}. Nothing was restored. Free space on that disk, then run the drill again.`
  );
}
