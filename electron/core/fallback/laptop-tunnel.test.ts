import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LaptopTunnel } from '../../contract/fallback';
import { AppError } from '../errors';
import { Secret } from '../secrets/secret';
import { LaptopTunnelManager, localRunner, localWhich, type LaptopTunnelDeps, type RunResult } from './laptop-tunnel';

const KEY = 'XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=';
const CONFIG = `[Interface]\nPrivateKey = ${KEY}\nAddress = 10.13.13.2/32\n\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nAllowedIPs = 10.13.13.1/32\nEndpoint = 203.0.113.7:51820\nPersistentKeepalive = 25\n`;

interface Call {
  file: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv | undefined;
  /** What the config file held (and its mode) when the command ran, if it existed. */
  fileSeen?: { content: string; mode: number } | undefined;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'm2-lt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });

/** A recorded fake runner: answers from `answer`, remembers every argv and what the config file held then. */
function fake(opts: Partial<LaptopTunnelDeps> & { bins: string[]; answer: (file: string, args: readonly string[]) => RunResult; confDir?: string }) {
  const calls: Call[] = [];
  const confDir = opts.confDir ?? path.join(dir, 'tunnels');
  const conf = path.join(confDir, 'm2-home.conf');
  const deps: LaptopTunnelDeps = {
    run: async (file, args, o) => {
      const fileSeen = existsSync(conf) ? { content: readFileSync(conf, 'utf8'), mode: statSync(conf).mode & 0o777 } : undefined;
      calls.push({ file, args, env: o?.env, fileSeen });
      return opts.answer(file, args);
    },
    which: async (bin) => (opts.bins.includes(bin) ? `/usr/bin/${bin}` : undefined),
    platform: opts.platform ?? 'linux',
    isRoot: opts.isRoot ?? false,
    configDir: confDir,
    ...(opts.env ? { env: opts.env } : {}),
  };
  return { m: new LaptopTunnelManager(deps), calls, conf, argv: () => calls.map((c) => [c.file, ...c.args]) };
}

const nmRunning = (file: string, args: readonly string[]): RunResult | undefined => (file === 'nmcli' && args.includes('general') ? ok('running\n') : undefined);

describe('LaptopTunnelManager.detect', () => {
  it('uses NetworkManager only when nmcli says it is running, else wg-quick, else nothing', async () => {
    const nm = fake({ bins: ['nmcli', 'wg-quick'], answer: (f, a) => nmRunning(f, a) ?? ok() });
    expect(await nm.m.detect()).toBe('network-manager');
    expect(nm.argv()).toEqual([['nmcli', '--terse', '--fields', 'RUNNING', 'general', 'status']]);

    const asleep = fake({ bins: ['nmcli', 'wg-quick'], answer: () => ({ code: 8, stdout: '', stderr: 'Error: NetworkManager is not running.' }) });
    expect(await asleep.m.detect()).toBe('wg-quick');
    expect(await fake({ bins: ['wg-quick'], answer: () => ok() }).m.detect()).toBe('wg-quick');
    expect(await fake({ bins: [], answer: () => ok() }).m.detect()).toBe('none');
  });

  it('hands off to the WireGuard app on macOS and Windows, and knows no way elsewhere', async () => {
    expect(await fake({ bins: ['wg-quick'], platform: 'darwin', answer: () => ok() }).m.detect()).toBe('wireguard-app');
    expect(await fake({ bins: [], platform: 'win32', answer: () => ok() }).m.detect()).toBe('wireguard-app');
    expect(await fake({ bins: ['wg-quick'], platform: 'freebsd', answer: () => ok() }).m.detect()).toBe('none');
  });
});

describe('LaptopTunnelManager through NetworkManager', () => {
  it('imports the config as a temporary profile from a 0600 file, brings it up, and removes the file', async () => {
    const f = fake({ bins: ['nmcli'], answer: (file, args) => nmRunning(file, args) ?? (args[1] === 'delete' ? { code: 10, stdout: '', stderr: 'Error: unknown connection' } : ok()) });
    const t = await f.m.up('m2 home', new Secret(CONFIG));
    expect(LaptopTunnel.parse(t)).toEqual({ method: 'network-manager', state: 'up', detail: 'The tunnel m2-home is up (NetworkManager).', sshOverWireguard: false });
    expect(f.argv()).toEqual([
      ['nmcli', '--terse', '--fields', 'RUNNING', 'general', 'status'],
      ['nmcli', 'connection', 'delete', 'id', 'm2-home'],
      ['nmcli', 'connection', 'import', '--temporary', 'type', 'wireguard', 'file', f.conf],
      ['nmcli', 'connection', 'up', 'id', 'm2-home'],
    ]);
    expect(f.calls[2]?.fileSeen).toEqual({ content: CONFIG, mode: 0o600 });
    expect(f.calls[1]?.fileSeen).toBeUndefined();
    expect(statSync(path.dirname(f.conf)).mode & 0o777).toBe(0o700);
    expect(existsSync(f.conf)).toBe(false);
  });

  // NetworkManager 1.42's own words (Debian 12, seen in the lab with a non-root nmcli and auth-polkit=root-only, and on a
  // kernel without WireGuard); the part after "failed:" comes from the daemon, so it stays English in any locale.
  const AUTH_HINT = ' NetworkManager lets only a user logged in at this computer change its network: on Debian and Ubuntu, add your user to the netdev (or sudo) group, log in again, and try from the desktop session.';
  const KERNEL_HINT = ' This computer’s kernel has no WireGuard, which NetworkManager needs: Linux 5.6 and later have it built in; on an older kernel, install the wireguard-dkms package and try again.';
  const DENIED_DELETE: RunResult = { code: 7, stdout: '', stderr: 'Error: Connection deletion failed: Insufficient privileges\nError: not all connections deleted.\n' };

  it('says what to do when NetworkManager refuses the import, and leaves no file', async () => {
    const f = fake({
      bins: ['nmcli', 'wg-quick'],
      answer: (file, args) => nmRunning(file, args) ?? (args[1] === 'import' ? { code: 4, stdout: '', stderr: "Error: Failed to add 'm2-home' connection: Insufficient privileges\n" } : ok()),
    });
    const t = await f.m.up('m2 home', new Secret(CONFIG));
    expect(t.state).toBe('failed');
    expect(t.detail).toBe(`NetworkManager did not take the tunnel: Error: Failed to add 'm2-home' connection: Insufficient privileges${AUTH_HINT}`);
    expect(f.argv().some((a) => a.includes('up'))).toBe(false);
    expect(existsSync(f.conf)).toBe(false);
  });

  it('removes the profile again when it cannot be brought up, and says why in the admin’s terms', async () => {
    const cases: [string, string][] = [
      ['Error: Connection activation failed: IP configuration could not be reserved', ''],
      ['Error: Connection activation failed: Not authorized to control networking.', AUTH_HINT],
      ["Error: Connection activation failed: m2-home failed to create resources: Failed to create WireGuard interface 'm2-home' for 'm2-home': Operation not supported", KERNEL_HINT],
    ];
    for (const [stderr, hint] of cases) {
      const f = fake({ bins: ['nmcli'], answer: (file, args) => nmRunning(file, args) ?? (args[1] === 'up' ? { code: 4, stdout: '', stderr } : ok()) });
      const t = await f.m.up('m2 home', new Secret(CONFIG));
      expect(t).toEqual({ method: 'network-manager', state: 'failed', detail: `NetworkManager could not bring the tunnel m2-home up: ${stderr}${hint}`, sshOverWireguard: false });
      expect(f.argv().at(-1)).toEqual(['nmcli', 'connection', 'delete', 'id', 'm2-home']);
    }
  });

  it('says so when the profile that could not be brought up cannot be removed either', async () => {
    const f = fake({
      bins: ['nmcli'],
      answer: (file, args) =>
        nmRunning(file, args) ??
        (args[1] === 'up' ? { code: 4, stdout: '', stderr: 'Error: Connection activation failed: Not authorized to control networking.' } : args[1] === 'delete' && f.argv().some((a) => a[2] === 'up') ? DENIED_DELETE : ok()),
    });
    const t = await f.m.up('m2 home', new Secret(CONFIG));
    expect(t.state).toBe('failed');
    expect(t.detail).toBe(
      `NetworkManager could not bring the tunnel m2-home up: Error: Connection activation failed: Not authorized to control networking.${AUTH_HINT}` +
        ' Its profile could not be removed either (Error: Connection deletion failed: Insufficient privileges Error: not all connections deleted.): remove “m2-home” in the network settings.',
    );
  });

  it('takes the profile down and deletes it; already gone counts as down', async () => {
    const f = fake({ bins: ['nmcli'], answer: (file, args) => nmRunning(file, args) ?? { code: 10, stdout: '', stderr: 'Error: unknown connection' } });
    expect(await f.m.down('m2 home')).toEqual({ method: 'network-manager', state: 'down', detail: 'The tunnel m2-home is down.', sshOverWireguard: false });
    expect(f.argv()).toEqual([
      ['nmcli', '--terse', '--fields', 'RUNNING', 'general', 'status'],
      ['nmcli', 'connection', 'down', 'id', 'm2-home'],
      ['nmcli', 'connection', 'delete', 'id', 'm2-home'],
    ]);
    const denied = fake({ bins: ['nmcli'], answer: (file, args) => nmRunning(file, args) ?? (args[1] === 'delete' ? DENIED_DELETE : ok()) });
    expect(await denied.m.down('m2 home')).toEqual({
      method: 'network-manager',
      state: 'failed',
      detail: `NetworkManager could not remove the tunnel m2-home: Error: Connection deletion failed: Insufficient privileges Error: not all connections deleted.${AUTH_HINT}`,
      sshOverWireguard: false,
    });
  });
});

describe('LaptopTunnelManager through wg-quick', () => {
  const env = { PATH: '/usr/bin', WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' };

  it('runs wg-quick up on the 0600 file as root, with the given environment', async () => {
    const f = fake({ bins: ['wg-quick'], isRoot: true, env, answer: () => ok() });
    expect(await f.m.up('m2 home', new Secret(CONFIG))).toEqual({ method: 'wg-quick', state: 'up', detail: 'The tunnel m2-home is up (wg-quick).', sshOverWireguard: false });
    expect(f.argv()).toEqual([['wg-quick', 'up', f.conf]]);
    expect(f.calls[0]?.env).toBe(env);
    expect(f.calls[0]?.fileSeen).toEqual({ content: CONFIG, mode: 0o600 });
    expect(existsSync(f.conf)).toBe(true);
  });

  it('brings an interface that is already up down and up again with the new config', async () => {
    let ups = 0;
    const f = fake({ bins: ['wg-quick'], isRoot: true, answer: (_, a) => (a[0] === 'up' && ups++ === 0 ? { code: 1, stdout: '', stderr: "wg-quick: `m2-home' already exists\n" } : ok()) });
    expect((await f.m.up('m2 home', new Secret(CONFIG))).state).toBe('up');
    expect(f.argv()).toEqual([
      ['wg-quick', 'up', f.conf],
      ['wg-quick', 'down', f.conf],
      ['wg-quick', 'up', f.conf],
    ]);
  });

  it('reports a failed wg-quick in words without any key, and removes the file', async () => {
    const f = fake({ bins: ['wg-quick'], isRoot: true, answer: () => ({ code: 1, stdout: '', stderr: `[#] ip link add m2-home type wireguard\nError: Unknown device type.\nLine unrecognized: \`PrivateKey=${KEY}'\n` }) });
    const t = await f.m.up('m2 home', new Secret(CONFIG));
    expect(t.state).toBe('failed');
    expect(t.detail).toBe("wg-quick could not bring the tunnel m2-home up: Error: Unknown device type. Line unrecognized: `PrivateKey=[key]'");
    expect(existsSync(f.conf)).toBe(false);
  });

  it('hands off to sudo when not root, and removes the file on down once the interface is gone', async () => {
    let linkUp = true;
    const f = fake({ bins: ['wg-quick'], isRoot: false, answer: (file) => (file === 'ip' ? (linkUp ? ok('5: m2-home: <POINTOPOINT,UP>') : { code: 1, stdout: '', stderr: 'Device "m2-home" does not exist.' }) : ok()) });
    const up = await f.m.up('m2 home', new Secret(CONFIG));
    expect(up).toMatchObject({ method: 'wg-quick', state: 'handed-off' });
    expect(up.detail).toContain(`sudo wg-quick up ${f.conf}`);
    expect(f.argv().some((a) => a[0] === 'wg-quick')).toBe(false);
    expect(readFileSync(f.conf, 'utf8')).toBe(CONFIG);
    expect(statSync(f.conf).mode & 0o777).toBe(0o600);

    const stillUp = await f.m.down('m2 home');
    expect(stillUp.state).toBe('handed-off');
    expect(stillUp.detail).toContain(`sudo wg-quick down ${f.conf}`);
    expect(existsSync(f.conf)).toBe(true);

    linkUp = false;
    expect((await f.m.down('m2 home')).state).toBe('down');
    expect(existsSync(f.conf)).toBe(false);
    expect(f.argv().filter((a) => a[0] === 'ip')).toEqual([
      ['ip', 'link', 'show', 'dev', 'm2-home'],
      ['ip', 'link', 'show', 'dev', 'm2-home'],
    ]);
  });

  it('keeps the file when wg-quick down fails and the interface is still there', async () => {
    const f = fake({ bins: ['wg-quick'], isRoot: true, answer: (file, a) => (file === 'wg-quick' && a[0] === 'down' ? { code: 1, stdout: '', stderr: 'RTNETLINK answers: Operation not permitted' } : ok()) });
    await f.m.up('m2 home', new Secret(CONFIG));
    const t = await f.m.down('m2 home');
    expect(t).toMatchObject({ state: 'failed', detail: 'wg-quick could not take m2-home down: RTNETLINK answers: Operation not permitted' });
    expect(existsSync(f.conf)).toBe(true);
  });
});

describe('LaptopTunnelManager on macOS and Windows', () => {
  for (const platform of ['darwin', 'win32'] as const) {
    it(`hands the 0600 config file to the WireGuard app on ${platform} and removes it on down`, async () => {
      const f = fake({ bins: [], platform, answer: () => ok() });
      const t = await f.m.up('m2 home', new Secret(CONFIG));
      expect(t.method).toBe('wireguard-app');
      expect(t.state).toBe('handed-off');
      expect(t.detail).toContain(f.conf);
      expect(t.detail).toContain('Import tunnel(s) from file');
      expect(t.detail).not.toContain(KEY);
      expect(f.calls).toEqual([]);
      expect(readFileSync(f.conf, 'utf8')).toBe(CONFIG);
      expect(statSync(f.conf).mode & 0o777).toBe(0o600);
      expect((await f.m.down('m2 home')).state).toBe('down');
      expect(existsSync(f.conf)).toBe(false);
    });
  }
});

describe('LaptopTunnelManager input', () => {
  it('refuses text that is not a wg-quick config', async () => {
    const f = fake({ bins: ['wg-quick'], isRoot: true, answer: () => ok() });
    await expect(f.m.up('m2 home', new Secret('PrivateKey = x'))).rejects.toBeInstanceOf(AppError);
    expect(f.calls).toEqual([]);
  });

  it('keeps a hostile tunnel name inside the config folder as a safe interface name', async () => {
    const f = fake({ bins: ['wg-quick'], isRoot: true, answer: () => ok() });
    expect(f.m.configPath('../../etc/cron.d/x; rm -rf /')).toBe(path.join(dir, 'tunnels', 'etc-cron-d-x-rm.conf'));
    expect(f.m.configPath('\n')).toBe(path.join(dir, 'tunnels', 'm2-device.conf'));
  });

  it('says in words when the config folder cannot be made, and runs nothing', async () => {
    const blocker = path.join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const f = fake({ bins: ['wg-quick'], isRoot: true, confDir: path.join(blocker, 'tunnels'), answer: () => ok() });
    const err = await f.m.up('m2 home', new Secret(CONFIG)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).userMessage).toBe(`This computer’s WireGuard config could not be written to ${path.join(blocker, 'tunnels')}.`);
    expect(f.calls).toEqual([]);
  });

  it('says why when this computer has no way to bring a tunnel up', async () => {
    const f = fake({ bins: [], answer: () => ok() });
    const t = await f.m.up('m2 home', new Secret(CONFIG));
    expect(t).toMatchObject({ method: 'none', state: 'failed' });
    expect(t.detail).toMatch(/NetworkManager .* wg-quick/);
    expect(existsSync(f.conf)).toBe(false);
  });
});

describe('localRunner and localWhich', () => {
  it('runs argv without a shell, feeds stdin, and reports exit status and output', async () => {
    const r = await localRunner(process.execPath, ['-e', 'process.stdin.pipe(process.stdout); process.on("exit", () => { console.error("e;$(x)"); process.exitCode = 3; })', '$(touch /tmp/m2-never)'], { input: 'hello' });
    expect(r).toEqual({ code: 3, stdout: 'hello', stderr: 'e;$(x)\n' });
    expect(existsSync('/tmp/m2-never')).toBe(false);
    expect(await localRunner('m2-no-such-program-x', [])).toMatchObject({ code: 127 });
  });

  it('finds programs on PATH', async () => {
    expect(await localWhich('node')).toBe(await localWhich(path.basename(process.execPath)));
    expect(await localWhich('m2-no-such-program-x')).toBeUndefined();
  });
});
