import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';
import type { ExecOptions, ExecResult } from '../ssh/runner';
import {
  DOWN_SCRIPT,
  parseContainerId,
  parseState,
  redactKeys,
  remoteFailure,
  RULES_SCRIPT,
  ServerWireGuard,
  serverWireGuardCommands,
  SHOW_SCRIPT,
  STATE_SCRIPT,
  SYNC_SCRIPT,
  UP_SCRIPT,
} from './server-wireguard';

const ID = 'a'.repeat(64);
const KEY = 'UN9TFsQ4i3ZSgtuDowFGy9Ed5B60s3YAQ1zRS9dckGI=';
const PUB = 'yN0hzvLWULnxNVyB6v9S6wv7Mo7lZLIf2qONIh7zDSw=';
const PEER = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

/** A CommandRunner that records argv and answers from a script keyed by what the command is. */
function fakeConn(answer: (argv: Argv) => ExecResult | Promise<ExecResult>) {
  const calls: Argv[] = [];
  const writes: Array<{ path: string; data: string; mode: number | undefined }> = [];
  return {
    calls,
    writes,
    conn: {
      exec: async (argv: Argv, _o?: ExecOptions) => {
        calls.push(argv);
        return answer(argv);
      },
      writeFileAtomic: async (p: string, data: string | Uint8Array, o?: { mode?: number }) => {
        writes.push({ path: p, data: String(data), mode: o?.mode });
        return { sha256: '' };
      },
    },
  };
}

const isPs = (a: Argv): boolean => a.includes('ps');
const scriptOf = (a: Argv): string => a[a.indexOf('-c') + 1] ?? '';

describe('server WireGuard commands', () => {
  const c = serverWireGuardCommands({ sudo: false, project: 'm2', dataRoot: '/srv/m2 data' });

  it('finds the toolbox by compose labels, running, not one-off', () => {
    expect(c.findContainer()).toEqual([
      'docker', 'ps',
      '--filter', 'label=com.docker.compose.project=m2',
      '--filter', 'label=com.docker.compose.service=wireguard',
      '--filter', 'label=com.docker.compose.oneoff=False',
      '--filter', 'status=running',
      '--quiet', '--no-trunc',
    ]);
  });

  it('runs constant scripts inside the container with the paths as arguments, never built into the text', () => {
    expect(c.up(ID)).toEqual(['docker', 'exec', ID, 'sh', '-c', UP_SCRIPT, 'sh', '/config/m2/m2wg0.conf', 'm2wg0', '/run/m2wg0.up']);
    expect(c.down(ID)).toEqual(['docker', 'exec', ID, 'sh', '-c', DOWN_SCRIPT, 'sh', '/config/m2/m2wg0.conf', 'm2wg0', '/run/m2wg0.up']);
    expect(c.sync(ID).slice(5, 6)).toEqual([SYNC_SCRIPT]);
    expect(c.state(ID).slice(5, 6)).toEqual([STATE_SCRIPT]);
    expect(c.show(ID).slice(5, 6)).toEqual([SHOW_SCRIPT]);
    expect(c.rules(ID).slice(5, 6)).toEqual([RULES_SCRIPT]);
    expect(c.ipForward()).toEqual(['cat', '/proc/sys/net/ipv4/ip_forward']);
    for (const s of [UP_SCRIPT, DOWN_SCRIPT, SYNC_SCRIPT, STATE_SCRIPT, SHOW_SCRIPT, RULES_SCRIPT]) {
      expect(s).not.toMatch(/m2wg0|\/config\/|\/run\/m2/);
      expect(s.startsWith('conf=$1; i=$2; mark=$3\n')).toBe(true);
    }
    // syncconf reads a stripped copy, made POSIX-style (no bash process substitution), removed afterwards.
    expect(SYNC_SCRIPT).toContain('wg-quick strip "$conf" > "$tmp" && wg syncconf "$i" "$tmp"');
    expect(SYNC_SCRIPT).not.toContain('<(');
  });

  it('keeps the config folder private and names host paths under the data root as one argument each', () => {
    expect(c.makeConfDir()).toEqual(['sh', '-c', 'mkdir -p -- "$1" && chmod 0700 -- "$1"', 'sh', '/srv/m2 data/wireguard/m2']);
    expect(c.removeConf()).toEqual(['rm', '-f', '--', '/srv/m2 data/wireguard/m2/m2wg0.conf']);
  });

  it('goes through sudo -n for a user outside the docker group (docker only)', () => {
    const s = serverWireGuardCommands({ sudo: true, project: 'm2', dataRoot: '/srv/m2' });
    expect(s.findContainer().slice(0, 5)).toEqual(['sudo', '-n', '--', 'docker', 'ps']);
    expect(s.up(ID).slice(0, 6)).toEqual(['sudo', '-n', '--', 'docker', 'exec', ID]);
    expect(s.makeConfDir()[0]).toBe('sh');
  });
});

describe('parsers', () => {
  it('takes one running container id and refuses two', () => {
    expect(parseContainerId('')).toBeNull();
    expect(parseContainerId(`${ID}\n`)).toBe(ID);
    expect(() => parseContainerId(`${ID}\n${'b'.repeat(64)}\n`)).toThrow(AppError);
  });

  it('reads the state word and refuses anything else', () => {
    expect(parseState('up\n')).toBe('up');
    expect(parseState('partial')).toBe('partial');
    expect(parseState('down\n')).toBe('down');
    expect(() => parseState('Error: No such container')).toThrow(AppError);
  });

  it('masks anything shaped like a key and keeps argv, status and stderr for the log', () => {
    expect(redactKeys(`PrivateKey = ${KEY}`)).toBe('PrivateKey = ••••••••');
    const err = remoteFailure('Turning the WireGuard endpoint on', ['docker', 'exec', ID, 'sh', '-c', 'echo', KEY], { code: 1, stdout: '', stderr: `line\nRTNETLINK answers: Address in use ${KEY}\n` }, 'hint');
    expect(err).toMatchObject({ code: 'fallback.switch-failed', hint: 'hint' });
    expect(err.userMessage).toBe('Turning the WireGuard endpoint on failed on the server: line\nRTNETLINK answers: Address in use ••••••••.');
    const cause = String((err.cause as Error).message);
    expect(cause).toContain('exit 1');
    expect(cause).toContain(`docker exec ${ID} sh -c echo ••••••••`);
    expect(cause).not.toContain(KEY);
  });
});

describe('ServerWireGuard', () => {
  it('writes the config 0600 after making its folder 0700, and never puts it in argv', async () => {
    const f = fakeConn(() => ok());
    const wg = new ServerWireGuard({ conn: f.conn, dataRoot: '/srv/m2', sudo: false, project: 'm2' });
    await wg.writeConfig(`[Interface]\nPrivateKey = ${KEY}\n`);
    expect(f.calls).toEqual([['sh', '-c', 'mkdir -p -- "$1" && chmod 0700 -- "$1"', 'sh', '/srv/m2/wireguard/m2']]);
    expect(f.writes).toEqual([{ path: '/srv/m2/wireguard/m2/m2wg0.conf', data: `[Interface]\nPrivateKey = ${KEY}\n`, mode: 0o600 }]);
    expect(JSON.stringify(f.calls)).not.toContain(KEY);
  });

  it('up needs the running toolbox; down, sync, show and state treat a missing one as off', async () => {
    const f = fakeConn(() => ok(''));
    const wg = new ServerWireGuard({ conn: f.conn, dataRoot: '/srv/m2', sudo: false, project: 'p1' });
    await expect(wg.up()).rejects.toMatchObject({ code: 'fallback.switch-failed', userMessage: 'The WireGuard container is not running on the server.' });
    await wg.down();
    await wg.sync();
    expect(await wg.show()).toBeNull();
    expect(await wg.state()).toBe('down');
    expect(await wg.isUp()).toBe(false);
    expect(await wg.containerRunning()).toBe(false);
    expect(f.calls.every(isPs)).toBe(true);
  });

  it('runs up in the container it found; a failing up is an AppError with the server’s words', async () => {
    const f = fakeConn((a) => (isPs(a) ? ok(`${ID}\n`) : { code: 1, stdout: '', stderr: '[#] ip link add m2wg0 type wireguard\nRTNETLINK answers: Operation not permitted\n' }));
    const wg = new ServerWireGuard({ conn: f.conn, dataRoot: '/srv/m2', sudo: true, project: 'm2' });
    await expect(wg.up()).rejects.toMatchObject({ code: 'fallback.switch-failed', userMessage: expect.stringContaining('RTNETLINK answers: Operation not permitted') });
    expect(f.calls[1]?.slice(0, 6)).toEqual(['sudo', '-n', '--', 'docker', 'exec', ID]);
    expect(scriptOf(f.calls[1] ?? [])).toBe(UP_SCRIPT);
  });

  it('show parses the dump without the private key, and says null while down', async () => {
    let dump = `(hidden)\t${PUB}\t51830\toff\n${PEER}\t(none)\t10.213.81.2:40000\t10.213.88.2/32\t1733340000\t1000\t2000\t25\n`;
    const f = fakeConn((a) => (isPs(a) ? ok(ID) : ok(dump)));
    const wg = new ServerWireGuard({ conn: f.conn, dataRoot: '/srv/m2', sudo: false, project: 'm2' });
    expect(await wg.show()).toEqual({
      publicKey: PUB,
      listenPort: 51830,
      peers: [{ publicKey: PEER, endpoint: '10.213.81.2:40000', allowedIps: ['10.213.88.2/32'], latestHandshake: 1733340000, rxBytes: 1000, txBytes: 2000, persistentKeepalive: 25 }],
    });
    dump = 'down\n';
    expect(await wg.show()).toBeNull();
  });

  it('one switch operation at a time: a down asked during an up starts after it', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const f = fakeConn(async (a) => {
      if (isPs(a)) return ok(ID);
      const s = scriptOf(a) === UP_SCRIPT ? 'up' : 'down';
      order.push(`${s}:start`);
      if (s === 'up') await gate;
      order.push(`${s}:end`);
      return ok();
    });
    const wg = new ServerWireGuard({ conn: f.conn, dataRoot: '/srv/m2', sudo: false, project: 'm2' });
    const up = wg.up();
    const down = wg.down();
    await new Promise((r) => setTimeout(r, 20));
    release();
    await Promise.all([up, down]);
    expect(order).toEqual(['up:start', 'up:end', 'down:start', 'down:end']);
  });
});

/**
 * The scripts under a real POSIX sh, with fake wg / wg-quick / ip that keep an "interface" as a file: up twice is
 * one wg-quick up; a partial interface (no marker) is taken down and brought up again; down twice is one down.
 */
describe('toolbox scripts under sh', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-wgscripts-'));
  const bin = path.join(dir, 'bin');
  const state = path.join(dir, 'iface');
  const log = path.join(dir, 'log');
  const tool = (name: string, body: string): void => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  mkdirSync(bin);
  tool('wg', `echo "wg $*" >> '${log}'; case "$1" in show) [ -e '${state}' ];; syncconf) cat "$3" >> '${log}';; esac`);
  tool('wg-quick', `echo "wg-quick $*" >> '${log}'; case "$1" in up) [ -e '${state}.fail-up' ] && exit 5; [ -e '${state}' ] && exit 1; touch '${state}';; down) [ -e '${state}' ] || exit 1; [ -e '${state}.stuck' ] || rm -f '${state}';; strip) grep -v '^Address' "$2";; esac`);
  tool('ip', `echo "ip $*" >> '${log}'; case "$2" in show) [ -e '${state}' ];; del) rm -f '${state}';; esac`);
  const conf = path.join(dir, 'm2wg0.conf');
  writeFileSync(conf, `[Interface]\nAddress = 10.213.88.1/24\nPrivateKey = ${KEY}\n`);
  const mark = path.join(dir, 'm2wg0.up');
  const sh = (script: string): Promise<{ code: number; stdout: string }> =>
    new Promise((resolve) =>
      execFile('sh', ['-c', script, 'sh', conf, 'm2wg0', mark], { env: { PATH: `${bin}:/usr/bin:/bin` } }, (err, stdout) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout) }),
      ),
    );
  const logLines = (): string[] => readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('wg-quick up') || l.startsWith('wg-quick down'));

  it('up is idempotent, down is idempotent, a partial interface is redone by up, sync only while up', async () => {
    writeFileSync(log, '');
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('down');
    expect((await sh(SYNC_SCRIPT)).code).toBe(0);
    expect(readFileSync(log, 'utf8')).not.toContain('syncconf');
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    expect(logLines().filter((l) => l.startsWith('wg-quick up'))).toHaveLength(1);
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('up');
    expect((await sh(SYNC_SCRIPT)).code).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain(`wg syncconf m2wg0`);
    expect(readFileSync(log, 'utf8')).not.toContain('Address = 10.213.88.1/24\nPrivateKey'); // the stripped copy went to syncconf

    // A cut run: the interface exists, the marker does not.
    rmSync(mark);
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('partial');
    writeFileSync(log, '');
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    expect(logLines()).toEqual([`wg-quick down ${conf}`, `wg-quick up ${conf}`]);
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('up');

    writeFileSync(log, '');
    expect((await sh(DOWN_SCRIPT)).code).toBe(0);
    expect((await sh(DOWN_SCRIPT)).code).toBe(0);
    expect(logLines()).toEqual([`wg-quick down ${conf}`]);
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('down');
    expect((await sh(SHOW_SCRIPT)).stdout.trim()).toBe('down');
  });

  it('the rules replay runs PostDown then PostUp with %i filled in, only while up, and stops at a failing line', async () => {
    const ipt = path.join(dir, 'iptables.log');
    tool('iptables', `echo "$*" >> '${ipt}'; case "$*" in *FAIL*) exit 3;; esac`);
    const withHooks = (up: string[]): string =>
      [`[Interface]`, `Address = 10.213.88.1/24`, `PrivateKey = ${KEY}`, ...up.map((l) => `PostUp = ${l}`), 'PostDown = iptables -D FORWARD -j M2-FALLBACK-LAN 2>/dev/null || true', ''].join('\n');
    writeFileSync(conf, withHooks(['iptables -A M2-FALLBACK-LAN -i %i -j ACCEPT', 'iptables -t nat -A M2-FALLBACK-LAN -j MASQUERADE']));
    writeFileSync(ipt, '');
    await sh(DOWN_SCRIPT);
    expect((await sh(RULES_SCRIPT)).code).toBe(0);
    expect(readFileSync(ipt, 'utf8')).toBe('');
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    expect((await sh(RULES_SCRIPT)).code).toBe(0);
    expect(readFileSync(ipt, 'utf8')).toBe('-D FORWARD -j M2-FALLBACK-LAN\n-A M2-FALLBACK-LAN -i m2wg0 -j ACCEPT\n-t nat -A M2-FALLBACK-LAN -j MASQUERADE\n');
    writeFileSync(conf, withHooks(['iptables -A FAIL', 'iptables -A never']));
    writeFileSync(ipt, '');
    const failed = await sh(RULES_SCRIPT);
    expect(failed.code).toBe(3);
    expect(readFileSync(ipt, 'utf8')).not.toContain('never');
    // What the half-run PostUp added goes again: the PostDown runs once more after the failing line.
    expect(readFileSync(ipt, 'utf8')).toBe('-D FORWARD -j M2-FALLBACK-LAN\n-A FAIL\n-D FORWARD -j M2-FALLBACK-LAN\n');
    writeFileSync(conf, `[Interface]\nAddress = 10.213.88.1/24\nPrivateKey = ${KEY}\n`);
    await sh(DOWN_SCRIPT);
  });

  it('an up whose PostUp fails runs the PostDown (wg-quick does not), exits with its code and leaves no marker', async () => {
    const ipt = path.join(dir, 'iptables.log');
    tool('iptables', `echo "$*" >> '${ipt}'`);
    writeFileSync(conf, [`[Interface]`, `Address = 10.213.88.1/24`, `PrivateKey = ${KEY}`, 'PostUp = iptables -A M2-FALLBACK-LAN -i %i -j ACCEPT', 'PostDown = iptables -D FORWARD -j M2-FALLBACK-LAN 2>/dev/null || true', 'PostDown = iptables -X M2-FALLBACK-LAN 2>/dev/null || true', ''].join('\n'));
    await sh(DOWN_SCRIPT);
    writeFileSync(ipt, '');
    writeFileSync(`${state}.fail-up`, '');
    const r = await sh(UP_SCRIPT);
    rmSync(`${state}.fail-up`);
    expect(r.code).toBe(5);
    expect(readFileSync(ipt, 'utf8')).toBe('-D FORWARD -j M2-FALLBACK-LAN\n-X M2-FALLBACK-LAN\n');
    expect(existsSync(mark)).toBe(false);
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('down');
    // A good up runs no PostDown of its own.
    writeFileSync(ipt, '');
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    expect(readFileSync(ipt, 'utf8')).toBe('');
    await sh(DOWN_SCRIPT);
    writeFileSync(conf, `[Interface]\nAddress = 10.213.88.1/24\nPrivateKey = ${KEY}\n`);
  });

  it('down deletes the interface by hand when a userspace daemon does not let it go', async () => {
    expect((await sh(UP_SCRIPT)).code).toBe(0);
    writeFileSync(`${state}.stuck`, '');
    writeFileSync(log, '');
    const t0 = Date.now();
    expect((await sh(DOWN_SCRIPT)).code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThan(2500);
    expect(readFileSync(log, 'utf8')).toContain('ip link del m2wg0');
    expect((await sh(STATE_SCRIPT)).stdout.trim()).toBe('down');
    rmSync(`${state}.stuck`);
  }, 15_000);
});
