import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type InlineConfig } from 'vite';
import config from '../../electron.vite.config';
import { defineBenchmark, type BenchRow } from './harness';

/**
 * The renderer's JavaScript as the app ships it (minified, electron.vite.config.ts) next to the unminified build,
 * both built here in the same run from the same config: the initial JS (the entry script and what index.html
 * preloads) and each lazy chunk, raw and gzipped (zlib default level, as a web server would). Sizes in kB (1000 B).
 */
const repo = path.resolve(import.meta.dirname, '../..');

interface Sizes {
  initial: { raw: number; gz: number };
  lazy: Map<string, { raw: number; gz: number }>;
}

async function buildRenderer(minify: boolean): Promise<Sizes> {
  const renderer = (config as { renderer: InlineConfig }).renderer;
  const outDir = mkdtempSync(path.join(tmpdir(), `m2-bundle-${minify ? 'min' : 'raw'}-`));
  try {
    await build({
      ...renderer,
      configFile: false,
      root: path.join(repo, 'renderer'),
      logLevel: 'warn',
      build: { ...renderer.build, outDir, emptyOutDir: true, minify, modulePreload: { polyfill: false }, reportCompressedSize: false },
    });
    const html = readFileSync(path.join(outDir, 'index.html'), 'utf8');
    const initialFiles = new Set(
      [...html.matchAll(/<script[^>]*\bsrc="\.\/([^"]+\.js)"|<link[^>]*rel="modulepreload"[^>]*href="\.\/([^"]+\.js)"/g)].map((m) => (m[1] ?? m[2]) as string),
    );
    const measure = (rel: string): { raw: number; gz: number } => {
      const buf = readFileSync(path.join(outDir, rel));
      return { raw: buf.length / 1000, gz: gzipSync(buf).length / 1000 };
    };
    const initial = { raw: 0, gz: 0 };
    for (const f of initialFiles) {
      const s = measure(f);
      initial.raw += s.raw;
      initial.gz += s.gz;
    }
    const lazy = new Map<string, { raw: number; gz: number }>();
    for (const f of readdirSync(path.join(outDir, 'assets'))) {
      const rel = `assets/${f}`;
      if (!f.endsWith('.js') || initialFiles.has(rel)) continue;
      lazy.set(f.replace(/-[\w-]{8}\.js$/, ''), measure(rel));
    }
    return { initial, lazy };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

export default defineBenchmark({
  name: 'renderer bundle',
  rows: ['renderer initial JS', 'renderer lazy chunk'],
  async run() {
    const shipped = await buildRenderer(true);
    const naive = await buildRenderer(false);
    const rows: BenchRow[] = [
      {
        name: 'renderer initial JS, gzipped',
        value: round(shipped.initial.gz),
        unit: 'kB',
        baseline: { name: 'unminified', value: round(naive.initial.gz) },
        bar: '< 150 kB',
        meetsBar: shipped.initial.gz < 150,
      },
      {
        name: 'renderer initial JS, raw',
        value: round(shipped.initial.raw),
        unit: 'kB',
        baseline: { name: 'unminified', value: round(naive.initial.raw) },
      },
    ];
    for (const [name, s] of [...shipped.lazy].sort(([a], [b]) => a.localeCompare(b))) {
      const n = naive.lazy.get(name);
      for (const kind of ['gz', 'raw'] as const) {
        rows.push({
          name: `renderer lazy chunk ${name}, ${kind === 'gz' ? 'gzipped' : 'raw'}`,
          value: round(s[kind]),
          unit: 'kB',
          ...(n ? { baseline: { name: 'unminified', value: round(n[kind]) } } : {}),
        });
      }
    }
    return rows;
  },
});
