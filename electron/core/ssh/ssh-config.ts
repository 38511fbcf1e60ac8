/**
 * Import server profiles from the user's OpenSSH client config (~/.ssh/config), DESIGN.md §3.
 *
 * The config is read, never executed: `Match` blocks (which can run commands with `Match exec`) and
 * host-name canonicalisation (which runs DNS look-ups) are taken out before the `ssh-config` package
 * computes each alias's effective values, so importing is a pure function of the files' text.
 */
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SSHConfig, { LineType, type Directive, type Line } from 'ssh-config';
import { ProfileInput } from '../../contract/profiles';

export interface SshConfigContext {
  /** The local home folder: `~`, `%d`, and the base of relative paths. */
  readonly homeDir: string;
  /** The local login name: `%u`, and the remote user when the config names none (as OpenSSH does). */
  readonly localUser: string;
}

/** How Include reaches the disk; injected so that parsing stays testable without one. */
export interface ConfigFileReader {
  /** The file's text, or undefined when it does not exist. May throw for other failures. */
  readFile(file: string): Promise<string | undefined>;
  /** The names in a folder, or undefined when it does not exist. */
  readDir(dir: string): Promise<readonly string[] | undefined>;
}

export type ImportedAuth = { readonly kind: 'key'; readonly keyPath: string } | { readonly kind: 'agent' };

export interface SshConfigCandidate {
  /** The `Host` alias as written in the config. */
  readonly alias: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly auth: ImportedAuth;
  /** Recorded for later; connecting through a jump host is not supported yet (see warnings). */
  readonly proxyJump?: string;
  readonly identitiesOnly: boolean;
  /** What the admin should know about this alias before using it (unsupported options, guesses made). */
  readonly warnings: readonly string[];
}

export interface SshConfigImport {
  readonly candidates: readonly SshConfigCandidate[];
  /** About the file as a whole, and aliases that could not be imported (each names the alias and field). */
  readonly warnings: readonly string[];
}

/** OpenSSH's READCONF_MAX_DEPTH. */
const MAX_INCLUDE_DEPTH = 16;
const MAX_FILE_BYTES = 1024 * 1024;

/** A value quoted for a message, short enough to read and with control characters made visible. */
const shown = (v: string): string => JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);

const SECTION = /^\s*(host|match)(\s*=\s*|\s+)/i;
const INCLUDE = /^\s*include(?:\s*=\s*|\s+)(.*)$/i;

/** Split an Include argument list the way OpenSSH's argv_split does: spaces separate, double quotes group, `#` starts a comment. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (inQuote) {
      if (c === '"') inQuote = false;
      else cur += c;
    } else if (c === '"') {
      inQuote = true;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '#' && !cur && !has) {
      break;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

const expandTilde = (p: string, homeDir: string): string =>
  p === '~' ? homeDir : p.startsWith('~/') ? path.join(homeDir, p.slice(2)) : p;

const isGlob = (segment: string): boolean => /[*?[]/.test(segment);

/** glob(3) for one path segment: `*`, `?`, `[...]`; a leading dot is matched only by a literal dot. */
function segmentMatcher(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${segment.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

/** Expand a glob over the injected reader, sorted like glob(3); a pattern without wildcards names itself. */
async function expandGlob(pattern: string, files: ConfigFileReader): Promise<string[]> {
  const root = path.parse(pattern).root;
  const segments = pattern.slice(root.length).split(/[\\/]+/).filter(Boolean);
  let bases = [root];
  for (const seg of segments) {
    if (!isGlob(seg)) {
      bases = bases.map((b) => path.join(b, seg));
      continue;
    }
    const re = segmentMatcher(seg);
    const next: string[] = [];
    for (const b of bases) {
      const names = (await files.readDir(b)) ?? [];
      for (const n of [...names].sort()) if (re.test(n)) next.push(path.join(b, n));
    }
    bases = next;
  }
  return bases;
}

/**
 * Splice Include'd files into the text, as OpenSSH reads them: relative paths from ~/.ssh, globs in
 * lexical order, at most 16 deep. After an included file that opens its own Host sections, the
 * section that held the Include is re-opened, since OpenSSH restores it when the file ends.
 */
export async function expandIncludes(
  text: string,
  ctx: SshConfigContext,
  files: ConfigFileReader,
): Promise<{ readonly text: string; readonly warnings: readonly string[] }> {
  const warnings: string[] = [];
  const sshDir = path.join(ctx.homeDir, '.ssh');

  const expand = async (body: string, where: string, depth: number): Promise<string> => {
    const out: string[] = [];
    let header: string | undefined;
    for (const line of body.split(/\r?\n/)) {
      if (SECTION.test(line)) header = line.trim();
      const inc = INCLUDE.exec(line);
      if (!inc) {
        out.push(line);
        continue;
      }
      if (depth >= MAX_INCLUDE_DEPTH) {
        warnings.push(`${where}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?); the rest was not read.`);
        continue;
      }
      let included = '';
      for (const arg of splitArgs(inc[1] ?? '')) {
        const expanded = expandTilde(arg, ctx.homeDir);
        const pattern = path.isAbsolute(expanded) ? expanded : path.join(sshDir, expanded);
        let matches: string[];
        try {
          matches = await expandGlob(pattern, files);
        } catch (err) {
          warnings.push(`${where}: could not read Include ${shown(arg)}: ${(err as Error).message}.`);
          continue;
        }
        for (const file of matches) {
          let content: string | undefined;
          try {
            content = await files.readFile(file);
          } catch (err) {
            warnings.push(`${where}: could not read the included file ${shown(file)}: ${(err as Error).message}.`);
            continue;
          }
          // Like OpenSSH, an Include that matches nothing is not an error.
          if (content === undefined) continue;
          if (content.length > MAX_FILE_BYTES) {
            warnings.push(`${where}: the included file ${shown(file)} is larger than 1 MB and was not read.`);
            continue;
          }
          included += `\n${await expand(content, file, depth + 1)}\n`;
        }
      }
      out.push(included);
      if (included.split(/\r?\n/).some((l) => SECTION.test(l))) {
        if (header && /^host\b/i.test(header)) {
          warnings.push(
            `${where}: an Include inside "${header}" brings its own Host sections; OpenSSH applies them only when that Host matches, M2 Companion reads them as if they stood alone.`,
          );
        }
        // `Host *` matches every alias: the same as OpenSSH's top level.
        out.push(header ?? 'Host *');
      }
    }
    return out.join('\n');
  };

  return { text: await expand(text, '~/.ssh/config', 0), warnings };
}

/** Parse, dropping (with a warning) lines the parser cannot read instead of losing the whole file. */
function parseLeniently(text: string, warnings: string[]): SSHConfig {
  try {
    return SSHConfig.parse(text);
  } catch {
    const lines = text.split(/\r?\n/).map((line) => {
      if (!line.trim() || line.trim().startsWith('#')) return line;
      try {
        SSHConfig.parse(line);
        return line;
      } catch {
        if (!SECTION.test(line) && !/^\s*(host|match)\s*$/i.test(line)) {
          warnings.push(`A line M2 Companion cannot read was skipped: ${shown(line.trim())}.`);
          return '';
        }
        // An unreadable Host line still ends the section before it; what follows applies to no alias.
        warnings.push(`A line M2 Companion cannot read was skipped, with the settings under it: ${shown(line.trim())}.`);
        return 'Host !*';
      }
    });
    try {
      return SSHConfig.parse(lines.join('\n'));
    } catch (err) {
      warnings.push(`The SSH config could not be read: ${(err as Error).message}.`);
      return new SSHConfig();
    }
  }
}

const valueText = (v: Directive['value']): string => (typeof v === 'string' ? v : v.map((x) => x.val).join(' '));

const patternsOf = (line: Line): string[] =>
  'value' in line ? (typeof line.value === 'string' ? line.value.split(/\s+/) : line.value.map((x) => x.val)).filter(Boolean) : [];

const isConcreteAlias = (p: string): boolean => !p.startsWith('!') && !/[*?]/.test(p);

/** Remove what would make computing a host's values run something: Match (exec) and canonicalisation (DNS). */
function withoutSideEffects(config: SSHConfig, warnings: string[]): SSHConfig {
  const kept = new SSHConfig();
  for (const line of config) {
    if (line.type !== LineType.DIRECTIVE) continue;
    if (/^match$/i.test(line.param)) {
      warnings.push(`"Match ${valueText(line.value)}" blocks are not supported; the settings under them were ignored.`);
      continue;
    }
    if ('config' in line) {
      const inner = line.config.filter((l) => {
        if (l.type !== LineType.DIRECTIVE || !/^canonicali[sz]ehostname$/i.test(l.param)) return true;
        if (!/^no$/i.test(valueText(l.value))) {
          warnings.push(`"CanonicalizeHostName" under "Host ${valueText(line.value)}" is not applied: host names are used as written.`);
        }
        return false;
      });
      line.config = new SSHConfig();
      line.config.push(...inner);
    }
    kept.push(line);
  }
  return kept;
}

type Tokens = Readonly<Record<string, string>>;

/** Expand OpenSSH `%x` tokens from the given set; an unknown token is an error (returned, not thrown). */
function expandTokens(value: string, tokens: Tokens): { value: string } | { unknown: string } {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    const t = value[i + 1];
    if (t === '%') out += '%';
    else if (t !== undefined && t in tokens) out += tokens[t];
    else return { unknown: `%${t ?? ''}` };
    i++;
  }
  return { value: out };
}

const first = (v: string | readonly string[] | undefined): string | undefined => (Array.isArray(v) ? (v[0] as string | undefined) : (v as string | undefined));

/** One alias's effective values, computed the OpenSSH way (first obtained value wins, `Host *` applies). */
function candidateFor(config: SSHConfig, alias: string, ctx: SshConfigContext, fileWarnings: string[]): SshConfigCandidate | undefined {
  const computed = config.compute(alias, { ignoreCase: true, matchExec: false });
  const get = (k: string): string | undefined => first(computed[k]);
  const warnings: string[] = [];

  const rawHost = get('hostname') ?? alias;
  const hostExp = expandTokens(rawHost, { h: alias, n: alias });
  const host = 'value' in hostExp ? hostExp.value : rawHost;

  const rawPort = get('port');
  const port = rawPort === undefined ? 22 : /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : Number.NaN;

  const rawUser = get('user');
  const userExp = rawUser === undefined ? { value: ctx.localUser } : expandTokens(rawUser, { u: ctx.localUser, h: host, n: alias, d: ctx.homeDir });
  const username = 'value' in userExp ? userExp.value : rawUser ?? '';

  let auth: ImportedAuth = { kind: 'agent' };
  const identityFiles = (Array.isArray(computed.identityfile) ? computed.identityfile : []).filter((f) => f.toLowerCase() !== 'none');
  const idFile = identityFiles[0];
  if (idFile !== undefined) {
    const exp = expandTokens(idFile, { d: ctx.homeDir, u: ctx.localUser, h: host.toLowerCase(), n: alias, r: username, p: String(port) });
    if ('unknown' in exp || /\$\{/.test(idFile)) {
      warnings.push(`IdentityFile ${shown(idFile)} uses ${'unknown' in exp ? exp.unknown : 'an environment variable'}, which M2 Companion does not expand; choose the key file by hand.`);
    } else {
      let keyPath = expandTilde(exp.value, ctx.homeDir);
      if (/\p{Cc}/u.test(keyPath)) {
        warnings.push(`IdentityFile ${shown(idFile)} contains control characters; choose the key file by hand.`);
      } else if (!path.isAbsolute(keyPath)) {
        warnings.push(`IdentityFile ${shown(idFile)} is a relative path; it was read as relative to your home folder.`);
        keyPath = path.join(ctx.homeDir, keyPath);
      }
      if (!/\p{Cc}/u.test(keyPath)) auth = { kind: 'key', keyPath };
    }
    if (identityFiles.length > 1) warnings.push(`${identityFiles.length} IdentityFile entries apply; the first one is used.`);
  }

  const identitiesOnly = /^yes$/i.test(get('identitiesonly') ?? '');
  const rawJump = get('proxyjump');
  const proxyJump = rawJump && !/^none$/i.test(rawJump) ? rawJump : undefined;
  if (proxyJump) warnings.push(`ProxyJump ${shown(proxyJump)} is not supported yet: M2 Companion would connect to ${host} directly.`);
  const proxyCommand = get('proxycommand');
  if (proxyCommand && !/^none$/i.test(proxyCommand)) warnings.push('ProxyCommand is not supported: M2 Companion would connect directly.');

  const problems: string[] = [];
  if ('unknown' in hostExp) problems.push(`HostName ${shown(rawHost)} uses ${hostExp.unknown}, which M2 Companion does not expand.`);
  if ('unknown' in userExp) problems.push(`User ${shown(rawUser ?? '')} uses ${userExp.unknown}, which M2 Companion does not expand.`);
  if (Number.isNaN(port)) problems.push(`Port: use a number from 1 to 65535 (port ${shown(rawPort ?? '')})`);
  if (problems.length === 0) {
    const parsed = ProfileInput.safeParse({ name: alias, host, port, username, auth });
    if (parsed.success) {
      const p = parsed.data;
      return {
        alias,
        name: p.name,
        host: p.host,
        port: p.port,
        username: p.username,
        auth: p.auth.kind === 'key' ? { kind: 'key', keyPath: p.auth.keyPath } : { kind: 'agent' },
        ...(proxyJump ? { proxyJump } : {}),
        identitiesOnly,
        warnings,
      };
    }
    const values: Record<string, string> = { name: alias, host, port: rawPort ?? '22', username, auth: idFile ?? '' };
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? '');
      problems.push(`${issue.message} (${field === 'name' ? 'alias' : field} ${shown(values[field] ?? '')})`);
    }
  }
  fileWarnings.push(`Host ${shown(alias)} was not imported: ${problems.join(' ')}`);
  return undefined;
}

/** Server profiles from SSH config text whose Includes are already spliced in: pure, never throws. */
export function candidatesFromConfig(text: string, ctx: SshConfigContext): SshConfigImport {
  const warnings: string[] = [];
  const config = withoutSideEffects(parseLeniently(text, warnings), warnings);
  const aliases: string[] = [];
  for (const line of config) {
    if (line.type !== LineType.DIRECTIVE || !/^host$/i.test(line.param)) continue;
    for (const p of patternsOf(line)) if (isConcreteAlias(p) && !aliases.includes(p)) aliases.push(p);
  }
  const candidates: SshConfigCandidate[] = [];
  for (const alias of aliases) {
    const c = candidateFor(config, alias, ctx, warnings);
    if (c) candidates.push(c);
  }
  return { candidates, warnings };
}

/** Read SSH config text (following Include through `files`) into server profile candidates; never throws. */
export async function importSshConfig(text: string, ctx: SshConfigContext, files: ConfigFileReader): Promise<SshConfigImport> {
  const included = await expandIncludes(text, ctx, files);
  const result = candidatesFromConfig(included.text, ctx);
  return { candidates: result.candidates, warnings: [...included.warnings, ...result.warnings] };
}

const missingIsUndefined = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
};

/** The real disk, for Include. */
export const diskConfigReader: ConfigFileReader = {
  readFile: (file) => missingIsUndefined(() => readFile(file, 'utf8')),
  readDir: (dir) => missingIsUndefined(() => readdir(dir)),
};

const currentUser = (): string => {
  try {
    return os.userInfo().username;
  } catch {
    // os.userInfo() throws for a uid without a passwd entry (some containers).
    return process.env.USER ?? process.env.USERNAME ?? '';
  }
};

/** Import ~/.ssh/config of this computer's user. No config file means no candidates, not an error. */
export async function readUserSshConfig(homeDir: string = os.homedir(), localUser: string = currentUser()): Promise<SshConfigImport> {
  const file = path.join(homeDir, '.ssh', 'config');
  let text: string | undefined;
  try {
    text = await diskConfigReader.readFile(file);
  } catch (err) {
    return { candidates: [], warnings: [`Could not read ${file}: ${(err as Error).message}.`] };
  }
  if (text === undefined) return { candidates: [], warnings: [] };
  if (text.length > MAX_FILE_BYTES) return { candidates: [], warnings: [`${file} is larger than 1 MB and was not read.`] };
  return importSshConfig(text, { homeDir, localUser }, diskConfigReader);
}
