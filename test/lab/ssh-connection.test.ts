import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { HostKeyStore } from '../../electron/core/ssh/host-keys';
import { SshConnection, type ConnectionState } from '../../electron/core/ssh/ssh-connection';
import { withSudo } from '../../electron/core/ssh/argv';
import { ensureSshd, sshdConnectionCount, withRegeneratedHostKey, type LabSshd } from '../../scripts/lab/sshd';
import { run, waitFor } from '../../scripts/lab/process';
import { connectToLab, freshHostKeys, keyAuth } from '../support/ssh';

describe('one SSH connection to the lab server', () => {
  let sshd: LabSshd;
  let conn: SshConnection;
  const canary = path.join(os.tmpdir(), `m2-canary-${process.pid}`);

  beforeAll(async () => {
    sshd = await ensureSshd();
    conn = await connectToLab(sshd);
  });
  afterAll(async () => {
    await conn?.close();
    rmSync(canary, { force: true });
  });

  it('on first contact asks to confirm the SHA256 fingerprint, stores it only when confirmed, then trusts it', async () => {
    const store = freshHostKeys();
    const c = new SshConnection({ target: { host: sshd.host, port: sshd.port, username: sshd.admin.name }, auth: keyAuth(sshd.admin), hostKeys: store });
    expect(await c.connect()).toEqual({ kind: 'confirm-host-key', fingerprint: sshd.hostKeyFingerprint, keyType: 'ssh-ed25519' });
    expect(await c.connect({ acceptFingerprint: 'SHA256:someone-elses-key' })).toMatchObject({ kind: 'confirm-host-key' });
    expect(await store.entries()).toEqual([]);
    expect(await c.connect({ acceptFingerprint: sshd.hostKeyFingerprint })).toEqual({ kind: 'connected', fingerprint: sshd.hostKeyFingerprint });
    await c.close();
    const again = new SshConnection({ target: { host: sshd.host, port: sshd.port, username: sshd.admin.name }, auth: keyAuth(sshd.admin), hostKeys: store });
    expect(await again.connect()).toMatchObject({ kind: 'connected' });
    await again.close();
  });

  it('carries any argument byte-for-byte to the server as one argument, and nothing executes', { timeout: 180_000 }, async () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom('$(touch CANARY)', '`touch CANARY`', "'; touch CANARY; '", '"; touch CANARY; "', '\ntouch CANARY\n', '$((1+1))', '${HOME}', '* ?', '\\', '-rf', '--', '☃ 日本 🏠'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(hostile.map((s) => s.replaceAll('CANARY', canary).replaceAll('\0', '')), { minLength: 1, maxLength: 3 }), async (args) => {
        const r = await conn.exec(['printf', '%s\\0', ...args]);
        expect(r.code).toBe(0);
        expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
      }),
      { numRuns: 120 },
    );
    expect(existsSync(canary)).toBe(false);
  });

  it('streams output, reports the exit code, feeds stdin, and stops on timeout or cancel', async () => {
    const chunks: string[] = [];
    const r = await conn.exec(['sh', '-c', 'echo one; echo two >&2; exit 3'], { onStdout: (d) => chunks.push(d.toString()) });
    expect(r).toMatchObject({ code: 3, stdout: 'one\n', stderr: 'two\n' });
    expect(chunks.join('')).toBe('one\n');
    expect((await conn.exec(['cat'], { stdin: 'secret via stdin\n' })).stdout).toBe('secret via stdin\n');
    const t0 = Date.now();
    await expect(conn.exec(['sleep', '30'], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ssh.command-timeout' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(conn.exec(['sleep', '30'], { signal: ac.signal })).rejects.toMatchObject({ code: 'ssh.cancelled' });
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The stopped commands were killed on the server too, not left running (other sleeps of the admin, e.g. a
    // status agent's timer, are not ours).
    await waitFor('the stopped sleeps to be gone on the server', async () => (await conn.exec(['pgrep', '-u', sshd.admin.name, '-f', '^sleep 30$'])).code === 1, 5_000);
  });

  it('writes files atomically over SFTP with the requested mode and a verified checksum', async () => {
    const dir = (await conn.exec(['mktemp', '-d'])).stdout.trim();
    const file = `${dir}/app.env`;
    await conn.writeFileAtomic(file, 'OLD=1\n', { mode: 0o600 });
    const { sha256 } = await conn.writeFileAtomic(file, 'SECRET=hunter2\n', { mode: 0o600 });
    expect((await conn.exec(['stat', '-c', '%a %U', file])).stdout.trim()).toBe(`600 ${sshd.admin.name}`);
    expect((await conn.readFile(file)).toString()).toBe('SECRET=hunter2\n');
    expect((await conn.exec(['sha256sum', file])).stdout.split(' ')[0]).toBe(sha256);
    expect((await conn.exec(['ls', '-A', dir])).stdout.trim()).toBe('app.env');
    await expect(conn.writeFileAtomic(`${dir}/missing/app.env`, 'x')).rejects.toMatchObject({ code: 'ssh.sftp-failed' });
    expect((await conn.readFile(file)).toString()).toBe('SECRET=hunter2\n');
    await conn.exec(['rm', '-rf', dir]);
  });

  it('forwards a local port to a service that listens only on the server', async () => {
    const server: Server = createServer((_req, res) => res.end('inside the server'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const fwd = await conn.forward('127.0.0.1', port);
    const body = await (await fetch(`http://127.0.0.1:${fwd.port}/`)).text();
    expect(body).toBe('inside the server');
    await fwd.close();
    server.close();
  });

  it('uses one TCP connection however many calls run at once', async () => {
    const before = sshdConnectionCount(sshd.logPath);
    const c = await connectToLab(sshd, sshd.admin, await freshHostKeysTrusting());
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => c.exec(['echo', String(i)])));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    await Promise.all([c.writeFileAtomic('/tmp/m2-one-conn', 'x'), c.exec(['true']), c.readFile('/etc/hostname')]);
    await c.close();
    expect(sshdConnectionCount(sshd.logPath) - before).toBe(1);
  });

  it('reconnects by itself after the connection is cut, with backoff, and keeps working', async () => {
    const c = new SshConnection({
      target: { host: sshd.host, port: sshd.port, username: sshd.admin.name },
      auth: keyAuth(sshd.admin),
      hostKeys: await freshHostKeysTrusting(),
      backoff: { baseMs: 100, maxMs: 1_000 },
      keepaliveIntervalMs: 500,
    });
    expect(await c.connect()).toMatchObject({ kind: 'connected' });
    const states: ConnectionState['kind'][] = [];
    c.on('state', (s) => states.push(s.kind));
    // Kill this connection's own sshd session process (its shell's parent): the TCP connection drops.
    await c.exec(['sh', '-c', 'kill -9 $PPID']).catch(() => undefined);
    await waitFor('the connection to come back', () => c.state.kind === 'connected' && states.includes('reconnecting'), 15_000);
    expect((await c.exec(['echo', 'back'])).stdout).toBe('back\n');
    expect(states).toContain('reconnecting');
    await c.close();
  });

  it('moves onto another address with redial: a command in flight fails at once instead of hanging, the next one runs there', async () => {
    const c = new SshConnection({
      target: { host: sshd.host, port: sshd.port, username: sshd.admin.name },
      auth: keyAuth(sshd.admin),
      hostKeys: await freshHostKeysTrusting(),
      backoff: { baseMs: 50, maxMs: 200 },
    });
    expect(await c.connect()).toMatchObject({ kind: 'connected' });
    // No timeout: only the transport going away can end it. Its outcome is taken at once (it settles during redial).
    const inFlight = c.exec(['sleep', '60']).then(
      (r) => ({ resolved: r }),
      (e: unknown) => ({ rejected: e }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    expect(await c.redial(10_000)).toBe(true);
    expect(await inFlight).toMatchObject({ rejected: { code: 'ssh.disconnected' } });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await c.exec(['echo', 'moved'])).stdout).toBe('moved\n');
    await c.close();
  }, 30_000);

  it('keeps working after many redials: the SFTP session and live channels give their slots back with the transport', async () => {
    const c = new SshConnection({
      target: { host: sshd.host, port: sshd.port, username: sshd.admin.name },
      auth: keyAuth(sshd.admin),
      hostKeys: await freshHostKeysTrusting(),
      backoff: { baseMs: 50, maxMs: 200 },
      // Few slots, so a slot lost per redial shows within a few rounds.
      maxSessions: 3,
    });
    expect(await c.connect()).toMatchObject({ kind: 'connected' });
    // Bounded: a connection whose slots are all lost waits forever for one.
    const within = <T,>(p: Promise<T>, what: string): Promise<T> =>
      Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in 15 s: the connection ran out of session slots`)), 15_000))]);
    for (let i = 0; i < 6; i++) {
      // An SFTP write (the session stays open) and a long-lived channel, then the transport goes.
      await within(c.writeFileAtomic(`/tmp/m2-redial-${process.pid}`, String(i)), `write ${i}`);
      const live = await within(c.spawn(['sleep', '30']), `spawn ${i}`);
      expect(await c.redial(10_000)).toBe(true);
      live.channel.destroy();
      expect((await within(c.exec(['echo', String(i)]), `exec ${i}`)).stdout).toBe(`${i}\n`);
    }
    expect((await within(c.readFile(`/tmp/m2-redial-${process.pid}`), 'read')).toString()).toBe('5');
    await c.exec(['rm', '-f', `/tmp/m2-redial-${process.pid}`]);
    await c.close();
  }, 120_000);

  it('runs docker directly for the admin, and through sudo -n for the user outside the docker group', async () => {
    expect((await conn.exec(['docker', 'info', '--format', '{{.ServerVersion}}'])).code).toBe(0);
    const sudoConn = await connectToLab(sshd, sshd.sudoUser, await freshHostKeysTrusting());
    const direct = await sudoConn.exec(['docker', 'info', '--format', '{{.ServerVersion}}']);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toMatch(/permission denied/i);
    expect((await sudoConn.exec(withSudo(['docker', 'info', '--format', '{{.ServerVersion}}']))).code).toBe(0);
    await sudoConn.close();
  });

  it('signs in with a key held by an SSH agent, and explains an agent that has no keys', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-agent-'));
    const sock = path.join(dir, 'agent.sock');
    const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await waitFor('ssh-agent socket', () => existsSync(sock), 5_000);
      const target = { host: sshd.host, port: sshd.port, username: sshd.admin.name };
      const empty = new SshConnection({ target, auth: { kind: 'agent', agent: sock }, hostKeys: await freshHostKeysTrusting() });
      await expect(empty.connect()).rejects.toMatchObject({ code: 'ssh.auth-failed', hint: expect.stringMatching(/agent/) });
      await run('ssh-add', [sshd.admin.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      const viaAgent = new SshConnection({ target, auth: { kind: 'agent', agent: sock }, hostKeys: await freshHostKeysTrusting() });
      expect(await viaAgent.connect()).toMatchObject({ kind: 'connected' });
      await viaAgent.close();
    } finally {
      agent.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains a wrong port, a refused key and an unknown host name, each on its own', async () => {
    const target = { host: sshd.host, port: sshd.port, username: sshd.admin.name };
    const refused = new SshConnection({ target: { ...target, port: 1 }, auth: keyAuth(sshd.admin), hostKeys: freshHostKeys() });
    await expect(refused.connect()).rejects.toMatchObject({ code: 'ssh.unreachable', field: 'port' });
    const wrongKey = new SshConnection({ target, auth: keyAuth(sshd.sudoUser), hostKeys: await freshHostKeysTrusting() });
    await expect(wrongKey.connect()).rejects.toMatchObject({ code: 'ssh.auth-failed' });
    const noName = new SshConnection({ target: { ...target, host: 'no-such-host.invalid' }, auth: keyAuth(sshd.admin), hostKeys: freshHostKeys() });
    await expect(noName.connect()).rejects.toMatchObject({ code: 'ssh.unknown-host', field: 'host' });
  });

  it('refuses a changed host key, showing both fingerprints, and changes nothing', async () => {
    const store = await freshHostKeysTrusting();
    const oldFingerprint = sshd.hostKeyFingerprint;
    await withRegeneratedHostKey(async (fresh) => {
      expect(fresh.hostKeyFingerprint).not.toBe(oldFingerprint);
      const c = new SshConnection({ target: { host: sshd.host, port: sshd.port, username: sshd.admin.name }, auth: keyAuth(sshd.admin), hostKeys: store });
      expect(await c.connect()).toEqual({ kind: 'host-key-changed', fingerprint: fresh.hostKeyFingerprint, expected: [oldFingerprint], keyType: 'ssh-ed25519' });
      // Accepting on first-contact terms does not override a change.
      expect(await c.connect({ acceptFingerprint: fresh.hostKeyFingerprint })).toMatchObject({ kind: 'host-key-changed' });
      expect(await store.entries()).toHaveLength(1);
    });
    // The original key is back: the stored one is trusted again.
    expect((await ensureSshd()).hostKeyFingerprint).toBe(oldFingerprint);
  });

  /** A store that already trusts the lab's current host key (as after a confirmed first contact). */
  async function freshHostKeysTrusting(): Promise<HostKeyStore> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'm2-hostkeys-'));
    const store = new HostKeyStore(path.join(dir, 'known-hosts.json'));
    const blob = Buffer.from(readFileSync(`${sshd.hostKeyPath}.pub`, 'utf8').split(/\s+/)[1] ?? '', 'base64');
    await store.trust(sshd.host, sshd.port, blob);
    return store;
  }
});
