import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PreflightReport, PreflightRequest, overallStatus } from '../../contract/preflight';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';
import type { CommandRunner, ExecOptions, ExecResult } from '../ssh/runner';
import { DISK_NAME, EGRESS_NAME, FACTS_NAME, preflightCommands } from './commands';
import { factsOutput, fixture, ubuntuNvidia } from './fixtures/load';
import { PREFLIGHT_TIMEOUTS_MS, plannedCheckIds, runPreflight } from './preflight';

type Reply = ExecResult | Error;
const ok = (stdout: string, code = 0): ExecResult => ({ code, stdout, stderr: '' });

/** A runner that answers each preflight command from recordings and remembers what it was asked. */
class RecordedServer implements CommandRunner {
  readonly calls: { argv: Argv; opts: ExecOptions | undefined }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly replies: { facts: Reply; disk?: Reply; egress?: Reply; sudo?: Reply }) {}

  async exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv, opts });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 5));
    this.inFlight--;
    const name = argv[0] === 'sudo' ? 'sudo' : argv[3];
    const reply =
      name === FACTS_NAME
        ? this.replies.facts
        : name === DISK_NAME
          ? (this.replies.disk ?? ok(fixture('disk/busybox-df-PB1.txt')))
          : name === EGRESS_NAME
            ? (this.replies.egress ?? ok(fixture('egress/bash-dns-failure.txt')))
            : name === 'sudo'
              ? (this.replies.sudo ?? new Error('sudo was not expected'))
              : new Error(`unexpected command ${argv.join(' ')}`);
    if (reply instanceof Error) throw reply;
    return reply;
  }
}

/** A clock that moves 100 ms per reading. */
const ticking = (start = Date.parse('2026-11-25T18:12:43Z')) => {
  let t = start;
  return () => new Date((t += 100));
};

describe('runPreflight', () => {
  it('runs facts, disk and egress at once, then reports every check in order (lab admin recording)', async () => {
    const server = new RecordedServer({ facts: ok(fixture('facts/lab-debian12-admin.txt')) });
    const recordedAt = Date.parse('2026-11-25T18:13:03Z');
    expect(fixture('facts/lab-debian12-admin.txt')).toContain(`\n${recordedAt / 1000}\n`);
    const report = await runPreflight(server, { dataPaths: ['/srv/m2'] }, { now: ticking(recordedAt), user: 'm2admin' });

    expect(server.calls.map((c) => c.argv)).toEqual([preflightCommands.facts(), preflightCommands.disk(['/srv/m2']), preflightCommands.egress()]);
    expect(server.calls.map((c) => c.opts?.timeoutMs)).toEqual([PREFLIGHT_TIMEOUTS_MS.facts, PREFLIGHT_TIMEOUTS_MS.disk, PREFLIGHT_TIMEOUTS_MS.egress]);
    expect(server.maxInFlight).toBe(3);
    expect(PreflightReport.parse(report)).toEqual(report);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['os', 'pass'],
      ['docker-engine', 'pass'],
      ['compose', 'pass'],
      ['docker-access', 'pass'],
      ['disk:/srv/m2', 'pass'],
      ['gpu', 'pass'],
      ['clock', 'pass'],
      ['cloudflare-egress', 'fail'],
    ]);
    expect(report.checks.map((c) => c.id)).toEqual(plannedCheckIds({ dataPaths: ['/srv/m2'] }));
    expect(report.dockerAccess).toEqual({ kind: 'group' });
    expect(report.gpu).toEqual({ kind: 'none' });
    expect(report.startedAt).toBe('2026-11-25T18:13:03.100Z');
    expect(report.durationMs).toBeGreaterThan(0);
    expect(overallStatus(report.checks)).toBe('fail');
  });

  it('falls back to sudo -n only when the socket refused the user, and reports sudo access', async () => {
    const server = new RecordedServer({
      facts: ok(fixture('facts/lab-debian12-sudo-user.txt')),
      sudo: ok(fixture('docker/info-lab-debian12-docker.io-20.10.txt')),
    });
    const report = await runPreflight(server, { dataPaths: ['/srv/m2'] }, { now: ticking(), user: 'm2sudo' });
    expect(server.calls.at(-1)?.argv).toEqual(['sudo', '-n', '--', 'docker', 'info', '--format', '{{json .}}']);
    expect(report.dockerAccess).toEqual({ kind: 'sudo' });
    expect(report.checks.find((c) => c.id === 'docker-engine')).toMatchObject({ status: 'pass', found: 'Docker Engine 20.10.24+dfsg1 is running.' });
    expect(report.checks.find((c) => c.id === 'docker-access')).toMatchObject({ status: 'warn', fix: { command: 'sudo usermod -aG docker m2sudo' } });
  });

  it('reports no access when sudo wants a password', async () => {
    const server = new RecordedServer({ facts: ok(fixture('facts/lab-debian12-sudo-user.txt')), sudo: ok(fixture('docker/sudo-password-required.txt'), 1) });
    const report = await runPreflight(server, { dataPaths: ['/srv'] }, { now: ticking(), user: 'm2sudo' });
    expect(report.dockerAccess).toEqual({ kind: 'none' });
    expect(report.checks.find((c) => c.id === 'docker-access')?.status).toBe('fail');
  });

  it('never asks sudo when the user already reaches Docker, or Docker is not running', async () => {
    for (const f of ['facts/lab-debian12-admin.txt', 'facts/lab-debian12-daemon-down.txt']) {
      const server = new RecordedServer({ facts: ok(fixture(f)) });
      await runPreflight(server, { dataPaths: ['/srv'] }, { now: ticking(), user: 'm2admin' });
      expect(server.calls.some((c) => c.argv[0] === 'sudo'), f).toBe(false);
    }
  });

  it('detects NVIDIA with the runtime on a healthy Ubuntu server', async () => {
    const server = new RecordedServer({ facts: ok(factsOutput(ubuntuNvidia)), egress: ok(fixture('egress/bash-open.txt')) });
    const report = await runPreflight(server, { dataPaths: ['/srv/m2'] }, { now: () => new Date(1795630363_500), user: 'admin' });
    expect(report.gpu).toEqual({ kind: 'nvidia', driver: '560.35.03', name: 'NVIDIA GeForce RTX 3060', runtime: true, encoder: 'unknown' });
    expect(overallStatus(report.checks)).toBe('pass');
  });

  it('passes every data path as an argument, once each, whatever it contains', async () => {
    const hostile = ["/tmp/m2 $(touch /tmp/m2-pwned) '\"`x", '/srv/ünï 家', '/srv/m2', '/srv/m2'];
    const server = new RecordedServer({ facts: ok(fixture('facts/lab-debian12-admin.txt')), disk: ok(fixture('disk/lab-mixed.txt')) });
    const report = await runPreflight(server, { dataPaths: hostile }, { now: ticking(), user: 'm2admin' });
    expect(server.calls[1]?.argv.slice(4)).toEqual(hostile.slice(0, 3));
    expect(report.checks.filter((c) => c.id.startsWith('disk:')).map((c) => c.id)).toEqual(hostile.slice(0, 3).map((p) => `disk:${p}`));
  });

  it('warns for the checks whose command failed, and keeps the others', async () => {
    const server = new RecordedServer({
      facts: ok(fixture('facts/lab-debian12-admin.txt')),
      egress: new AppError('ssh.command-timeout', 'sh took longer than 15 s and was stopped.'),
      disk: new Error('channel closed'),
    });
    const report = await runPreflight(server, { dataPaths: ['/srv'] }, { now: ticking(), user: 'm2admin' });
    expect(report.checks.find((c) => c.id === 'cloudflare-egress')).toMatchObject({ status: 'warn', found: 'Could not run this check: sh took longer than 15 s and was stopped.' });
    expect(report.checks.find((c) => c.id === 'disk:/srv')).toMatchObject({ status: 'warn', found: 'Could not run this check: channel closed' });
    expect(report.checks.find((c) => c.id === 'os')?.status).toBe('pass');

    const noFacts = new RecordedServer({ facts: new Error('channel closed') });
    const partial = await runPreflight(noFacts, { dataPaths: ['/srv'] }, { now: ticking(), user: 'm2admin' });
    expect(partial.checks.map((c) => c.id)).toEqual(plannedCheckIds({ dataPaths: ['/srv'] }));
    expect(partial.checks.filter((c) => c.status === 'warn').map((c) => c.id)).toEqual(['os', 'docker-engine', 'compose', 'docker-access', 'gpu', 'clock']);
    expect(PreflightReport.safeParse(partial).success).toBe(true);
  });

  it("throws the runner's own error when no command could run at all", async () => {
    const gone = new AppError('ssh.disconnected', 'The connection to the server was lost.');
    const server = new RecordedServer({ facts: gone, disk: gone, egress: gone });
    await expect(runPreflight(server, { dataPaths: ['/srv'] }, { now: ticking(), user: 'u' })).rejects.toBe(gone);
  });

  it('refuses an invalid request before running anything, naming the field', async () => {
    const server = new RecordedServer({ facts: ok('') });
    await expect(runPreflight(server, { dataPaths: ['relative/path'] }, { now: ticking(), user: 'u' })).rejects.toMatchObject({
      code: 'ipc.invalid',
      field: 'dataPaths',
      userMessage: expect.stringMatching(/^Data folders: /),
    });
    expect(server.calls).toEqual([]);
  });
});

describe('the preflight request', () => {
  const bad = (p: unknown) => PreflightRequest.safeParse({ dataPaths: [p] });

  it('accepts absolute paths with spaces, quotes, $() and unicode', () => {
    for (const p of ['/', '/srv/m2', "/tmp/m2 $(touch /tmp/m2-pwned) '\"`x", '/srv/ünï 家', '/mnt/my..media']) {
      expect(PreflightRequest.parse({ dataPaths: [p] }).dataPaths, p).toEqual([p]);
    }
  });

  it('refuses relative paths, control characters, .. segments, empty and over-long paths, with messages naming the field', () => {
    for (const p of ['', 'srv/m2', '~/m2', '/srv/m2\n', '/a\rb', '/a\0b', '/a\tb', '/srv/../etc', '/' + 'a'.repeat(1024), 42]) {
      const r = bad(p);
      expect(r.success, JSON.stringify(p)).toBe(false);
      if (!r.success) {
        expect(r.error.issues[0]?.path).toEqual(['dataPaths', 0]);
        if (typeof p === 'string') expect(r.error.issues[0]?.message).toMatch(/^Data folders: /);
      }
    }
    expect(PreflightRequest.safeParse({ dataPaths: [] }).error?.issues[0]?.message).toMatch(/^Data folders: choose at least one/);
    expect(PreflightRequest.safeParse({ dataPaths: Array.from({ length: 17 }, (_, i) => `/d${i}`) }).success).toBe(false);
  });

  it('never accepts a path with a control or invisible character, and accepts any other absolute path without ..', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const p = `/${s}`;
        const ok = PreflightRequest.safeParse({ dataPaths: [p] }).success;
        // Invisible and direction-changing characters (\p{Cf}) are refused too, but for the zero-width joiner of emoji.
        // eslint-disable-next-line no-control-regex -- the point is control characters
        const expected = !/[\0-\x1f\x7f-\x9f]/.test(p) && !/(?!\u200d)\p{Cf}/u.test(p) && !p.split('/').includes('..');
        expect(ok).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});
