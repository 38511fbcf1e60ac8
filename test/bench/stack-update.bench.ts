import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StackSettings, type ApplyResult } from '../../electron/contract/stack';
import { silentLogger } from '../../electron/core/log';
import { Secret } from '../../electron/core/secrets/secret';
import { applyStack, loadGuardScript, stackStatus } from '../../electron/core/stack/apply';
import { composeGlobalArgs } from '../../electron/core/stack/compose-commands';
import type { StackTarget } from '../../electron/core/stack/remote-release';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import { generateSecretValue } from '../../electron/core/stack/secrets';
import { imageRefFor } from '../../electron/core/updates/image-ref';
import { serverHttp } from '../../electron/core/updates/ssh-http';
import { createUpdatesStore, UpdateService } from '../../electron/core/updates/update-service';
import { exec } from '../../scripts/lab/docker';
import { labUp } from '../../scripts/lab/lab';
import { freePort, sleep } from '../../scripts/lab/process';
import { connectToLab } from '../support/ssh';
import { freeSubnets } from '../support/subnets';
import { defineBenchmark, median, time } from './harness';

const ROUNDS = 3;
const NEW = '10.11.12';

/**
 * An update of Jellyfin 10.11.11 → 10.11.12 through the lab's registry (a Jellyfin + cloudflared stack whose images
 * come from it) until every service is healthy: the app's update (registry check, backup step, render, pull with
 * progress, `up --wait` of the changed service, health, switch) against a naive `docker compose pull && docker compose
 * up -d` of the same release, then polling until every container is running and healthy. Each round starts from
 * 10.11.11 with the new image's local name removed (its layers stay, as a server that already has the base would), so
 * both sides pull the same manifest and config. Own project name and ~/m2-bench-update.
 */
export default defineBenchmark({
  name: 'stack update',
  rows: ['update → all healthy'],
  async run() {
    const lab = await labUp();
    const conn = await connectToLab(lab.ssh);
    const project = `m2ubench${String(process.pid)}`;
    const m2Dir = `/home/${lab.ssh.admin.name}/m2-bench-update-${String(process.pid)}`;
    const root = `/tmp/m2-bench-update-${String(process.pid)}`;
    const uid = Number((await exec('id', ['-u', lab.ssh.admin.name])).stdout.trim());
    const gid = Number((await exec('id', ['-g', lab.ssh.admin.name])).stdout.trim());
    for (const d of [root, m2Dir, path.join(root, 'data'), path.join(root, 'media')]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    const target: StackTarget = { conn, dockerAccess: 'group', m2Dir, project, profileId: 'bench-update' };
    const guardScript = await loadGuardScript(path.resolve('resources'));
    const subnets = await freeSubnets('10.237', 0);
    const lanPort = await freePort();
    const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');
    const old = StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      publishAddress: '127.0.0.1',
      uid,
      gid,
      imageRegistry: lab.registry.host,
      modules: { jellyfin: { lanPort, mediaPaths: [path.join(root, 'media')] }, nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false }, wireguard: { enabled: false }, mediaAutomation: { enabled: false } },
    });
    const secrets = new Map<string, Secret>();
    for (const r of requiredSecrets(old)) if (r.optional !== true) secrets.set(r.name, r.generated ? generateSecretValue(r.kind) : new Secret(tunnelToken));
    const render = (s: StackSettings): ReturnType<typeof renderStack> => renderStack(s, secrets, { m2Dir, project, subnets });
    const install = (s: StackSettings): Promise<ApplyResult> => applyStack(target, render(s), { applyId: randomBytes(4).toString('hex'), settings: s, pullPolicy: 'missing', guardScript, waitTimeoutS: 120 }, () => undefined);
    let saved = old;
    const updates = new UpdateService({
      settings: async () => saved,
      saveSettings: async (_p, s) => {
        saved = s;
      },
      http: () => serverHttp(conn),
      running: async () => (await stackStatus(target)).services,
      backup: async () => ({ snapshotId: null, skipped: 'backup module off' }),
      apply: (_p, s) => install(s),
      store: createUpdatesStore(mkdtempSync(path.join(os.tmpdir(), 'm2-bench-updates-'))),
      emit: () => undefined,
      log: silentLogger,
    });
    const newRef = imageRefFor({ ...old, imageOverrides: { jellyfin: NEW } }, 'jellyfin');
    const backToOld = async (): Promise<void> => {
      const r = await install(old);
      if (r.kind !== 'applied') throw new Error('could not go back to 10.11.11');
      saved = old;
      await exec('docker', ['rmi', '--no-prune', newRef]);
    };
    const allHealthy = async (): Promise<void> => {
      for (;;) {
        const s = (await stackStatus(target)).services;
        if (s.length >= 2 && s.every((h) => h.state === 'running' && (h.health === 'healthy' || h.health === '')) && s.some((h) => h.image === newRef)) return;
        await sleep(100);
      }
    };

    const ours: number[] = [];
    const naive: number[] = [];
    try {
      for (let i = 0; i < ROUNDS; i++) {
        await backToOld();
        const t = await time(async () => {
          const r = await updates.apply('bench-update', [{ key: 'jellyfin', tag: NEW }]);
          if (r.outcome !== 'updated') throw new Error(`update rolled back: ${r.record.message}`);
          await allHealthy();
          return r.apply.kind === 'applied' ? r.apply.releaseId : '';
        });
        ours.push(t.ms);
        const release = t.value;
        await backToOld();
        const compose = (...args: string[]): string[] => ['docker', 'compose', ...composeGlobalArgs({ project, projectDir: m2Dir, dir: path.posix.join(m2Dir, 'releases', release), envFiles: render(saved).envFiles }), ...args];
        const n = await time(async () => {
          const pull = await conn.exec(compose('pull'), { timeoutMs: 300_000 });
          if (pull.code !== 0) throw new Error(`naive pull failed: ${pull.stderr}`);
          const up = await conn.exec(compose('up', '-d'), { timeoutMs: 300_000 });
          if (up.code !== 0) throw new Error(`naive up failed: ${up.stderr}`);
          await allHealthy();
        });
        naive.push(n.ms);
      }
    } finally {
      await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
      rmSync(m2Dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
      await conn.close();
    }
    return [
      {
        name: 'update → all healthy',
        value: Math.round(median(ours)),
        unit: 'ms',
        runs: ours.map(Math.round),
        baseline: { name: 'docker compose pull && up -d, then until healthy', value: Math.round(median(naive)) },
        note: `Jellyfin 10.11.11 → ${NEW} from the lab registry (docker-registry ${lab.registry.version}); ours includes the registry check, the backup step (module off), render, release upload, config hashes, pull with progress, up --wait of the changed service, health and switch; naive runs: ${naive.map((x) => String(Math.round(x))).join(', ')} ms`,
      },
    ];
  },
});
