import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { StackSettings, type ApplyResult, type StackProgress } from '../../electron/contract/stack';
import { Secret } from '../../electron/core/secrets/secret';
import { applyStack, loadGuardScript } from '../../electron/core/stack/apply';
import { composeCommands } from '../../electron/core/stack/compose-commands';
import type { StackTarget } from '../../electron/core/stack/remote-release';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import { generateSecretValue } from '../../electron/core/stack/secrets';
import type { RenderedStack } from '../../electron/core/stack/types';
import { exec } from '../../scripts/lab/docker';
import { labUp } from '../../scripts/lab/lab';
import { freePort, sleep } from '../../scripts/lab/process';
import { connectToLab } from '../support/ssh';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';
import { defineBenchmark, time } from './harness';

/** The apply's `up --wait` timeout (the product's default). */
const WAIT_TIMEOUT_S = 180;

/**
 * A failed update (Jellyfin's new release crashes 2 s after it starts, every time; its health check and 60 s start
 * period as rendered) until the previous release serves again (`/health` answers 200 and the apply has returned),
 * against the path before the app watched containers, measured in the same run on the same two releases: Compose's
 * `up --wait` until it gives up (it notices a crash loop only when a poll falls between an exit and the restart),
 * then `up --wait` of the previous release. Runs under its own project name and ~/m2-bench-rollback so it never
 * meets a lab test's `m2`.
 */
export default defineBenchmark({
  name: 'stack rollback',
  async run() {
    const lab = await labUp();
    const conn = await connectToLab(lab.ssh);
    const project = `m2rbench${process.pid}`;
    const m2Dir = `/home/${lab.ssh.admin.name}/m2-bench-rollback-${process.pid}`;
    const root = `/tmp/m2-bench-rollback-${process.pid}`;
    const uid = Number((await exec('id', ['-u', lab.ssh.admin.name])).stdout.trim());
    const gid = Number((await exec('id', ['-g', lab.ssh.admin.name])).stdout.trim());
    for (const d of [root, m2Dir]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    const target: StackTarget = { conn, dockerAccess: 'group', m2Dir, project, profileId: 'bench-rollback' };
    const guardScript = await loadGuardScript(path.resolve('resources'));
    const subnets = await freeSubnetsUnder('10.233', 0);
    const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');
    const secrets = new Map<string, Secret>();
    const lanPort = await freePort();
    const settings = StackSettings.parse({
      dataRoot: path.join(root, 'data'),
      publishAddress: '127.0.0.1',
      uid,
      gid,
      hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
      modules: { jellyfin: { lanPort }, backup: { repository: path.join(root, 'repo') } },
    });
    for (const r of requiredSecrets(settings)) if (r.optional !== true) secrets.set(r.name, r.generated ? generateSecretValue(r.kind) : new Secret(tunnelToken));
    const good: RenderedStack = renderStack(settings, secrets, { m2Dir, project, subnets });
    const crashing = withCrash(good, 'jellyfin');
    const apply = (r: RenderedStack, events: Array<{ at: number; p: StackProgress }> = []): Promise<ApplyResult> =>
      applyStack(target, r, { applyId: randomBytes(4).toString('hex'), settings, pullPolicy: 'missing', guardScript, waitTimeoutS: WAIT_TIMEOUT_S }, (p) => events.push({ at: performance.now(), p }));
    const serving = async (): Promise<void> => {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${String(lanPort)}/health`).then((r) => r.status === 200, () => false);
        if (ok) return;
        await sleep(100);
      }
    };

    try {
      const installed = await apply(good);
      if (installed.kind !== 'applied') throw new Error(`install rolled back: ${installed.report.reason}`);
      await serving();

      const events: Array<{ at: number; p: StackProgress }> = [];
      const t0 = performance.now();
      const ours = await time(async () => {
        const r = await apply(crashing, events);
        await serving();
        return r;
      });
      if (ours.value.kind !== 'rolled-back' || !ours.value.report.restored) throw new Error(`expected a rollback, got ${JSON.stringify(ours.value)}`);
      const started = events.find((e) => e.p.kind === 'phase' && e.p.phase === 'start')?.at ?? t0;
      const rolling = events.find((e) => e.p.kind === 'phase' && e.p.phase === 'rollback')?.at ?? t0;

      // Naive, on the same two releases: Compose waits out the start period, then the previous release comes back.
      const dirOf = (id: string): string => path.posix.join(m2Dir, 'releases', id);
      const cmds = (id: string, r: RenderedStack) => composeCommands('group', { project, projectDir: m2Dir, dir: dirOf(id), envFiles: r.envFiles });
      let gaveUp = { ms: 0, said: '' };
      const naive = await time(async () => {
        const up = await time(() => conn.exec(cmds(ours.value.kind === 'rolled-back' ? ours.value.attemptedRelease : '', crashing).up(WAIT_TIMEOUT_S), { timeoutMs: 300_000 }));
        gaveUp = { ms: up.ms, said: `exit ${String(up.value.code)}: ${up.value.stderr.trim().split('\n').at(-1) ?? ''}` };
        const back = await conn.exec(cmds(installed.releaseId, good).up(180), { timeoutMs: 300_000 });
        if (back.code !== 0) throw new Error(`naive rollback failed: ${back.stderr}`);
        await serving();
      });

      return [
        {
          name: 'failed update → previous release serving',
          value: Math.round(ours.ms),
          unit: 'ms',
          baseline: { name: 'compose up --wait until it gives up, then previous up --wait', value: Math.round(naive.ms) },
          bar: '< 15000 ms',
          meetsBar: ours.ms < 15_000,
          note: `decided by ${JSON.stringify(ours.value.report.decidedBy)} ${((rolling - started) / 1000).toFixed(1)} s after up began; previous release serving ${((t0 + ours.ms - rolling) / 1000).toFixed(1)} s after that; the baseline's up gave up after ${(gaveUp.ms / 1000).toFixed(1)} s (${gaveUp.said})`,
        },
      ];
    } finally {
      await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
      rmSync(m2Dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
      await conn.close();
    }
  },
});

/** `r` where one service writes a line and exits 3 two seconds after it starts (its health check and start period as rendered). */
function withCrash(r: RenderedStack, service: string): RenderedStack {
  const composeFile = r.releaseFiles.find((f) => f.path === 'compose.yaml');
  if (!composeFile) throw new Error('no compose.yaml');
  const doc = YAML.parse(composeFile.content) as { services: Record<string, Record<string, unknown>> };
  const svc = doc.services[service];
  if (!svc) throw new Error(`no service ${service}`);
  svc.entrypoint = ['sh', '-c', "sleep 2; echo 'fatal: config is broken'; exit 3"];
  const content = YAML.stringify(doc);
  return {
    ...r,
    releaseFiles: r.releaseFiles.map((f) => (f === composeFile ? { ...f, content, masked: content } : f)),
    digest: createHash('sha256').update(r.digest).update(content).digest('hex'),
  };
}
