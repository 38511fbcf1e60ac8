/**
 * The Registry HTTP API v2, read-only, as an update check needs it: a repository's tags (`/v2/<name>/tags/list`,
 * following `Link: <…>; rel="next"` as the spec asks clients to) and a tag's manifest digest (`HEAD
 * /v2/<name>/manifests/<tag>` with every manifest type in `Accept`: without it a registry answers 404 for OCI
 * content, and an index asked for with the Docker v2 type alone is 404 too). A 401 with a `Bearer` challenge is
 * followed generically (realm, service, scope), which covers Docker Hub, ghcr.io and lscr.io (a ghcr.io proxy).
 * HTTP goes through `HttpGet`, so the same code runs from the server's side of an SSH connection (ssh-http.ts) and
 * against a stub in tests. Everything a registry sends is data: sizes, counts and shapes are checked.
 */
import { AppError } from '../errors';
import type { RegistryCoordinates } from './image-ref';
import { MAX_TAGS, TAG_PATTERN } from './tags';

export interface HttpResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export type HttpGet = (url: URL, opts: { readonly method: 'GET' | 'HEAD'; readonly headers: Readonly<Record<string, string>> }) => Promise<HttpResponse>;

/** The transport could not reach the host at all (refused, reset, timed out, no route): said as "unreachable". */
export class Unreachable extends Error {}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Pages of a tag list followed at most (a registry that keeps sending `next` is cut off, not followed forever). */
export const MAX_PAGES = 50;
const PAGE_SIZE = 1000;
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `Bearer realm="…",service="…",scope="…"` → its parameters; null for another scheme. */
export function parseBearerChallenge(header: string | undefined): Record<string, string> | null {
  if (!header) return null;
  const m = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!m) return null;
  const out: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1] ?? '')) !== null) {
    const key = (p[1] ?? '').toLowerCase();
    if (key && !(key in out)) out[key] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    if (p[0] === '') break;
  }
  return out;
}

/** The `rel="next"` target of a Link header, resolved against the request's URL; null when none. */
export function nextLink(header: string | undefined, base: URL): URL | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2] ?? '')) {
      try {
        return new URL(m[1] ?? '', base);
      } catch {
        return null;
      }
    }
  }
  return null;
}

export class RegistryClient {
  readonly #http: HttpGet;
  /** Tokens by realm + scope, for this client's life (one check). */
  readonly #tokens = new Map<string, string>();

  constructor(http: HttpGet) {
    this.#http = http;
  }

  /** Every tag of the repository (at most MAX_TAGS, in the registry's order). */
  async tags(r: RegistryCoordinates): Promise<string[]> {
    checkName(r);
    const origin = `${r.scheme}://${r.host}`;
    let url: URL | null = new URL(`${origin}/v2/${r.name}/tags/list?n=${String(PAGE_SIZE)}`);
    const out: string[] = [];
    const seenPages = new Set<string>();
    for (let page = 0; url !== null && page < MAX_PAGES && out.length < MAX_TAGS; page++) {
      if (url.origin !== new URL(origin).origin || seenPages.has(url.href)) break;
      seenPages.add(url.href);
      const res = await this.#get(r, url, 'GET', { accept: 'application/json' });
      if (res.status === 404) throw new AppError('updates.not-found', `${r.label} has no image ${r.name}.`, { hint: hintFor(r) });
      if (res.status !== 200) throw badAnswer(r, `answered ${String(res.status)} for the list of tags`);
      let body: unknown;
      try {
        body = JSON.parse(res.body);
      } catch {
        throw badAnswer(r, 'sent a list of tags that is not JSON');
      }
      const tags = (body as { tags?: unknown } | null)?.tags;
      if (tags !== null && tags !== undefined && !Array.isArray(tags)) throw badAnswer(r, 'sent a list of tags without a tags array');
      for (const t of (tags as unknown[] | null | undefined) ?? []) if (typeof t === 'string' && TAG_PATTERN.test(t) && out.length < MAX_TAGS) out.push(t);
      url = nextLink(res.headers.link, url);
    }
    return out;
  }

  /** The manifest digest the registry holds for a tag (what `docker pull` would get), or null when the tag is not there. */
  async digest(r: RegistryCoordinates, tag: string): Promise<string | null> {
    checkName(r);
    if (!TAG_PATTERN.test(tag)) throw new AppError('updates.invalid', `Image tag: ${JSON.stringify(tag.slice(0, 40))} is not a tag.`);
    const res = await this.#get(r, new URL(`${r.scheme}://${r.host}/v2/${r.name}/manifests/${tag}`), 'HEAD', { accept: MANIFEST_ACCEPT });
    if (res.status === 404) return null;
    if (res.status !== 200) throw badAnswer(r, `answered ${String(res.status)} for ${r.name}:${tag}`);
    const d = res.headers['docker-content-digest']?.trim() ?? '';
    if (!DIGEST.test(d)) throw badAnswer(r, `sent no usable digest for ${r.name}:${tag}`);
    return d;
  }

  async #get(r: RegistryCoordinates, url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<HttpResponse> {
    const scope = `repository:${r.name}:pull`;
    const call = async (token: string | undefined): Promise<HttpResponse> => {
      try {
        return await this.#http(url, { method, headers: token ? { ...headers, authorization: `Bearer ${token}` } : headers });
      } catch (err) {
        // Not reached at all, or reached with an answer that could not be taken (too large, a refused certificate).
        if (err instanceof Unreachable) throw unreachable(r, err);
        throw badAnswer(r, `sent an answer that could not be read (${err instanceof Error ? err.message.slice(0, 200) : 'unknown'})`);
      }
    };
    const cached = [...this.#tokens.entries()].find(([k]) => k.endsWith(`\n${scope}`))?.[1];
    let res = await call(cached);
    if (res.status !== 401) return res;
    const challenge = parseBearerChallenge(res.headers['www-authenticate']);
    if (!challenge?.realm) throw new AppError('updates.refused', `${r.label} refused to list ${r.name} (it asks for a sign-in M2 Companion does not have).`, { hint: hintFor(r) });
    const token = await this.#token(r, challenge, scope);
    res = await call(token);
    if (res.status === 401 || res.status === 403) throw new AppError('updates.refused', `${r.label} refused to list ${r.name} even with its anonymous token.`, { hint: hintFor(r) });
    return res;
  }

  async #token(r: RegistryCoordinates, challenge: Record<string, string>, scope: string): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm ?? '');
    } catch {
      throw badAnswer(r, 'sent a sign-in challenge without a usable address');
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && r.scheme === 'http')) throw badAnswer(r, 'asked for a sign-in over plain HTTP');
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', scope);
    const key = `${realm.origin}${realm.pathname}\n${scope}`;
    const have = this.#tokens.get(key);
    if (have) return have;
    let res: HttpResponse;
    try {
      res = await this.#http(realm, { method: 'GET', headers: { accept: 'application/json' } });
    } catch (err) {
      throw unreachable({ ...r, label: `${r.label}'s sign-in service (${realm.host})` }, err);
    }
    if (res.status !== 200) throw new AppError('updates.refused', `${r.label}'s sign-in service refused an anonymous token for ${r.name} (${String(res.status)}).`, { hint: hintFor(r) });
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // said below
    }
    const body = typeof parsed === 'object' && parsed !== null ? (parsed as { token?: unknown; access_token?: unknown }) : null;
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : '';
    if (!token || token.length > 16_384 || /[\s\p{Cc}]/u.test(token)) throw badAnswer(r, 'sent no usable token');
    this.#tokens.set(key, token);
    return token;
  }
}

function checkName(r: RegistryCoordinates): void {
  if (!NAME.test(r.name) || r.name.length > 255) throw new AppError('updates.invalid', `Image: ${JSON.stringify(r.name.slice(0, 60))} is not a repository name.`);
}

const hintFor = (r: RegistryCoordinates): string =>
  r.label === 'Docker Hub' || r.label.includes('.io')
    ? `Check the server’s internet connection and that ${r.label} is up, then check again. Nothing was changed.`
    : `Check that the image registry ${r.label} (Services → Image registry) runs and holds the stack’s images, then check again. Nothing was changed.`;

function unreachable(r: RegistryCoordinates, err: unknown): AppError {
  const why = err instanceof Error && err.message ? ` (${err.message.slice(0, 200)})` : '';
  return new AppError('updates.registry-unreachable', `The server could not reach the image registry ${r.label}${why}.`, { hint: hintFor(r), cause: err });
}

const badAnswer = (r: RegistryCoordinates, what: string): AppError => new AppError('updates.registry-failed', `The image registry ${r.label} ${what}.`, { hint: hintFor(r) });
