/**
 * Password on first contact only (DESIGN.md §3): generate an ed25519 key pair on the laptop, keep the
 * private half in a 0600 file, and add the public half to the server's ~/.ssh/authorized_keys, so
 * every later connection uses the key.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
// ssh2 is CommonJS: Node's ESM loader cannot name its exports.
import ssh2 from 'ssh2';
import { AppError } from '../errors';
import { writeFileAtomic } from '../fs/atomic-write';
import { Secret } from '../secrets/secret';
import { fingerprintSha256, keyTypeOf } from './host-keys';
import type { Argv } from './argv';
import { runChecked } from './remote-command';
import type { SshConnection } from './ssh-connection';

const { utils } = ssh2;

export interface GeneratedKeyPair {
  /** OpenSSH-format private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), encrypted when a passphrase was given. */
  readonly privateKey: Secret;
  /** One authorized_keys line: `ssh-ed25519 AAAA… comment`. */
  readonly publicKey: string;
  readonly fingerprint: string;
}

const COMMENT = /^[\p{L}\p{N}@._+:=-]{1,100}$/u;

/** A fresh ed25519 key pair. The comment (e.g. `m2-companion@laptop`) ends up in authorized_keys. */
export function generateEd25519KeyPair(comment: string, opts: { passphrase?: Secret } = {}): GeneratedKeyPair {
  if (!COMMENT.test(comment)) {
    throw new AppError('internal', 'A key comment may hold only letters, digits and @ . _ + : = -.', { hint: 'This is a bug: the app chooses the comment.' });
  }
  const pair = utils.generateKeyPairSync('ed25519', {
    comment,
    ...(opts.passphrase ? { passphrase: opts.passphrase.reveal(), cipher: 'aes256-ctr', rounds: 16 } : {}),
  });
  const publicKey = pair.public.trim();
  return { privateKey: new Secret(pair.private), publicKey, fingerprint: publicKeyFingerprint(publicKey) };
}

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** Check one public key line (no options, no line breaks; the blob really is a key of the stated type). */
export function parsePublicKeyLine(line: string): { keyType: string; blob: Buffer; comment: string } {
  const bad = (why: string): AppError => new AppError('ssh.key-unreadable', `This is not a public key M2 Companion can install: ${why}.`, { field: 'publicKey' });
  if (/[\0\r\n]/.test(line)) throw bad('it spans more than one line');
  const [keyType = '', b64 = '', ...rest] = line.trim().split(/[ \t]+/);
  if (!KEY_TYPES.test(keyType)) throw bad(`unknown key type ${JSON.stringify(keyType.slice(0, 40))}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw bad('the key is not base64');
  const blob = Buffer.from(b64, 'base64');
  if (keyTypeOf(blob) !== keyType) throw bad('the key does not match its type');
  return { keyType, blob, comment: rest.join(' ') };
}

export const publicKeyFingerprint = (line: string): string => fingerprintSha256(parsePublicKeyLine(line).blob);

/** Does an authorized_keys line (perhaps with options before the key) carry this key? */
function lineHasKey(line: string, keyType: string, b64: string): boolean {
  const tokens = line.trim().split(/[ \t]+/);
  return tokens.some((t, i) => t === keyType && tokens[i + 1] === b64);
}

// SFTP paths are relative to the home folder; writeFileAtomic takes `~/` for the same place.
const AUTHORIZED_KEYS = '.ssh/authorized_keys';

/** What installing needs of a connection (an SshConnection; a local stand-in in unit tests). */
export type KeyInstallTarget = Pick<SshConnection, 'exec' | 'readFile' | 'writeFileAtomic'>;

async function mustSucceed(conn: KeyInstallTarget, argv: Argv, what: string, okCodes: readonly number[] = [0]): Promise<number> {
  const r = await runChecked(
    conn,
    argv,
    { code: 'ssh.sftp-failed', message: (said) => `Could not ${what} on the server: ${said}.`, hint: 'Check that your home folder on the server exists and is writable by you.' },
    { ok: okCodes, exec: { timeoutMs: 20_000 } },
  );
  return r.code ?? 0;
}

/**
 * Add a public key to the connected user's ~/.ssh/authorized_keys: idempotent (a key already there,
 * with or without options, is left alone), ~/.ssh created 0700 and the file 0600 when missing,
 * existing lines kept as they are, the new file written atomically over SFTP (never in argv).
 */
export async function installAuthorizedKey(conn: KeyInstallTarget, publicKeyLine: string): Promise<'added' | 'present'> {
  const { keyType, blob } = parsePublicKeyLine(publicKeyLine);
  const b64 = blob.toString('base64');

  // -m applies to the folder mkdir creates; an existing ~/.ssh keeps its mode.
  await mustSucceed(conn, ['mkdir', '-p', '-m', '700', '--', '.ssh'], 'create ~/.ssh');
  const exists = (await mustSucceed(conn, ['test', '-e', AUTHORIZED_KEYS], 'look for ~/.ssh/authorized_keys', [0, 1])) === 0;
  const current = exists ? (await conn.readFile(AUTHORIZED_KEYS)).toString('utf8') : '';
  if (current.split('\n').some((l) => !l.trim().startsWith('#') && lineHasKey(l, keyType, b64))) return 'present';

  const next = `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${publicKeyLine.trim()}\n`;
  await conn.writeFileAtomic(`~/${AUTHORIZED_KEYS}`, next, { mode: 0o600 });
  return 'added';
}

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Write a key pair on the laptop: `<dir>/<name>` (private, 0600) and `<dir>/<name>.pub` (0644), each
 * atomically. An existing, different key of that name is never overwritten: it may be in use elsewhere.
 */
export async function saveKeyPair(dir: string, name: string, pair: GeneratedKeyPair): Promise<{ privateKeyPath: string; publicKeyPath: string }> {
  if (!KEY_NAME.test(name) || name.endsWith('.pub')) {
    throw new AppError('internal', 'A key file name may hold only letters, digits, dots, dashes and underscores.', { hint: 'This is a bug: the app chooses the name.' });
  }
  const privateKeyPath = path.join(dir, name);
  const publicKeyPath = `${privateKeyPath}.pub`;
  const existing = await readFile(privateKeyPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new AppError('storage.failed', `Could not check ${privateKeyPath}: ${err.message}.`, { cause: err });
  });
  if (existing !== undefined && existing !== pair.privateKey.reveal()) {
    throw new AppError('storage.failed', `A different key already exists at ${privateKeyPath}.`, { hint: 'Move it aside, or choose another name.' });
  }
  try {
    await writeFileAtomic(privateKeyPath, pair.privateKey.reveal(), { mode: 0o600 });
    await writeFileAtomic(publicKeyPath, `${pair.publicKey}\n`, { mode: 0o644 });
  } catch (err) {
    throw new AppError('storage.failed', `Could not save the new key in ${dir}: ${(err as Error).message}.`, { cause: err, hint: 'Check that the folder is writable.' });
  }
  return { privateKeyPath, publicKeyPath };
}

/** The key pair the app generates for a server profile: `<keysDir>/<profile>_ed25519` (and `.pub`). */
export const generatedKeyName = (profileId: string): string => `${profileId}_ed25519`;

/**
 * Delete a key pair the app generated (`<dir>/<name>` and `.pub`); true when a file was there. Only ever called with
 * the app's own folder and name: a key file the admin chose is theirs and is never deleted.
 */
export async function removeKeyPair(dir: string, name: string): Promise<boolean> {
  if (!KEY_NAME.test(name) || name.endsWith('.pub')) {
    throw new AppError('internal', 'A key file name may hold only letters, digits, dots, dashes and underscores.', { hint: 'This is a bug: the app chooses the name.' });
  }
  const privateKeyPath = path.join(dir, name);
  const results = await Promise.all(
    [privateKeyPath, `${privateKeyPath}.pub`].map((p) =>
      rm(p).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw new AppError('storage.failed', `Could not delete the generated key ${p}: ${err.message}.`, { cause: err, hint: 'Check that the app data folder is writable, then remove the server again.' });
        },
      ),
    ),
  );
  return results.some(Boolean);
}
