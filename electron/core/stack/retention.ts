/**
 * Which releases stay on the server, and which one an apply can reuse. Pure: the remote side
 * (remote-release.ts collectGarbage, apply.ts) lists, reads manifests and removes.
 *
 * Kept: the live release (`current`), the one it replaced (its rollback target), and the newest `keep` others;
 * a release an apply is using right now is pinned and counts against `keep`. Release ids start with a UTC
 * timestamp, so their order is their age.
 */

/** How many releases are kept besides the live one and its rollback target. */
export const DEFAULT_KEEP_RELEASES = 3;

export interface RetentionChoice {
  /** Release ids present (complete folders). */
  readonly ids: readonly string[];
  /** Never removed and not counted: the live release and its rollback target. */
  readonly protect: readonly (string | null)[];
  /** Never removed, counted against `keep`: a release an apply is starting or just tried. */
  readonly pin?: readonly (string | null)[];
  readonly keep: number;
}

/** The releases to remove, oldest first. */
export function releasesToPrune(c: RetentionChoice): string[] {
  const keep = Math.max(0, Math.floor(c.keep));
  const protect = new Set(c.protect.filter((p): p is string => p !== null));
  const pinned = new Set((c.pin ?? []).filter((p): p is string => p !== null && !protect.has(p)));
  const others = [...new Set(c.ids)].filter((id) => !protect.has(id)).sort();
  const unpinned = others.filter((id) => !pinned.has(id));
  const room = Math.max(0, keep - others.filter((id) => pinned.has(id)).length);
  const kept = new Set([...(room === 0 ? [] : unpinned.slice(-room)), ...pinned]);
  return others.filter((id) => !kept.has(id));
}

/** What an apply needs to know of a release to reuse it (its manifest, as read from the server). */
export interface ReleaseContent {
  readonly id: string;
  readonly digest: string;
  readonly project: string;
}

/**
 * The release whose content is exactly what is about to be applied (same digest over every file, secrets
 * included, same Compose project): the live one first, else the newest. Null when none is.
 */
export function reusableRelease(releases: readonly (ReleaseContent | null)[], want: { digest: string; project: string }, current: string | null): string | null {
  const same = releases.filter((r): r is ReleaseContent => r !== null && r.digest === want.digest && r.project === want.project).map((r) => r.id);
  if (current !== null && same.includes(current)) return current;
  return same.sort().at(-1) ?? null;
}
