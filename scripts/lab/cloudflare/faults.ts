// Fault injection and the request log of the Cloudflare stand-in.
import type { ActiveFault, FaultKind, FaultSpec, RequestFilter, RequestLogEntry } from './types';

const KINDS: readonly FaultKind[] = ['unauthorized', 'forbidden', 'rateLimited', 'serverError', 'delay', 'networkDown', 'hang'];

const escapeRe = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** Compile a path pattern: exact, glob (`*` within a segment, `**` across), or "re:<regex>". */
export function pathMatcher(pattern: string | undefined): (path: string) => boolean {
  if (pattern === undefined || pattern === '' || pattern === '**') return () => true;
  if (pattern.startsWith('re:')) {
    const re = new RegExp(pattern.slice(3));
    return (p) => re.test(p);
  }
  if (!pattern.includes('*')) return (p) => p === pattern;
  const src = pattern
    .split('**')
    .map((part) => part.split('*').map(escapeRe).join('[^/]*'))
    .join('.*');
  const re = new RegExp(`^${src}$`);
  return (p) => re.test(p);
}

/** Validate a fault coming from JSON (HTTP control API) or code; throws with a clear message. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null) throw new Error('fault must be an object');
  const f = input as Record<string, unknown>;
  if (typeof f.kind !== 'string' || !KINDS.includes(f.kind as FaultKind)) throw new Error(`fault.kind must be one of ${KINDS.join(', ')}`);
  const num = (k: string): number | undefined => {
    const v = f[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`fault.${k} must be a non-negative number`);
    return v;
  };
  const str = (k: string): string | undefined => {
    const v = f[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new Error(`fault.${k} must be a string`);
    return v;
  };
  let times: number | 'always' | undefined;
  if (f.times === 'always' || f.times === Infinity) times = 'always';
  else {
    times = num('times');
    if (times !== undefined && (!Number.isInteger(times) || times < 1)) throw new Error('fault.times must be a positive integer or "always"');
  }
  const spec: FaultSpec = {
    kind: f.kind as FaultKind,
    method: str('method')?.toUpperCase(),
    path: str('path'),
    times,
    status: num('status'),
    permission: str('permission'),
    retryAfter: num('retryAfter'),
    retryAfterMs: num('retryAfterMs'),
    delayMs: num('delayMs'),
    code: num('code'),
    message: str('message'),
  };
  if (spec.kind === 'serverError' && spec.status !== undefined && (spec.status < 500 || spec.status > 599)) {
    throw new Error('fault.status for serverError must be 5xx');
  }
  if (spec.kind === 'delay' && spec.delayMs === undefined) throw new Error('fault.delayMs is required for kind "delay"');
  if (spec.path?.startsWith('re:')) new RegExp(spec.path.slice(3)); // throws on a bad regex
  return spec;
}

export class Faults {
  private next = 1;
  private active: Array<ActiveFault & { match: (method: string, path: string) => boolean }> = [];

  /** Queue a fault; returns its id. Faults are tried in the order they were added. */
  add(spec: FaultSpec): ActiveFault {
    const s = parseFaultSpec(spec);
    const remaining = s.times === 'always' ? Infinity : (s.times ?? 1);
    const byPath = pathMatcher(s.path);
    const fault = {
      ...s,
      id: this.next++,
      remaining,
      hits: 0,
      match: (method: string, path: string) => (s.method === undefined || s.method === method.toUpperCase()) && byPath(path),
    };
    this.active.push(fault);
    return this.view(fault);
  }

  /** Shorthand: every request fails at the network level until `networkDown(false)`. */
  networkDown(on: boolean): void {
    this.active = this.active.filter((f) => !(f.kind === 'networkDown' && f.times === 'always' && f.path === undefined && f.method === undefined));
    if (on) this.add({ kind: 'networkDown', times: 'always' });
  }

  remove(id: number): boolean {
    const before = this.active.length;
    this.active = this.active.filter((f) => f.id !== id);
    return this.active.length !== before;
  }

  clear(): void {
    this.active = [];
  }

  list(): ActiveFault[] {
    return this.active.map((f) => this.view(f));
  }

  /** Take the first fault matching this request (consuming one hit), if any. */
  take(method: string, path: string): ActiveFault | undefined {
    const f = this.active.find((x) => x.remaining > 0 && x.match(method, path));
    if (!f) return undefined;
    f.remaining -= 1;
    f.hits += 1;
    if (f.remaining <= 0) this.active = this.active.filter((x) => x !== f);
    return this.view(f);
  }

  private view(f: ActiveFault): ActiveFault {
    const { id, remaining, hits, kind, method, path, times, status, permission, retryAfter, retryAfterMs, delayMs, code, message } = f;
    return { id, remaining, hits, kind, method, path, times, status, permission, retryAfter, retryAfterMs, delayMs, code, message };
  }
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;

  constructor(private readonly max = 10_000) {}

  start(e: Omit<RequestLogEntry, 'seq' | 'at' | 'status'>): RequestLogEntry {
    const entry: RequestLogEntry = { seq: ++this.seq, at: new Date().toISOString(), status: null, ...e };
    this.entries.push(entry);
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
    return entry;
  }

  all(): RequestLogEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  filter(f: RequestFilter = {}): RequestLogEntry[] {
    const byPath = pathMatcher(f.path);
    return this.all().filter(
      (e) =>
        (f.method === undefined || e.method === f.method.toUpperCase()) &&
        byPath(e.path) &&
        (f.status === undefined || e.status === f.status) &&
        (f.token === undefined || e.token === f.token),
    );
  }

  count(f: RequestFilter = {}): number {
    return this.filter(f).length;
  }

  clear(): void {
    this.entries = [];
  }
}
