/**
 * This computer's tunnel through the real NetworkManager (Debian's 1.42): LaptopTunnelManager's nmcli path against
 * the lab's NetworkManager, which runs in its own namespace on its own system bus (scripts/lab/networkmanager.ts).
 * The runner is the app's own (localRunner) pointed there: nmcli runs inside the namespace with
 * DBUS_SYSTEM_BUS_ADDRESS set to the lab's bus, as it would on a laptop with NetworkManager as its network manager.
 *
 * What NetworkManager made of the app's config is read back through its own D-Bus API (Settings.Connection
 * GetSettings and GetSecrets, with busctl): nmcli 1.42 cannot print WireGuard peers.
 *
 * Bringing the link up needs WireGuard in the kernel (NetworkManager has no userspace fallback). Where the kernel has
 * none, as on this lab machine, the test proves the failure the app reports and that nothing is left behind; where it
 * has it, that the link is up with the app's peer.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LaptopTunnelManager, localRunner, localWhich, type RunResult, type Runner } from '../../electron/core/fallback/laptop-tunnel';
import { configFileName, renderPeerConfig } from '../../electron/core/fallback/wg-config';
import { generateKeyPair, generatePresharedKey } from '../../electron/core/fallback/wg-keys';
import { Secret } from '../../electron/core/secrets/secret';
import { labPath, repoRoot } from '../../scripts/lab/paths';
import { run } from '../../scripts/lab/process';

const nm = inject('lab').networkManager;
const r = randomBytes(3).toString('hex');
const dir = labPath(`fallback-nm-${r}`);
const configDir = path.join(dir, 'tunnels');
const TUNNEL = `m2 nm ${r}`;
const IFACE = path.basename(configFileName(TUNNEL), '.conf');
const nmEnv = { ...process.env, ...nm.env };

const server = generateKeyPair();
const laptop = generateKeyPair();
const psk = generatePresharedKey();
/** The last public address seen (an address: nothing to resolve where the link comes up); and the DNS-only name. */
const ENDPOINT = '192.0.2.44:51820';
const ENDPOINT_NAME = 'home.example.com:51820';

const laptopConfig = (endpoint = ENDPOINT): Secret =>
  new Secret(
    renderPeerConfig({
      privateKey: laptop.privateKey,
      address: '10.213.95.2/32',
      serverPublicKey: server.publicKey,
      presharedKey: psk,
      endpoint,
      allowedIps: ['10.213.95.1/32'],
      persistentKeepalive: 25,
    }),
  );

/** nmcli as the app runs it (argv, no shell), inside the lab's namespace and on the lab's system bus. */
const nmRunner: Runner = (file, args, opts) => localRunner('ip', ['netns', 'exec', nm.ns, file, ...args], { ...opts, env: { ...(opts?.env ?? process.env), ...nm.env } });

interface Snapshot {
  argv: string[];
  /** The config file's mode when the command ran, or null when it did not exist. */
  fileMode: number | null;
  /** Every profile named after the tunnel when the command ran, as NetworkManager holds it. */
  profiles: Profile[];
}

/** A manager whose runner records each nmcli call and, before `connection up`, what NetworkManager holds. */
function manager(): { m: LaptopTunnelManager; seen: Snapshot[] } {
  const seen: Snapshot[] = [];
  const m = new LaptopTunnelManager({
    run: async (file, args, opts): Promise<RunResult> => {
      const conf = path.join(configDir, configFileName(TUNNEL));
      const at: Snapshot = { argv: [file, ...args], fileMode: existsSync(conf) ? statSync(conf).mode & 0o777 : null, profiles: [] };
      if (args[0] === 'connection' && args[1] === 'up') at.profiles = await profiles(args[3] ?? '');
      seen.push(at);
      return nmRunner(file, args, opts);
    },
    which: localWhich,
    platform: 'linux',
    isRoot: true,
    configDir,
  });
  return { m, seen };
}

const nmcli = (args: readonly string[]): Promise<string> => run('nmcli', args, { env: nmEnv, timeoutMs: 30_000 });

interface Profile {
  uuid: string;
  id: string;
  type: string;
  interfaceName: string;
  privateKey: string;
  peers: { publicKey: string; endpoint: string; allowedIps: string[]; keepalive: number; presharedKey: string }[];
  addresses: string[];
  ipv6: string;
  /** Where NetworkManager keeps it: in memory (under its /run) or as a file in its profile folder. */
  inMemory: boolean;
  persistent: boolean;
}

type Variant = { type: string; data: unknown };
type Settings = Record<string, Record<string, Variant>>;

const busctl = async (objectPath: string, iface: string, method: string, ...sig: string[]): Promise<{ data: unknown[] }> =>
  JSON.parse(await run('busctl', [`--address=${nm.busAddress}`, '--json=short', 'call', 'org.freedesktop.NetworkManager', objectPath, iface, method, ...sig], { timeoutMs: 10_000 })) as { data: unknown[] };

const str = (v: Variant | undefined): string => (typeof v?.data === 'string' ? v.data : '');

/** The profiles NetworkManager holds with this id, read through its D-Bus API (secrets included). */
async function profiles(id: string): Promise<Profile[]> {
  const rows = (await nmcli(['--terse', '--fields', 'NAME,UUID', 'connection', 'show']))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':'))
    .filter(([name]) => name === id);
  const out: Profile[] = [];
  for (const [, uuid = ''] of rows) {
    const [obj] = (await busctl('/org/freedesktop/NetworkManager/Settings', 'org.freedesktop.NetworkManager.Settings', 'GetConnectionByUuid', 's', uuid)).data as string[];
    const [s] = (await busctl(obj ?? '', 'org.freedesktop.NetworkManager.Settings.Connection', 'GetSettings')).data as Settings[];
    const [secrets] = (await busctl(obj ?? '', 'org.freedesktop.NetworkManager.Settings.Connection', 'GetSecrets', 's', 'wireguard')).data as Settings[];
    const peerList = (v: Variant | undefined): Record<string, Variant>[] => (Array.isArray(v?.data) ? (v.data as Record<string, Variant>[]) : []);
    const pskOf = (pub: string): string => str(peerList(secrets?.wireguard?.peers).find((p) => str(p['public-key']) === pub)?.['preshared-key']);
    const file = `${id}.nmconnection`;
    out.push({
      uuid,
      id: str(s?.connection?.id),
      type: str(s?.connection?.type),
      interfaceName: str(s?.connection?.['interface-name']),
      privateKey: str(secrets?.wireguard?.['private-key']),
      peers: peerList(s?.wireguard?.peers).map((p) => ({
        publicKey: str(p['public-key']),
        endpoint: str(p.endpoint),
        allowedIps: (p['allowed-ips']?.data as string[] | undefined) ?? [],
        keepalive: Number(p['persistent-keepalive']?.data ?? 0),
        presharedKey: pskOf(str(p['public-key'])),
      })),
      addresses: ((s?.ipv4?.['address-data']?.data as Record<string, Variant>[] | undefined) ?? []).map((a) => `${str(a.address)}/${String(a.prefix?.data)}`),
      ipv6: str(s?.ipv6?.method),
      inMemory: existsSync(path.join(nm.runDir, 'system-connections', file)),
      persistent: existsSync(labPath('nm', 'connections', file)),
    });
  }
  return out;
}

/** What is left of the tunnel anywhere: profiles, in-memory profile files, links in the namespace, the config file. */
async function leftovers(iface: string): Promise<string[]> {
  const left: string[] = [];
  if ((await profiles(iface)).length) left.push(`profile ${iface}`);
  if (existsSync(path.join(nm.runDir, 'system-connections', `${iface}.nmconnection`))) left.push('in-memory profile file');
  if ((await run('ip', ['-n', nm.ns, '-o', 'link', 'show'])).includes(`${iface}:`)) left.push(`link ${iface}`);
  if (existsSync(path.join(configDir, `${iface}.conf`))) left.push('config file');
  return left;
}

/** An unprivileged user (nobody): NetworkManager here authorises root only, as polkit refuses a user without rights. */
const NOBODY = 65534;
const nobodyDir = path.join(dir, 'nobody');

// The app's own code in a process of that user, as Electron's main process runs it on a laptop: detect, then
// `up` (config on stdin) or `down`, printing what the app would show.
const childScript = `
import { readFileSync } from 'node:fs';
import { LaptopTunnelManager, localRunner, localWhich } from ${JSON.stringify(path.join(repoRoot, 'electron/core/fallback/laptop-tunnel.ts'))};
import { Secret } from ${JSON.stringify(path.join(repoRoot, 'electron/core/secrets/secret.ts'))};
const [configDir, name, action] = process.argv.slice(2);
const m = new LaptopTunnelManager({ run: localRunner, which: localWhich, platform: 'linux', isRoot: process.getuid() === 0, configDir });
const method = await m.detect();
const result = action === 'up' ? await m.up(name, new Secret(readFileSync(0, 'utf8'))) : await m.down(name);
console.log(JSON.stringify({ uid: process.getuid(), method, result }));
`;

async function asNobody(action: 'up' | 'down', config = ''): Promise<{ uid: number; method: string; result: { method: string; state: string; detail: string } }> {
  const script = path.join(nobodyDir, 'child.mts');
  const out = await run(
    'ip',
    ['netns', 'exec', nm.ns, 'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '--import', 'tsx', script, path.join(nobodyDir, 'tunnels'), TUNNEL, action],
    { env: { ...nmEnv, HOME: nobodyDir }, input: config, cwd: repoRoot, timeoutMs: 60_000 },
  );
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Awaited<ReturnType<typeof asNobody>>;
}

beforeAll(() => {
  // Open to the unprivileged user's process; what holds keys inside is 0700/0600.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  mkdirSync(nobodyDir, { mode: 0o755 });
  writeFileSync(path.join(nobodyDir, 'child.mts'), childScript, { mode: 0o644 });
  mkdirSync(path.join(nobodyDir, 'tunnels'), { mode: 0o700 });
  chownSync(path.join(nobodyDir, 'tunnels'), NOBODY, NOBODY);
});

afterAll(async () => {
  await nmcli(['connection', 'delete', 'id', IFACE]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('this computer’s tunnel through NetworkManager (Debian’s, in its own namespace and on its own bus)', () => {
  it('finds NetworkManager running through nmcli, and does not where nmcli cannot reach one', async () => {
    expect(nm.version).toMatch(/^1\.\d+\.\d+/);
    expect(await manager().m.detect()).toBe('network-manager');
    // The same nmcli without the lab's bus finds no NetworkManager on this machine: the app then looks for wg-quick.
    const bare = new LaptopTunnelManager({ run: localRunner, which: localWhich, platform: 'linux', isRoot: true, configDir });
    expect(await bare.detect()).not.toBe('network-manager');
  });

  it('imports the app’s config from a 0600 file as an in-memory profile NetworkManager reads back exactly', async () => {
    const { m, seen } = manager();
    const t = await m.up(TUNNEL, laptopConfig());
    expect(seen.map((s) => s.argv)).toEqual([
      ['nmcli', '--terse', '--fields', 'RUNNING', 'general', 'status'],
      ['nmcli', 'connection', 'delete', 'id', IFACE],
      ['nmcli', 'connection', 'import', '--temporary', 'type', 'wireguard', 'file', m.configPath(TUNNEL)],
      ['nmcli', 'connection', 'up', 'id', IFACE],
      ...(nm.kernelWireGuard ? [] : [['nmcli', 'connection', 'delete', 'id', IFACE]]),
    ]);
    expect(seen[2]?.fileMode).toBe(0o600);
    // The file with the private key is gone as soon as NetworkManager has its copy.
    expect(seen[3]?.fileMode).toBeNull();
    expect(statSync(configDir).mode & 0o777).toBe(0o700);

    expect(seen[3]?.profiles).toEqual([
      {
        uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown as string,
        id: IFACE,
        type: 'wireguard',
        interfaceName: IFACE,
        privateKey: laptop.privateKey.reveal(),
        peers: [{ publicKey: server.publicKey, endpoint: ENDPOINT, allowedIps: ['10.213.95.1/32'], keepalive: 25, presharedKey: psk.reveal() }],
        addresses: ['10.213.95.2/32'],
        ipv6: 'disabled',
        inMemory: true,
        persistent: false,
      },
    ]);

    if (nm.kernelWireGuard) {
      expect(t).toEqual({ method: 'network-manager', state: 'up', detail: `The tunnel ${IFACE} is up (NetworkManager).`, sshOverWireguard: false });
      expect(await run('ip', ['netns', 'exec', nm.ns, 'wg', 'show', IFACE, 'peers'])).toBe(`${server.publicKey}\n`);
      expect(await run('ip', ['-n', nm.ns, '-o', 'addr', 'show', 'dev', IFACE])).toContain('inet 10.213.95.2/32');
    } else {
      // NetworkManager makes the link in the kernel; without WireGuard there it says so, and the app passes it on.
      expect(t.method).toBe('network-manager');
      expect(t.state).toBe('failed');
      expect(t.detail).toMatch(new RegExp(`^NetworkManager could not bring the tunnel ${IFACE} up: Error: Connection activation failed: .*Failed to create WireGuard interface '${IFACE}'.*Operation not supported`));
      expect(t.detail).toContain('This computer’s kernel has no WireGuard, which NetworkManager needs');
      expect(t.detail).not.toContain(laptop.privateKey.reveal());
      // …and removes the profile, which NetworkManager would otherwise keep retrying.
      expect(await leftovers(IFACE)).toEqual([]);
    }
  });

  it('replaces a profile of the same name left behind (e.g. by a crash) instead of adding a second', async () => {
    // An older config of the same tunnel, imported straight with nmcli, as the app would have done before.
    const old = path.join(dir, 'old');
    mkdirSync(old, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(old, `${IFACE}.conf`), laptopConfig('192.0.2.9:51999').reveal(), { mode: 0o600 });
    await nmcli(['connection', 'import', 'type', 'wireguard', 'file', path.join(old, `${IFACE}.conf`)]);
    expect((await profiles(IFACE)).map((p) => [p.peers[0]?.endpoint, p.persistent])).toEqual([['192.0.2.9:51999', true]]);

    const { m, seen } = manager();
    await m.up(TUNNEL, laptopConfig(ENDPOINT_NAME));
    expect(seen.find((s) => s.argv[2] === 'up')?.profiles.map((p) => [p.peers[0]?.endpoint, p.inMemory, p.persistent])).toEqual([[ENDPOINT_NAME, true, false]]);
    if (!nm.kernelWireGuard) expect(await leftovers(IFACE)).toEqual([]);
  });

  it('takes the tunnel down: the profile is gone, and down again is still down', async () => {
    if (!nm.kernelWireGuard) {
      // No link can come up here: a profile that is there (as after a successful up) is what down must remove.
      writeFileSync(path.join(dir, `${IFACE}.conf`), laptopConfig().reveal(), { mode: 0o600 });
      await nmcli(['connection', 'import', '--temporary', 'type', 'wireguard', 'file', path.join(dir, `${IFACE}.conf`)]);
      rmSync(path.join(dir, `${IFACE}.conf`));
    }
    expect((await profiles(IFACE)).length).toBe(1);
    const { m, seen } = manager();
    expect(await m.down(TUNNEL)).toEqual({ method: 'network-manager', state: 'down', detail: `The tunnel ${IFACE} is down.`, sshOverWireguard: false });
    expect(seen.map((s) => s.argv.slice(1, 3))).toEqual([
      ['--terse', '--fields'],
      ['connection', 'down'],
      ['connection', 'delete'],
    ]);
    expect(await leftovers(IFACE)).toEqual([]);
    // Both nmcli calls now answer "unknown connection" (exit 10): still down, not a failure.
    expect(await m.down(TUNNEL)).toEqual({ method: 'network-manager', state: 'down', detail: `The tunnel ${IFACE} is down.`, sshOverWireguard: false });
  });

  it('as a user NetworkManager does not authorise, the app passes on its refusal with what to do, and changes nothing', async () => {
    const up = await asNobody('up', laptopConfig().reveal());
    expect(up.uid).toBe(NOBODY);
    expect(up.method).toBe('network-manager');
    expect(up.result).toEqual({
      method: 'network-manager',
      state: 'failed',
      detail: `NetworkManager did not take the tunnel: Error: Failed to add '${IFACE}' connection: Insufficient privileges NetworkManager lets only a user logged in at this computer change its network: on Debian and Ubuntu, add your user to the netdev (or sudo) group, log in again, and try from the desktop session.`,
      sshOverWireguard: false,
    });
    expect(await leftovers(IFACE)).toEqual([]);
    expect(existsSync(path.join(nobodyDir, 'tunnels', `${IFACE}.conf`))).toBe(false);

    // A tunnel that is there (brought up by someone allowed to) cannot be taken down by that user either: said so.
    writeFileSync(path.join(dir, `${IFACE}.conf`), laptopConfig().reveal(), { mode: 0o600 });
    await nmcli(['connection', 'import', '--temporary', 'type', 'wireguard', 'file', path.join(dir, `${IFACE}.conf`)]);
    rmSync(path.join(dir, `${IFACE}.conf`));
    const down = await asNobody('down');
    expect(down.result.state).toBe('failed');
    expect(down.result.detail).toMatch(new RegExp(`^NetworkManager could not remove the tunnel ${IFACE}: Error: Connection deletion failed: Insufficient privileges.* add your user to the netdev \\(or sudo\\) group`));
    expect((await profiles(IFACE)).length).toBe(1);
    expect((await manager().m.down(TUNNEL)).state).toBe('down');
    expect(await leftovers(IFACE)).toEqual([]);
  });

  it('names the profile with the safe interface name for hostile and long tunnel names, which NetworkManager accepts', async () => {
    for (const name of ['$(touch /tmp/m2-nm-pwned)"; rm -rf / \n', `${'ü'.repeat(40)}-${r}`]) {
      const iface = path.basename(configFileName(name), '.conf');
      expect(iface).toMatch(/^[A-Za-z0-9-]{1,15}$/);
      const seen: string[][] = [];
      const m = new LaptopTunnelManager({
        run: async (file, args, opts) => {
          if (args[1] === 'up') seen.push((await profiles(iface)).map((p) => p.interfaceName));
          return nmRunner(file, args, opts);
        },
        which: localWhich,
        platform: 'linux',
        isRoot: true,
        configDir,
      });
      const t = await m.up(name, laptopConfig());
      expect(seen).toEqual([[iface]]);
      expect(t.detail).toContain(iface);
      expect((await m.down(name)).state).toBe('down');
      expect(await leftovers(iface)).toEqual([]);
    }
    expect(existsSync('/tmp/m2-nm-pwned')).toBe(false);
  });
});
