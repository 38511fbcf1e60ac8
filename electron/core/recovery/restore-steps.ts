/**
 * How to restore the stack from its restic repository by hand, written for the recovery kit: the admin types these
 * on the server, perhaps with the app gone. Commands are argv turned into text by the one quoting function, so a
 * path with spaces or quotes prints as a command that still means that path. restic facts: stack-facts §7,
 * fallback-and-day2-facts §8 (restore --target, paths as stored, plain SQL dumps).
 */
import type { KitStep } from '../../contract/recovery';
import type { StackSettings } from '../../contract/stack';
import { andThen, toShell, type Argv } from '../ssh/argv';
import { authentikDb } from '../stack/modules/authentik';
import { backupHostname, backupSources } from '../stack/modules/backup';
import { nextcloudDb } from '../stack/modules/nextcloud';

export interface RestoreFacts {
  readonly settings: StackSettings;
  /** The restic image the stack runs (the pinned table's reference), e.g. restic/restic:0.19.1. */
  readonly resticImage: string;
  /** The Compose project ('m2'). */
  readonly project: string;
  /** Where the repository password is kept on this computer, in words ("keychain m2-companion, account …"). */
  readonly passwordAt: string;
}

/** The folder a restore writes into: next to the data folder, never over it. */
export const restoreTarget = (s: StackSettings): string => {
  const base = s.dataRoot.replace(/\/+$/, '');
  return base === '' ? '/m2-restore' : `${base}-restore`;
};

/** restic in its own container with the repository mounted; it asks for the password (never on a command line). */
const restic = (f: RestoreFacts, extraMounts: readonly string[], args: readonly string[]): Argv => [
  'sudo',
  'docker',
  'run',
  '--rm',
  '-it',
  '-v',
  `${f.settings.modules.backup.repository}:/repo`,
  ...extraMounts.flatMap((m) => ['-v', m]),
  '-e',
  'RESTIC_REPOSITORY=/repo',
  f.resticImage,
  ...args,
];

/** The folders a snapshot holds (under /source) and the server folders they came from. */
export const snapshotFolders = (s: StackSettings): Array<{ inSnapshot: string; onServer: string }> =>
  backupSources(s).map(([name, dir]) => ({ inSnapshot: `/source/${name}`, onServer: dir }));

export function restoreSteps(f: RestoreFacts): KitStep[] {
  const s = f.settings;
  const target = restoreTarget(s);
  const compose = (...args: string[]): Argv => ['sudo', 'docker', 'compose', '--project-name', f.project, ...args];
  const steps: KitStep[] = [
    {
      title: 'List the snapshots',
      detail: `restic asks for the repository password: type the one kept in ${f.passwordAt}. (Leave out “sudo” if your user is in the docker group.)`,
      command: toShell(restic(f, [], ['snapshots', '--host', backupHostname])),
    },
    {
      title: 'Restore the latest snapshot into a new folder',
      detail: `Nothing in use is overwritten: the files land in ${target}. Put a snapshot id in place of “latest” to go further back.`,
      command: toShell(restic(f, [`${target}:/restore`], ['restore', 'latest', '--host', backupHostname, '--target', '/restore'])),
    },
    { title: 'Stop the services', detail: null, command: toShell(compose('stop')) },
  ];
  for (const folder of snapshotFolders(s)) {
    // cp from coreutils, not rsync: a minimal Debian or Ubuntu server has no rsync (the lab's had none either).
    steps.push({
      title: `Put back ${folder.onServer}`,
      detail: 'Replaces the folder with the snapshot’s copy (owners and modes kept).',
      command: andThen(['sudo', 'rm', '-rf', '--', folder.onServer], ['sudo', 'cp', '-a', '--', `${target}${folder.inSnapshot}`, folder.onServer]),
    });
  }
  const databases = [
    ...(s.modules.nextcloud.enabled ? [{ title: 'Nextcloud', dump: 'nextcloud', ...nextcloudDb }] : []),
    ...(s.modules.authentik.enabled ? [{ title: 'Authentik', dump: 'authentik', ...authentikDb }] : []),
  ];
  for (const db of databases) {
    steps.push(
      { title: `Start ${db.title}’s database alone`, detail: null, command: toShell(compose('start', db.host)) },
      {
        title: `Empty ${db.title}’s database`,
        detail: null,
        command: toShell(compose('exec', '-T', db.host, 'psql', '-U', db.user, '-d', 'postgres', '-c', `DROP DATABASE ${db.name} WITH (FORCE)`, '-c', `CREATE DATABASE ${db.name} OWNER ${db.user}`)),
      },
      {
        title: `Load ${db.title}’s database from the snapshot’s dump`,
        detail: `The dump is plain SQL at ${target}/m2/dumps/${db.dump}.sql.`,
        command: `${toShell(compose('exec', '-T', db.host, 'psql', '-U', db.user, '-d', db.name))} < ${toShell([`${target}/m2/dumps/${db.dump}.sql`])}`,
      },
    );
  }
  steps.push(
    { title: 'Start the services again', detail: 'Then open each service and check your files, photos and sign-ins are there.', command: toShell(compose('start')) },
    {
      title: 'Tidy up',
      detail: `When everything works, remove the restored copy (it holds private data).`,
      command: toShell(['sudo', 'rm', '-rf', '--', target]),
    },
  );
  return steps;
}
