import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogsOpenRequest, type LogLine, type LogStreamEvent } from '../../electron/contract/logs';
import { secretMask } from '../../electron/contract/stack';
import { silentLogger } from '../../electron/core/log';
import { LogsService, type LogsTarget } from '../../electron/core/logs/logs-service';
import { Secret } from '../../electron/core/secrets/secret';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { composeGlobalArgs, type ComposeFiles } from '../../electron/core/stack/compose-commands';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { adminStack } from '../support/admin-stack';
import { connectToLab } from '../support/ssh';

/**
 * Logs and service actions against the lab: real sshd (as the admin, in the docker group), Docker Engine 20.10 and
 * Compose 2.26. A small Compose project of its own (never `m2`, which other lab files install) in the admin's home,
 * laid out as a release is: compose.yaml and a 0600 env file holding a secret that Compose interpolates. `talker`
 * prints the secret in 400 lines at start, then prints whatever is appended to /tmp/in; `crasher` prints the
 * secret in its error and exits 1 under `restart: always`.
 */
const SECRET = randomBytes(18).toString('base64url');
const project = `m2logs${process.pid}`;
const server = adminStack('m2admin', `m2-logs-lab-${process.pid}`);
const dir = server.root;
const files: ComposeFiles = { project, projectDir: dir, dir, envFiles: ['env/talker.env'] };
const IMAGE = 'redis:7.4-alpine';

let sshd: LabSshd;
let conn: SshConnection;
let target: LogsTarget;
let logs: LogsService;
const events: LogStreamEvent[] = [];

const compose = (...args: string[]) => conn.exec(['docker', 'compose', ...composeGlobalArgs(files), ...args], { timeoutMs: 180_000 });
const containerOf = async (service: string): Promise<string> => (await exec('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`])).stdout.trim();
const startedAt = async (service: string): Promise<string> => (await exec('docker', ['inspect', '--format', '{{.State.StartedAt}}', await containerOf(service)])).stdout.trim();
const say = async (text: string): Promise<void> => {
  const r = await exec('docker', ['exec', await containerOf('talker'), 'sh', '-c', 'printf "%s\\n" "$1" >> /tmp/in', 'sh', text]);
  if (r.code !== 0) throw new Error(`could not append to /tmp/in: ${r.stderr}`);
};
const linesOf = (streamId: string): LogLine[] => events.flatMap((e) => (e.kind === 'lines' && e.streamId === streamId ? e.lines : []));
const endOf = (streamId: string) => events.find((e) => e.kind === 'end' && e.streamId === streamId);

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const open = (over: Record<string, unknown>) => logs.open(LogsOpenRequest.parse({ profileId: 'lab', streamId: `s-${randomBytes(5).toString('hex')}`, service: 'talker', ...over }));

beforeAll(async () => {
  await ensureDocker();
  await ensureStandInImages();
  sshd = await ensureSshd();
  server.makeAdminFolders(path.join(dir, 'env'));
  const talker = [
    'i=0',
    'while [ $$i -lt 400 ]; do echo "boot $$i login=$$LAB_SECRET user=m2"; i=$$((i+1)); done',
    'echo ready',
    ': > /tmp/in',
    'exec tail -n 0 -F /tmp/in',
  ].join('; ');
  const doc = {
    services: {
      talker: { image: IMAGE, init: true, entrypoint: ['sh', '-c', talker], environment: { LAB_SECRET: '${LAB_SECRET}' }, restart: 'unless-stopped', stop_grace_period: '1s' },
      crasher: { image: IMAGE, entrypoint: ['sh', '-c', 'echo "crasher: database refused password $$LAB_SECRET"; echo "crasher: giving up"; exit 1'], environment: { LAB_SECRET: '${LAB_SECRET}' }, restart: 'always' },
    },
  };
  const write = (rel: string, content: string, mode: number): void => {
    const p = path.join(dir, rel);
    writeFileSync(p, content);
    chmodSync(p, mode);
    chownSync(p, server.uid, server.gid);
  };
  write('compose.yaml', YAML.stringify(doc), 0o644);
  write('env/talker.env', `LAB_SECRET=${SECRET}\n`, 0o600);
  conn = await connectToLab(sshd);
  const up = await compose('up', '--detach', '--pull', 'never');
  if (up.code !== 0) throw new Error(`compose up failed: ${up.stderr}`);
  target = { conn, access: 'group', files, releaseId: 'lab', services: ['crasher', 'talker'], secrets: [new Secret(SECRET)] };
  logs = new LogsService({ target: async () => target, emit: (e) => events.push(e), log: silentLogger });
  // The talker has printed its 400 lines when it says ready.
  await until('the talker to start', async () => (await exec('docker', ['logs', await containerOf('talker')])).stdout.includes('ready') || undefined);
}, 300_000);

afterAll(async () => {
  logs?.closeAll('lab');
  if (conn) {
    await compose('down', '--timeout', '1', '--remove-orphans').catch(() => undefined);
    await conn.close();
  }
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('logs over the one SSH connection, masked before they leave core', () => {
  it('shows every line of a service that logs a secret, with the secret masked, whatever the chunks', async () => {
    // The value really is in Docker's log, in clear.
    expect((await exec('docker', ['logs', await containerOf('talker')])).stdout).toContain(`login=${SECRET}`);
    const { streamId } = await open({ follow: false, tail: 5000 });
    await until('the read to finish', () => endOf(streamId));
    expect(endOf(streamId)).toMatchObject({ reason: 'finished' });
    const boot = linesOf(streamId).filter((l) => l.text.startsWith('boot '));
    expect(boot).toHaveLength(400);
    expect(boot[123]?.text).toBe(`boot 123 login=${secretMask} user=m2`);
    expect(boot.every((l) => l.ts !== null && /^\d{4}-\d\d-\d\dT/.test(l.ts))).toBe(true);
    expect(JSON.stringify(events)).not.toContain(SECRET);
  }, 60_000);

  it('follows: a line written after opening arrives, masked; closing stops the command on the server', async () => {
    const { streamId } = await open({ follow: true, tail: 1 });
    await until('the first line', () => linesOf(streamId).length > 0 || undefined);
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    await say(`${marker} token=${SECRET} done`);
    const got = await until('the new line', () => linesOf(streamId).find((l) => l.text.startsWith(marker)));
    expect(got.text).toBe(`${marker} token=${secretMask} done`);
    expect(logs.close('lab', streamId)).toBe(true);
    expect(endOf(streamId)).toMatchObject({ reason: 'closed' });
    // The cancelled `compose logs --follow` is gone from the server (its process group was killed).
    await until('compose logs to end on the server', async () => !(await exec('ps', ['-eo', 'args'])).stdout.split('\n').some((a) => a.includes(`--project-name ${project}`) && a.includes('--follow')) || undefined, 20_000);
    expect(JSON.stringify(events)).not.toContain(SECRET);
  }, 60_000);

  it('searches and reads a time range: only matching lines from after From', async () => {
    await say('search-before one');
    await new Promise((r) => setTimeout(r, 1_100));
    const from = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1_100));
    await say('search-after TWO');
    await say('unrelated line');
    await say(`search-after three ${SECRET}`);
    // busybox tail -F looks at the file once a second: wait until Docker has the last line.
    await until('Docker to log the lines', async () => (await exec('docker', ['logs', '--since', from, await containerOf('talker')])).stdout.includes('search-after three') || undefined);
    const { streamId } = await open({ follow: false, since: from, search: 'SEARCH-', tail: 5000 });
    await until('the read to finish', () => endOf(streamId));
    expect(endOf(streamId)).toMatchObject({ reason: 'finished' });
    expect(linesOf(streamId).map((l) => l.text)).toEqual(['search-after TWO', `search-after three ${secretMask}`]);
    // A search for the secret's value finds nothing: lines are searched after masking.
    const bySecret = await open({ follow: false, search: SECRET, tail: 5000 });
    await until('the read to finish', () => endOf(bySecret.streamId));
    expect(linesOf(bySecret.streamId)).toEqual([]);
  }, 60_000);

  it('hostile input never runs on the server: a search and names outside the release are refused or matched in the app', async () => {
    const canary = path.join(server.home, `pwned-${process.pid}`);
    const { streamId } = await open({ follow: false, search: `$(touch ${canary}) \`touch ${canary}\` '; touch ${canary}; '`, tail: 10 });
    await until('the read to finish', () => endOf(streamId));
    await expect(logs.open(LogsOpenRequest.parse({ profileId: 'lab', streamId: 'hostile-1', service: 'postgres' }))).rejects.toMatchObject({ code: 'logs.unknown-service', field: 'service' });
    await expect(logs.action('lab', `talker; touch ${canary}`, 'restart')).rejects.toMatchObject({ code: 'logs.unknown-service' });
    expect(LogsOpenRequest.safeParse({ profileId: 'lab', streamId: 'hostile-2', service: `talker$(touch ${canary})` }).success).toBe(false);
    expect(existsSync(canary)).toBe(false);
  }, 60_000);
});

describe('service actions and crash loops', () => {
  it('restart really restarts the container (its start time changes), and it runs again', async () => {
    const before = await startedAt('talker');
    const r = await logs.action('lab', 'talker', 'restart');
    const after = await startedAt('talker');
    expect(after).not.toBe(before);
    expect(r.runtime).toMatchObject({ service: 'talker', state: 'running', containers: 1, crashLoop: null });
    expect(Date.parse(r.runtime.startedAt ?? '')).toBe(Date.parse(after));
  }, 120_000);

  it('stop stops it and start starts it again', async () => {
    expect((await logs.action('lab', 'talker', 'stop')).runtime.state).toBe('exited');
    expect((await exec('docker', ['inspect', '--format', '{{.State.Running}}', await containerOf('talker')])).stdout.trim()).toBe('false');
    expect((await logs.action('lab', 'talker', 'start')).runtime.state).toBe('running');
  }, 120_000);

  it('says that a container keeps restarting, with its last lines masked', async () => {
    const crasher = await until(
      'the crasher to count as looping',
      async () => (await logs.services('lab')).services.find((s) => s.service === 'crasher' && s.crashLoop !== null),
      90_000,
    );
    expect(crasher.crashLoop?.restarts).toBeGreaterThanOrEqual(3);
    expect(crasher.crashLoop?.lastLines).toContain(`crasher: database refused password ${secretMask}`);
    expect(crasher.crashLoop?.lastLines).toContain('crasher: giving up');
    expect(JSON.stringify(crasher)).not.toContain(SECRET);
    const talker = (await logs.services('lab')).services.find((s) => s.service === 'talker');
    expect(talker).toMatchObject({ state: 'running', crashLoop: null });
  }, 120_000);
});
