import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { toShell } from '../ssh/argv';
import { CLOUDFLARE_EDGE, DISK_NAME, DISK_SCRIPT, EGRESS_NAME, EGRESS_SCRIPT, FACTS_NAME, FACTS_SCRIPT, preflightCommands } from './commands';
import { parseDiskReport, parseEgress, parseSections } from './parse';

const shells = ['/bin/sh', '/bin/bash', '/bin/dash', '/bin/busybox'].filter((s) => existsSync(s));

/** Run an argv locally the way sshd's shell would: through `sh -c` of the quoted command line. */
const runLocally = (argv: readonly string[]): string => execFileSync('/bin/sh', ['-c', `${toShell(argv)} 2>&1`], { encoding: 'utf8', timeout: 30_000 });

describe('preflight commands', () => {
  it('are constant scripts with the user data as separate arguments', () => {
    expect(preflightCommands.facts()).toEqual(['sh', '-c', FACTS_SCRIPT, FACTS_NAME]);
    expect(preflightCommands.disk(['/srv/m2', "/mnt/it's $(here)"])).toEqual(['sh', '-c', DISK_SCRIPT, DISK_NAME, '/srv/m2', "/mnt/it's $(here)"]);
    expect(preflightCommands.egress()).toEqual(['sh', '-c', EGRESS_SCRIPT, EGRESS_NAME, 'region1.v2.argotunnel.com', '7844']);
    expect(preflightCommands.egress('127.0.0.1', 1)).toEqual(['sh', '-c', EGRESS_SCRIPT, EGRESS_NAME, '127.0.0.1', '1']);
    expect(preflightCommands.sudoDockerInfo()).toEqual(['sudo', '-n', '--', 'docker', 'info', '--format', '{{json .}}']);
    expect(CLOUDFLARE_EDGE).toEqual({ host: 'region1.v2.argotunnel.com', port: 7844 });
  });

  it('parse in every POSIX shell here (sh -n)', () => {
    expect(shells.length).toBeGreaterThan(0);
    for (const sh of shells) {
      for (const script of [FACTS_SCRIPT, DISK_SCRIPT, EGRESS_SCRIPT]) {
        const args = sh.endsWith('busybox') ? ['sh', '-n', '-c', script] : ['-n', '-c', script];
        expect(() => execFileSync(sh, args, { stdio: 'pipe' }), `${sh}: ${script.slice(0, 40)}`).not.toThrow();
      }
    }
  });

  it('facts script prints every section with an exit code on this machine', () => {
    const sections = parseSections(runLocally(preflightCommands.facts()));
    expect([...sections.keys()].sort()).toEqual(
      ['compose', 'compose-standalone', 'date', 'docker-info', 'docker-version', 'dri', 'groups', 'id', 'ntp', 'nvidia-smi', 'os-release', 'render-vendors', 'tools', 'uname'].sort(),
    );
    for (const [name, s] of sections) expect(s.rc, name).not.toBeNull();
    expect(sections.get('uname')?.text).toMatch(/^Linux \S+$/);
  });

  it('disk script treats hostile names as paths and never runs them', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-preflight-'));
    try {
      const canary = path.join(dir, 'pwned');
      const hostile = [
        `${dir}/m2 $(touch ${canary}) '"\`x`,
        `${dir}/\`touch ${canary}\``,
        `${dir}/; touch ${canary}`,
        `${dir}/ünïcödé 家`,
        `${dir}/-n`,
        `${dir}/*`,
      ];
      mkdirSync(hostile[3] as string);
      const entries = parseDiskReport(runLocally(preflightCommands.disk(hostile)), hostile.length);
      expect(entries.map((e) => (e.kind === 'found' ? e.state : e.kind))).toEqual(['missing', 'missing', 'missing', 'ok', 'missing', 'missing']);
      expect(existsSync(canary)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('disk script reports each of any paths, by position, as the filesystem sees it', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-preflight-'));
    try {
      fc.assert(
        fc.property(
          fc.array(
            fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\0')),
            { minLength: 1, maxLength: 4 },
          ),
          (names) => {
            const paths = names.map((n) => `${dir}/${n}`);
            const entries = parseDiskReport(runLocally(preflightCommands.disk(paths)), paths.length);
            entries.forEach((e, i) => {
              const p = paths[i] as string;
              expect(e.kind, p).toBe('found');
              if (e.kind === 'found') expect(e.state === 'missing', p).toBe(!existsSync(p));
            });
            expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('egress script tells an open port from a refused one', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      expect(parseEgress(runLocally(preflightCommands.egress('127.0.0.1', port)))).toMatchObject({ kind: 'open' });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(parseEgress(runLocally(preflightCommands.egress('127.0.0.1', 1)))).toMatchObject({ kind: 'blocked', reason: 'refused' });
  });
});
