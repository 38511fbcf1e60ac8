import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProfileInput } from '../../contract/profiles';
import {
  candidatesFromConfig,
  importSshConfig,
  readUserSshConfig,
  type ConfigFileReader,
  type SshConfigCandidate,
  type SshConfigImport,
} from './ssh-config';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8');
const ctx = { homeDir: '/home/alice', localUser: 'alice' };

const byAlias = (r: SshConfigImport): Record<string, SshConfigCandidate> => Object.fromEntries(r.candidates.map((c) => [c.alias, c]));

/** An in-memory disk for Include. */
const memoryFiles = (files: Record<string, string>): ConfigFileReader => ({
  readFile: (f) => Promise.resolve(files[f]),
  readDir: (d) => {
    const prefix = `${d.replace(/\/$/, '')}/`;
    const names = Object.keys(files)
      .filter((f) => f.startsWith(prefix))
      .map((f) => f.slice(prefix.length).split('/')[0] as string);
    return Promise.resolve(names.length ? [...new Set(names)] : undefined);
  },
});

describe('importing ~/.ssh/config', () => {
  // Expected values were checked against OpenSSH itself: `ssh -G -F fixtures/basic.ssh_config <alias>`.
  it('computes each concrete alias the way OpenSSH does: first value wins, Host * defaults apply, negations honoured', () => {
    const r = candidatesFromConfig(fixture('basic.ssh_config'), ctx);
    expect(r.candidates.map((c) => c.alias)).toEqual(['homeserver', 'nas', 'media', 'backup', 'inside', 'relative', 'v6', 'pi']);
    const c = byAlias(r);
    expect(c.homeserver).toEqual({
      alias: 'homeserver',
      name: 'homeserver',
      host: '192.168.1.20',
      port: 22,
      username: 'admin',
      auth: { kind: 'key', keyPath: '/home/alice/.ssh/id_ed25519_home' },
      identitiesOnly: true,
      warnings: ['2 IdentityFile entries apply; the first one is used.'],
    });
    // `Host * !nas` does not apply to nas: one IdentityFile only.
    expect(c.nas?.warnings).toEqual([]);
    expect(c.nas?.auth).toEqual({ kind: 'key', keyPath: '/home/alice/.ssh/id_ed25519_home' });
    expect(c.media).toMatchObject({ host: 'media.home.arpa', port: 2222, username: 'fallback', auth: { kind: 'key', keyPath: '/home/alice/.ssh/id_default' }, identitiesOnly: false });
    expect(c.backup).toMatchObject({ host: 'backup.example.net', port: 22022, username: 'restic', auth: { kind: 'key', keyPath: '/home/alice/.ssh/keys/restic@backup.example.net' } });
    expect(c.v6).toMatchObject({ host: 'fd00::20', auth: { kind: 'key', keyPath: '/home/alice/.ssh/id_default' } });
    expect(c.pi).toMatchObject({ host: 'pi.lan', username: 'fallback' });
    expect(r.warnings).toEqual([]);
  });

  it('records ProxyJump and warns that it is not supported yet', () => {
    const inside = byAlias(candidatesFromConfig(fixture('basic.ssh_config'), ctx)).inside;
    expect(inside).toMatchObject({ host: '10.0.0.5', username: 'ops', proxyJump: 'bastion.example.net' });
    expect(inside?.warnings.join('\n')).toMatch(/ProxyJump "bastion\.example\.net" is not supported yet/);
  });

  it('expands %h in IdentityFile to the lower-cased host name, as OpenSSH does', () => {
    const c = candidatesFromConfig('Host up\n  HostName NAS.Home.Arpa\n  IdentityFile ~/.ssh/%h_%r\n  User root\n', ctx).candidates[0];
    expect(c).toMatchObject({ host: 'nas.home.arpa', auth: { kind: 'key', keyPath: '/home/alice/.ssh/nas.home.arpa_root' } });
  });

  it('reads a relative IdentityFile from the home folder and says so', () => {
    const rel = byAlias(candidatesFromConfig(fixture('basic.ssh_config'), ctx)).relative;
    expect(rel?.auth).toEqual({ kind: 'key', keyPath: '/home/alice/keys/relative_ed25519' });
    expect(rel?.warnings.join('\n')).toMatch(/relative path/);
  });

  it('skips wildcard and negated patterns: they are defaults, not servers', () => {
    const aliases = candidatesFromConfig(fixture('basic.ssh_config'), ctx).candidates.map((c) => c.alias);
    expect(aliases.some((a) => /[*?!]/.test(a))).toBe(false);
    expect(candidatesFromConfig('Host *\n  User x\nHost *.lan !x.lan\n  Port 2\n', ctx)).toEqual({ candidates: [], warnings: [] });
  });

  it('uses the local user and agent auth when the config says nothing else', () => {
    expect(candidatesFromConfig('Host box\n', ctx).candidates).toEqual([
      { alias: 'box', name: 'box', host: 'box', port: 22, username: 'alice', auth: { kind: 'agent' }, identitiesOnly: false, warnings: [] },
    ]);
  });

  it('every candidate passes the contract’s ProfileInput schema', () => {
    for (const name of ['basic.ssh_config', 'match.ssh_config', 'hostile.ssh_config']) {
      for (const c of candidatesFromConfig(fixture(name), ctx).candidates) expect(ProfileInput.safeParse(c).success).toBe(true);
    }
  });

  it('ignores Match blocks with a warning and never runs Match exec', () => {
    const marker = '/tmp/m2-ssh-config-match-exec-ran';
    rmSync(marker, { force: true });
    const r = candidatesFromConfig(fixture('match.ssh_config'), ctx);
    expect(existsSync(marker)).toBe(false);
    const c = byAlias(r);
    expect(c.work).toMatchObject({ host: 'work.example.com', username: 'everyone' });
    expect(r.warnings.filter((w) => /Match/.test(w))).toHaveLength(2);
    expect(r.warnings.join('\n')).toMatch(/"Match exec touch \/tmp\/m2-ssh-config-match-exec-ran" blocks are not supported/);
  });

  it('does not canonicalise host names (no DNS look-ups while importing) and says so', () => {
    const r = candidatesFromConfig(fixture('match.ssh_config'), ctx);
    expect(byAlias(r).laptop).toMatchObject({ host: 'laptop.lan' });
    expect(r.warnings.join('\n')).toMatch(/CanonicalizeHostName/);
  });

  it('turns hostile or invalid values into warnings that name the alias and field, never throwing', () => {
    const r = candidatesFromConfig(fixture('hostile.ssh_config'), ctx);
    expect(r.candidates.map((c) => c.alias)).toEqual(['tokens', 'envkey', 'fine']);
    const w = r.warnings.join('\n');
    expect(w).toMatch(/Host "injected" was not imported: Host: .*\(host "\$\(id\)"\)/);
    expect(w).toMatch(/Host "backticks" was not imported: Host: /);
    expect(w).toMatch(/Host "semicolon" was not imported: User: .*\(username "root;rm -rf \/"\)/);
    expect(w).toMatch(/Host "badport" was not imported: Port: .*\(port "99999"\)/);
    expect(w).toMatch(/Host "wordport" was not imported: Port: .*\(port "ssh"\)/);
    expect(w).toMatch(/Host "unknowntoken" was not imported: HostName "%i\.example\.com" uses %i/);
    expect(w).toMatch(/A line M2 Companion cannot read was skipped, with the settings under it: "Host \\"unterminated"\.$/m);
    expect(w).toMatch(/cannot read was skipped, with the settings under it: "Host"\.$/m);
    // A key file path that cannot be expanded falls back to the agent, with a warning to pick the key by hand.
    const c = byAlias(r);
    expect(c.tokens).toMatchObject({ auth: { kind: 'agent' } });
    expect(c.tokens?.warnings.join('\n')).toMatch(/uses %C, which M2 Companion does not expand/);
    expect(c.envkey?.warnings.join('\n')).toMatch(/environment variable/);
    expect(c.fine).toMatchObject({ host: 'fine.example.com', username: 'admin' });
  });

  it('refuses aliases and key paths with control characters', () => {
    const r = candidatesFromConfig('Host "a\u0007b"\n  HostName ok.lan\nHost ok\n  HostName ok.lan\n  IdentityFile "/tmp/a\u001bb"\n', ctx);
    expect(r.warnings).toEqual(['Host "a\\u0007b" was not imported: Name: remove control characters such as line breaks. (alias "a\\u0007b")']);
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]).toMatchObject({ alias: 'ok', auth: { kind: 'agent' } });
    expect(r.candidates[0]?.warnings.join('\n')).toMatch(/control characters; choose the key file by hand/);
  });

  it('does not let the settings under an unreadable Host line leak into the section before it', () => {
    const r = candidatesFromConfig('Host a\n  HostName a.lan\nHost "oops\n  User root\n  Port 2222\nHost b\n', ctx);
    expect(r.candidates).toEqual([
      expect.objectContaining({ alias: 'a', host: 'a.lan', port: 22, username: 'alice' }),
      expect.objectContaining({ alias: 'b', host: 'b', port: 22, username: 'alice' }),
    ]);
    expect(r.warnings).toHaveLength(1);
  });

  it('survives empty, comment-only and CRLF files', () => {
    expect(candidatesFromConfig('', ctx)).toEqual({ candidates: [], warnings: [] });
    expect(candidatesFromConfig('# nothing\n\n', ctx)).toEqual({ candidates: [], warnings: [] });
    expect(candidatesFromConfig('Host a\r\n  HostName a.lan\r\n  Port 2\r\n', ctx).candidates[0]).toMatchObject({ host: 'a.lan', port: 2 });
  });
});

describe('Include', () => {
  it('follows Include from the real disk: globs in lexical order relative to ~/.ssh, nested includes, loops cut off', async () => {
    const home = path.join(fixtures, 'home');
    const r = await readUserSshConfig(home, 'alice');
    const c = byAlias(r);
    // config.d/*.conf: not .hidden.conf (glob skips dot files), not 30-notes.txt.
    expect(r.candidates.map((x) => x.alias)).toEqual(['work-server', 'lab', 'personal']);
    expect(c['work-server']).toMatchObject({ host: '10.1.2.3', username: 'worker', auth: { kind: 'key', keyPath: path.join(home, '.ssh/work_ed25519') } });
    // Top-level `Host *` after the includes still applies to them.
    expect(c.lab).toMatchObject({ host: 'lab.internal', port: 2200, username: 'default-user' });
    // An Include inside a Host block adds to that block; lines after it still belong to the block.
    expect(c.personal).toMatchObject({ host: 'personal.example.org', port: 2022, username: 'me', auth: { kind: 'key', keyPath: path.join(home, '.ssh/personal_ed25519') } });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/loop\.conf: Include nested more than 16 deep/);
  });

  it('re-opens the enclosing section after an included file that has its own Host sections', async () => {
    const files = memoryFiles({ '/home/alice/.ssh/extra': 'Host extra\n  HostName extra.lan\n' });
    const r = await importSshConfig('Host main\n  HostName main.lan\n  Include extra\n  User main-user\nHost *\n  User other\n', ctx, files);
    const c = byAlias(r);
    expect(c.main).toMatchObject({ host: 'main.lan', username: 'main-user' });
    expect(c.extra).toMatchObject({ host: 'extra.lan', username: 'other' });
    expect(r.warnings.join('\n')).toMatch(/Include inside "Host main" brings its own Host sections/);
  });

  it('takes absolute and ~ paths, several per line, and reports a file it cannot read', async () => {
    const files: ConfigFileReader = {
      readFile: (f) => (f === '/etc/ssh/broken' ? Promise.reject(new Error('EACCES: permission denied')) : Promise.resolve({ '/opt/a.conf': 'Host a\n', '/home/alice/b.conf': 'Host b\n' }[f])),
      readDir: () => Promise.resolve(undefined),
    };
    const r = await importSshConfig('Include /opt/a.conf "~/b.conf" /etc/ssh/broken # comment\n', ctx, files);
    expect(r.candidates.map((c) => c.alias)).toEqual(['a', 'b']);
    expect(r.warnings).toEqual(['~/.ssh/config: could not read the included file "/etc/ssh/broken": EACCES: permission denied.']);
  });

  it('returns nothing, and no error, when there is no ~/.ssh/config', async () => {
    expect(await readUserSshConfig(path.join(fixtures, 'no-such-home'), 'alice')).toEqual({ candidates: [], warnings: [] });
  });
});
