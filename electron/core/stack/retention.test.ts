import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeReleaseId } from './layout';
import { releasesToPrune, reusableRelease } from './retention';

const at = (minute: number, digest = 'aaaaaaaa'): string => makeReleaseId(new Date(Date.UTC(2026, 11, 4, 10, minute)), digest);

describe('which releases stay', () => {
  it('keeps the live release, its rollback target and the newest others; removes the oldest first', () => {
    const ids = [at(1), at(2), at(3), at(4), at(5), at(6), at(7)];
    // Live is an old one (after a manual rollback), its target a newer one.
    expect(releasesToPrune({ ids, protect: [at(2), at(6)], keep: 3 })).toEqual([at(1), at(3)]);
    expect(releasesToPrune({ ids, protect: [at(2), at(6)], keep: 1 })).toEqual([at(1), at(3), at(4), at(5)]);
    expect(releasesToPrune({ ids, protect: [at(7), null], keep: 0 })).toEqual([at(1), at(2), at(3), at(4), at(5), at(6)]);
  });

  it('never removes a release an apply is using, and counts it against the number kept', () => {
    const ids = [at(1), at(2), at(3), at(4), at(5)];
    // at(1) is being reused by the apply: it stays, and only one more other fits in keep = 2.
    expect(releasesToPrune({ ids, protect: [at(5), at(4)], pin: [at(1)], keep: 2 })).toEqual([at(2)]);
    // A pinned release is kept even with keep = 0.
    expect(releasesToPrune({ ids, protect: [at(5), null], pin: [at(2)], keep: 0 })).toEqual([at(1), at(3), at(4)]);
  });

  it('for any set of releases: protected and pinned ones stay, at most keep others (or the pinned ones) stay, and the newest are kept', () => {
    const id = fc.integer({ min: 0, max: 59 }).map((m) => at(m));
    fc.assert(
      fc.property(fc.uniqueArray(id, { maxLength: 25 }), fc.array(fc.option(id), { maxLength: 2 }), fc.array(fc.option(id), { maxLength: 2 }), fc.integer({ min: 0, max: 6 }), (ids, protect, pin, keep) => {
        const removed = releasesToPrune({ ids, protect, pin, keep });
        const kept = ids.filter((i) => !removed.includes(i));
        for (const p of [...protect, ...pin]) if (p !== null) expect(removed).not.toContain(p);
        for (const r of removed) expect(ids).toContain(r);
        const guarded = new Set([...protect, ...pin].filter((p): p is string => p !== null && ids.includes(p)));
        const keptOthers = kept.filter((k) => !guarded.has(k));
        const pinnedOthers = pin.filter((p): p is string => p !== null && ids.includes(p) && !protect.includes(p));
        expect(keptOthers.length + new Set(pinnedOthers).size).toBeLessThanOrEqual(Math.max(keep, new Set(pinnedOthers).size));
        // Whatever was removed is older than every other that was kept.
        for (const r of removed) for (const k of keptOthers) expect(r < k).toBe(true);
        expect(releasesToPrune({ ids: kept, protect, pin, keep })).toEqual([]);
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 3_000 },
    );
  }, 60_000);
});

describe('reusing a release with the same content', () => {
  const r = (id: string, digest: string, project = 'm2') => ({ id, digest, project });

  it('is the live release when it has the content, else the newest one that has it', () => {
    const list = [r(at(1), 'd1'), r(at(2), 'd2'), r(at(3), 'd1'), null, r(at(4), 'd3')];
    expect(reusableRelease(list, { digest: 'd1', project: 'm2' }, at(1))).toBe(at(1));
    expect(reusableRelease(list, { digest: 'd1', project: 'm2' }, at(4))).toBe(at(3));
    expect(reusableRelease(list, { digest: 'd2', project: 'm2' }, null)).toBe(at(2));
  });

  it('is none when no release has exactly that content, or only another Compose project’s does', () => {
    const list = [r(at(1), 'd1'), r(at(2), 'd2', 'other')];
    expect(reusableRelease(list, { digest: 'd9', project: 'm2' }, at(1))).toBeNull();
    expect(reusableRelease(list, { digest: 'd2', project: 'm2' }, at(1))).toBeNull();
    expect(reusableRelease([], { digest: 'd1', project: 'm2' }, null)).toBeNull();
  });
});
