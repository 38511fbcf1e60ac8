import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StackSettings } from '../../electron/contract/stack';
import { Secret } from '../../electron/core/secrets/secret';
import { applyStack, loadGuardScript } from '../../electron/core/stack/apply';
import { composeCommands, parseInspect, type ContainerInfo } from '../../electron/core/stack/compose-commands';
import type { StackTarget } from '../../electron/core/stack/remote-release';
import { renderStack, requiredSecrets } from '../../electron/core/stack/render';
import { generateSecretValue } from '../../electron/core/stack/secrets';
import type { NetworkName, RenderedStack } from '../../electron/core/stack/types';
import { exec } from '../../scripts/lab/docker';
import { labUp } from '../../scripts/lab/lab';
import { freePort } from '../../scripts/lab/process';
import { connectToLab } from '../support/ssh';
import { defineBenchmark, median, time, type BenchRow } from './harness';
import { freeSubnets as freeSubnetsUnder } from '../support/subnets';

const ROWS = { fresh: 'fresh install (render → healthy)', noop: 'no-op re-apply', change: 'one-module change (Jellyfin port)' } as const;
const NOOP_RUNS = 5;

/**
 * Re-applying the stack (DESIGN.md §7: an unchanged stack restarts nothing and takes under 1 s; one module's
 * change recreates only its services), against a naive `docker compose down && up -d --wait` of the same release,
 * measured in the same run on the lab (real sshd, Docker Engine, Compose, the stand-in images); the no-op row also
 * measures the full health-gated path it used to take (no-op check off). Runs under its own project name and
 * ~/m2-bench so it never meets a lab test's `m2`. `npm run bench -- no-op` measures the no-op row alone (with the
 * install it needs and the naive baseline).
 */
export default defineBenchmark({
  name: 'stack apply',
  rows: Object.values(ROWS),
  async run(opts = {}) {
    const want = (row: string): boolean => opts.only?.(row) ?? true;
    const lab = await labUp();
    const conn = await connectToLab(lab.ssh);
    const project = `m2bench${process.pid}`;
    const m2Dir = `/home/${lab.ssh.admin.name}/m2-bench-${process.pid}`;
    const root = `/tmp/m2-bench-${process.pid}`;
    const uid = Number((await exec('id', ['-u', lab.ssh.admin.name])).stdout.trim());
    const gid = Number((await exec('id', ['-g', lab.ssh.admin.name])).stdout.trim());
    for (const d of [root, m2Dir]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    const target: StackTarget = { conn, dockerAccess: 'group', m2Dir, project, profileId: 'bench' };
    const guardScript = await loadGuardScript(path.resolve('resources'));
    const subnets = await freeSubnets();
    const tunnelToken = Buffer.from(JSON.stringify({ a: 'f3b1c0ffee0000000000000000000001', t: '5d2a1b6e-8c1f-4c7e-9d55-0123456789ab', s: randomBytes(32).toString('base64') })).toString('base64');
    const secrets = new Map<string, Secret>();
    const settingsFor = (lanPort: number): StackSettings =>
      StackSettings.parse({
        dataRoot: path.join(root, 'data'),
        publishAddress: '127.0.0.1',
        uid,
        gid,
        hostnames: { jellyfin: 'media.example.test', nextcloud: 'cloud.example.test', authentik: 'auth.example.test' },
        modules: { jellyfin: { lanPort }, backup: { repository: path.join(root, 'repo') } },
      });
    const render = (s: StackSettings): RenderedStack => {
      for (const r of requiredSecrets(s)) if (!secrets.has(r.name) && r.optional !== true) secrets.set(r.name, r.generated ? generateSecretValue(r.kind) : new Secret(tunnelToken));
      return renderStack(s, secrets, { m2Dir, project, subnets });
    };
    const apply = async (s: StackSettings, noopCheck = true): Promise<{ ms: number; nothingToChange: boolean }> => {
      const { ms, value } = await time(() => applyStack(target, render(s), { applyId: randomBytes(4).toString('hex'), settings: s, pullPolicy: 'missing', guardScript, waitTimeoutS: 180, noopCheck }, () => undefined));
      if (value.kind !== 'applied') throw new Error(`apply rolled back: ${value.report.reason}`);
      return { ms, nothingToChange: value.nothingToChange === true };
    };
    const containers = async (): Promise<ContainerInfo[]> => {
      const ids = (await exec('docker', ['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
      return ids.length === 0 ? [] : parseInspect((await exec('docker', ['inspect', '--type', 'container', ...ids])).stdout);
    };
    /** Containers that are new or were restarted between two snapshots. */
    const restarted = (before: readonly ContainerInfo[], after: readonly ContainerInfo[]): number => {
      const old = new Map(before.map((c) => [c.name, c]));
      return after.filter((c) => old.get(c.name)?.id !== c.id || old.get(c.name)?.startedAt !== c.startedAt).length;
    };

    try {
      const s1 = settingsFor(await freePort());
      const freshMs = (await apply(s1)).ms;
      const total = (await containers()).length;

      const noopMs: number[] = [];
      let noopRestarted = 0;
      let said = 0;
      const fullMs: number[] = [];
      let fullRestarted = 0;
      if (want(ROWS.noop)) {
        for (let i = 0; i < NOOP_RUNS; i++) {
          const before = await containers();
          const r = await apply(s1);
          noopMs.push(r.ms);
          if (r.nothingToChange) said++;
          noopRestarted += restarted(before, await containers());
        }
        // Before this issue: the same unchanged stack through the full path (lock, upload check, config, `up --wait`).
        for (let i = 0; i < 3; i++) {
          const before = await containers();
          fullMs.push((await apply(s1, false)).ms);
          fullRestarted += restarted(before, await containers());
        }
      }

      let changeMs = NaN;
      let changeRestarted = NaN;
      const s2 = settingsFor(await freePort());
      if (want(ROWS.change)) {
        const beforeChange = await containers();
        changeMs = (await apply(s2)).ms;
        changeRestarted = restarted(beforeChange, await containers());
      }

      // Naive: the same live release, down then up --wait (every container stops; the household waits for all).
      const live = (await exec('readlink', [path.join(m2Dir, 'current')])).stdout.trim();
      const rendered = render(want(ROWS.change) ? s2 : s1);
      const cmds = composeCommands('group', { project, projectDir: m2Dir, dir: path.resolve(m2Dir, live), envFiles: rendered.envFiles });
      const beforeNaive = await containers();
      const naive = await time(async () => {
        const down = await conn.exec(cmds.down(), { timeoutMs: 180_000 });
        if (down.code !== 0) throw new Error(`naive down failed: ${down.stderr}`);
        const up = await conn.exec(cmds.up(180), { timeoutMs: 240_000 });
        if (up.code !== 0) throw new Error(`naive up failed: ${up.stderr}`);
      });
      const naiveRestarted = restarted(beforeNaive, await containers());

      const rows: BenchRow[] = [{ name: ROWS.fresh, value: Math.round(freshMs), unit: 'ms', note: `${total} containers` }];
      if (want(ROWS.noop)) {
        rows.push({
          name: ROWS.noop,
          value: Math.round(median(noopMs)),
          unit: 'ms',
          runs: noopMs.map(Math.round),
          baseline: { name: 'down && up -d --wait', value: Math.round(naive.ms) },
          bar: '< 1000 ms, 0 restarted',
          meetsBar: median(noopMs) < 1000 && noopRestarted === 0 && said === NOOP_RUNS,
          note:
            `median of ${String(NOOP_RUNS)}; "nothing to change" said ${String(said)} of ${String(NOOP_RUNS)} times; containers restarted: ${String(noopRestarted)}. ` +
            `The full health-gated path on the same unchanged stack (before this change): ${fullMs.map(Math.round).join(', ')} ms (median ${String(Math.round(median(fullMs)))}), ${String(fullRestarted)} restarted. ` +
            `Naive down && up: ${String(naiveRestarted)} of ${String(total)} restarted (all services down for ${(naive.ms / 1000).toFixed(1)} s)`,
        });
      }
      if (want(ROWS.change)) {
        rows.push({
          name: ROWS.change,
          value: Math.round(changeMs),
          unit: 'ms',
          baseline: { name: 'down && up -d --wait', value: Math.round(naive.ms) },
          bar: 'only that module recreated',
          meetsBar: changeRestarted === 1,
          note: `containers recreated: ${String(changeRestarted)} (jellyfin), the other ${String(total - changeRestarted)} kept running; naive: ${String(naiveRestarted)} restarted`,
        });
      }
      return rows;
    } finally {
      await exec('docker', ['compose', '--project-name', project, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { timeoutMs: 180_000 });
      rmSync(m2Dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
      await conn.close();
    }
  },
});

/** Three /24s no network on the shared engine uses (fixed subnets collide across projects). */
const freeSubnets = (): Promise<Record<NetworkName, string>> => freeSubnetsUnder('10.232', 0);
