import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createDataFolders } from '../../electron/core/stack/preconditions';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { ensureSshd, type LabSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';

/** The data folders an install creates on the server, created by the real command as the lab's admin over SSH. */
describe('data folders the app creates on the server (lab sshd)', () => {
  let sshd: LabSshd;
  let conn: SshConnection;
  let root: string;
  const pwned = '/tmp/m2-data-folders-pwned';

  beforeAll(async () => {
    sshd = await ensureSshd();
    const home = execFileSync('getent', ['passwd', sshd.admin.name], { encoding: 'utf8' }).split(':')[5] ?? '';
    root = path.join(home, 'm2-lab-data-folders');
    rmSync(root, { recursive: true, force: true });
    rmSync(pwned, { force: true });
    conn = await connectToLab(sshd);
  });

  afterAll(async () => {
    await conn?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('are readable by the SSH user only, parents included; a folder the admin made keeps its mode; names stay names', async () => {
    // The admin's own folder, open to everyone, chosen as the data root.
    const own = path.join(root, 'srv');
    mkdirSync(own, { recursive: true, mode: 0o755 });
    const id = (flag: string): number => Number(execFileSync('id', [flag, sshd.admin.name], { encoding: 'utf8' }).trim());
    const uid = id('-u');
    for (const p of [root, own]) chownSync(p, uid, id('-g'));
    const hostile = path.join(own, `$(touch ${pwned}) "q" 'x'`, 'db');
    const made = [path.join(own, 'nextcloud', 'db'), path.join(own, 'jellyfin', 'config'), hostile];

    const r = await conn.exec(createDataFolders(made));
    expect(r).toMatchObject({ code: 0, stderr: '' });

    for (const d of [...made, path.join(own, 'nextcloud'), path.join(own, 'jellyfin'), path.dirname(hostile)]) {
      expect({ d, mode: (statSync(d).mode & 0o777).toString(8), uid: statSync(d).uid }).toEqual({ d, mode: '700', uid });
    }
    expect((statSync(own).mode & 0o777).toString(8)).toBe('755');
    expect(existsSync(pwned)).toBe(false);

    // Another account on the server cannot look inside.
    const other = await conn.exec(['ls', '--', path.join(own, 'nextcloud')]);
    expect(other.code).toBe(0);
    expect(() => execFileSync('runuser', ['-u', 'nobody', '--', 'ls', '--', path.join(own, 'nextcloud')], { stdio: 'pipe' })).toThrow(/Permission denied/);
  });

  it('creating them again changes nothing', async () => {
    const d = path.join(root, 'srv', 'nextcloud', 'db');
    const before = statSync(d);
    expect((await conn.exec(createDataFolders([d]))).code).toBe(0);
    expect(statSync(d).mode).toBe(before.mode);
  });
});
