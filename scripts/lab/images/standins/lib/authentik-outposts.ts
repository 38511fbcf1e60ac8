/**
 * The Authentik stand-in's outposts (API v3), for the LDAP outpost the M2 blueprint declares: an outpost entry of a
 * successful blueprint is an outpost (pk = a UUID from its name), and the worker makes its API token as the real
 * worker does after an outpost is saved (authentik/outposts/models.py: identifier `ak-outpost-{pk}-api`, 128 letters
 * and digits, kept in the shared state). `GET /api/v3/outposts/instances/` lists the outposts the token may see (the
 * bootstrap token: all; an outpost's token: its own, as the real service account's view permission gives), and
 * `GET /api/v3/core/tokens/{identifier}/view_key/` answers `{"key": …}` to the bootstrap token.
 */
import { createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { sendJson } from './common';

export interface OutpostEntry {
  readonly model: string;
  readonly identifiers: Record<string, unknown>;
  readonly attrs: Record<string, unknown>;
}

export interface OutpostsOptions {
  /** Throws 403 unless the request carries the bootstrap token. */
  readonly requireToken: (req: http.IncomingMessage) => void;
  /** Entries of the successful blueprints. */
  readonly entries: () => OutpostEntry[];
  /** identifier → key, as the worker made them. */
  readonly tokens: () => Readonly<Record<string, string>>;
}

const uuidOf = (name: string): string => createHash('sha256').update(`outpost:${name}`).digest('hex').replace(/^(.{8})(.{4})(.{3})(.{3})(.{12}).*$/, '$1-$2-4$3-8$4-$5');

export interface Outpost {
  readonly pk: string;
  readonly name: string;
  readonly type: string;
  readonly token_identifier: string;
  readonly config: Record<string, unknown>;
}

export function outposts(entries: readonly OutpostEntry[]): Outpost[] {
  return entries
    .filter((e) => e.model === 'authentik_outposts.outpost')
    .map((e) => {
      const name = String(e.attrs.name ?? e.identifiers.name ?? '');
      const pk = uuidOf(name);
      return { pk, name, type: String(e.attrs.type ?? 'proxy'), token_identifier: `ak-outpost-${pk}-api`, config: (e.attrs.config ?? {}) as Record<string, unknown> };
    });
}

/** The worker's part: a token for every outpost that has none yet; the same map when nothing is new. */
export function withOutpostTokens(entries: readonly OutpostEntry[], tokens: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out = { ...tokens };
  for (const o of outposts(entries)) {
    if (out[o.token_identifier] === undefined) {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
      out[o.token_identifier] = [...randomBytes(128)].map((b) => alphabet[b % alphabet.length]).join('');
    }
  }
  return out;
}

const page = (results: unknown[]): Record<string, unknown> => ({
  pagination: { next: 0, previous: 0, count: results.length, current: 1, total_pages: 1, start_index: results.length ? 1 : 0, end_index: results.length },
  results,
  autocomplete: {},
});

export function handleOutposts(req: http.IncomingMessage, res: http.ServerResponse, url: URL, opts: OutpostsOptions): boolean {
  const p = url.pathname;
  if (p === '/api/v3/outposts/instances/' && req.method === 'GET') {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const all = outposts(opts.entries());
    const own = Object.entries(opts.tokens()).find(([, key]) => key === bearer)?.[0];
    if (own !== undefined) {
      sendJson(res, 200, page(all.filter((o) => o.token_identifier === own)));
      return true;
    }
    opts.requireToken(req);
    const name = url.searchParams.get('name__iexact');
    sendJson(res, 200, page(all.filter((o) => name === null || o.name.toLowerCase() === name.toLowerCase())));
    return true;
  }
  const view = /^\/api\/v3\/core\/tokens\/([^/]+)\/view_key\/$/.exec(p);
  if (view && req.method === 'GET') {
    opts.requireToken(req);
    const key = opts.tokens()[decodeURIComponent(view[1] ?? '')];
    if (key === undefined) sendJson(res, 404, { detail: 'No Token matches the given query.' });
    else sendJson(res, 200, { key });
    return true;
  }
  return false;
}
