import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StackProgress, StackSettings } from '../../contract/stack';
import { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';
import type { ExecResult } from '../ssh/runner';
import { applyStack } from './apply';
import { CONFIG_HASH_LABEL, ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL } from './compose-commands';
import { checkNothingToChange, judgeNoop, NOOP_SCRIPT, noopCheckArgv, nothingToChangeMessage, parseNoopOutput } from './noop';
import { releaseIsComplete, type StackConnection, type StackTarget } from './remote-release';
import type { RenderedStack } from './types';

const m2Dir = '/home/admin/m2';
const secret = new Secret('s3cr3t-value-0123456789');
const compose = 'services: {}\n';
const env = `APP_PASSWORD=${secret.reveal()}\n`;
const blueprint = 'version: 1\n';
const rendered: RenderedStack = {
  releaseFiles: [
    { path: 'compose.yaml', content: compose, masked: compose, mode: 0o644, secret: false },
    { path: 'env/app.env', content: env, masked: 'APP_PASSWORD=••••\n', mode: 0o600, secret: true },
  ],
  moduleFiles: [{ path: `${m2Dir}/files/0123456789abcdef/blueprint.yaml`, name: 'blueprint.yaml', content: blueprint, masked: blueprint, mode: 0o644, secret: false }],
  envFiles: ['env/app.env'],
  serviceModules: { jellyfin: 'jellyfin', nextcloud: 'nextcloud', redis: 'nextcloud' },
  serviceImages: { jellyfin: 'jellyfin/jellyfin:10.11.11', nextcloud: 'nextcloud:34', redis: 'redis:7' },
  hostDirs: [],
  ports: [],
  secretValues: [secret],
  digest: 'd'.repeat(64),
} as unknown as RenderedStack;

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const hashOf = (service: string): string => sha(`config of ${service}`);
const imageId = (ref: string): string => `sha256:${sha(ref)}`;
const services = ['jellyfin', 'nextcloud', 'redis'] as const;

interface Box {
  service: string;
  project?: string;
  oneoff?: boolean;
  configHash?: string;
  imageId?: string;
  status?: string;
  health?: string | null;
}

/** What the server prints for the script, the live release matching `rendered` unless told otherwise. */
function serverSays(over: { busy?: boolean; end?: boolean; current?: string; files?: string[]; hashes?: string[] | 'failed'; images?: string[]; boxes?: Box[] | 'failed' } = {}): string {
  if (over.busy) return '@@m2 busy\n';
  const files = over.files ?? [sha(compose), sha(env), sha(blueprint)];
  const hashes = over.hashes ?? services.map((s) => `${s} ${hashOf(s)}`);
  const images = over.images ?? Object.values(rendered.serviceImages).map((r) => `${imageId(r)} ${r}`);
  const boxes = over.boxes ?? services.map((service) => ({ service }));
  const inspect = (b: Box): unknown => {
    const ref = rendered.serviceImages[b.service] ?? 'gone:1';
    return {
      Id: `${b.service}${'0'.repeat(64)}`.slice(0, 64),
      Name: `/m2-${b.service}-1`,
      Image: b.imageId ?? imageId(ref),
      RestartCount: 0,
      State: { Status: b.status ?? 'running', ExitCode: 0, StartedAt: '2026-12-05T02:00:00Z', ...(b.health === null ? {} : { Health: { Status: b.health ?? 'healthy' } }) },
      Config: { Image: ref, Labels: { [PROJECT_LABEL]: b.project ?? 'm2', [SERVICE_LABEL]: b.service, [CONFIG_HASH_LABEL]: b.configHash ?? hashOf(b.service), [ONEOFF_LABEL]: b.oneoff ? 'True' : 'False' } },
      NetworkSettings: { Ports: {} },
    };
  };
  return [
    `@@m2 current ${over.current ?? 'releases/20261205T020000Z-dddddddd'}`,
    ...files.map((f) => `@@m2 file ${f}`),
    '@@m2 hashes',
    ...(hashes === 'failed' ? ['@@m2 failed'] : hashes),
    '@@m2 images',
    ...images,
    '@@m2 containers',
    ...(boxes === 'failed' ? ['@@m2 failed'] : [JSON.stringify(boxes.map(inspect), null, 4)]),
    ...(over.end === false ? [] : ['@@m2 end']),
    '',
  ].join('\n');
}

const refs = [...new Set(Object.values(rendered.serviceImages))].sort();
const judge = (stdout: string) => judgeNoop({ m2Dir }, rendered, parseNoopOutput(stdout, refs, 'm2'));
const reasonOf = (stdout: string): string => {
  const v = judge(stdout);
  return v.kind === 'changed' ? v.reason : 'unchanged';
};

describe('the no-op check’s verdict', () => {
  it('says unchanged when files, hashes, images and containers match and every service is healthy (or has no check)', () => {
    const v = judge(serverSays({ boxes: [{ service: 'jellyfin' }, { service: 'nextcloud', health: null }, { service: 'redis' }, { service: 'redis', oneoff: true, status: 'exited' }] }));
    expect(v).toMatchObject({ kind: 'unchanged', releaseId: '20261205T020000Z-dddddddd' });
    if (v.kind !== 'unchanged') return;
    expect(v.services.map((s) => [s.service, s.action])).toEqual(services.map((s) => [s, 'unchanged']));
    expect(v.health.map((h) => [h.service, h.state, h.health])).toEqual([
      ['jellyfin', 'running', 'healthy'],
      ['nextcloud', 'running', ''],
      ['redis', 'running', 'healthy'],
    ]);
    expect(nothingToChangeMessage(v.health)).toBe('Nothing to change; all 3 services healthy');
  });

  // Each difference the full path would act on: the check must send the apply there.
  const drift: Array<[string, Parameters<typeof serverSays>[0], RegExp]> = [
    ['an apply holds the lock', { busy: true }, /holds the lock/],
    ['the script was cut off', { end: false }, /did not finish/],
    ['no live release', { current: '' }, /no live release/],
    ['compose.yaml edited on the server', { files: [sha('edited'), sha(env), sha(blueprint)] }, /current\/compose\.yaml differs/],
    ['an env file gone', { files: [sha(compose), '-', sha(blueprint)] }, /env\/app\.env differs/],
    ['a module file edited', { files: [sha(compose), sha(env), sha('edited')] }, /blueprint\.yaml differs/],
    ['fewer file answers than files', { files: [sha(compose)] }, /file check did not finish/],
    ['Compose rejected the live release', { hashes: 'failed' }, /did not hash/],
    ['the live release has another service', { hashes: [...services.map((s) => `${s} ${hashOf(s)}`), `sonarr ${hashOf('sonarr')}`] }, /other services/],
    ['a changed module (config hash differs)', { boxes: [{ service: 'jellyfin', configHash: hashOf('other') }, { service: 'nextcloud' }, { service: 'redis' }] }, /jellyfin: configuration changed/],
    ['an image missing from the server', { images: [`${imageId('nextcloud:34')} nextcloud:34`, `${imageId('redis:7')} redis:7`] }, /image jellyfin\/jellyfin:10\.11\.11 is not on the server/],
    ['an image pulled since (new id)', { images: [`${imageId('new')} jellyfin/jellyfin:10.11.11`, `${imageId('nextcloud:34')} nextcloud:34`, `${imageId('redis:7')} redis:7`] }, /jellyfin: image .* was updated/],
    ['a container without an image id', { boxes: [{ service: 'jellyfin', imageId: '' }, { service: 'nextcloud' }, { service: 'redis' }] }, /jellyfin: its container does not run/],
    ['a stopped container', { boxes: [{ service: 'jellyfin', status: 'exited' }, { service: 'nextcloud' }, { service: 'redis' }] }, /jellyfin: exited; will be started/],
    ['a restarting container', { boxes: [{ service: 'jellyfin', status: 'restarting' }, { service: 'nextcloud' }, { service: 'redis' }] }, /jellyfin: restarting/],
    ['an unhealthy container', { boxes: [{ service: 'jellyfin' }, { service: 'nextcloud', health: 'unhealthy' }, { service: 'redis' }] }, /nextcloud is unhealthy/],
    ['a container still starting', { boxes: [{ service: 'jellyfin' }, { service: 'nextcloud' }, { service: 'redis', health: 'starting' }] }, /redis is starting/],
    ['a removed container', { boxes: [{ service: 'jellyfin' }, { service: 'nextcloud' }] }, /redis: new service/],
    ['a container of a service the release no longer has', { boxes: [...services.map((service) => ({ service })), { service: 'sonarr' }] }, /sonarr: not in the new configuration/],
    ['Docker did not list the containers', { boxes: 'failed' }, /did not list/],
  ];
  it.each(drift)('takes the full path when %s', (_what, over, reason) => {
    expect(reasonOf(serverSays(over))).toMatch(reason);
  });

  it('takes the full path when the output does not parse', () => {
    expect(reasonOf(serverSays().replace('"Id"', '"Id'))).toMatch(/did not list/);
    expect(reasonOf('')).toMatch(/did not finish/);
  });
});

describe('the no-op check’s command', () => {
  const target = (over: Partial<StackTarget> = {}): StackTarget => ({ conn: null as unknown as StackConnection, dockerAccess: 'group', m2Dir, project: 'm2', profileId: 'p', ...over });

  it('is the constant script with every value an argument', () => {
    const hostile = `/home/a'b $(touch /tmp/x)\n\`id\`/m2`;
    const argv = noopCheckArgv(target({ m2Dir: hostile }), { ...rendered, moduleFiles: [] });
    expect(argv?.slice(0, 3)).toEqual(['sh', '-c', NOOP_SCRIPT]);
    expect(argv?.slice(3, 9)).toEqual(['m2-noop', hostile, 'm2', '0', 'jellyfin/jellyfin:10.11.11 nextcloud:34 redis:7', '2']);
    expect(argv).toContain(`${hostile}/current/compose.yaml`);
    expect(argv?.slice(-8)).toEqual(['--project-name', 'm2', '--project-directory', hostile, '--file', `${hostile}/current/compose.yaml`, '--env-file', `${hostile}/current/env/app.env`]);
    expect(NOOP_SCRIPT).not.toContain(hostile);
    expect(noopCheckArgv(target({ dockerAccess: 'sudo' }), rendered)?.[6]).toBe('1');
  });

  it('is not run for an image name that is not one plain word', () => {
    expect(noopCheckArgv(target(), { ...rendered, serviceImages: { ...rendered.serviceImages, redis: 'redis:7 $(x)' } })).toBeNull();
  });

  describe('run by a real sh, with docker, flock and readlink stand-ins', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'm2-noop-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    // docker prints one line per call with its arguments; flock says whether the lock is free.
    // `docker ps` answers with one container id (and logs its arguments) so that `docker inspect` gets it.
    writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\n{ printf "docker"; for a do printf " [%s]" "$a"; done; echo; } >>"$M2_TEST_LOG"\n[ "$1" = ps ] && { echo c0ffee; exit 0; }\nprintf "docker"; for a do printf " [%s]" "$a"; done; echo\n');
    writeFileSync(path.join(bin, 'flock'), '#!/bin/sh\n[ -e "$M2_TEST_BUSY" ] && exit 1; exit 0\n');
    for (const f of ['docker', 'flock']) chmodSync(path.join(bin, f), 0o755);

    const runLocal = (argv: Argv, busy = false): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile(argv[0] ?? '', argv.slice(1), { env: { PATH: `${bin}:/usr/bin:/bin`, M2_TEST_BUSY: busy ? dir : path.join(dir, 'nothing'), M2_TEST_LOG: path.join(dir, 'docker.log') } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      });

    it('hashes the files, leaves hostile names as data, and says busy while the lock is held', async () => {
      const home = path.join(dir, `h'o $(touch ${dir}/canary) \`touch ${dir}/canary2\``);
      const m2 = path.join(home, 'm2');
      mkdirSync(path.join(m2, 'releases', '20261205T020000Z-dddddddd', 'env'), { recursive: true });
      writeFileSync(path.join(m2, 'releases', '20261205T020000Z-dddddddd', 'compose.yaml'), compose);
      writeFileSync(path.join(m2, 'releases', '20261205T020000Z-dddddddd', 'env', 'app.env'), env);
      execFileSyncLink(path.join(m2, 'current'));
      const argv = noopCheckArgv(target({ m2Dir: m2 }), { ...rendered, moduleFiles: [] });
      if (!argv) throw new Error('no argv');
      const out = await runLocal(argv);
      const obs = parseNoopOutput(out, refs, 'm2');
      expect(obs).toMatchObject({ busy: false, complete: true, current: '20261205T020000Z-dddddddd', fileHashes: [sha(compose), sha(env)] });
      expect(out).toContain(`docker [compose] [--project-name] [m2] [--project-directory] [${m2}] [--file] [${m2}/current/compose.yaml] [--env-file] [${m2}/current/env/app.env] [config] [--hash] [*]`);
      expect(out).toContain('docker [image] [inspect] [--format]');
      expect(out).toContain('[jellyfin/jellyfin:10.11.11] [nextcloud:34] [redis:7]');
      expect(readFileSync(path.join(dir, 'docker.log'), 'utf8')).toContain('docker [ps] [--all] [--quiet] [--no-trunc] [--filter] [label=com.docker.compose.project=m2]');
      expect(out).toContain('docker [inspect] [--type] [container] [c0ffee]');
      expect(existsSync(path.join(dir, 'canary')) || existsSync(path.join(dir, 'canary2'))).toBe(false);
      expect(parseNoopOutput(await runLocal(argv, true), refs, 'm2').busy).toBe(true);
    }, 30_000);

    /** `current` → releases/<id>, as the guard makes it. */
    function execFileSyncLink(at: string): void {
      rmSync(at, { force: true });
      // A relative link, as on the server.
      symlinkSync('releases/20261205T020000Z-dddddddd', at);
    }
  });
});

describe('an apply and the no-op check', () => {
  const settings = {} as StackSettings;
  /** A connection that answers the check with `stdout` and stops the full path at its first command. */
  const fakeConn = (answer: () => ExecResult | Promise<ExecResult>) => {
    const seen: Argv[] = [];
    const conn = {
      exec: async (argv: Argv): Promise<ExecResult> => {
        seen.push(argv);
        if (argv[2] === NOOP_SCRIPT) return answer();
        throw new Error('the full path began');
      },
      spawn: () => Promise.reject(new Error('the full path began')),
      writeFileAtomic: () => Promise.reject(new Error('the full path began')),
      readFile: () => Promise.reject(new Error('the full path began')),
    } as unknown as StackConnection;
    return { conn, seen };
  };
  const apply = (conn: StackConnection, events: StackProgress[] = [], pullPolicy: 'missing' | 'always' = 'missing') =>
    applyStack({ conn, dockerAccess: 'group', m2Dir, project: 'm2', profileId: 'p' }, rendered, { applyId: 'a1', settings, pullPolicy, guardScript: '' }, (p) => events.push(p));
  const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' }) as ExecResult;

  it('an unchanged stack: one command, nothing started, said as such', async () => {
    const { conn, seen } = fakeConn(() => ok(serverSays()));
    const events: StackProgress[] = [];
    const result = await apply(conn, events);
    expect(result).toMatchObject({ kind: 'applied', releaseId: '20261205T020000Z-dddddddd', nothingToChange: true, warnings: [] });
    expect(seen).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'service')).toHaveLength(3);
    expect(events.filter((e) => e.kind === 'phase').map((e) => (e.kind === 'phase' ? [e.phase, e.message] : []))).toEqual([
      ['prepare', 'Checking the server'],
      ['done', 'Nothing to change; all 3 services healthy'],
    ]);
  });

  it.each(drift())('%s: the full path', async (_what, stdout) => {
    const { conn, seen } = fakeConn(() => ok(stdout));
    await expect(apply(conn)).rejects.toThrow('the full path began');
    expect(seen).toHaveLength(2);
  });

  it('a check that fails or exits non-zero: the full path', async () => {
    for (const answer of [() => Promise.reject(new Error('channel closed')), () => ({ code: 1, stdout: '', stderr: 'no' }) as ExecResult]) {
      const { conn } = fakeConn(answer);
      await expect(apply(conn)).rejects.toThrow('the full path began');
    }
    const v = await checkNothingToChange({ conn: fakeConn(() => Promise.reject(new Error('channel closed'))).conn, dockerAccess: 'group', m2Dir, profileId: 'p' }, rendered);
    expect(v).toEqual({ kind: 'changed', reason: 'the check failed (channel closed)' });
  });

  it('pull policy "always" never skips: it must pull', async () => {
    const { conn, seen } = fakeConn(() => ok(serverSays()));
    await expect(apply(conn, [], 'always')).rejects.toThrow('the full path began');
    expect(seen[0]?.[2]).not.toBe(NOOP_SCRIPT);
  });

  function drift(): Array<[string, string]> {
    return [
      ['a drifted file', serverSays({ files: [sha('edited'), sha(env), sha(blueprint)] })],
      ['a stopped container', serverSays({ boxes: [{ service: 'jellyfin', status: 'exited' }, { service: 'nextcloud' }, { service: 'redis' }] })],
      ['an unhealthy container', serverSays({ boxes: [{ service: 'jellyfin', health: 'unhealthy' }, { service: 'nextcloud' }, { service: 'redis' }] })],
      ['a missing image', serverSays({ images: [] })],
      ['a changed module', serverSays({ boxes: [{ service: 'jellyfin', configHash: hashOf('x') }, { service: 'nextcloud' }, { service: 'redis' }] })],
    ];
  }
});

describe('reusing a release folder on the full path', () => {
  const id = '20261205T020000Z-dddddddd';
  const dir = `${m2Dir}/releases/${id}`;
  const t = (sums: string[]): StackTarget => ({
    conn: {
      readFile: (p: string) =>
        Promise.resolve(
          Buffer.from(
            p.endsWith('release.json')
              ? JSON.stringify({ id, digest: rendered.digest, project: 'm2' })
              : ['--project-name', 'm2', '--project-directory', m2Dir, '--file', `${dir}/compose.yaml`, '--env-file', `${dir}/env/app.env`, ''].join('\n'),
          ),
        ),
      exec: (argv: Argv) => Promise.resolve({ code: 0, stdout: sums.map((h, i) => `${h}  ${String(argv[i + 2])}`).join('\n'), stderr: '' } as ExecResult),
    } as unknown as StackConnection,
    dockerAccess: 'group',
    m2Dir,
    project: 'm2',
    profileId: 'p',
  });

  it('takes a folder whose files hold exactly this content, and not one edited on the server', async () => {
    expect(await releaseIsComplete(t([sha(compose), sha(env)]), id, rendered)).toBe(true);
    expect(await releaseIsComplete(t([sha(`${compose}# edited\n`), sha(env)]), id, rendered)).toBe(false);
    expect(await releaseIsComplete(t([sha(compose)]), id, rendered)).toBe(false);
  });
});
