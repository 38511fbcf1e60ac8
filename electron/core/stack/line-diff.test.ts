import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { unifiedDiff } from './line-diff';

/** Apply a unified diff with the system's `patch` and return the result. */
function patchWith(before: string, diff: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-diff-'));
  const file = path.join(dir, 'f');
  writeFileSync(file, before);
  writeFileSync(path.join(dir, 'd'), diff);
  execFileSync('patch', ['--quiet', file, path.join(dir, 'd')]);
  return execFileSync('cat', [file]).toString();
}

describe('unified line diff', () => {
  it('prints diff -u hunks with three lines of context', () => {
    const a = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const b = 'a\nb\nc\nd\nE\nf\ng\nh\n';
    expect(unifiedDiff(a, b, 'compose.yaml')).toBe('--- a/compose.yaml\n+++ b/compose.yaml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n');
    expect(unifiedDiff(a, a, 'x')).toBe('');
    expect(unifiedDiff('', 'new\n', 'x')).toBe('--- a/x\n+++ b/x\n@@ -0,0 +1,1 @@\n+new\n');
  });

  it('gives a diff that patch(1) applies to get the new text back', { timeout: 60_000 }, () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'services:', '  x: 1', ''), { maxLength: 30 });
    fc.assert(
      fc.property(lines, lines, (x, y) => {
        const before = x.map((l) => `${l}\n`).join('');
        const after = y.map((l) => `${l}\n`).join('');
        const d = unifiedDiff(before, after, 'f');
        if (before === after) expect(d).toBe('');
        else expect(patchWith(before, d)).toBe(after);
      }),
      { numRuns: 60 },
    );
  });
});
