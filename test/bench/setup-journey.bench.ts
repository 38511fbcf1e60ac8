import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StackSettingsInput } from '../../electron/contract/stack';
import { createDispatcher } from '../../electron/core/ipc/dispatch';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { createCoreServices, createHandlers, type CoreServices } from '../../electron/core/services';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { exec } from '../../scripts/lab/docker';
import { labUp } from '../../scripts/lab/lab';
import { freePort } from '../../scripts/lab/process';
import { adminStack } from '../support/admin-stack';
import { defineBenchmark, median, time, type BenchRow } from './harness';

/**
 * First-time setup end to end through the contract, as the Setup page drives it: a fresh profile is saved, its host
 * key confirmed, preflight run, the Cloudflare token kept and checked, account, zone and who may sign in saved, the
 * tunnel, Access and DNS published, the stack's settings saved, reviewed and installed — ending with every service
 * healthy and cloudflared running with the tunnel's token. Against the lab (real sshd and Docker with the stand-in
 * images, the lab keychain, the Cloudflare stand-in).
 *
 * Measured: the wall time, and the SSH connections the server saw (sshd's own log: "Connection from" for every TCP
 * connection, "Accepted publickey" for every signed-in one, "Starting session" for every command or SFTP channel).
 * The design wants one signed-in connection for the whole journey. The baseline, in the same run: the same steps as
 * separate commands, as a script of CLI calls would do them — each its own process (fresh services over the same
 * data folder), connecting when it needs the server and disconnecting when done.
 */
const say = (s: string): void => void process.stderr.write(`  ${s}\n`);

interface Journey {
  readonly ms: number;
  readonly tcp: number;
  readonly signedIn: number;
  readonly sessions: number;
  readonly containers: number;
}

type Call = <T = unknown>(channel: string, payload?: unknown) => Promise<T>;

const ROW_TIME = 'fresh profile → installed and published (through the contract)';
const ROW_CONNECTIONS = 'SSH connections signed in for the journey';
/** Runs of each variant, interleaved (one app, separate commands, one app, …) so a busy minute hits both alike. */
const RUNS = 3;

export default defineBenchmark({
  name: 'fresh profile → installed and published',
  rows: [ROW_TIME, ROW_CONNECTIONS],
  async run() {
    const lab = await labUp();
    const admin = lab.ssh.admin;
    process.env.DBUS_SESSION_BUS_ADDRESS = lab.keychain.env.DBUS_SESSION_BUS_ADDRESS;
    const server = adminStack(admin.name, 'm2-bench-journey');
    const dataRoot = path.join(server.root, 'data');
    const keychain = new KeyringSecretStore();

    /** sshd's log from a byte offset: what the server saw during one journey. */
    const logFrom = (offset: number): string => readFileSync(lab.ssh.logPath, 'utf8').slice(offset);
    const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

    const settings = async (): Promise<StackSettingsInput> => ({
      dataRoot,
      publishAddress: '127.0.0.1',
      uid: server.uid,
      gid: server.gid,
      timezone: 'Europe/Berlin',
      adminEmail: 'admin@example.com',
      hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: {
        jellyfin: { lanPort: await freePort() },
        nextcloud: { enabled: true, lanPort: await freePort() },
        authentik: { enabled: true },
        cloudflared: { enabled: true, replicas: 1 },
        backup: { enabled: true, repository: path.join(server.root, 'backup', 'restic') },
        wireguard: { enabled: false },
        mediaAutomation: { enabled: false },
      },
    });

    /** One app (or one command of the baseline): the composition root over a data folder, called through the dispatcher. */
    const app = (dataDir: string): { services: CoreServices; call: Call } => {
      const services = createCoreServices(
        {
          dataDir,
          appInfo: { name: 'M2 Companion', version: '0.0.0-bench', platform: 'linux', arch: process.arch, host: 'web' },
          log: createLogger(() => undefined),
          vault: keychain,
          userKnownHosts: [],
          resourcesDir: path.resolve('resources'),
        },
        () => undefined,
      );
      const dispatch = createDispatcher(createHandlers(services), { isTrustedSender: () => true, log: createLogger(() => undefined) });
      const call: Call = async <T,>(channel: string, payload?: unknown): Promise<T> => {
        const r = await dispatch({ url: 'bench' }, channel, payload);
        if (!r.ok) throw new Error(`${channel}: ${r.error.userMessage}${r.error.hint ? ` (${r.error.hint})` : ''}`);
        return r.value as T;
      };
      return { services, call };
    };

    /** The journey's steps; `server` marks those that talk to the server (a separate command connects for them). */
    const steps = (profileId: { id: string }, name: string, standIn: CloudflareStandIn): Array<{ what: string; server: boolean; run: (call: Call) => Promise<void> }> => [
      {
        what: 'save the server',
        server: false,
        run: async (call) => {
          const p = await call<{ id: string }>('profiles:save', { name, host: lab.ssh.host, port: lab.ssh.port, username: admin.name, auth: { kind: 'key', keyPath: admin.keyPath } });
          profileId.id = p.id;
        },
      },
      {
        what: 'confirm the host key',
        server: false,
        run: async (call) => {
          const first = await call<{ kind: string; fingerprint: string }>('server:connect', { profileId: profileId.id });
          if (first.kind !== 'confirm-host-key' || first.fingerprint !== lab.ssh.hostKeyFingerprint) throw new Error(`first contact answered ${first.kind} ${first.fingerprint}`);
          const again = await call<{ kind: string }>('server:connect', { profileId: profileId.id, acceptFingerprint: first.fingerprint });
          if (again.kind !== 'connected') throw new Error(`trusting the host key answered ${again.kind}`);
        },
      },
      {
        what: 'preflight',
        server: true,
        run: async (call) => {
          const r = await call<{ checks: Array<{ id: string; status: string }> }>('preflight:run', { profileId: profileId.id, dataPaths: [dataRoot] });
          // The lab has no way out to Cloudflare's edge, so only that check may fail (the stand-in answers instead).
          const failed = r.checks.filter((c) => c.status === 'fail' && c.id !== 'cloudflare-egress');
          if (failed.length) throw new Error(`preflight failed: ${failed.map((c) => c.id).join(', ')}`);
        },
      },
      { what: 'keep the Cloudflare token', server: false, run: async (call) => void (await call('cloudflare:set-token', { profileId: profileId.id, token: DEFAULT_TOKENS.all })) },
      {
        what: 'save account, zone and who may sign in',
        server: false,
        run: async (call) =>
          void (await call('cloudflare:save-settings', {
            profileId: profileId.id,
            settings: { accountId: DEFAULT_ACCOUNT_ID, zoneId: DEFAULT_ZONE_ID, zoneName: 'example.com', access: { emails: ['admin@example.com'], emailDomain: null, sessionDuration: '24h' } },
          })),
      },
      { what: 'save the stack settings', server: false, run: async (call) => void (await call('stack:save-settings', { profileId: profileId.id, settings: await settings() })) },
      {
        what: 'publish (tunnel, Access, DNS)',
        // Asks whether the stack is installed yet (the tunnel token goes with the install when it is not).
        server: true,
        run: async (call) => {
          const r = await call<{ ok: boolean; steps: Array<{ id: string; status: string; detail: string }> }>('cloudflare:publish', { profileId: profileId.id, confirm: [] });
          if (!r.ok) throw new Error(`publish: ${JSON.stringify(r.steps.filter((s) => s.status === 'failed'))}`);
          if (standIn.state.snapshot().dnsRecords.length !== 3) throw new Error('publish did not leave three DNS records');
        },
      },
      { what: 'review', server: true, run: async (call) => void (await call('stack:plan', { profileId: profileId.id })) },
      {
        what: 'install',
        server: true,
        run: async (call) => {
          const r = await call<{ kind: string; services?: Array<{ service: string }>; report?: { reason: string } }>('stack:apply', { profileId: profileId.id });
          if (r.kind !== 'applied') throw new Error(`install rolled back: ${r.report?.reason ?? ''}`);
        },
      },
    ];

    /** Every container of project m2 running, cloudflared among them with the tunnel token the stand-in handed out. */
    const running = async (): Promise<number> => {
      const ids = (await exec('docker', ['ps', '--quiet', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'status=running'])).stdout.split('\n').filter(Boolean);
      const tunnel = (await exec('docker', ['ps', '--quiet', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'label=com.docker.compose.service=cloudflared', '--filter', 'status=running'])).stdout.trim();
      if (!tunnel) throw new Error('cloudflared is not running after the install');
      return ids.length;
    };

    const journey = async (variant: 'one app' | 'separate commands'): Promise<Journey> => {
      server.removeStack();
      server.makeAdminFolders(dataRoot, path.join(server.root, 'backup'));
      const standIn = await startCloudflareStandIn();
      process.env.CLOUDFLARE_BASE_URL = standIn.url;
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-bench-journey-'));
      const profileId = { id: '' };
      const plan = steps(profileId, `Bench ${variant}`, standIn);
      const logStart = statSync(lab.ssh.logPath).size;
      const cleanup: CoreServices[] = [];
      try {
        const { ms } = await time(async () => {
          if (variant === 'one app') {
            const one = app(dataDir);
            cleanup.push(one.services);
            for (const s of plan) await s.run(one.call);
            return;
          }
          for (const s of plan) {
            // A command of its own: fresh services over the same data folder, connecting when it needs the server.
            const cmd = app(dataDir);
            cleanup.push(cmd.services);
            if (s.server) {
              const c = await cmd.call<{ kind: string }>('server:connect', { profileId: profileId.id });
              if (c.kind !== 'connected') throw new Error(`${s.what}: connecting answered ${c.kind}`);
            }
            await s.run(cmd.call);
            // The command ends: its connection goes (and is not reconnected by the next one's start).
            if (s.server || s.what === 'confirm the host key') await cmd.call('server:disconnect', { profileId: profileId.id });
          }
        });
        const log = logFrom(logStart);
        const containers = await running();
        const result: Journey = {
          ms,
          tcp: count(log, /^Connection from 127\.0\.0\.1 port \d+ on /),
          signedIn: count(log, new RegExp(`^Accepted publickey for ${admin.name} from `)),
          sessions: count(log, /^Starting session: /),
          containers,
        };
        say(`${variant}: ${Math.round(ms)} ms, ${result.signedIn} signed-in connections (${result.tcp} TCP), ${result.sessions} sessions, ${containers} containers running`);
        return result;
      } finally {
        const last = cleanup.at(-1);
        if (last && profileId.id) await last.removeProfile(profileId.id).catch((e: unknown) => say(`could not remove the bench profile: ${String(e)}`));
        for (const s of cleanup) await s.servers.closeAll().catch(() => undefined);
        await standIn.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    };

    try {
      const ours: Journey[] = [];
      const naive: Journey[] = [];
      for (let i = 0; i < RUNS; i++) {
        ours.push(await journey('one app'));
        naive.push(await journey('separate commands'));
      }
      const ms = (js: Journey[]): number[] => js.map((j) => Math.round(j.ms));
      const all = (js: Journey[], k: 'tcp' | 'signedIn' | 'sessions'): string => [...new Set(js.map((j) => j[k]))].join('/');
      const rows: BenchRow[] = [
        {
          name: ROW_TIME,
          value: Math.round(median(ms(ours))),
          unit: 'ms',
          runs: ms(ours),
          baseline: { name: 'the same steps as separate commands', value: Math.round(median(ms(naive))) },
          note: `separate commands: ${ms(naive).join(', ')} ms; every run ends with ${all(ours, 'signedIn') === '1' ? 'one' : all(ours, 'signedIn')} signed-in connection and ${ours[0]?.containers ?? 0} containers running, cloudflared with the tunnel's token; on loopback a handshake costs little, so the time is about equal`,
        },
        {
          name: ROW_CONNECTIONS,
          value: Math.max(...ours.map((j) => j.signedIn)),
          unit: 'connections',
          runs: ours.map((j) => j.signedIn),
          baseline: { name: 'the same steps as separate commands', value: Math.max(...naive.map((j) => j.signedIn)) },
          bar: '1 (DESIGN: one connection)',
          meetsBar: ours.every((j) => j.signedIn === 1),
          note: `from sshd's log: TCP connections ${all(ours, 'tcp')} (the first contact's host-key check never signs in) vs ${all(naive, 'tcp')}; sessions (commands and SFTP channels) ${all(ours, 'sessions')} vs ${all(naive, 'sessions')}`,
        },
      ];
      return rows;
    } finally {
      server.removeStack();
      delete process.env.CLOUDFLARE_BASE_URL;
    }
  },
});
