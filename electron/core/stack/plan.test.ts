import { describe, expect, it } from 'vitest';
import { secretMask } from '../../contract/stack';
import { Secret } from '../secrets/secret';
import type { ContainerInfo } from './compose-commands';
import { fileChanges, serviceChanges } from './plan';
import type { RenderedStack } from './types';

const secret = new Secret('s3cr3t-value-0123456789');
const rendered = (compose: string, env: string, files: Array<{ path: string; content: string }> = []): RenderedStack => ({
  releaseFiles: [
    { path: 'compose.yaml', content: compose, masked: compose, mode: 0o644, secret: false },
    { path: 'env/app.env', content: env, masked: env.replace(secret.reveal(), secretMask), mode: 0o600, secret: true },
  ],
  moduleFiles: files.map((f) => ({ ...f, masked: f.content, mode: 0o644, secret: false })),
  envFiles: ['env/app.env'],
  serviceModules: { jellyfin: 'jellyfin', nextcloud: 'nextcloud', redis: 'nextcloud' },
  serviceImages: { jellyfin: 'jellyfin/jellyfin:10.11.11', nextcloud: 'nextcloud:34', redis: 'redis:7' },
  hostDirs: [],
  ports: [],
  secretValues: [secret],
  digest: 'd'.repeat(64),
});

const container = (service: string, over: Partial<ContainerInfo> = {}): ContainerInfo => ({
  id: `${service}-id`,
  name: `m2-${service}-1`,
  service,
  project: 'm2',
  oneoff: false,
  configHash: `${service}-hash`,
  image: '',
  imageId: 'sha256:same',
  state: 'running',
  health: 'healthy',
  exitCode: 0,
  restartCount: 0,
  startedAt: '',
  published: [],
  ...over,
});

describe('service changes', () => {
  it('creates, recreates (saying why), removes and leaves alone by config hash', () => {
    const r = rendered('', '');
    const hashes = new Map([
      ['jellyfin', 'jellyfin-hash'],
      ['nextcloud', 'new-hash'],
      ['redis', 'other-hash'],
    ]);
    const containers = [
      container('jellyfin', { image: 'jellyfin/jellyfin:10.11.11' }),
      container('nextcloud', { image: 'nextcloud:33' }),
      container('redis', { image: 'redis:7' }),
      container('sonarr', { image: 'sonarr:4' }),
    ];
    const ids = new Map([['jellyfin/jellyfin:10.11.11', 'sha256:same']]);
    expect(serviceChanges(r, hashes, containers, ids).map((s) => [s.service, s.action, s.reason])).toEqual([
      ['jellyfin', 'unchanged', 'no change'],
      ['nextcloud', 'recreate', 'new image nextcloud:34'],
      ['redis', 'recreate', 'configuration changed'],
      ['sonarr', 'remove', 'not in the new configuration'],
    ]);
    expect(serviceChanges(r, new Map([['jellyfin', 'x']]), [], new Map())[0]).toMatchObject({ action: 'create', reason: 'new service', module: 'jellyfin' });
  });

  it('recreates a service whose image tag was pulled anew, and starts a stopped one', () => {
    const r = rendered('', '');
    const hashes = new Map([['jellyfin', 'jellyfin-hash'], ['redis', 'redis-hash']]);
    const out = serviceChanges(r, hashes, [container('jellyfin', { imageId: 'sha256:old' }), container('redis', { state: 'exited' })], new Map([['jellyfin/jellyfin:10.11.11', 'sha256:new'], ['redis:7', 'sha256:same']]));
    expect(out.map((s) => [s.service, s.action])).toEqual([['jellyfin', 'recreate'], ['redis', 'create']]);
  });
});

describe('file changes', () => {
  it('diffs masked contents only, marks rotated secrets, and follows module files by name', () => {
    const m2 = '/home/a/m2';
    const oldEnv = "APP_PASSWORD='old-secret-value-999'\nAPP_USER='u'\n";
    const newEnv = `APP_PASSWORD='${secret.reveal()}'\nAPP_USER='u'\n`;
    const r = rendered('services:\n  a: 2\n', newEnv, [{ path: `${m2}/files/bbbbbbbbbbbbbbbb/blueprint.yaml`, content: 'v: 2\n' }]);
    const old = {
      manifest: { id: 'x', createdAt: '', digest: '', project: 'm2', envFiles: ['env/app.env', 'env/gone.env'], files: [{ path: 'compose.yaml', mode: 0o644, secret: false }, { path: 'env/app.env', mode: 0o600, secret: true }, { path: 'env/gone.env', mode: 0o600, secret: true }], moduleFiles: [`${m2}/files/aaaaaaaaaaaaaaaa/blueprint.yaml`], services: [], state: 'live' as const },
      contents: new Map([
        ['compose.yaml', 'services:\n  a: 1\n'],
        ['env/app.env', oldEnv],
        ['env/gone.env', "GONE='old-secret-value-999'\n"],
        ['files/aaaaaaaaaaaaaaaa/blueprint.yaml', 'v: 1\n'],
      ]),
    };
    const changes = fileChanges(r, m2, old);
    expect(changes.map((c) => [c.path, c.status, c.mode])).toEqual([
      ['compose.yaml', 'changed', '0644'],
      ['env/app.env', 'changed', '0600'],
      ['env/gone.env', 'removed', '0600'],
      ['files/bbbbbbbbbbbbbbbb/blueprint.yaml', 'changed', '0644'],
    ]);
    const all = JSON.stringify(changes);
    expect(all).not.toContain(secret.reveal());
    expect(all).not.toContain('old-secret-value-999');
    expect(changes[1]?.diff).toContain(`+APP_PASSWORD=${secretMask} (changed)`);
    expect(changes[3]?.diff).toContain('-v: 1\n+v: 2');
  });

  it('is all "added" on a first install', () => {
    expect(fileChanges(rendered('x\n', ''), '/m2', { manifest: null, contents: new Map() }).map((c) => c.status)).toEqual(['added', 'added']);
  });
});
