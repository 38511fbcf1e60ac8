import { describe, expect, it } from 'vitest';
import { checkReason, childrenOf, filesAtOrBelow, parseLs, parseMarker, parseSnapshots, parseStatusFile, progressOf } from './restic-json';

const snap = (over: Record<string, unknown>) => ({ time: '2026-12-01T03:30:01Z', tree: 't', paths: ['/m2/dumps', '/source'], hostname: 'm2-server', id: 'a'.repeat(64), short_id: 'aaaaaaaa', ...over });

describe('restic JSON', () => {
  it('reads snapshots newest first, with size from restic ≥ 0.17 summaries and null without one (restic 0.14)', () => {
    const out = JSON.stringify([
      snap({ id: 'b'.repeat(64), short_id: 'bbbbbbbb', time: '2026-12-02T03:30:01Z', tags: ['m2'], summary: { backup_end: '2026-12-02T03:31:00Z', total_bytes_processed: 1234, total_files_processed: 7 } }),
      snap({}),
      { not: 'a snapshot' },
    ]);
    const list = parseSnapshots(out);
    expect(list.map((s) => s.shortId)).toEqual(['bbbbbbbb', 'aaaaaaaa']);
    expect(list[0]).toMatchObject({ endedAt: '2026-12-02T03:31:00Z', sizeBytes: 1234, files: 7, tags: ['m2'] });
    expect(list[1]).toMatchObject({ endedAt: null, sizeBytes: null, files: null, tags: [] });
  });

  it('reads an ls listing: the snapshot line is left out, children are one level below, files are counted below a path', () => {
    const lines = [
      JSON.stringify({ ...snap({}), struct_type: 'snapshot' }),
      JSON.stringify({ name: 'files', type: 'dir', path: '/source/nextcloud/data/admin/files', struct_type: 'node' }),
      JSON.stringify({ name: 'a.txt', type: 'file', path: '/source/nextcloud/data/admin/files/a.txt', size: 3, mtime: '2026-12-01T00:00:00Z', struct_type: 'node' }),
      JSON.stringify({ name: 'Photos', type: 'dir', path: '/source/nextcloud/data/admin/files/Photos', struct_type: 'node' }),
      JSON.stringify({ name: 'p.jpg', type: 'file', path: '/source/nextcloud/data/admin/files/Photos/p.jpg', size: 9, struct_type: 'node' }),
      'not json',
    ].join('\n');
    const nodes = parseLs(lines);
    expect(nodes).toHaveLength(4);
    expect(childrenOf(nodes, '/source/nextcloud/data/admin/files', '/source/nextcloud/data')).toEqual([
      { name: 'Photos', path: 'admin/files/Photos', type: 'dir', size: null, mtime: null },
      { name: 'a.txt', path: 'admin/files/a.txt', type: 'file', size: 3, mtime: '2026-12-01T00:00:00Z' },
    ]);
    expect(filesAtOrBelow(nodes, '/source/nextcloud/data/admin/files')).toBe(2);
    expect(filesAtOrBelow(nodes, '/source/nextcloud/data/admin/files/Photos')).toBe(1);
    expect(filesAtOrBelow(nodes, '/source/nextcloud/data/admin/files/Pho')).toBe(0);
  });

  it('turns backup status lines into progress and ignores the rest', () => {
    expect(progressOf('{"message_type":"status","percent_done":0.5,"total_files":10,"files_done":5,"total_bytes":100,"bytes_done":50}', 'p')).toEqual({
      kind: 'status', profileId: 'p', percent: 0.5, filesDone: 5, totalFiles: 10, bytesDone: 50, totalBytes: 100,
    });
    expect(progressOf('{"message_type":"summary","snapshot_id":"abc"}', 'p')).toBeNull();
    expect(progressOf('{"message_type":"status",', 'p')).toBeNull();
  });

  it('reads the backup module’s status file and refuses anything else', () => {
    const file = { version: 1, running: false, nextRun: '2026-12-06T03:30:00Z', lastRun: { startedAt: 'a', finishedAt: 'b', result: 'success', exitCode: 0, snapshotId: 'abcd1234', durationSeconds: 3, bytesAdded: 1, totalBytes: 2, message: 'Backup complete.' } };
    expect(parseStatusFile(JSON.stringify(file))?.lastRun?.result).toBe('success');
    expect(parseStatusFile('{"version":2}')).toBeNull();
    expect(parseStatusFile('cat: can’t open')).toBeNull();
  });

  it('reads the constant scripts’ result lines', () => {
    expect(parseMarker('restoring…\nm2-restored files=3 bytes=1024\n', 'm2-restored')).toEqual({ files: 3, bytes: 1024 });
    expect(parseMarker('nothing', 'm2-drill')).toBeNull();
  });

  it('keeps the telling lines of a failed check', () => {
    const out = 'using temporary cache in /tmp\ncreate exclusive lock for repository\nload indexes\ncheck all packs\npack 5f3c…: does not exist\nFatal: repository contains errors';
    expect(checkReason(out)).toBe('pack 5f3c…: does not exist Fatal: repository contains errors');
  });

  it('names the damaged pack of restic ≥ 0.18’s check, not its repair advice', () => {
    const said = [
      'pack dac96e8e: unexpected file size: got 1500179, expected 3000359',
      'Load(<data/dac96e8e7e>, 3000359, 0) failed: file is too short',
      'Load(<data/dac96e8e7e>, 3000359, 0) failed: file is too short',
      'download error: file is too short',
      'The repository contains damaged pack files. These damaged files must be removed to repair the repository.',
      'restic repair packs dac96e8e',
      'Damaged pack files can be caused by backend problems, hardware problems or bugs in restic.',
      'Fatal: repository contains errors',
    ].join('\n');
    expect(checkReason(said)).toBe('pack dac96e8e: unexpected file size: got 1500179, expected 3000359 Load(<data/dac96e8e7e>, 3000359, 0) failed: file is too short Fatal: repository contains errors');
  });
});
