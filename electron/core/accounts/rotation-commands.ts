/**
 * The commands a rotation runs inside the stack's containers, as argv (STYLE.md §3). A value never appears in an
 * argv: it is the command's standard input, read by a constant `sh` script into the variable the tool itself reads
 * (OC_PASS for `occ … --password-from-env`, REDISCLI_AUTH for `redis-cli`), or an SQL statement read by `psql` from
 * standard input. Names (users, roles, databases) are the app's own or validated settings, and are single
 * arguments; the scripts are constants and take them as "$1".
 */
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';

/** A role, user or database name the SQL and commands below accept: the stack's own are lower-case words. */
const SQL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `psql` in the database container over its local socket (trusted by the official image's pg_hba.conf), SQL on stdin. */
export const psqlArgv = (container: string, role: string, db: string): Argv => {
  if (!SQL_NAME.test(role) || !SQL_NAME.test(db)) throw new TypeError(`not a database or role name: ${JSON.stringify(role)} ${JSON.stringify(db)}`);
  return ['docker', 'exec', '--interactive', '--user', 'postgres', container, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', role, '-d', db];
};

/** SQL literal of a value (standard_conforming_strings: a quote is doubled, nothing else is special). */
const sqlLiteral = (v: string): string => {
  if (/[\0\n\r]/.test(v)) throw new TypeError('a password with control characters is not accepted');
  return `'${v.replace(/'/g, "''")}'`;
};

/** `ALTER ROLE … PASSWORD …;` for psql's standard input. The value is never on a command line. */
export function alterRoleSql(role: string, password: Secret): string {
  if (!SQL_NAME.test(role)) throw new TypeError(`not a role name: ${JSON.stringify(role)}`);
  return `ALTER ROLE "${role}" WITH PASSWORD ${sqlLiteral(password.reveal())};\n`;
}

/** Reads the first line of stdin into OC_PASS, then `occ user:resetpassword --password-from-env <user>` (stack-facts §6: occ as www-data). */
export const OCC_RESET_SCRIPT = 'IFS= read -r OC_PASS && export OC_PASS && exec php occ --no-interaction user:resetpassword --password-from-env "$1"';

export const occResetPasswordArgv = (container: string, user: string): Argv => {
  // Settings allow letters, digits and _ . @ -; one that starts with '-' would read as an option to occ.
  if (!/^[a-zA-Z0-9_.@-]{1,64}$/.test(user) || user.startsWith('-')) {
    throw new AppError('accounts.not-rotatable', `Nextcloud admin user: “${user}” cannot be passed to Nextcloud’s occ safely.`, {
      field: 'modules.nextcloud.adminUser',
      hint: 'Use a user name that starts with a letter or digit.',
    });
  }
  return ['docker', 'exec', '--interactive', '--user', 'www-data', container, 'sh', '-c', OCC_RESET_SCRIPT, 'sh', user];
};

/** Reads the first line of stdin into REDISCLI_AUTH (redis-cli's own variable), then `redis-cli ping`. */
export const REDIS_PING_SCRIPT = 'IFS= read -r REDISCLI_AUTH && export REDISCLI_AUTH && exec redis-cli --no-auth-warning ping';

export const redisPingArgv = (container: string): Argv => ['docker', 'exec', '--interactive', container, 'sh', '-c', REDIS_PING_SCRIPT];

/** The value as one line of standard input. */
export const stdinLine = (value: Secret): string => {
  const v = value.reveal();
  if (/[\0\n\r]/.test(v)) throw new TypeError('a value with line breaks cannot be passed as one line');
  return `${v}\n`;
};
