/**
 * For e2e tests that install the app's stack (Compose project `m2`) on the lab server as its admin: who the admin
 * is, a folder of its home the test owns, and the clean-up that makes the next install a first one. Tests that use
 * it share project `m2` and `~/m2` and must not run at the same time (CI runs lab files one by one).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export interface AdminStack {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** Everything the test puts on the server lives under this folder of the admin's home. */
  readonly root: string;
  /** Compose project `m2` down with its volumes, the admin's release folder and the test's folder removed. */
  removeStack(): void;
  /** Folders the admin would have made on the server before choosing them (owned by the admin up to `root`). */
  makeAdminFolders(...dirs: string[]): void;
}

export function adminStack(adminName: string, folder: string): AdminStack {
  const uid = Number(execFileSync('id', ['-u', adminName], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', adminName], { encoding: 'utf8' }).trim());
  const home = execFileSync('getent', ['passwd', adminName], { encoding: 'utf8' }).split(':')[5] ?? `/home/${adminName}`;
  const root = path.join(home, folder);
  return {
    uid,
    gid,
    home,
    root,
    removeStack() {
      execFileSync('docker', ['compose', '--project-name', 'm2', 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { stdio: 'pipe', timeout: 180_000 });
      rmSync(path.join(home, 'm2'), { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    },
    makeAdminFolders(...dirs) {
      for (const d of dirs) {
        mkdirSync(d, { recursive: true });
        for (let p = d; p.startsWith(root); p = path.dirname(p)) chownSync(p, uid, gid);
      }
    },
  };
}
