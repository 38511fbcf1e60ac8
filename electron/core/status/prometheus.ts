/**
 * A Prometheus text-exposition parser for the few cloudflared metrics the app reads (stack-facts §3.3):
 * `name{label="value",…} value [timestamp]`, with the format's escapes in label values (\\, \", \n).
 * Comments, blank lines and malformed lines are skipped, never thrown on.
 */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** One sample line, or undefined when it is not one. */
export function parsePromLine(line: string): PromSample | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const m = NAME.exec(text);
  if (!m) return undefined;
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (text[i] === '{') {
    i++;
    for (;;) {
      while (text[i] === ' ' || text[i] === ',') i++;
      if (text[i] === '}') {
        i++;
        break;
      }
      const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
      if (!lm) return undefined;
      const key = lm[0];
      i += key.length;
      while (text[i] === ' ') i++;
      if (text[i] !== '=') return undefined;
      i++;
      while (text[i] === ' ') i++;
      if (text[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) return undefined;
        if (c === '\\') {
          const n = text[i + 1];
          value += n === 'n' ? '\n' : (n ?? '');
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        value += c;
        i++;
      }
      labels[key] = value;
    }
  }
  const rest = text.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  if (value === undefined) return undefined;
  return { name, labels, value };
}

export function parseProm(lines: readonly string[]): PromSample[] {
  const out: PromSample[] = [];
  for (const l of lines) {
    const s = parsePromLine(l);
    if (s) out.push(s);
  }
  return out;
}

/** Sum of every sample of a metric (a counter or gauge across labels); null when absent. */
export function sumOf(samples: readonly PromSample[], name: string): number | null {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : null;
}
