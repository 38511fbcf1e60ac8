/**
 * Image tags as versions: which tags a registry lists are newer versions of a pinned one, under the image's own
 * update policy (UpdatePolicy). A tag is a version when it reads `[v]A[.B[.C[.D]]][-suffix]` with numbers of at
 * most 9 digits; only tags of the same shape (as many numbers, the same `v` and the same suffix) are comparable, so
 * `34.0.2-apache` never moves to `34.0.3-fpm`, `35.0.0-rc1-apache` or `latest`, and `16-alpine` never to
 * `16.4-alpine`. Whatever a registry sends is data: anything that is not a valid Docker tag is dropped unread.
 */
import type { UpdatePolicy } from '../../contract/stack-modules';

/** Docker's own tag grammar (distribution/reference): what may follow the `:` in an image reference. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION = /^(v?)(\d{1,9}(?:\.\d{1,9}){0,3})(?:-([A-Za-z0-9_.-]+))?$/;

export interface TagVersion {
  readonly tag: string;
  readonly prefix: '' | 'v';
  readonly numbers: readonly number[];
  /** After the first `-` ('' when none): `apache`, `alpine`. */
  readonly suffix: string;
}

export type UpdateLevel = 'patch' | 'minor' | 'major';

export interface TagCandidate {
  readonly tag: string;
  /** Which number moved first: the first (major), the second (minor), a later one (patch). */
  readonly level: UpdateLevel;
}

/** The tag as a version, or null when it is not one (or not a valid tag at all). */
export function parseTag(tag: string): TagVersion | null {
  if (!TAG_PATTERN.test(tag)) return null;
  const m = VERSION.exec(tag);
  if (!m) return null;
  return { tag, prefix: m[1] === 'v' ? 'v' : '', numbers: (m[2] ?? '').split('.').map(Number), suffix: m[3] ?? '' };
}

/** <0, 0, >0 as a is older, equal, newer than b (same shape assumed). */
export function compareVersions(a: TagVersion, b: TagVersion): number {
  for (let i = 0; i < Math.max(a.numbers.length, b.numbers.length); i++) {
    const d = (a.numbers[i] ?? 0) - (b.numbers[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const sameShape = (a: TagVersion, b: TagVersion): boolean => a.prefix === b.prefix && a.suffix === b.suffix && a.numbers.length === b.numbers.length;

/** How far `to` moves from `from` (same shape, `to` newer): the level of the first number that differs. */
export function levelOf(from: TagVersion, to: TagVersion): UpdateLevel {
  const first = from.numbers.findIndex((x, i) => to.numbers[i] !== x);
  // The second number is the minor (7.4 → 7.6); everything past it is a patch (34.0.2 → 34.0.3, 1.0.20250521 → 1.0.20251001).
  return first === 0 ? 'major' : first === 1 ? 'minor' : 'patch';
}

const allowed: Readonly<Record<UpdatePolicy, readonly UpdateLevel[]>> = {
  patch: ['patch'],
  minor: ['patch', 'minor'],
  major: ['patch', 'minor', 'major'],
};

/** Whether the policy offers an update of this level. */
export const policyAllows = (policy: UpdatePolicy, level: UpdateLevel): boolean => allowed[policy].includes(level);

/** At most this many tags are read from one repository's list (a registry's list is data, and may be huge). */
export const MAX_TAGS = 10_000;

/**
 * The newer tags of `current` among `tags` that `policy` offers, newest first, each with its level. A tag equal in
 * version to the current one (`016` beside `16`) is not newer. Nothing when `current` is not a version.
 */
export function newerTags(current: string, tags: readonly unknown[], policy: UpdatePolicy): TagCandidate[] {
  const from = parseTag(current);
  if (!from) return [];
  const seen = new Set<string>();
  const out: Array<{ v: TagVersion; level: UpdateLevel }> = [];
  for (const t of tags.slice(0, MAX_TAGS)) {
    if (typeof t !== 'string' || seen.has(t)) continue;
    seen.add(t);
    const v = parseTag(t);
    if (!v || !sameShape(from, v) || compareVersions(v, from) <= 0) continue;
    const level = levelOf(from, v);
    if (policyAllows(policy, level)) out.push({ v, level });
  }
  out.sort((a, b) => compareVersions(b.v, a.v) || a.v.tag.length - b.v.tag.length || (a.v.tag < b.v.tag ? -1 : a.v.tag > b.v.tag ? 1 : 0));
  // Two spellings of one version (7.4.01 and 7.4.1): the shortest stands for it.
  const versions = new Set<string>();
  return out
    .filter(({ v }) => {
      const k = v.numbers.join('.');
      if (versions.has(k)) return false;
      versions.add(k);
      return true;
    })
    .map(({ v, level }) => ({ tag: v.tag, level }));
}
