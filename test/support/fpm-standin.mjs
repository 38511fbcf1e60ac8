#!/usr/bin/env node
// A stand-in for fpm (https://github.com/jordansissel/fpm) for the packaging check: electron-builder's deb target
// downloads an fpm build from GitHub, which this machine cannot reach, so the check points CUSTOM_FPM_PATH here.
// It takes the arguments electron-builder passes (`-s dir -t deb … src=dest …`) and builds the package with
// Debian's own dpkg-deb: the same file layout, control fields and maintainer scripts fpm would write.
import { chmodSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
const opts = new Map();
const multi = { '-d': [], '--deb-recommends': [] };
const mappings = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--force') continue;
  if (a.startsWith('-')) {
    const v = args[++i];
    if (a in multi) multi[a].push(v);
    else opts.set(a, v);
  } else mappings.push(a);
}
if (opts.get('-s') !== 'dir' || opts.get('-t') !== 'deb') {
  process.stderr.write(`fpm stand-in: only -s dir -t deb, got -s ${opts.get('-s')} -t ${opts.get('-t')}\n`);
  process.exit(2);
}
const out = opts.get('--package');
const root = mkdtempSync(path.join(tmpdir(), 'fpm-standin-'));
try {
  for (const m of mappings) {
    const eq = m.indexOf('=');
    const src = m.slice(0, eq);
    const dest = m.slice(eq + 1);
    const target = path.join(root, dest);
    if (statSync(src).isDirectory()) {
      mkdirSync(target, { recursive: true });
      cpSync(src, target, { recursive: true, verbatimSymlinks: true });
    } else {
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(src, dest.endsWith('/') ? path.join(target, path.basename(src)) : target);
    }
  }
  const debian = path.join(root, 'DEBIAN');
  mkdirSync(debian);
  const field = (name, value) => (value ? `${name}: ${value}\n` : '');
  const description = (opts.get('--description') ?? '').split('\n');
  writeFileSync(
    path.join(debian, 'control'),
    field('Package', opts.get('--name')) +
      field('Version', opts.get('--version')) +
      field('License', opts.get('--license')) +
      field('Vendor', opts.get('--vendor')) +
      field('Architecture', opts.get('--architecture') ?? 'amd64') +
      field('Maintainer', opts.get('--maintainer')) +
      field('Depends', multi['-d'].join(', ')) +
      field('Recommends', multi['--deb-recommends'].join(', ')) +
      field('Section', 'default') +
      field('Priority', 'optional') +
      field('Homepage', opts.get('--url')) +
      `Description: ${description[0]}\n` +
      description
        .slice(1)
        .map((l) => ` ${l.trim() === '' ? '.' : l}\n`)
        .join(''),
  );
  for (const [flag, name] of [['--after-install', 'postinst'], ['--after-remove', 'postrm']]) {
    const script = opts.get(flag);
    if (!script) continue;
    writeFileSync(path.join(debian, name), readFileSync(script));
    chmodSync(path.join(debian, name), 0o755);
  }
  const z = opts.get('--deb-compression') === 'gz' ? 'gzip' : (opts.get('--deb-compression') ?? 'xz');
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', root, out], { stdio: ['ignore', 'ignore', 'inherit'] });
} finally {
  rmSync(root, { recursive: true, force: true });
}
