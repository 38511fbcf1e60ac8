import { describe, expect, it } from 'vitest';
import { DRILL_HEADROOM, drillSpaceWords } from './drill-space';

const GiB = 1024 ** 3;

/** The rule itself runs in the drill script on the server (drill-script.test.ts); these are its words. */
describe('the drill’s free-space words', () => {
  it('says what it needs, what is free and where, and what to do', () => {
    expect(DRILL_HEADROOM).toEqual({ fraction: 0.1, bytes: GiB });
    const footprint = 10 * GiB;
    expect(drillSpaceWords({ enough: false, needed: 12 * GiB }, footprint, 5 * GiB, 'the backup container’s /tmp, on Docker’s disk')).toBe(
      'not enough free space for a full restore drill: it needs 12.0 GiB (the snapshot’s 10.0 GiB plus 10% and 1.0 GiB to spare), 5.0 GiB free in the backup container’s /tmp, on Docker’s disk. Nothing was restored. Free space on that disk, then run the drill again.',
    );
    expect(drillSpaceWords({ enough: true, needed: 12 * GiB }, footprint, 20 * GiB, '/tmp')).toBe('needs 12.0 GiB (the snapshot’s 10.0 GiB plus 10% and 1.0 GiB to spare), 20.0 GiB free in /tmp');
  });
});
