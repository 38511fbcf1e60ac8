import { mkdtemp, readFile, rm, writeFile, mkdir, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingFile } from './rotating-file';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'm2-rotating-'));
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('RotatingFile', () => {
  it('appends lines and creates its folder', async () => {
    const f = new RotatingFile({ dir: path.join(dir, 'logs') });
    f.write('one');
    f.write('two\n');
    expect(await readFile(f.path, 'utf8')).toBe('one\ntwo\n');
    expect(existsSync(f.oldPath)).toBe(false);
  });

  it('moves a full file to main.old.log, keeps one archived file, and never exceeds the size', async () => {
    const f = new RotatingFile({ dir, maxBytes: 100 });
    const line = (i: number): string => `line ${String(i).padStart(3, '0')} ${'x'.repeat(20)}`; // 30 bytes with \n
    for (let i = 0; i < 10; i++) f.write(line(i));
    const current = await readFile(f.path, 'utf8');
    const old = await readFile(f.oldPath, 'utf8');
    expect(Buffer.byteLength(current)).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(old)).toBeLessThanOrEqual(100);
    // 3 lines a file: 0-2, 3-5, 6-8 archived, 9 current; the first two files are gone.
    expect(old.trim().split('\n')).toEqual([6, 7, 8].map(line));
    expect(current.trim().split('\n')).toEqual([line(9)]);
    expect(f.files).toEqual([path.join(dir, 'main.old.log'), path.join(dir, 'main.log')]);
  });

  it('counts what a previous run left in the file', async () => {
    await writeFile(path.join(dir, 'main.log'), `${'y'.repeat(90)}\n`);
    const f = new RotatingFile({ dir, maxBytes: 100 });
    f.write('next line that does not fit');
    expect(await readFile(f.oldPath, 'utf8')).toBe(`${'y'.repeat(90)}\n`);
    expect(await readFile(f.path, 'utf8')).toBe('next line that does not fit\n');
  });

  it('never throws when it cannot write, says so once, and writes again once it can', async () => {
    const errors: unknown[] = [];
    const blocked = path.join(dir, 'blocked');
    await writeFile(blocked, 'a file where the folder should be');
    const f = new RotatingFile({ dir: blocked, onError: (e) => errors.push(e) });
    f.write('a');
    f.write('b');
    expect(errors).toHaveLength(1);
    await rm(blocked);
    await mkdir(blocked);
    f.write('c');
    expect(await readFile(f.path, 'utf8')).toBe('c\n');
  });
});
