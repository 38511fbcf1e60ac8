import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutageKind, OutageState } from '../../electron/contract/fallback';
import { StackSettings } from '../../electron/contract/stack';
import type { StatusNotification, StatusSnapshot } from '../../electron/contract/status';
import { ACCESS_PROBE_TOKEN_SECRET, AccessProbeTokens, probePolicyName } from '../../electron/core/cloudflare/access-service-token';
import { API_TOKEN_SECRET, CloudflareService, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import { publishedHosts } from '../../electron/core/cloudflare/publish-plan';
import { OutageMonitor } from '../../electron/core/fallback/outage/outage-monitor';
import { probeHostname } from '../../electron/core/fallback/outage/probe';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { StackSettingsStore } from '../../electron/core/stack/settings-store';
import { StackService } from '../../electron/core/stack/stack-service';
import type { NetworkName } from '../../electron/core/stack/types';
import { StatusService } from '../../electron/core/status/status-service';
import { statusTargetFrom } from '../../electron/core/status/target';
import { SshConnection } from '../../electron/core/ssh/ssh-connection';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_TOKENS,
  DEFAULT_ZONE_ID,
  followCloudflared,
  startCloudflareStandIn,
  startEdgeStandIn,
  type CloudflaredFollower,
  type CloudflareStandIn,
  type EdgeStandIn,
} from '../../scripts/lab/cloudflare';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { freePort } from '../../scripts/lab/process';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab, freshHostKeys, keyAuth } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

/**
 * Outage detection end to end on the lab: the real stack (Jellyfin and cloudflared stand-ins on the lab's Docker,
 * installed over the lab sshd) published through the Cloudflare API stand-in — which also creates the probe's Access
 * service token and its policy — with the stand-in's edge in front of the published hostname. The edge knows the
 * tunnel is live from the API stand-in's connectors, which follow the real cloudflared container (Docker events),
 * so `docker stop` is what breaks the tunnel. Live status watches the server; the outage monitor combines the
 * three angles and whether the server answers. Own project name and subnets, so it never meets other tests.
 */
const profileId = `lab-outage-${randomBytes(3).toString('hex')}`;
const project = `m2lab-outage-${process.pid}`;
const root = `/tmp/m2-outage-lab-${process.pid}`;
const HOST = 'media.example.com';
const keychain = new KeyringSecretStore();
const probeTokens = new AccessProbeTokens(keychain);
let standIn: CloudflareStandIn;
let edge: EdgeStandIn;
let follower: CloudflaredFollower;
let conn: SshConnection;
let stack: StackService;
let cloudflare: CloudflareService;
let status: StatusService;
let monitor: OutageMonitor;
let dataDir: string;
let lanPort = 0;
const logLines: string[] = [];
const changes: OutageState[] = [];
const notifications: StatusNotification[] = [];
const snapshots: StatusSnapshot[] = [];
const latency: Record<'tunnel-broken' | 'cloudflare-outage', number[]> = { 'tunnel-broken': [], 'cloudflare-outage': [] };
/** Whether the server answers, as the monitor is told; a test may point it at another connection. */
let serverReachable = (): boolean => conn.state.kind === 'connected';
/** Live status services a test adds (each with its own notifications), told of outage changes too. */
const moreStatus: StatusService[] = [];

const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('10.237', (process.pid * 13) % 250);

async function waitForKind(kind: OutageKind, ms: number): Promise<number> {
  const t0 = Date.now();
  while (monitor.state(profileId)?.kind !== kind) {
    if (Date.now() - t0 > ms) throw new Error(`no ${kind} within ${ms} ms; now ${JSON.stringify(monitor.state(profileId), null, 1)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t0;
}

async function cloudflaredId(): Promise<string> {
  const r = await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=cloudflared']);
  const id = r.stdout.trim().split('\n')[0] ?? '';
  expect(id).not.toBe('');
  return id;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

beforeAll(async () => {
  Object.assign(process.env, (await ensureKeychain()).env);
  await ensureDocker();
  await ensureStandInImages();
  const sshd = await ensureSshd();
  conn = await connectToLab(sshd);
  standIn = await startCloudflareStandIn();
  const uid = Number((await exec('id', ['-u', sshd.admin.name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', sshd.admin.name])).stdout.trim());
  for (const d of [root, path.join(root, 'data')]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'm2-outage-app-'));
  const log = createLogger((l) => logLines.push(l));
  stack = new StackService({
    settings: new StackSettingsStore(path.join(dataDir, 'stacks')),
    servers: { connection: () => conn },
    secretStore: keychain,
    log,
    onProgress: () => undefined,
    resourcesDir: path.resolve('resources'),
    appVersion: '0.0.0-lab',
    renderOverrides: { project, subnets: await freeSubnets() },
  });
  cloudflare = new CloudflareService({
    store: new CloudflareStore(path.join(dataDir, 'cloudflare')),
    secrets: keychain,
    stackSettings: async (id) => (await stack.view(id)).settings,
    redeploy: (id) => stack.apply(id),
    isInstalled: async (id) => (await stack.status(id)).currentRelease !== null,
    log,
    onProgress: () => undefined,
    client: { baseURL: standIn.url, maxRetries: 2, timeoutMs: 5_000 },
    probeAccess: probeTokens,
  });
  lanPort = await freePort();
  await stack.save(
    profileId,
    StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      publishAddress: '127.0.0.1',
      uid,
      gid,
      hostnames: { jellyfin: HOST, nextcloud: 'cloud.example.com', authentik: 'auth.example.com' },
      modules: { jellyfin: { lanPort }, nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false } },
    }),
  );
  const installed = await stack.apply(profileId);
  expect(installed.kind, JSON.stringify(installed)).toBe('applied');
  await cloudflare.setToken(profileId, DEFAULT_TOKENS.all);
  await cloudflare.saveSettings(profileId, {
    accountId: DEFAULT_ACCOUNT_ID,
    zoneId: DEFAULT_ZONE_ID,
    zoneName: 'example.com',
    access: { emails: ['alice@example.com'], emailDomain: null, sessionDuration: '24h' },
  });
  const report = await cloudflare.publish(profileId);
  expect(report.ok, JSON.stringify(report.steps)).toBe(true);

  // Cloudflare's edge in front of the published name; Jellyfin answers from its published LAN port.
  edge = await startEdgeStandIn({ state: standIn.state, origin: ({ service }) => (service === 'http://jellyfin:8096' ? `http://127.0.0.1:${lanPort}` : null) });
  follower = await followCloudflared(standIn.state, project);

  status = new StatusService({
    connection: () => conn,
    target: async (id) => statusTargetFrom((await stack.view(id)).settings, { project }),
    jellyfinApiKey: (id) => keychain.get(id, 'jellyfin.api-key'),
    tunnelApiStatus: (id) => cloudflare.tunnelStatus(id),
    outage: (id) => monitor.state(id),
    resourcesDir: path.resolve('resources'),
    log,
    onUpdate: (u) => {
      snapshots.push(u.snapshot);
      monitor.observe(u.snapshot);
    },
    onNotification: (n) => notifications.push(n),
    // The product's repeat window (5 min), a short settle so the test need not wait 5 s.
    notify: { settleMs: 1_000, repeatMs: 300_000 },
    apiPollMs: 10_000,
  });
  monitor = new OutageMonitor({
    hostnames: async (id) => publishedHosts((await stack.view(id)).settings).map((h) => h.hostname),
    serviceToken: (id) => probeTokens.credentials(id),
    snapshot: (id) => status.snapshot(id),
    serverReachable: () => serverReachable(),
    tunnelApiStatus: (id) => cloudflare.tunnelStatus(id),
    onChange: (id, s) => {
      changes.push(s);
      for (const st of [status, ...moreStatus]) st.outageChanged(id);
    },
    log,
    // The product resolves the name and speaks HTTPS on 443; here the edge is the stand-in on loopback.
    probe: { connect: { host: '127.0.0.1', port: edge.port, tls: false } },
  });
  await status.watch(profileId);
  monitor.watch(profileId);
}, 400_000);

afterAll(async () => {
  monitor?.stop();
  await status?.stopAll();
  follower?.stop();
  await edge?.close();
  await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
  rmSync(root, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET, ACCESS_PROBE_TOKEN_SECRET, 'jellyfin.admin-password', 'jellyfin.api-key']) await keychain.delete(profileId, n).catch(() => undefined);
  await standIn?.close();
  await conn?.close();
  if (latency['tunnel-broken'].length || latency['cloudflare-outage'].length) {
    process.stdout.write(
      `outage detection latency (ms): tunnel-broken ${JSON.stringify(latency['tunnel-broken'])} median ${median(latency['tunnel-broken'])}; cloudflare-outage ${JSON.stringify(latency['cloudflare-outage'])} median ${median(latency['cloudflare-outage'])}\n`,
    );
  }
}, 240_000);

describe('outage detection on the lab', () => {
  it('publish set up the probe’s service token and its policy; with it the probe reaches Jellyfin, without it Access answers with its login', async () => {
    const snap = standIn.state.snapshot();
    expect(snap.serviceTokens).toHaveLength(1);
    const policy = snap.accessPolicies.find((p) => p.name === probePolicyName(profileId));
    expect(policy).toMatchObject({ decision: 'non_identity', include: [{ service_token: { token_id: snap.serviceTokens[0]?.id } }] });
    expect(snap.accessApps.find((a) => a.domain === HOST)?.policyLinks.map((l) => l.id)).toContain(policy?.id);
    // A second publish reuses them: no second token, no second policy.
    const again = await cloudflare.publish(profileId);
    expect(again.steps.find((s) => s.id === 'access-probe')?.status).toBe('unchanged');
    expect(standIn.state.snapshot().serviceTokens).toHaveLength(1);

    const creds = await probeTokens.credentials(profileId);
    expect(creds?.id).toMatch(/\.access$/);
    const connect = { host: '127.0.0.1', port: edge.port, tls: false };
    const through = await probeHostname(HOST, { timeoutMs: 3_000, connect, serviceToken: creds ?? undefined });
    // Jellyfin's own answer (it sends / on to its web client), not Access's.
    expect(through).toMatchObject({ outcome: 'app', colo: 'LAB' });
    expect(edge.requests.at(-1)).toMatchObject({ host: HOST, by: 'app', serviceToken: true });
    const anonymous = await probeHostname(HOST, { timeoutMs: 3_000, connect });
    expect(anonymous).toMatchObject({ outcome: 'access-login', httpStatus: 302 });
    // The secret is in no log line.
    expect(logLines.join('\n')).not.toContain(creds?.secret.reveal());

    await waitForKind('healthy', 20_000);
    expect(monitor.state(profileId)?.probes[0]).toMatchObject({ hostname: HOST, outcome: 'app' });
  }, 60_000);

  it('docker stop of cloudflared is a broken tunnel within 10 s, with the evidence and one notification; starting it again is healthy', async () => {
    const id = await cloudflaredId();
    for (let i = 0; i < 3; i++) {
      await waitForKind('healthy', 20_000);
      const noteBefore = notifications.length;
      const stopped = await exec('docker', ['stop', '--time', '1', id], { timeoutMs: 30_000 });
      expect(stopped.code, stopped.stderr).toBe(0);
      const took = await waitForKind('tunnel-broken', 10_000);
      latency['tunnel-broken'].push(took);
      const s = monitor.state(profileId);
      expect(s?.reason).toMatch(/^The tunnel is broken: /);
      expect(s?.serverReachable).toBe(true);
      expect(s?.probes[0]).toMatchObject({ outcome: 'tunnel-error', httpStatus: 530, cfError: 1033, colo: 'LAB' });
      expect(s?.evidence.join('\n')).toMatch(/530 \(error 1033\)/);
      // The snapshot (what the dashboard and tray draw) carries it, and the tunnel card says it first.
      const deadline = Date.now() + 5_000;
      while (!(snapshots.at(-1)?.outage?.kind === 'tunnel-broken') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const card = snapshots.at(-1)?.cards.find((c) => c.id === 'tunnel');
      expect(card?.severity).toBe('error');
      expect(card?.reason).toMatch(/^The tunnel is broken: Cloudflare answers 1 of 1 hostnames with error 1033/);
      // One notification for the first incident, however many rounds and snapshots it took (settle is 1 s here);
      // the same incident again within the repeat window (5 min) is no storm: nobody is told again.
      await new Promise((r) => setTimeout(r, 2_500));
      const told = notifications.slice(noteBefore).filter((n) => n.card === 'tunnel' && n.severity === 'error');
      expect(told, JSON.stringify(notifications)).toHaveLength(i === 0 ? 1 : 0);
      if (i === 0) expect(told[0]?.body).toMatch(/^(The tunnel is broken: |cloudflared)/);

      expect((await exec('docker', ['start', id], { timeoutMs: 30_000 })).code).toBe(0);
      await waitForKind('healthy', 15_000);
    }
    expect(latency['tunnel-broken'].every((ms) => ms < 10_000)).toBe(true);
    expect(notifications.filter((n) => n.card === 'tunnel' && n.severity === 'error')).toHaveLength(1);
  }, 240_000);

  it('an edge that cannot be reached while the server answers is a Cloudflare outage within 10 s; healthy again after', async () => {
    for (const fault of ['refuse', 'reset', 'hang'] as const) {
      await waitForKind('healthy', 20_000);
      await edge.fault(fault);
      const took = await waitForKind('cloudflare-outage', 10_000);
      latency['cloudflare-outage'].push(took);
      const s = monitor.state(profileId);
      expect(s?.reason).toMatch(/^Cloudflare cannot be reached: 1 of 1 probes got no answer from its edge, while the server answers\.$/);
      expect(s?.probes[0]?.outcome).toBe(fault === 'hang' ? 'timeout' : 'connect-failure');
      const deadline = Date.now() + 5_000;
      while (!(snapshots.at(-1)?.outage?.kind === 'cloudflare-outage') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(snapshots.at(-1)?.cards.find((c) => c.id === 'tunnel')?.reason).toMatch(/^Cloudflare is down\. Cloudflare cannot be reached/);
      await edge.fault(null);
      await waitForKind('healthy', 15_000);
    }
    expect(latency['cloudflare-outage'].every((ms) => ms < 10_000)).toBe(true);
  }, 240_000);

  it('the home going offline (SSH gone, then the tunnel down) is one notification, told while live status’s agent is away', async () => {
    await waitForKind('healthy', 20_000);
    // Its own live status (own connection, own notifications): the incidents above are inside the shared one's
    // repeat window, which would rightly keep a new one quiet.
    // The home's power going off, as this computer sees it: the transport drops and every redial finds nothing
    // (a port nobody listens on), so the connection keeps reconnecting, as after a real power cut.
    const sshd = await ensureSshd();
    const nowhere = await freePort();
    let powerOff = false;
    const home = new SshConnection({
      target: { host: sshd.host, port: sshd.port, username: sshd.admin.name },
      auth: keyAuth(sshd.admin),
      hostKeys: freshHostKeys(),
      via: () => (powerOff ? { host: '127.0.0.1', port: nowhere } : { host: sshd.host, port: sshd.port }),
      backoff: { baseMs: 200, maxMs: 1_000 },
    });
    const first = await home.connect();
    if (first.kind === 'confirm-host-key') await home.connect({ acceptFingerprint: first.fingerprint });
    expect(home.state.kind).toBe('connected');
    const told: StatusNotification[] = [];
    const own: StatusSnapshot[] = [];
    const watcher = new StatusService({
      connection: () => home,
      target: async (id) => statusTargetFrom((await stack.view(id)).settings, { project }),
      jellyfinApiKey: (id) => keychain.get(id, 'jellyfin.api-key'),
      tunnelApiStatus: (id) => cloudflare.tunnelStatus(id),
      outage: (id) => monitor.state(id),
      resourcesDir: path.resolve('resources'),
      log: createLogger(() => undefined),
      onUpdate: (u) => own.push(u.snapshot),
      onNotification: (n) => told.push(n),
      notify: { settleMs: 1_000, repeatMs: 300_000 },
      apiPollMs: 10_000,
    });
    moreStatus.push(watcher);
    const id = await cloudflaredId();
    try {
      await watcher.watch(profileId);
      const ready = Date.now() + 20_000;
      while (!(own.at(-1)?.agent.kind === 'running' && own.at(-1)?.cards.find((c) => c.id === 'tunnel')?.severity === 'ok') && Date.now() < ready) await new Promise((r) => setTimeout(r, 100));
      expect(own.at(-1)?.cards.find((c) => c.id === 'tunnel')?.severity).toBe('ok');
      // The home loses power: the SSH connection goes (live status's agent with it), then the edge finds no tunnel.
      serverReachable = () => home.state.kind === 'connected';
      powerOff = true;
      // Its own sshd session killed from the inside: the TCP connection drops (the redials then find nothing).
      await home.exec(['sh', '-c', 'kill -9 $PPID']).catch(() => undefined);
      expect((await exec('docker', ['stop', '--time', '1', id], { timeoutMs: 30_000 })).code).toBe(0);
      // Budget with headroom for a loaded two-core CI machine (a clean-clone run once took over 15 s here); the
      // detection time itself is the bench's row, not this test's.
      await waitForKind('home-offline', 40_000);
      expect(monitor.state(profileId)?.reason).toMatch(/^The home server is offline: Cloudflare answers 1 of 1 hostnames with error 1033/);
      const deadline = Date.now() + 20_000;
      while (told.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      // Rounds keep coming while it is offline: still one message, with the cause.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(told, JSON.stringify(told)).toHaveLength(1);
      expect(told[0]).toMatchObject({ card: 'tunnel', severity: 'error', body: expect.stringMatching(/^The home server is offline: /) });
      expect(own.at(-1)?.agent.kind).not.toBe('running');
    } finally {
      serverReachable = () => conn.state.kind === 'connected';
      moreStatus.splice(0);
      await watcher.stopAll();
      await home.close();
      await exec('docker', ['start', id], { timeoutMs: 30_000 });
    }
    await waitForKind('healthy', 30_000);
  }, 120_000);

  it('a keychain that lost the probe’s token gets a new secret for the same token on the next publish; removal takes token and policy away', async () => {
    const before = standIn.state.snapshot().serviceTokens;
    expect(before).toHaveLength(1);
    await keychain.delete(profileId, ACCESS_PROBE_TOKEN_SECRET);
    const again = await cloudflare.publish(profileId);
    expect(again.steps.find((s) => s.id === 'access-probe')).toMatchObject({ status: 'done', detail: expect.stringMatching(/^New secret for the service token/) });
    const after = standIn.state.snapshot().serviceTokens;
    expect(after.map((t) => t.id)).toEqual(before.map((t) => t.id));
    expect(after[0]?.secret_fingerprint).not.toBe(before[0]?.secret_fingerprint);
    const creds = await probeTokens.credentials(profileId);
    expect(await probeHostname(HOST, { timeoutMs: 3_000, connect: { host: '127.0.0.1', port: edge.port, tls: false }, serviceToken: creds ?? undefined })).toMatchObject({ outcome: 'app' });

    monitor.unwatch(profileId);
    const removed = await cloudflare.remove(profileId);
    expect(removed.steps.find((s) => s.id === 'access-probe')).toMatchObject({ status: 'done' });
    const snap = standIn.state.snapshot();
    expect(snap.serviceTokens).toHaveLength(0);
    expect(snap.accessPolicies.find((p) => p.name === probePolicyName(profileId))).toBeUndefined();
    expect(await keychain.get(profileId, ACCESS_PROBE_TOKEN_SECRET)).toBeUndefined();
  }, 120_000);
});
