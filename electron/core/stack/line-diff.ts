/**
 * A small unified line diff for the plan's file previews (no dependency): longest common subsequence over
 * lines, hunks with three lines of context, `---`/`+++` headers as `diff -u` prints them.
 */

type Op = { readonly kind: ' ' | '-' | '+'; readonly text: string; readonly a: number; readonly b: number };

const splitLines = (s: string): string[] => {
  if (s === '') return [];
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

function ops(a: readonly string[], b: readonly string[]): Op[] {
  // Trim the common head and tail first: most plans change a few lines of a long file.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const next = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) row[j] = am[i] === bm[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
  }
  const out: Op[] = [];
  for (let k = 0; k < head; k++) out.push({ kind: ' ', text: a[k] as string, a: k, b: k });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && am[i] === bm[j]) {
      out.push({ kind: ' ', text: am[i] as string, a: head + i, b: head + j });
      i++;
      j++;
    } else if (i < n && (j >= m || ((lcs[i + 1] as Uint32Array)[j] as number) >= ((lcs[i] as Uint32Array)[j + 1] as number))) {
      // Deletions before insertions, as diff -u prints them.
      out.push({ kind: '-', text: am[i] as string, a: head + i, b: head + j });
      i++;
    } else {
      out.push({ kind: '+', text: bm[j] as string, a: head + i, b: head + j });
      j++;
    }
  }
  for (let k = 0; k < tail; k++) out.push({ kind: ' ', text: a[a.length - tail + k] as string, a: a.length - tail + k, b: b.length - tail + k });
  return out;
}

/** `diff -u`-style text; empty when the two texts are equal. */
export function unifiedDiff(before: string, after: string, path: string, context = 3): string {
  if (before === after) return '';
  const all = ops(splitLines(before), splitLines(after));
  const changed = all.map((o, idx) => (o.kind === ' ' ? -1 : idx)).filter((idx) => idx >= 0);
  if (changed.length === 0) return '';
  const hunks: Array<[number, number]> = [];
  for (const idx of changed) {
    const start = Math.max(0, idx - context);
    const end = Math.min(all.length - 1, idx + context);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else hunks.push([start, end]);
  }
  const lines = [`--- a/${path}`, `+++ b/${path}`];
  for (const [start, end] of hunks) {
    const slice = all.slice(start, end + 1);
    const aCount = slice.filter((o) => o.kind !== '+').length;
    const bCount = slice.filter((o) => o.kind !== '-').length;
    const first = slice[0] as Op;
    const aStart = aCount === 0 ? first.a : first.a + 1;
    const bStart = bCount === 0 ? first.b : first.b + 1;
    lines.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const o of slice) lines.push(`${o.kind}${o.text}`);
  }
  return `${lines.join('\n')}\n`;
}
