import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RestoreRequest } from './backups';

const ok = { profileId: 'home', snapshotId: 'abcdef12', path: 'admin/files/Photos', into: 'photos-2026-12-05' };
const message = (over: Record<string, unknown>): string => {
  const r = RestoreRequest.safeParse({ ...ok, ...over });
  return r.success ? '' : r.error.issues.map((i) => i.message).join(' | ');
};

describe('restore request', () => {
  it('accepts a path inside Nextcloud’s data, with spaces and unicode, and a new folder name', () => {
    expect(RestoreRequest.parse({ ...ok, path: 'admin/files/Fotos 2026/ünï 名前.jpg' }).path).toBe('admin/files/Fotos 2026/ünï 名前.jpg');
  });

  it.each([
    ['../../etc/passwd', 'What to restore'],
    ['admin/../../etc', 'What to restore'],
    ['/etc/shadow', 'What to restore'],
    ['admin//files', 'What to restore'],
    ['admin/files/a\nb', 'What to restore'],
    ['admin/files/a\u202eb', 'What to restore'],
    ['x'.repeat(1025), 'What to restore'],
    ['', 'What to restore'],
  ])('refuses the path %j naming the field', (path, field) => {
    expect(message({ path })).toContain(field);
  });

  it.each(['../x', 'a/b', '$(reboot)', '`id`', '.hidden', 'a b', 'x;rm -rf /', 'a\nb', 'x'.repeat(65), ''])('refuses the folder %j naming the field', (into) => {
    expect(message({ into })).toContain('Restore into');
  });

  it.each(['latest', 'ABCDEF12', 'abc', '$(id)', '--help'])('refuses the snapshot %j naming the field', (snapshotId) => {
    expect(message({ snapshotId })).toContain('Snapshot');
  });

  it('never lets a folder name hold anything but letters, digits, dots, dashes and underscores', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (into) => {
        const r = RestoreRequest.safeParse({ ...ok, into });
        if (r.success) expect(r.data.into).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/);
      }),
      { numRuns: 500 },
    );
  });

  it('never lets a path climb out or hold a line break', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('..', '.', '', 'a', 'b c', '\n', '$(x)', '名'), { maxLength: 6 }), (parts) => {
        const r = RestoreRequest.safeParse({ ...ok, path: parts.join('/') });
        if (r.success) {
          expect(r.data.path.split('/')).not.toContain('..');
          expect(r.data.path).not.toContain('\n');
        }
      }),
      { numRuns: 500 },
    );
  });
});
