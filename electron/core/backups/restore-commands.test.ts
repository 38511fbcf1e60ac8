import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComposeFiles } from '../stack/compose-commands';
import {
  DUMPS_MOUNT,
  EXIT_ASIDE_EXISTS,
  EXIT_FINISHING,
  EXIT_BAD_DUMP,
  EXIT_COUNT_MISMATCH,
  EXIT_NO_PARENT,
  IN_PLACE_SCRIPT,
  JOURNAL,
  JOURNALS_SCRIPT,
  MODULE_MOUNT,
  NCDATA_MOUNT,
  restoreCommands,
  SERVICE_SCRIPT,
} from './restore-commands';

const files: ComposeFiles = { project: 'm2', projectDir: '/srv/m2', dir: '/srv/m2/releases/r1', envFiles: ['env/backup.env'] };
const c = restoreCommands('group', files);
const compose = ['docker', 'compose', '--project-name', 'm2', '--project-directory', '/srv/m2', '--file', '/srv/m2/releases/r1/compose.yaml', '--env-file', '/srv/m2/releases/r1/env/backup.env'];
/** Names a file may have (no `/`): each would create m2-canary in the working folder if a shell ran it. */
const HOSTILE = ['$(touch m2-canary)', '`touch m2-canary`', "a'b\"c;touch m2-canary", '-rf', 'ünïcødé 名前 *[?]'];

describe('restore commands', () => {
  it('restores in place through a constant script in a one-off backup container, everything the admin chose an argument', () => {
    const argv = c.inPlace('/srv/data/nextcloud/html/data', 'admin/files/$(reboot)', 'x (before restore)', '0123abcd', '/source/nextcloud/data/admin/files/$(reboot)', 'file', 1, '33:33', '640');
    expect(argv).toEqual([
      ...compose,
      'run', '--rm', '--no-deps', '-T', '--volume', `/srv/data/nextcloud/html/data:${NCDATA_MOUNT}`, '--entrypoint', '/bin/sh', 'backup', '-c', IN_PLACE_SCRIPT,
      'm2-in-place', 'admin/files/$(reboot)', 'x (before restore)', '0123abcd', '/source/nextcloud/data/admin/files/$(reboot)', 'file', '1', '33:33', '640',
    ]);
    expect(IN_PLACE_SCRIPT).not.toContain('reboot');
  });

  it('moves a whole service’s folders by steps of one constant script, the service folder mounted', () => {
    expect(c.prepare('/srv/data/nextcloud', '0123abcd', 'nextcloud', [{ name: 'html', owner: '33:33', mode: '755', snapshotPath: '/source/nextcloud' }])).toEqual([
      ...compose, 'run', '--rm', '--no-deps', '-T', '--volume', `/srv/data/nextcloud:${MODULE_MOUNT}`, '--entrypoint', '/bin/sh', 'backup', '-c', SERVICE_SCRIPT, 'm2-service-restore', 'prepare', '0123abcd', 'nextcloud', 'html=33:33=755=/source/nextcloud',
    ]);
    expect(c.swap('/srv/data/nextcloud', '0123abcd', '2026-12-05T05:00:00.000Z', 'db', ['html']).slice(-6)).toEqual(['m2-service-restore', 'swap', '0123abcd', '2026-12-05T05:00:00.000Z', 'db', 'html']);
    expect(c.back('/srv/data/jellyfin', ['config']).slice(-3)).toEqual(['m2-service-restore', 'back', 'config']);
    expect(c.finish('/srv/data/jellyfin', ['config']).slice(-3)).toEqual(['m2-service-restore', 'finish', 'config']);
  });

  it('loads a dump with psql in one transaction that stops at the first error, in a one-off dump sidecar (its env holds the password)', () => {
    expect(c.loadDump('nextcloud-db-dump', 'nextcloud')).toEqual([
      ...compose, 'run', '--rm', '--no-deps', '-T', '--entrypoint', 'psql', 'nextcloud-db-dump', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', `${DUMPS_MOUNT}/nextcloud.sql.tmp-restore`,
    ]);
  });

  it('stops and starts services after `--`, waits for health, and runs occ as www-data with the path in one argument', () => {
    expect(c.stop(['nextcloud', 'backup'])).toEqual([...compose, 'stop', '--timeout', '30', '--', 'nextcloud', 'backup']);
    expect(c.up(['nextcloud'])).toEqual([...compose, 'up', '--detach', '--no-deps', '--wait', '--wait-timeout', '600', '--pull', 'never', '--', 'nextcloud']);
    expect(c.occ('files:scan', '--path=/admin/files/a b')).toEqual([...compose, 'exec', '-T', '--user', 'www-data', 'nextcloud', 'php', 'occ', '--no-interaction', 'files:scan', '--path=/admin/files/a b']);
    expect(c.df('/srv/data/nextcloud')).toEqual(['df', '-Pk', '--', '/srv/data/nextcloud']);
    expect(restoreCommands('sudo', files).stop(['x']).slice(0, 3)).toEqual(['sudo', '-n', '--']);
  });
});

/** A fake restic first in PATH: `restore <snap>:<path> --target <dir>` copies `$SNAP<path>`, `dump <snap> <path>` prints it. */
function fakeRestic(work: string): string {
  const bin = path.join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, 'restic'),
    [
      '#!/bin/sh',
      '[ -n "${RESTIC_FAIL:-}" ] && { echo "Fatal: $RESTIC_FAIL" >&2; exit 1; }',
      'case "$1" in',
      // As restic does: the target folder itself is made root's (here: ours) and 0700.
      'restore) p=${2#*:}; mkdir -p -m 700 "$4" && cp -a "$SNAP$p/." "$4/" && chmod 700 "$4" ;;',
      'dump) cat "$SNAP$3" ;;',
      'esac',
    ].join('\n'),
    { mode: 0o755 },
  );
  return bin;
}

describe('the in-place script under sh', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'm2-in-place-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const bin = fakeRestic(work);
  const snap = path.join(work, 'snap');
  mkdirSync(path.join(snap, 'src/admin/files/Photos'), { recursive: true });
  writeFileSync(path.join(snap, 'src/admin/files/notes.txt'), 'from the snapshot\n');
  writeFileSync(path.join(snap, 'src/admin/files/Photos/a.jpg'), 'jpg');
  writeFileSync(path.join(snap, 'src/admin/files/Photos/b.jpg'), 'jpg2');
  mkdirSync(path.join(snap, 'src/admin/files/Odd'), { recursive: true });
  writeFileSync(path.join(snap, 'src/admin/files/Odd/two\nlines.txt'), 'a name with a line break');
  const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;

  const run = (data: string, rel: string, kept: string, kind: 'dir' | 'file', expected: number, env: Record<string, string> = {}) => {
    expect(IN_PLACE_SCRIPT).toContain(`${NCDATA_MOUNT}/$1`);
    const script = IN_PLACE_SCRIPT.split(NCDATA_MOUNT).join(data);
    return spawnSync('/bin/sh', ['-c', script, 'm2-in-place', rel, kept, '0123abcd', `/src/${rel}`, kind, String(expected), owner, '640'], {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, SNAP: snap, ...env },
      cwd: work,
      encoding: 'utf8',
    });
  };
  const fresh = (name: string): string => {
    const data = path.join(work, name);
    mkdirSync(path.join(data, 'admin/files'), { recursive: true });
    return data;
  };

  it('puts a deleted file back with the snapshot’s bytes and the owner and mode given, keeping nothing aside', () => {
    const data = fresh('deleted');
    const r = run(data, 'admin/files/notes.txt', 'notes (before restore).txt', 'file', 1);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('m2-inplace files=1 kept=0\n');
    expect(readFileSync(path.join(data, 'admin/files/notes.txt'), 'utf8')).toBe('from the snapshot\n');
    expect(spawnSync('stat', ['-c', '%a', path.join(data, 'admin/files/notes.txt')], { encoding: 'utf8' }).stdout.trim()).toBe('640');
    expect(readdirSync(path.join(data, 'admin/files'))).toEqual(['notes.txt']);
  });

  it('keeps what is there now beside the restored folder, never deleting it', () => {
    const data = fresh('changed');
    mkdirSync(path.join(data, 'admin/files/Photos'));
    writeFileSync(path.join(data, 'admin/files/Photos/new.jpg'), 'taken after the backup');
    const r = run(data, 'admin/files/Photos', 'Photos (before restore 2026-12-05 05.31.07)', 'dir', 2);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('m2-inplace files=2 kept=1\n');
    expect(readdirSync(path.join(data, 'admin/files')).sort()).toEqual(['Photos', 'Photos (before restore 2026-12-05 05.31.07)']);
    expect(readdirSync(path.join(data, 'admin/files/Photos')).sort()).toEqual(['a.jpg', 'b.jpg']);
    expect(spawnSync('stat', ['-c', '%a', path.join(data, 'admin/files/Photos')], { encoding: 'utf8' }).stdout.trim()).toBe('640');
    expect(readFileSync(path.join(data, 'admin/files/Photos (before restore 2026-12-05 05.31.07)/new.jpg'), 'utf8')).toBe('taken after the backup');
  });

  it('changes nothing in place when restic lands fewer files than the snapshot lists (it can exit 0 having restored nothing)', () => {
    const data = fresh('short');
    mkdirSync(path.join(data, 'admin/files/Photos'));
    writeFileSync(path.join(data, 'admin/files/Photos/mine.jpg'), 'mine');
    const r = run(data, 'admin/files/Photos', 'kept', 'dir', 3);
    expect(r.status).toBe(EXIT_COUNT_MISMATCH);
    expect(r.stdout).toBe('m2-inplace files=2 kept=0\n');
    expect(readdirSync(path.join(data, 'admin/files'))).toEqual(['Photos']);
    expect(readdirSync(path.join(data, 'admin/files/Photos'))).toEqual(['mine.jpg']);
  });

  it('changes nothing when restic fails, and leaves no hidden copy behind', () => {
    const data = fresh('fails');
    writeFileSync(path.join(data, 'admin/files/notes.txt'), 'current');
    const r = run(data, 'admin/files/notes.txt', 'kept.txt', 'file', 1, { RESTIC_FAIL: 'repository is locked' });
    expect(r.status).not.toBe(0);
    expect(readdirSync(path.join(data, 'admin/files'))).toEqual(['notes.txt']);
    expect(readFileSync(path.join(data, 'admin/files/notes.txt'), 'utf8')).toBe('current');
  });

  it('counts a file whose name holds a line break as one file', () => {
    const data = fresh('newline');
    const r = run(data, 'admin/files/Odd', 'kept', 'dir', 1);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(path.join(data, 'admin/files/Odd'))).toEqual(['two\nlines.txt']);
  });

  it('refuses when the folder around the place is gone, and when the kept name is taken', () => {
    const data = fresh('noparent');
    expect(run(data, 'admin/files/Gone/x.txt', 'k', 'file', 1).status).toBe(EXIT_NO_PARENT);
    writeFileSync(path.join(data, 'admin/files/notes.txt'), 'current');
    writeFileSync(path.join(data, 'admin/files/taken'), 'other');
    expect(run(data, 'admin/files/notes.txt', 'taken', 'file', 1).status).toBe(EXIT_ASIDE_EXISTS);
    expect(readFileSync(path.join(data, 'admin/files/notes.txt'), 'utf8')).toBe('current');
  });

  it('takes hostile names as plain names: nothing runs', () => {
    for (const name of HOSTILE) {
      const data = fresh(`hostile-${HOSTILE.indexOf(name)}`);
      mkdirSync(path.join(snap, 'src/admin/files'), { recursive: true });
      writeFileSync(path.join(snap, 'src/admin/files', name), name);
      const r = run(data, `admin/files/${name}`, `${name} (kept)`, 'file', 1);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(readFileSync(path.join(data, 'admin/files', name), 'utf8')).toBe(name);
    }
    expect(existsSync(path.join(work, 'm2-canary'))).toBe(false);
  });
});

describe('the whole-service script under sh', () => {
  const me = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const HTML_SPEC = `html=${me}=750=/source/nextcloud`;
  const work = mkdtempSync(path.join(tmpdir(), 'm2-service-restore-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const bin = fakeRestic(work);
  const snap = path.join(work, 'snap');
  mkdirSync(path.join(snap, 'source/nextcloud/data/admin/files'), { recursive: true });
  writeFileSync(path.join(snap, 'source/nextcloud/data/admin/files/notes.txt'), 'snapshot notes');
  writeFileSync(path.join(snap, 'source/nextcloud/version.php'), '<?php');
  mkdirSync(path.join(snap, 'm2/dumps'), { recursive: true });
  const goodDump = '--\n-- PostgreSQL database dump\n--\nSET x = 1;\n--\n-- PostgreSQL database dump complete\n--\n';
  writeFileSync(path.join(snap, 'm2/dumps/nextcloud.sql'), goodDump);

  const setup = (name: string): { mod: string; dumps: string; step: (...args: string[]) => ReturnType<typeof spawnSync> } => {
    const mod = path.join(work, name, 'nextcloud');
    const dumps = path.join(work, name, 'dumps');
    mkdirSync(path.join(mod, 'html/data'), { recursive: true });
    mkdirSync(path.join(mod, 'db'), { recursive: true });
    mkdirSync(dumps, { recursive: true });
    writeFileSync(path.join(mod, 'html/data/live.txt'), 'live');
    writeFileSync(path.join(mod, 'db/PG_VERSION'), '16');
    const script = SERVICE_SCRIPT.split(MODULE_MOUNT).join(mod).replace(`dumps_dir=${DUMPS_MOUNT}`, `dumps_dir='${dumps}'`);
    return {
      mod,
      dumps,
      step: (...args) => spawnSync('/bin/sh', ['-c', script, 'm2-service-restore', ...args], { env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, SNAP: snap, ...env }, encoding: 'utf8' }),
    };
  };
  let env: Record<string, string> = {};

  it('prepares beside the live folder, swaps with a journal, and finishes by removing the data from before', () => {
    const { mod, dumps, step } = setup('happy');
    const p = step('prepare', '0123abcd', 'nextcloud', HTML_SPEC);
    expect(p.status, String(p.stderr)).toBe(0);
    expect(String(p.stdout)).toContain('m2-prepared-html files=2');
    expect(String(p.stdout)).toContain(`m2-dump bytes=${goodDump.length}`);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
    // The copy's own folder has the snapshot's mode, not the 0700 restic gives a restore's target.
    expect(spawnSync('stat', ['-c', '%a', path.join(mod, 'html.m2-restoring')], { encoding: 'utf8' }).stdout.trim()).toBe('750');
    const s = step('swap', '0123abcd', '2026-12-05T05:00:00Z', 'db', 'html');
    expect(s.status, String(s.stderr)).toBe(0);
    expect(readFileSync(path.join(mod, JOURNAL), 'utf8')).toBe('snapshot=0123abcd\nstarted=2026-12-05T05:00:00Z\n');
    expect(readFileSync(path.join(mod, 'html/data/admin/files/notes.txt'), 'utf8')).toBe('snapshot notes');
    expect(readdirSync(path.join(mod, 'db'))).toEqual([]);
    expect(readFileSync(path.join(mod, 'db.m2-before-restore/PG_VERSION'), 'utf8')).toBe('16');
    const f = step('finish', 'html', 'db');
    expect(f.status, String(f.stderr)).toBe(0);
    expect(readdirSync(mod).sort()).toEqual(['db', 'html']);
    expect(readdirSync(dumps)).toEqual([]);
  });

  it('puts everything back after a swap, and back is safe to run again', () => {
    const { mod, step } = setup('back');
    step('prepare', '0123abcd', 'nextcloud', HTML_SPEC);
    step('swap', '0123abcd', 'now', 'db', 'html');
    for (let i = 0; i < 2; i++) {
      const b = step('back', 'html', 'db');
      expect(b.status, String(b.stderr)).toBe(0);
      expect(readdirSync(mod).sort()).toEqual(['db', 'html']);
      expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
      expect(readFileSync(path.join(mod, 'db/PG_VERSION'), 'utf8')).toBe('16');
    }
  });

  it('puts back a swap cut between its two moves (the live folder aside, the copy not yet in place)', () => {
    const { mod, step } = setup('half');
    step('prepare', '0123abcd', 'nextcloud', HTML_SPEC);
    writeFileSync(path.join(mod, JOURNAL), 'snapshot=0123abcd\nstarted=now\n');
    spawnSync('mv', [path.join(mod, 'html'), path.join(mod, 'html.m2-before-restore')]);
    const b = step('back', 'html', 'db');
    expect(b.status, String(b.stderr)).toBe(0);
    expect(readdirSync(mod).sort()).toEqual(['db', 'html']);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
  });

  it('refuses a cut-short dump before anything moves, and a swap over the data of an earlier unfinished restore', () => {
    const { mod, step } = setup('bad');
    writeFileSync(path.join(snap, 'm2/dumps/authentik.sql'), '--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (');
    const p = step('prepare', '0123abcd', 'authentik', HTML_SPEC);
    expect(p.status).toBe(EXIT_BAD_DUMP);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
    mkdirSync(path.join(mod, 'html.m2-before-restore'));
    const s = step('swap', '0123abcd', 'now', 'db', 'html');
    expect(s.status).toBe(EXIT_ASIDE_EXISTS);
    expect(existsSync(path.join(mod, JOURNAL))).toBe(false);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
  });

  /** An aside left by an earlier restore (its `finish` could not remove it), with no journal of this restore. */
  const staleAside = (mod: string): void => {
    mkdirSync(path.join(mod, 'html.m2-before-restore/data'), { recursive: true });
    writeFileSync(path.join(mod, 'html.m2-before-restore/data/old.txt'), 'old');
  };

  it('a failed prepare beside an earlier restore’s aside leaves the live folder alone: back moves nothing without this restore’s journal', () => {
    const { mod, step } = setup('stale-prepare');
    staleAside(mod);
    env = { RESTIC_FAIL: 'unable to open repository' };
    const p = step('prepare', '0123abcd', 'nextcloud', HTML_SPEC);
    env = {};
    expect(p.status).not.toBe(0);
    expect(step('discard', 'html', 'db').status).toBe(0);
    // What the service ran before: back, with Nextcloud still running on the live folder.
    const b = step('back', 'html', 'db');
    expect(b.status, String(b.stderr)).toBe(0);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
    expect(readFileSync(path.join(mod, 'html.m2-before-restore/data/old.txt'), 'utf8')).toBe('old');
    expect(readFileSync(path.join(mod, 'db/PG_VERSION'), 'utf8')).toBe('16');
    expect(existsSync(path.join(mod, 'html.m2-restoring'))).toBe(false);
  });

  it('a swap refused over an earlier restore’s aside, then back: the live folders untouched', () => {
    const { mod, step } = setup('stale-swap');
    staleAside(mod);
    expect(step('prepare', '0123abcd', 'nextcloud', HTML_SPEC).status).toBe(0);
    expect(step('swap', '0123abcd', 'now', 'db', 'html').status).toBe(EXIT_ASIDE_EXISTS);
    expect(step('back', 'html', 'db').status).toBe(0);
    expect(readFileSync(path.join(mod, 'html/data/live.txt'), 'utf8')).toBe('live');
    expect(readFileSync(path.join(mod, 'html.m2-before-restore/data/old.txt'), 'utf8')).toBe('old');
    expect(readFileSync(path.join(mod, 'db/PG_VERSION'), 'utf8')).toBe('16');
  });

  it('finish fails when the data from before cannot be removed, keeps the journal, and back then refuses to move it over the restored data', () => {
    const { mod, step } = setup('finish-fails');
    step('prepare', '0123abcd', 'nextcloud', HTML_SPEC);
    expect(step('swap', '0123abcd', 'now', 'db', 'html').status).toBe(0);
    // As root, no mode stops rm: an rm first in PATH fails on the aside, as a busy mount or an I/O error would.
    writeFileSync(path.join(work, 'bin', 'rm'), '#!/bin/sh\nfor a do case "$a" in *before-restore*) echo "rm: cannot remove $a: Device or resource busy" >&2; exit 1 ;; esac; done\nexec /bin/rm "$@"\n', { mode: 0o755 });
    let f;
    try {
      f = step('finish', 'html', 'db');
    } finally {
      rmSync(path.join(work, 'bin', 'rm'));
    }
    expect(f.status).not.toBe(0);
    expect(existsSync(path.join(mod, JOURNAL))).toBe(true);
    const b = step('back', 'html', 'db');
    expect(b.status).toBe(EXIT_FINISHING);
    expect(readFileSync(path.join(mod, 'html/data/admin/files/notes.txt'), 'utf8')).toBe('snapshot notes');
  });

  it('the journals script prints the journals that are there, whatever their paths hold', () => {
    const dir = path.join(work, 'j $(touch m2-canary)');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, JOURNAL), 'snapshot=ab\nstarted=t\n');
    const r = spawnSync('sh', ['-c', JOURNALS_SCRIPT, 'm2-journals', path.join(dir, JOURNAL), path.join(work, 'none', JOURNAL)], { cwd: work, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`== ${path.join(dir, JOURNAL)}\nsnapshot=ab\nstarted=t\n`);
    expect(existsSync(path.join(work, 'm2-canary'))).toBe(false);
  });
});
