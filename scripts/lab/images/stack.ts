/**
 * A throwaway Compose project of stand-in images for lab tests: writes the compose file to a temp folder, runs
 * `docker compose` against it (argv only), and reads/changes stand-in state through their `/__lab/state` endpoints.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { exec, type ExecResult } from '../docker';

/** One line of `docker compose ps --format json` (NDJSON since v2.21, an array before: both are parsed). */
export interface PsEntry {
  ID: string;
  Name: string;
  Service: string;
  State: string;
  Health: string;
  ExitCode: number;
  Image: string;
  Publishers: Array<{ URL: string; TargetPort: number; PublishedPort: number; Protocol: string }> | null;
}

export function parsePs(stdout: string): PsEntry[] {
  const text = stdout.trim();
  if (text === '') return [];
  if (text.startsWith('[')) return JSON.parse(text) as PsEntry[];
  return text.split('\n').map((l) => JSON.parse(l) as PsEntry);
}

export class StandInStack {
  private constructor(
    readonly project: string,
    readonly dir: string,
    readonly file: string,
  ) {}

  /** Write `compose` (an object, serialised as YAML) and `files` (relative paths) to a fresh temp folder. The project name must not be `m2`. */
  static create(project: string, compose: Record<string, unknown>, files: Record<string, string> = {}): StandInStack {
    if (project === 'm2') throw new Error('lab stacks must not use the production project name m2');
    const dir = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(dir, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
    const file = path.join(dir, 'compose.yaml');
    writeFileSync(file, YAML.stringify(compose));
    return new StandInStack(project, dir, file);
  }

  compose(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
    return exec('docker', ['compose', '--project-name', this.project, '--file', this.file, ...args], {
      timeoutMs: opts.timeoutMs ?? 180_000,
      cwd: this.dir,
      env: opts.env ?? process.env,
    });
  }

  /** `up --detach --wait`; on failure the error carries compose's output, `ps` and the last log lines. */
  async up(extra: readonly string[] = [], waitTimeoutS = 120): Promise<void> {
    const r = await this.compose(['up', '--detach', '--wait', '--wait-timeout', String(waitTimeoutS), ...extra], { timeoutMs: (waitTimeoutS + 60) * 1000 });
    if (r.code !== 0) {
      const ps = await this.compose(['ps', '--all', '--format', 'json']);
      const logs = await this.compose(['logs', '--no-color', '--tail', '15']);
      throw new Error(`docker compose up --wait failed (exit ${r.code}):\n${r.stderr.trim()}\n--- ps ---\n${ps.stdout.trim()}\n--- logs ---\n${logs.stdout.trim()}`);
    }
  }

  async ps(all = true): Promise<PsEntry[]> {
    const r = await this.compose(['ps', ...(all ? ['--all'] : []), '--format', 'json']);
    if (r.code !== 0) throw new Error(`docker compose ps failed: ${r.stderr.trim()}`);
    return parsePs(r.stdout);
  }

  exec(service: string, argv: readonly string[], opts: { user?: string; env?: Record<string, string> } = {}): Promise<ExecResult> {
    return this.compose([
      'exec',
      '--no-TTY',
      ...(opts.user ? ['--user', opts.user] : []),
      ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      service,
      ...argv,
    ]);
  }

  /** `down --volumes --remove-orphans` for every profile (else volumes of profile-only services stay), then remove the temp folder. */
  async down(): Promise<ExecResult> {
    const r = await this.compose(['--profile', '*', 'down', '--volumes', '--remove-orphans', '--timeout', '5']);
    rmSync(this.dir, { recursive: true, force: true });
    return r;
  }
}

/** GET (or, with a patch, POST) a stand-in's lab control endpoint on 127.0.0.1:port. */
export async function labState<T = Record<string, unknown>>(port: number, patch?: Record<string, unknown>): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/__lab/state`, patch === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
  if (!res.ok) throw new Error(`/__lab/state on port ${port} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}
