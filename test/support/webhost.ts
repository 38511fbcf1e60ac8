import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningWebHost {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the real web host (`electron/webhost/main.ts`) as its own process, as `npm run dev:web` does. */
export async function startWebHostProcess(opts: { dataDir: string; port?: number; env?: NodeJS.ProcessEnv; args?: readonly string[] }): Promise<RunningWebHost> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'electron/webhost/main.ts'), '--json', '--data-dir', opts.dataDir, '--port', String(opts.port ?? 0), ...(opts.args ?? [])],
    { cwd: repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`web host did not start in 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`web host exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  const info = JSON.parse(first) as { url: string; port: number };
  return {
    url: info.url,
    port: info.port,
    origin: new URL(info.url).origin,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
