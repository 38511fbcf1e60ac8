// Building blocks of the stand-in's /client/v4 routes: errors in the v4 envelope, route table entries,
// pagination and small body validators.
import type { Requirement } from './permissions';
import type { StandInState, TokenRecord } from './state';
import type { ResultInfo } from './types';

/** An API error answered in the v4 envelope: `{success:false, errors:[{code,message}]}`. */
export class CfError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: number, message: string): CfError => new CfError(400, code, message);
export const notFound = (code: number, message: string): CfError => new CfError(404, code, message);

export interface Ctx {
  method: string;
  /** Path relative to /client/v4. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  token: TokenRecord;
  state: StandInState;
}

export interface Reply<T> {
  status?: number;
  result: T;
  result_info?: ResultInfo;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route {
  method: Method;
  pattern: string;
  /** Permission the token needs; absent = any valid token. */
  need?: Requirement;
  /** Token verify endpoints answer for disabled/expired tokens too (with their status). */
  allowInactive?: boolean;
  handler: (ctx: Ctx) => Reply<unknown>;
}

/** Declare a route; `T` is the SDK type of its `result`, so handlers are checked against the SDK. */
export const route = <T>(method: Method, pattern: string, need: Requirement | undefined, handler: (ctx: Ctx) => Reply<T>, opts: { allowInactive?: boolean } = {}): Route => ({
  method,
  pattern,
  need,
  handler,
  allowInactive: opts.allowInactive,
});

export interface CompiledRoute extends Route {
  re: RegExp;
  keys: string[];
}

export function compile(r: Route): CompiledRoute {
  const keys: string[] = [];
  const src = r.pattern
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        keys.push(seg.slice(1));
        return '([^/]+)';
      }
      return seg.replace(/[.+?^${}()|[\]\\*]/g, '\\$&');
    })
    .join('/');
  return { ...r, re: new RegExp(`^${src}/?$`), keys };
}

/** Page a list the way the v4 API does; a page past the end is empty (which is how the SDK's iterator stops). */
export function paginate<T>(items: readonly T[], query: URLSearchParams, defaultPerPage: number, maxPerPage: number): Reply<T[]> {
  const page = intParam(query, 'page') ?? 1;
  const perPage = intParam(query, 'per_page') ?? defaultPerPage;
  if (page < 1) throw badRequest(1001, 'page must be a positive integer');
  if (perPage < 1 || perPage > maxPerPage) throw badRequest(1001, `per_page must be between 1 and ${maxPerPage}`);
  const start = (page - 1) * perPage;
  const result = items.slice(start, start + perPage);
  return {
    result,
    result_info: { page, per_page: perPage, count: result.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / perPage)) },
  };
}

function intParam(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(1001, `${key} must be an integer`);
  return n;
}

export function boolParam(q: URLSearchParams, key: string): boolean | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badRequest(1001, `${key} must be true or false`);
}

// ---- body validators (each throws a 400 with `code`) -----------------------------------------------------------

export class Body {
  constructor(
    private readonly b: Record<string, unknown>,
    private readonly code: number,
  ) {}

  has(k: string): boolean {
    return this.b[k] !== undefined;
  }

  raw(k: string): unknown {
    return this.b[k];
  }

  str(k: string): string {
    const v = this.b[k];
    if (typeof v !== 'string' || v.trim() === '') throw badRequest(this.code, `${k} is required and must be a non-empty string`);
    return v;
  }

  optStr(k: string): string | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw badRequest(this.code, `${k} must be a string`);
    return v;
  }

  optBool(k: string): boolean | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw badRequest(this.code, `${k} must be a boolean`);
    return v;
  }

  optNum(k: string): number | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(this.code, `${k} must be a number`);
    return v;
  }

  optStrArray(k: string): string[] | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(this.code, `${k} must be an array of strings`);
    return v as string[];
  }

  optObjArray(k: string): Array<Record<string, unknown>> | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every(isObj)) throw badRequest(this.code, `${k} must be an array of objects`);
    return v;
  }

  optObj(k: string): Record<string, unknown> | undefined {
    const v = this.b[k];
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) throw badRequest(this.code, `${k} must be an object`);
    return v;
  }

  oneOf<const T extends string>(k: string, allowed: readonly T[], fallback?: T): T {
    const v = this.b[k] ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw badRequest(this.code, `${k} must be one of ${allowed.join(', ')}`);
    return v as T;
  }
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Drop keys whose value is undefined (so responses carry only what is set). */
export function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
