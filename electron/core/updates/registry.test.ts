import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { registryOf } from './image-ref';
import { MANIFEST_ACCEPT, MAX_PAGES, nextLink, parseBearerChallenge, RegistryClient, type HttpGet, type HttpResponse } from './registry';
import { serverHttp } from './ssh-http';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A registry stub: pages of tags with Link headers, a token service, and HEAD of manifests that needs the full Accept. */
function stubRegistry(): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      if (url.searchParams.get('scope') !== 'repository:jellyfin/jellyfin:pull' || url.searchParams.get('service') !== 'stub') return void res.writeHead(403).end();
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'tok123' }));
    }
    if (req.headers.authorization !== 'Bearer tok123') {
      const port = (req.socket.localPort ?? 0).toString();
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="stub",scope="repository:jellyfin/jellyfin:pull"` }).end();
    }
    if (url.pathname === '/v2/jellyfin/jellyfin/tags/list') {
      const last = url.searchParams.get('last');
      if (!last) return void res.writeHead(200, { link: '</v2/jellyfin/jellyfin/tags/list?n=2&last=10.11.12>; rel="next"' }).end(JSON.stringify({ name: 'jellyfin/jellyfin', tags: ['10.11.11', '10.11.12'] }));
      return void res.writeHead(200).end(JSON.stringify({ name: 'jellyfin/jellyfin', tags: ['10.12.0', 'latest', 42, '$(reboot)'] }));
    }
    if (url.pathname === '/v2/jellyfin/jellyfin/manifests/10.12.0' && req.method === 'HEAD') {
      if (req.headers.accept !== MANIFEST_ACCEPT) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'docker-content-digest': DIGEST }).end();
    }
    if (url.pathname === '/v2/loop/tags/list') return void res.writeHead(200, { link: '</v2/loop/tags/list?again=1>; rel="next"' }).end(JSON.stringify({ tags: ['1.0'] }));
    res.writeHead(404).end();
  });
}

let server: http.Server;
let port = 0;
beforeAll(async () => {
  server = stubRegistry();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** The server side as the update check uses it, with the SSH hop replaced by the port itself. */
const direct = (): ReturnType<typeof serverHttp> => serverHttp({ forward: async (_h, p) => ({ port: p, close: async () => undefined }) });

describe('registry client', () => {
  it('follows the Bearer challenge and the Link pages, keeping only valid tags', async () => {
    const h = direct();
    const tags = await new RegistryClient(h.get).tags(registryOf('jellyfin/jellyfin', `127.0.0.1:${String(port)}`));
    await h.close();
    expect(tags).toEqual(['10.11.11', '10.11.12', '10.12.0', 'latest']);
  });

  it('reads a digest with every manifest type in Accept; a missing tag is null', async () => {
    const h = direct();
    const c = new RegistryClient(h.get);
    const r = registryOf('jellyfin/jellyfin', `127.0.0.1:${String(port)}`);
    expect(await c.digest(r, '10.12.0')).toBe(DIGEST);
    expect(await c.digest(r, '9.9.9')).toBeNull();
    await h.close();
  });

  it('stops a registry that keeps sending the same next page', async () => {
    let calls = 0;
    const get: HttpGet = async (url) => {
      calls++;
      return { status: 200, headers: { link: `<${url.pathname}?p=${String(calls)}>; rel="next"` }, body: JSON.stringify({ tags: [`1.${String(calls)}`] }) };
    };
    const tags = await new RegistryClient(get).tags(registryOf('x/y', '127.0.0.1:1'));
    expect(calls).toBe(MAX_PAGES);
    expect(tags).toHaveLength(MAX_PAGES);
  });

  it('never follows a next page on another host', async () => {
    const asked: string[] = [];
    const get: HttpGet = async (url) => {
      asked.push(url.host);
      return { status: 200, headers: { link: '<https://evil.example/v2/x/y/tags/list>; rel="next"' }, body: '{"tags":["1.0"]}' };
    };
    await new RegistryClient(get).tags(registryOf('x/y', 'registry.example.com'));
    expect(asked).toEqual(['registry.example.com']);
  });

  it('an unreachable registry is named, with what to check', async () => {
    const h = serverHttp({ forward: async () => ({ port: 1, close: async () => undefined }) });
    const err = await new RegistryClient(h.get).tags(registryOf('jellyfin/jellyfin', '127.0.0.1:5055')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('updates.registry-unreachable');
    expect((err as AppError).userMessage).toContain('127.0.0.1:5055');
    expect((err as AppError).hint).toContain('Nothing was changed');
  });

  it('answers that are not a tag list are refused by name', async () => {
    const reply = (r: HttpResponse): HttpGet => async () => r;
    const r = registryOf('nextcloud', null);
    expect(r).toMatchObject({ host: 'registry-1.docker.io', name: 'library/nextcloud', label: 'Docker Hub' });
    await expect(new RegistryClient(reply({ status: 200, headers: {}, body: '<html>' })).tags(r)).rejects.toThrow(/Docker Hub sent a list of tags that is not JSON/);
    await expect(new RegistryClient(reply({ status: 200, headers: {}, body: '{"tags":"1.0"}' })).tags(r)).rejects.toThrow(/without a tags array/);
    await expect(new RegistryClient(reply({ status: 500, headers: {}, body: '' })).tags(r)).rejects.toThrow(/answered 500/);
    await expect(new RegistryClient(reply({ status: 401, headers: { 'www-authenticate': 'Basic realm="x"' }, body: '' })).tags(r)).rejects.toThrow(/asks for a sign-in/);
  });

  it('parses challenges and links', () => {
    expect(parseBearerChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"')).toEqual({ realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:a/b:pull' });
    expect(parseBearerChallenge('Basic realm="x"')).toBeNull();
    expect(nextLink('<https://a/x>; rel="prev", </v2/n/tags/list?last=b>; rel="next"', new URL('https://r.example/v2/n/tags/list'))?.href).toBe('https://r.example/v2/n/tags/list?last=b');
    expect(nextLink(undefined, new URL('https://r.example/'))).toBeNull();
  });

  it('places images: upstream hosts, Docker Hub library, and a mirror', () => {
    expect(registryOf('lscr.io/linuxserver/sonarr', null)).toMatchObject({ host: 'lscr.io', name: 'linuxserver/sonarr', scheme: 'https' });
    expect(registryOf('ghcr.io/goauthentik/server', '127.0.0.1:5055')).toMatchObject({ host: '127.0.0.1:5055', name: 'goauthentik/server', scheme: 'http' });
    expect(registryOf('postgres', 'mirror.lan:5000')).toMatchObject({ name: 'postgres', scheme: 'https' });
  });

  it('an answer that cannot be taken is not called unreachable', async () => {
    const r = registryOf('jellyfin/jellyfin', 'registry.example.com');
    await expect(new RegistryClient(async () => Promise.reject(new Error('its TLS certificate was refused (ERR_TLS_CERT_ALTNAME_INVALID)'))).tags(r)).rejects.toThrow(
      'The image registry registry.example.com sent an answer that could not be read (its TLS certificate was refused (ERR_TLS_CERT_ALTNAME_INVALID)).',
    );
  });
});
