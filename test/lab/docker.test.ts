import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageRef, pinnedImages, type ImageKey } from '../../electron/core/stack/versions';
import { composeVersion, dockerApi, ensureComposeV2, ensureDockerEngine, exec, type DockerEngine } from '../../scripts/lab/docker';
import { ensureStandInImagesReport, listStandInImages } from '../../scripts/lab/images';
import { StandInStack } from '../../scripts/lab/images/stack';
import { freePort } from '../../scripts/lab/process';

let engine: DockerEngine;
let compose: string;
const stacks: StandInStack[] = [];

beforeAll(async () => {
  try {
    engine = await ensureDockerEngine();
  } catch (err) {
    throw new Error(`lab: Docker Engine (docker.io, dockerd) could not be started: ${(err as Error).message}`, { cause: err });
  }
  try {
    compose = await ensureComposeV2();
  } catch (err) {
    throw new Error(`lab: the Compose v2 plugin (Debian trixie docker-compose) could not be installed: ${(err as Error).message}`, { cause: err });
  }
  try {
    await ensureStandInImagesReport();
  } catch (err) {
    throw new Error(`lab: stand-in images could not be built: ${(err as Error).message}`, { cause: err });
  }
});

afterAll(async () => {
  for (const s of stacks) await s.down();
});

const canConnect = (port: number, host: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.setTimeout(2_000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

const externalIPv4 = (): string | undefined =>
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal)?.address;

describe('lab Docker Engine', () => {
  it('answers on /var/run/docker.sock and a second ensure reuses the same daemon', async () => {
    const again = await ensureDockerEngine();
    expect(again.startedByLab).toBe(engine.startedByLab);
    expect(again.pid).toBe(engine.pid);
    expect(again.version).toMatch(/^\d+\.\d+/);
    const ping = await dockerApi('GET', '/_ping');
    expect(ping).toEqual({ status: 200, body: 'OK' });
  });

  it('runs without iptables rules and without the default bridge network', async () => {
    if (engine.startedByLab && engine.pid !== undefined) {
      const cmdline = readFileSync(`/proc/${engine.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toEqual(expect.arrayContaining(['--iptables=false', '--ip6tables=false', '--bridge=none']));
    }
    const networks = JSON.parse((await dockerApi('GET', '/networks')).body) as Array<{ Name: string }>;
    expect(networks.map((n) => n.Name)).not.toContain('bridge');
  });

  it('has a Compose v2+ plugin that `docker compose version` reports', async () => {
    expect(Number(compose.split('.')[0])).toBeGreaterThanOrEqual(2);
    expect(await composeVersion()).toBe(compose);
    expect(await ensureComposeV2()).toBe(compose);
  });
});

describe('stand-in images', () => {
  it('exist under the exact pinned names and tags, each labelled with the hash it was built from', async () => {
    const list = await listStandInImages();
    const keys = Object.keys(pinnedImages) as ImageKey[];
    expect(list.map((i) => i.ref).sort()).toEqual(keys.map((k) => imageRef(k)).sort());
    for (const img of list) {
      expect(img.present, `${img.ref} present`).toBe(true);
      expect(img.hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('are not rebuilt when nothing changed, and the check is fast', async () => {
    const before = await listStandInImages();
    const report = await ensureStandInImagesReport();
    expect(report.built).toEqual([]);
    expect(report.baseBuilt).toBe(false);
    expect(report.ms).toBeLessThan(20_000);
    const after = await listStandInImages();
    expect(after.map((i) => i.id)).toEqual(before.map((i) => i.id));
  });
});

describe('docker compose with stand-ins', () => {
  it('brings a small stack up healthy with --wait, publishes on 127.0.0.1 only, and down -v removes everything', async () => {
    const pgPort = await freePort();
    const redisPort = await freePort();
    const project = `m2lab-docker-${process.pid}`;
    const health = { interval: '1s', timeout: '5s', retries: 30 };
    const stack = StandInStack.create(project, {
      name: project,
      services: {
        db: {
          image: imageRef('postgres'),
          environment: { POSTGRES_PASSWORD: 'lab-secret', POSTGRES_USER: 'app', POSTGRES_DB: 'app' },
          volumes: ['db:/var/lib/postgresql/data'],
          networks: ['backend'],
          ports: [`127.0.0.1:${pgPort}:5432`],
          healthcheck: { test: ['CMD', 'pg_isready', '-U', 'app'], ...health },
        },
        cache: {
          image: imageRef('redis'),
          networks: ['backend'],
          ports: [`127.0.0.1:${redisPort}:6379`],
          healthcheck: { test: ['CMD', 'redis-cli', 'ping'], ...health },
          depends_on: { db: { condition: 'service_healthy' } },
        },
      },
      networks: { backend: {} },
      volumes: { db: {} },
    });
    stacks.push(stack);
    await stack.up();

    const ps = await stack.ps();
    expect(ps.map((p) => p.Service).sort()).toEqual(['cache', 'db']);
    for (const p of ps) {
      expect(p.State).toBe('running');
      expect(p.Health).toBe('healthy');
      for (const pub of p.Publishers ?? []) if (pub.PublishedPort !== 0) expect(pub.URL).toBe('127.0.0.1');
    }
    expect(await canConnect(pgPort, '127.0.0.1')).toBe(true);
    expect(await canConnect(redisPort, '127.0.0.1')).toBe(true);
    const ext = externalIPv4();
    if (ext !== undefined) expect(await canConnect(pgPort, ext)).toBe(false);

    // Service names resolve on the user-defined network (Docker's embedded DNS works without iptables).
    const ping = await stack.exec('cache', ['redis-cli', '-h', 'cache', 'ping']);
    expect(ping.stdout.trim()).toBe('PONG');
    const reach = await stack.exec('db', ['pg_isready', '-h', 'cache', '-p', '6379']);
    expect(reach.code).toBe(0);

    const down = await stack.down();
    stacks.splice(stacks.indexOf(stack), 1);
    expect(down.code).toBe(0);
    const left = await exec('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(left.stdout.trim()).toBe('');
    const vols = await exec('docker', ['volume', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(vols.stdout.trim()).toBe('');
    const nets = await exec('docker', ['network', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(nets.stdout.trim()).toBe('');
  });

  it('fails `up --wait` with compose\'s "not healthy" error when a stand-in starts unhealthy', async () => {
    const project = `m2lab-unhealthy-${process.pid}`;
    const stack = StandInStack.create(project, {
      name: project,
      services: {
        sonarr: {
          image: imageRef('sonarr'),
          environment: { M2_STANDIN_UNHEALTHY: '1' },
          networks: ['media'],
          healthcheck: { test: ['CMD', 'curl', '-fsS', 'http://localhost:8989/ping'], interval: '1s', timeout: '3s', retries: 2 },
        },
      },
      networks: { media: {} },
    });
    stacks.push(stack);
    const r = await stack.compose(['up', '--detach', '--wait', '--wait-timeout', '20']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unhealthy|not healthy/i);
    const [entry] = await stack.ps();
    expect(entry?.Health).toBe('unhealthy');
  });
});
