/**
 * Secret values never leave core in clear: every text that does (compose errors, log tails, diffs) goes
 * through `maskSecrets` with every secret the rendered stack used.
 */
import { secretMask } from '../../contract/stack';
import type { Secret } from '../secrets/secret';

/** Replace every occurrence of every known secret value by `secretMask`; longer values first, so a value that contains another is masked whole. */
export function maskSecrets(text: string, secrets: readonly Secret[]): string {
  const values = [...new Set(secrets.map((s) => s.reveal()).filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(secretMask);
  return out;
}

/** An env file with every value masked (keys, comments and blank lines kept), for files read back from the server. */
export function maskEnvFile(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=)(.*)$/.exec(line);
      if (!m || /^\s*#/.test(line)) return line;
      return m[2] === '' ? line : `${m[1]}${secretMask}`;
    })
    .join('\n');
}

/** Key → value of a simple KEY=VALUE env file (what the renderer writes), for telling which secrets changed. */
export function envValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (r && !/^\s*#/.test(line)) m.set(r[1] ?? '', r[2] ?? '');
  }
  return m;
}

/**
 * Both sides of an env file masked for a diff: a key whose value changed reads `KEY=•••••••• (changed)`
 * on the new side, so a rotated secret shows up in the plan without showing either value.
 */
export function maskedEnvPair(oldText: string, newText: string): { before: string; after: string } {
  const oldValues = envValues(oldText);
  const after = newText
    .split('\n')
    .map((line) => {
      const r = /^(\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=)(.*)$/.exec(line);
      if (!r || /^\s*#/.test(line) || r[3] === '') return line;
      const before = oldValues.get(r[2] ?? '');
      return before !== undefined && before !== r[3] ? `${r[1]}${secretMask} (changed)` : `${r[1]}${secretMask}`;
    })
    .join('\n');
  return { before: maskEnvFile(oldText), after };
}
