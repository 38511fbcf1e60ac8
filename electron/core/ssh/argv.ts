/**
 * Remote commands are data: builders return argv arrays, and this one function turns an argv into the
 * command line the server's shell reads. User input never meets string concatenation anywhere else.
 */
export type Argv = readonly string[];

/**
 * POSIX single-quote one argument: everything between single quotes is literal to sh, bash, dash and
 * busybox; a single quote itself is closed, escaped and reopened ('\''). NUL cannot be carried in an
 * argument at all, so it is refused rather than silently truncated.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new TypeError('a command argument cannot contain a NUL character');
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The one way an argv becomes a remote command line. */
export const toShell = (argv: Argv): string => {
  if (argv.length === 0) throw new TypeError('an empty command cannot be run');
  return argv.map(shellQuote).join(' ');
};

/** Run argv only when `probe` succeeds, as one command line: `probe && argv`. Both quoted. */
export const andThen = (probe: Argv, argv: Argv): string => `${toShell(probe)} && ${toShell(argv)}`;

/** Prefix for a user outside the docker group with passwordless sudo: never prompts (-n). */
export const withSudo = (argv: Argv): Argv => ['sudo', '-n', '--', ...argv];

