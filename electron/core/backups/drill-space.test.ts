import { describe, expect, it } from 'vitest';
import { DRILL_HEADROOM, drillSpace, drillSpaceWords, freeBytesOfDf, restoreFootprint } from './drill-space';
import type { LsNode } from './restic-json';

const GiB = 1024 ** 3;
const file = (size: number): LsNode => ({ name: 'f', type: 'file', path: '/f', size });
const dir: LsNode = { name: 'd', type: 'dir', path: '/d' };

describe('the drill’s free-space check', () => {
  it('counts what the restore takes on disk: whole blocks a file, one a folder (many small files take far more than their sizes)', () => {
    expect(restoreFootprint([])).toBe(0);
    expect(restoreFootprint([file(0), file(1), file(4096), file(4097), dir, { name: 'l', type: 'symlink', path: '/l' }])).toBe(0 + 4096 + 4096 + 8192 + 4096);
    expect(restoreFootprint(Array.from({ length: 1000 }, () => file(100)))).toBe(1000 * 4096);
  });

  it('reads the free space of busybox’s and GNU’s df -Pk, whatever the mount point holds', () => {
    expect(freeBytesOfDf('Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay               61255492  41287604  16826564  71% /\n')).toEqual({ free: 16826564 * 1024, mountPoint: '/' });
    expect(freeBytesOfDf('Filesystem     1024-blocks  Used Available Capacity Mounted on\ntmpfs                 1024     0      1024       0% /tmp\n')).toEqual({ free: 1024 * 1024, mountPoint: '/tmp' });
    expect(freeBytesOfDf("df: /tmp: can't find mount point\n")).toBeNull();
    expect(freeBytesOfDf('')).toBeNull();
  });

  it('needs the snapshot’s size plus 10% plus 1 GiB free, and refuses below that by one byte', () => {
    const footprint = 10 * GiB;
    const needed = 11 * GiB + GiB;
    expect(drillSpace(footprint, needed)).toEqual({ enough: true, needed });
    expect(drillSpace(footprint, needed - 1)).toEqual({ enough: false, needed });
    // An empty snapshot still wants the fixed room: Docker's disk holds every service.
    expect(drillSpace(0, GiB - 1)).toEqual({ enough: false, needed: GiB });
    expect(drillSpace(0, GiB, { fraction: 0, bytes: 0 })).toEqual({ enough: true, needed: 0 });
    expect(drillSpace(100, 10 * GiB, { fraction: 0.5, bytes: 1024 ** 5 })).toEqual({ enough: false, needed: 150 + 1024 ** 5 });
    expect(DRILL_HEADROOM).toEqual({ fraction: 0.1, bytes: GiB });
  });

  it('says what it needs, what is free and where, and what to do', () => {
    const footprint = 10 * GiB;
    const free = 5 * GiB;
    expect(drillSpaceWords(drillSpace(footprint, free), footprint, free, 'the backup container’s /tmp, on Docker’s disk')).toBe(
      'not enough free space for a full restore drill: it needs 12.0 GiB (the snapshot’s 10.0 GiB plus 10% and 1.0 GiB to spare), 5.0 GiB free in the backup container’s /tmp, on Docker’s disk. Nothing was restored. Free space on that disk, then run the drill again.',
    );
    expect(drillSpaceWords(drillSpace(footprint, 20 * GiB), footprint, 20 * GiB, '/tmp')).toBe('needs 12.0 GiB (the snapshot’s 10.0 GiB plus 10% and 1.0 GiB to spare), 20.0 GiB free in /tmp');
  });
});
