import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureResticRepo, restic, versionAtLeast, type ResticRepo } from '../../scripts/lab/restic';

interface BackupSummary {
  message_type: 'summary';
  files_new: number;
  total_files_processed: number;
  total_bytes_processed: number;
  snapshot_id?: string;
  backup_start?: string; // restic >= 0.17
  backup_end?: string; // restic >= 0.17
}

interface Snapshot {
  id: string;
  time: string;
  paths: string[];
  hostname: string;
  tags?: string[];
  summary?: { backup_start: string; backup_end: string; total_files_processed: number; total_bytes_processed: number };
}

let repo: ResticRepo;
let work: string;
let src: string;
const files: Record<string, Buffer> = {
  'a.txt': Buffer.from('hello restic\n'),
  'nested/deeper/blob.bin': randomBytes(256 * 1024),
  'ünïcødé 名前.txt': Buffer.from('ünïcødé ✓\n'),
  'empty': Buffer.alloc(0),
};

beforeAll(async () => {
  try {
    repo = await ensureResticRepo();
  } catch (err) {
    throw new Error(`restic lab could not start (needs Debian restic): ${(err as Error).message}`, { cause: err });
  }
  work = mkdtempSync(path.join(os.tmpdir(), 'm2-restic-'));
  src = path.join(work, 'src');
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    writeFileSync(path.join(src, rel), data);
  }
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('lab restic (local repository)', () => {
  it('keeps its password in a 0600 file', () => {
    expect(statSync(repo.passwordFile).mode & 0o777).toBe(0o600);
    expect(repo.env.RESTIC_PASSWORD_FILE).toBe(repo.passwordFile);
  });

  let snapshotId = '';

  it('backs up a folder; the --json stream ends in a summary', async () => {
    const out = await restic(['backup', '--json', '--host', 'homeserver', '--tag', 'lab-test', src]);
    const messages = out.trim().split('\n').map((l) => JSON.parse(l) as { message_type: string });
    const summary = messages.at(-1) as BackupSummary;
    expect(summary.message_type).toBe('summary');
    expect(summary.total_files_processed).toBe(Object.keys(files).length);
    expect(summary.total_bytes_processed).toBe(Object.values(files).reduce((n, b) => n + b.length, 0));
    expect(summary.snapshot_id).toMatch(/^[0-9a-f]{8,64}$/);
    snapshotId = summary.snapshot_id ?? '';
    if (versionAtLeast(repo.version, '0.17.0')) expect(summary.backup_end).toBeTypeOf('string');
  });

  it('lists the snapshot with its paths (and, on restic >= 0.17, its summary)', async () => {
    const list = JSON.parse(await restic(['snapshots', '--json', '--host', 'homeserver', '--tag', 'lab-test'])) as Snapshot[];
    expect(Array.isArray(list)).toBe(true);
    const latest = [...list].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)).at(-1);
    expect(latest).toBeDefined();
    // restic < 0.18 reports the short id in the backup summary; newer versions the full id.
    expect(latest?.id.startsWith(snapshotId)).toBe(true);
    expect(latest?.paths).toEqual([src]);
    expect(latest?.hostname).toBe('homeserver');
    if (versionAtLeast(repo.version, '0.17.0')) {
      expect(latest?.summary?.total_files_processed).toBe(Object.keys(files).length);
      expect(Date.parse(latest?.summary?.backup_end ?? '')).not.toBeNaN();
    } else {
      // restic 0.14 (Debian 12) has no per-snapshot summary: the app must fall back to `time`.
      expect(latest?.summary).toBeUndefined();
      expect(Date.parse(latest?.time ?? '')).not.toBeNaN();
    }
  });

  it('restores byte-for-byte', async () => {
    const target = path.join(work, 'restored');
    await restic(['restore', snapshotId, '--target', target]);
    // restic restores the absolute source path below the target.
    for (const [rel, data] of Object.entries(files)) {
      expect(readFileSync(path.join(target, src, rel)).equals(data), rel).toBe(true);
    }
  });

  it('ensureResticRepo is idempotent', async () => {
    const again = await ensureResticRepo();
    expect(again.repo).toBe(repo.repo);
    const list = JSON.parse(await restic(['snapshots', '--json'])) as Snapshot[];
    expect(list.some((s) => s.id.startsWith(snapshotId))).toBe(true);
  });
});
