/**
 * The Logs page's view of a server's installed stack: the live release's compose files and services (from its
 * manifest), how Docker is reached, and every secret the app keeps in the keychain for the server (generated
 * passwords, the tunnel token, API keys, device keys): all of them are masked in every line.
 */
import { AppError } from '../errors';
import type { SecretStore } from '../secrets/keychain';
import type { Secret } from '../secrets/secret';
import type { SshConnection } from '../ssh/ssh-connection';
import { layoutOf, releaseDir, resolveM2Dir } from '../stack/layout';
import { composeFilesOf, readCurrent, readManifest, type StackTarget } from '../stack/remote-release';
import type { LogsTarget } from './logs-service';

export interface StackLogsDeps {
  readonly connection: (profileId: string) => SshConnection;
  readonly dockerAccess: (profileId: string) => 'group' | 'sudo' | 'none' | undefined;
  readonly project: string;
  readonly vault: SecretStore | undefined;
}

/** Every value the keychain holds for the server. */
export async function keptSecrets(vault: SecretStore | undefined, profileId: string): Promise<Secret[]> {
  if (!vault) {
    // Without the keychain the app cannot know what to mask, so it shows nothing rather than something unmasked.
    throw new AppError('secrets.unavailable', 'The keychain is not available, so logs cannot be shown with the passwords hidden.', {
      hint: 'Unlock or install your system keychain and try again.',
    });
  }
  const values = await Promise.all((await vault.names(profileId)).map((n) => vault.get(profileId, n)));
  return values.filter((v): v is Secret => v !== undefined);
}

export function stackLogsTarget(deps: StackLogsDeps): (profileId: string) => Promise<LogsTarget> {
  const m2Dirs = new WeakMap<SshConnection, string>();
  return async (profileId) => {
    const conn = deps.connection(profileId);
    const access = deps.dockerAccess(profileId);
    if (access === 'none') {
      throw new AppError('stack.docker-unavailable', 'This SSH user cannot use Docker on the server.', {
        hint: 'Add the user to the docker group or allow passwordless sudo, then run the checks again.',
      });
    }
    const secrets = await keptSecrets(deps.vault, profileId);
    let m2Dir = m2Dirs.get(conn);
    if (m2Dir === undefined) {
      m2Dir = await resolveM2Dir(conn);
      m2Dirs.set(conn, m2Dir);
    }
    const t: StackTarget = { conn, dockerAccess: access === 'sudo' ? 'sudo' : 'group', m2Dir, profileId, project: deps.project };
    const current = await readCurrent(t);
    const manifest = current ? await readManifest(t, current) : null;
    const dir = current ? releaseDir(layoutOf(m2Dir), current) : m2Dir;
    return {
      conn,
      access: t.dockerAccess,
      files: composeFilesOf(t, dir, manifest?.envFiles ?? []),
      releaseId: current,
      services: (manifest?.services.map((s) => s.name) ?? []).sort(),
      secrets,
    };
  };
}
