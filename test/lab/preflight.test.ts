import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PreflightReport, type PreflightCheck } from '../../electron/contract/preflight';
import { runPreflight } from '../../electron/core/preflight/preflight';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureDocker } from '../../scripts/lab/docker';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';

/** The hostile name from the issue: if anything ever ran it as code, /tmp/m2-pwned would appear. */
const CANARY = '/tmp/m2-pwned';
const HOSTILE_NAME = `m2 $(touch ${CANARY}) '"\`x`;
const HOSTILE = `/tmp/${HOSTILE_NAME}`;

const byId = (r: PreflightReport, id: string): PreflightCheck => {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};

describe('preflight against the lab server over SSH', () => {
  let sshd: LabSshd;
  let admin: SshConnection;
  let sudoUser: SshConnection;
  let dataDir: string;

  beforeAll(async () => {
    try {
      sshd = await ensureSshd();
    } catch (err) {
      throw new Error(`Preflight lab test needs the lab OpenSSH server (scripts/lab/sshd.ts), which did not start: ${(err as Error).message}`, { cause: err });
    }
    try {
      await ensureDocker();
    } catch (err) {
      throw new Error(`Preflight lab test needs Docker Engine and Compose v2 in the lab (scripts/lab/docker.ts), which did not start: ${(err as Error).message}`, {
        cause: err,
      });
    }
    admin = await connectToLab(sshd, sshd.admin);
    sudoUser = await connectToLab(sshd, sshd.sudoUser);
    // A data folder both lab users can write, with a hostile-looking name inside it that exists.
    dataDir = mkdtempSync('/tmp/m2-preflight-lab-');
    chmodSync(dataDir, 0o1777);
    // The name holds a slash (/tmp/m2-pwned), so this is two nested folders; both writable by either user.
    const hostileDir = path.join(dataDir, HOSTILE_NAME);
    mkdirSync(hostileDir, { recursive: true });
    chmodSync(path.dirname(hostileDir), 0o777);
    chmodSync(hostileDir, 0o777);
    rmSync(CANARY, { force: true });
  });

  afterAll(async () => {
    await admin?.close();
    await sudoUser?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the admin (docker group) passes OS, Docker and Compose, with group access, within 10 s', async () => {
    const t0 = Date.now();
    const report = await runPreflight(admin, { dataPaths: [dataDir] }, { now: () => new Date(), user: sshd.admin.name });
    const elapsed = Date.now() - t0;

    expect(PreflightReport.parse(report)).toEqual(report);
    expect(report.dockerAccess).toEqual({ kind: 'group' });
    expect(byId(report, 'os')).toMatchObject({ status: 'pass', found: expect.stringMatching(/^Debian GNU\/Linux 1\d .* on (x86_64|aarch64)\.$/) });
    expect(byId(report, 'docker-engine')).toMatchObject({ status: 'pass', found: expect.stringMatching(/^Docker Engine \d+\.\d+/) });
    expect(byId(report, 'compose')).toMatchObject({ status: 'pass', found: expect.stringMatching(/^Docker Compose [2-9]\./) });
    expect(byId(report, 'docker-access')).toMatchObject({ status: 'pass', found: `${sshd.admin.name} can use Docker as a member of the docker group, without sudo.` });
    expect(byId(report, `disk:${dataDir}`).status).not.toBe('fail');
    // Same machine, same clock: whether timedatectl answers or not, the clock agrees.
    expect(byId(report, 'clock').status).toBe('pass');
    // The lab has no /dev/dri and no NVIDIA driver.
    expect(report.gpu).toEqual({ kind: 'none' });
    expect(byId(report, 'gpu')).toMatchObject({ status: expect.stringMatching(/^(pass|warn)$/), found: expect.stringMatching(/software transcoding/) });
    // No internet in the lab: the Cloudflare edge is not reachable, and saying so is quick.
    expect(byId(report, 'cloudflare-egress').status).not.toBe('pass');
    expect(byId(report, 'cloudflare-egress').found).toMatch(/region1\.v2\.argotunnel\.com/);
    expect(elapsed).toBeLessThan(10_000);
    expect(report.durationMs).toBeLessThan(10_000);
  });

  it("the user outside the docker group gets 'sudo' access through passwordless sudo", async () => {
    const report = await runPreflight(sudoUser, { dataPaths: [dataDir] }, { now: () => new Date(), user: sshd.sudoUser.name });
    expect(report.dockerAccess).toEqual({ kind: 'sudo' });
    expect(byId(report, 'docker-access')).toMatchObject({
      status: 'warn',
      fix: { kind: 'command', command: `sudo usermod -aG docker ${sshd.sudoUser.name}` },
    });
    // Through sudo the engine's version is still read.
    expect(byId(report, 'docker-engine')).toMatchObject({ status: 'pass' });
    expect(byId(report, 'compose').status).toBe('pass');
  });

  it('a data path that does not exist fails, naming the path', async () => {
    const missing = `${dataDir}/does-not-exist`;
    const report = await runPreflight(admin, { dataPaths: [missing] }, { now: () => new Date(), user: sshd.admin.name });
    expect(byId(report, `disk:${missing}`)).toMatchObject({
      status: 'fail',
      found: `${missing} does not exist on the server.`,
      fix: { kind: 'command', command: `sudo mkdir -p -- ${missing} && sudo chown -- ${sshd.admin.name}: ${missing}` },
    });
  });

  it('data paths with quotes, $() and backticks are only ever paths: nothing runs, and each is checked as named', async () => {
    const existing = path.join(dataDir, HOSTILE_NAME);
    rmSync(CANARY, { force: true });
    const report = await runPreflight(admin, { dataPaths: [HOSTILE, existing] }, { now: () => new Date(), user: sshd.admin.name });
    expect(existsSync(CANARY)).toBe(false);
    expect(byId(report, `disk:${HOSTILE}`)).toMatchObject({ status: 'fail', found: expect.stringMatching(/does not exist on the server\.$/) });
    expect(byId(report, `disk:${HOSTILE}`).found).toContain('$(touch /tmp/m2-pwned)');
    expect(byId(report, `disk:${existing}`).status).not.toBe('fail');
    expect(existsSync(CANARY)).toBe(false);
  });

  it('a folder the user cannot write fails, naming the user and the path', async () => {
    const report = await runPreflight(sudoUser, { dataPaths: ['/root'] }, { now: () => new Date(), user: sshd.sudoUser.name });
    expect(byId(report, 'disk:/root')).toMatchObject({ status: 'fail', found: expect.stringMatching(new RegExp(`^${sshd.sudoUser.name} cannot write to /root`)) });
  });
});
