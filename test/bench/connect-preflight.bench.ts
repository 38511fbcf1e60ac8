import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defineBenchmark, time } from './harness';
import { labUp } from '../../scripts/lab/lab';
import { connectToLab } from '../support/ssh';
import { runPreflight } from '../../electron/core/preflight/preflight';
import { preflightCommands } from '../../electron/core/preflight/commands';
import { toShell } from '../../electron/core/ssh/argv';

const execFileP = promisify(execFile);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Saved profile → connected → first full preflight, over one multiplexed connection, against a naive
 * baseline measured in the same run: the same remote commands, one OpenSSH client process (and so one
 * TCP connection and handshake) per command, run one after another.
 */
export default defineBenchmark({
  name: 'connect → first preflight',
  async run() {
    const lab = await labUp();
    const dataPaths = [`/home/${lab.ssh.admin.name}`];
    const ours: number[] = [];
    const naive: number[] = [];
    for (let i = 0; i < 5; i++) {
      ours.push(
        (
          await time(async () => {
            const conn = await connectToLab(lab.ssh);
            await runPreflight(conn, { dataPaths }, { now: () => new Date(), user: lab.ssh.admin.name });
            await conn.close();
          })
        ).ms,
      );
      naive.push(
        (
          await time(async () => {
            for (const argv of [preflightCommands.facts(), preflightCommands.disk(dataPaths), preflightCommands.egress()]) {
              await execFileP('ssh', [
                '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
                '-i', lab.ssh.admin.keyPath, '-p', String(lab.ssh.port), `${lab.ssh.admin.name}@${lab.ssh.host}`, toShell(argv),
              ]).catch(() => undefined);
            }
          })
        ).ms,
      );
    }
    return [
      {
        name: 'connect + full preflight (median of 5)',
        value: Math.round(median(ours)),
        unit: 'ms',
        runs: ours.map(Math.round),
        baseline: { name: 'one ssh process per command, sequential', value: Math.round(median(naive)) },
        note: 'includes the first-contact host-key confirmation round trip (two handshakes), as a new profile does',
      },
    ];
  },
});
