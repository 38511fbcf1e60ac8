import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InPlaceRequest } from '../../contract/restores';
import { AppError } from '../errors';
import { keptName, ownerAndMode, parseFilesScan, scanPathOf } from './in-place-restore';

describe('restore in place: the pure parts', () => {
  it('rescans the restored item’s folder (so the kept one is found too), never above the user’s files', () => {
    expect(scanPathOf('admin/files/Photos/holiday.jpg')).toBe('/admin/files/Photos');
    expect(scanPathOf('admin/files/notes.txt')).toBe('/admin/files');
    expect(scanPathOf('admin/files')).toBe('/admin/files');
  });

  it('refuses Nextcloud’s own folders: they belong to its database, and the message names the field', () => {
    for (const p of ['admin', 'admin/files_trashbin/x', 'appdata_oc123/preview', 'nextcloud.log']) {
      const err = (() => {
        try {
          scanPathOf(p);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'backups.not-found', field: 'path' });
      expect((err as AppError).userMessage).toMatch(/^What to restore: only a user’s files/);
    }
  });

  it('keeps what is there under a name saying so, the extension last, and within 255 bytes', () => {
    const at = new Date('2026-12-05T05:31:07Z');
    expect(keptName('notes.txt', false, at)).toBe('notes (before restore 2026-12-05 05.31.07).txt');
    expect(keptName('Photos.2025', true, at)).toBe('Photos.2025 (before restore 2026-12-05 05.31.07)');
    expect(keptName('.bashrc', false, at)).toBe('.bashrc (before restore 2026-12-05 05.31.07)');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }), fc.boolean(), (name, dir) => {
        const k = keptName(name, dir, at);
        expect(Buffer.byteLength(k)).toBeLessThanOrEqual(255);
        expect(k).toContain('(before restore 2026-12-05 05.31.07)');
      }),
    );
  });

  it('reads a file’s owner and permission bits from restic’s listing (Go’s FileMode)', () => {
    const lines = [
      JSON.stringify({ struct_type: 'snapshot', id: 'ab' }),
      JSON.stringify({ name: 'notes.txt', type: 'file', path: '/source/nextcloud/data/admin/files/notes.txt', uid: 33, gid: 33, mode: 0o640, struct_type: 'node' }),
      JSON.stringify({ name: 'd', type: 'dir', path: '/x', uid: 1, gid: 1, mode: 2147484141, struct_type: 'node' }),
    ].join('\n');
    expect(ownerAndMode(lines, '/source/nextcloud/data/admin/files/notes.txt')).toEqual({ owner: '33:33', mode: '640' });
    expect(ownerAndMode(lines, '/x')).toEqual({ owner: '1:1', mode: '755' });
    expect(ownerAndMode(lines, '/missing')).toEqual({ owner: '0:0', mode: '644' });
  });

  it('reads occ files:scan’s summary table, old and new columns, and its error lines', () => {
    const now = [
      'Starting scan for user 1 out of 1 (admin)',
      '+---------+-------+-----+---------+---------+--------+--------------+',
      '| Folders | Files | New | Updated | Removed | Errors | Elapsed time |',
      '+---------+-------+-----+---------+---------+--------+--------------+',
      '| 3       | 7     | 1   | 0       | 0       | 0      | 00:00:00     |',
      '+---------+-------+-----+---------+---------+--------+--------------+',
    ].join('\n');
    expect(parseFilesScan(now)).toEqual({ folders: 3, files: 7, errors: 0, problem: null });
    const old = ['+---------+-------+--------------+', '| Folders | Files | Elapsed time |', '+---------+-------+--------------+', '| 0       | 0     | 00:00:00     |', '+---------+-------+--------------+'].join('\n');
    expect(parseFilesScan(`Path not found: /admin/files/x\n${old}`)).toEqual({ folders: 0, files: 0, errors: null, problem: 'Path not found: /admin/files/x' });
    expect(parseFilesScan('Nextcloud is in maintenance mode')).toEqual({ folders: null, files: null, errors: null, problem: null });
  });

  it('the contract refuses hostile paths for a restore in place before anything runs, naming the field', () => {
    for (const p of ['../../etc/passwd', '/admin/files/x', 'admin/files/$(touch x)\nrm', 'admin/files/a\u202eb', 'admin//files', 'a'.repeat(1025)]) {
      const r = InPlaceRequest.safeParse({ profileId: 'p1', snapshotId: '0123abcd', path: p });
      expect(r.success, p).toBe(false);
      expect(r.error?.issues[0]?.message, p).toMatch(/^What to restore:/);
    }
    expect(InPlaceRequest.safeParse({ profileId: 'p1', snapshotId: 'latest; id', path: 'admin/files/x' }).error?.issues[0]?.message).toMatch(/^Snapshot:/);
  });
});
