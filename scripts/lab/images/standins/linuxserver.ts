/**
 * Minimal stand-ins for the linuxserver.io images (`/init` entrypoint, PUID/PGID, /config): Sonarr and Radarr answer
 * `/ping`, qBittorrent its WebUI version API, WireGuard binds its UDP port and writes wg-quick peer configs with
 * real x25519 keys for PEERS. Each has the lab control endpoint and a health endpoint tests can fail on demand.
 */
import { generateKeyPairSync } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pinnedImages } from '../../../../electron/core/stack/versions';
import { dropPrivileges, env, handleControl, labStartupSwitches, log, patchField, send, sendJson, serve, imageTag } from './lib/common';

type Kind = 'sonarr' | 'radarr' | 'qbittorrent' | 'wireguard';

let healthy = true;

const control = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, kind: Kind): Promise<boolean> =>
  handleControl(req, res, url, { get: () => ({ kind, healthy }), set: (p) => (healthy = patchField(p, 'healthy', 'boolean') ?? healthy) });

function arr(kind: 'sonarr' | 'radarr', port: number): Promise<unknown> {
  const version = imageTag(pinnedImages[kind].tag);
  return serve(port, '0.0.0.0', async (req, res, url) => {
    if (await control(req, res, url, kind)) return;
    const p = url.pathname.toLowerCase();
    if (p === '/ping') return sendJson(res, healthy ? 200 : 503, { status: healthy ? 'OK' : 'Error' });
    if (p.startsWith('/api/')) {
      if (!req.headers['x-api-key'] && !url.searchParams.get('apikey')) return send(res, 401, 'Unauthorized');
      if (p === '/api/v3/system/status') return sendJson(res, 200, { appName: kind === 'sonarr' ? 'Sonarr' : 'Radarr', version, isDocker: true, branch: 'main' });
    }
    if (p === '/') return send(res, 200, `<!DOCTYPE html><html><head><title>${kind === 'sonarr' ? 'Sonarr' : 'Radarr'}</title></head><body></body></html>`, { 'content-type': 'text/html' });
  });
}

async function qbittorrent(): Promise<void> {
  const port = Number(env('WEBUI_PORT', '8080'));
  const torrentPort = Number(env('TORRENTING_PORT', '6881'));
  await serve(port, '0.0.0.0', async (req, res, url) => {
    if (await control(req, res, url, 'qbittorrent')) return;
    if (url.pathname === '/api/v2/app/version') return healthy ? send(res, 200, `v${imageTag(pinnedImages.qbittorrent.tag)}`, { 'content-type': 'text/plain' }) : send(res, 503, 'unhealthy');
    if (url.pathname === '/api/v2/app/webapiVersion') return send(res, 200, '2.11.4', { 'content-type': 'text/plain' });
    if (url.pathname === '/') return send(res, 200, '<!DOCTYPE html><html><head><title>qBittorrent WebUI</title></head><body></body></html>', { 'content-type': 'text/html' });
  });
  net.createServer((s) => s.destroy()).listen(torrentPort, '0.0.0.0');
  dgram.createSocket('udp4').bind(torrentPort, '0.0.0.0');
  log(`WebUI will be started shortly after internal preparations. Please wait... (port ${port})`);
}

function keyPair(): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const b64 = (jwk: string | undefined): string => Buffer.from(jwk ?? '', 'base64url').toString('base64');
  return { priv: b64(privateKey.export({ format: 'jwk' }).d), pub: b64(publicKey.export({ format: 'jwk' }).x) };
}

async function wireguard(): Promise<void> {
  const internalPort = 51820;
  const peers = env('PEERS');
  if (peers) {
    const names = /^\d+$/.test(peers) ? Array.from({ length: Number(peers) }, (_, i) => `peer${i + 1}`) : peers.split(',').map((p) => `peer_${p.trim()}`);
    const confDir = '/config/wg_confs';
    mkdirSync(confDir, { recursive: true });
    const server = keyPair();
    const subnet = env('INTERNAL_SUBNET', '10.13.13.0').replace(/\.\d+$/, '');
    const serverConf = [`[Interface]`, `Address = ${subnet}.1`, `ListenPort = ${internalPort}`, `PrivateKey = ${server.priv}`, ''];
    names.forEach((name, i) => {
      const dir = path.join('/config', name);
      const file = path.join(dir, `${name}.conf`);
      if (existsSync(file)) return;
      mkdirSync(dir, { recursive: true });
      const k = keyPair();
      writeFileSync(
        file,
        [
          '[Interface]',
          `Address = ${subnet}.${i + 2}`,
          `PrivateKey = ${k.priv}`,
          `ListenPort = ${internalPort}`,
          `DNS = ${env('PEERDNS', `${subnet}.1`)}`,
          '',
          '[Peer]',
          `PublicKey = ${server.pub}`,
          `Endpoint = ${env('SERVERURL', 'wireguard.example.com')}:${env('SERVERPORT', '51820')}`,
          `AllowedIPs = ${env('ALLOWEDIPS', '0.0.0.0/0, ::/0')}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      writeFileSync(path.join(dir, `publickey-${name}`), `${k.pub}\n`);
      serverConf.push(`[Peer]`, `# ${name}`, `PublicKey = ${k.pub}`, `AllowedIPs = ${subnet}.${i + 2}/32`, '');
    });
    writeFileSync(path.join(confDir, 'wg0.conf'), serverConf.join('\n'), { mode: 0o600 });
    log(`**** Server mode is selected; peer configs for ${names.join(', ')} in /config ****`);
  }
  dgram.createSocket('udp4').bind(internalPort, '0.0.0.0');
  await serve(Number(env('M2_STANDIN_CONTROL_PORT', '51821')), '0.0.0.0', async (req, res, url) => {
    if (await control(req, res, url, 'wireguard')) return;
    if (url.pathname === '/health') return send(res, healthy ? 200 : 503, healthy ? 'OK' : 'unhealthy');
  });
  log('[ls.io-init] done. (wg0 up, stand-in)');
}

async function main(argv: string[]): Promise<void> {
  const kind = argv[0] as Kind;
  healthy = labStartupSwitches().healthy;
  const puid = Number(env('PUID', '911'));
  const pgid = Number(env('PGID', '911'));
  log(`───────────────────────────────────────\nUser UID:    ${puid}\nUser GID:    ${pgid}\n───────────────────────────────────────`);
  mkdirSync('/config', { recursive: true });
  switch (kind) {
    case 'sonarr':
      dropPrivileges(puid, pgid, ['/config']);
      await arr('sonarr', 8989);
      return;
    case 'radarr':
      dropPrivileges(puid, pgid, ['/config']);
      await arr('radarr', 7878);
      return;
    case 'qbittorrent':
      dropPrivileges(puid, pgid, ['/config']);
      return qbittorrent();
    case 'wireguard':
      // WireGuard needs NET_ADMIN as root; it keeps root like the real image.
      return wireguard();
    default:
      process.stderr.write(`unknown linuxserver stand-in ${String(kind)}\n`);
      process.exit(1);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
