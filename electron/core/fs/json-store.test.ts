import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonFile, ProfileJsonStore } from './json-store';

const Counter = z.object({ version: z.literal(1), count: z.number().int().nonnegative(), note: z.string().default('') });

describe('one JSON file of the data folder', () => {
  let dir: string;
  let file: string;
  const counter = (opts: Partial<ConstructorParameters<typeof JsonFile<typeof Counter>>[0]> = {}): JsonFile<typeof Counter> =>
    new JsonFile({ file, schema: Counter, empty: () => ({ version: 1, count: 0, note: '' }), what: 'counter', ...opts });

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-json-store-'));
    file = path.join(dir, 'nested', 'counter.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the empty value before anything is saved, and find() says there is nothing', async () => {
    await expect(counter().read()).resolves.toEqual({ version: 1, count: 0, note: '' });
    await expect(counter().find()).resolves.toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it('writes what the schema accepts, readable by a new store (a restarted app), 0600, with its folder made', async () => {
    await counter().update((v) => void (v.count = 3));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await expect(counter().read()).resolves.toEqual({ version: 1, count: 3, note: '' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, count: 3, note: '' });
  });

  it('applies a hundred changes at once one after another, losing none, and every read sees the writes before it', async () => {
    const s = counter();
    const all = await Promise.all(Array.from({ length: 100 }, () => s.update((v) => void (v.count += 1))));
    expect(all.map((v) => v.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await expect(s.read()).resolves.toMatchObject({ count: 100 });
  }, 30_000);

  it('writes nothing when a change throws or leaves a value the schema refuses, and the next change still runs', async () => {
    const s = counter();
    await s.update((v) => void (v.count = 1));
    await expect(s.update(() => { throw new Error('changed my mind'); })).rejects.toThrow('changed my mind');
    await expect(s.update((v) => void (v.count = -5))).rejects.toThrow();
    await expect(s.read()).resolves.toMatchObject({ count: 1 });
    await expect(s.update((v) => void (v.count = 2))).resolves.toMatchObject({ count: 2 });
  });

  it.each([
    ['not JSON', '{ not json'],
    ['the wrong shape', '{"version":1,"count":"three"}'],
    ['a newer version', '{"version":2,"count":1}'],
    ['empty', ''],
  ])('refuses a damaged file (%s) on every read, change and write, naming the file, and never overwrites it', async (_, content) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    const s = counter();
    const refusal = { code: 'storage.failed', userMessage: 'The saved counter are damaged.', hint: `Fix or remove ${file}; M2 Companion will not overwrite it.` };
    await expect(s.read()).rejects.toMatchObject(refusal);
    await expect(s.find()).rejects.toMatchObject(refusal);
    await expect(s.update((v) => void (v.count = 1))).rejects.toMatchObject(refusal);
    await expect(s.write({ version: 1, count: 1, note: '' })).rejects.toMatchObject(refusal);
    await expect(s.removeIf(() => true)).rejects.toMatchObject(refusal);
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('uses the store’s own words for a damaged file', async () => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '[]');
    await expect(counter({ damaged: { message: 'The counter file is damaged.', hint: 'Move it aside.' } }).read()).rejects.toMatchObject({
      userMessage: 'The counter file is damaged.',
      hint: 'Move it aside.',
    });
  });

  it('for a preference (ignore), reads a damaged file as nothing saved and lets the next change replace it', async () => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{"version":1,"count":"$(rm -rf /)"}');
    const s = counter({ onDamaged: 'ignore' });
    await expect(s.find()).resolves.toBeUndefined();
    await s.update((v) => void (v.note = 'fresh'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, count: 0, note: 'fresh' });
  });

  it('says the data folder cannot be written, and that nothing changed, when the write fails', async () => {
    if (process.getuid?.() === 0) {
      // root writes through a read-only folder; nobody can make a folder in /sys, where reading finds nothing.
      file = '/sys/m2-json-store-test/counter.json';
    } else {
      mkdirSync(path.dirname(file), { recursive: true });
      chmodSync(path.dirname(file), 0o500);
    }
    await expect(counter().update((v) => void (v.count = 1))).rejects.toMatchObject({
      code: 'storage.failed',
      userMessage: 'M2 Companion could not save its counter.',
      hint: 'Check that the disk is not full and the app data folder is writable. Nothing was changed.',
    });
  });

  it('removes the file after the changes in flight, and only when its test passes', async () => {
    const s = counter();
    void s.update((v) => void (v.count = 7));
    await expect(s.removeIf((v) => v.count === 8)).resolves.toBe(false);
    await expect(s.removeIf((v) => v.count === 7)).resolves.toBe(true);
    await expect(s.remove()).resolves.toBe(false);
    expect(existsSync(file)).toBe(false);
  });

  it('without an empty value, find() is the way to read: read() of nothing saved is a programming error', async () => {
    const s = new JsonFile({ file, schema: Counter, what: 'counter' });
    await expect(s.find()).resolves.toBeUndefined();
    await expect(s.read()).rejects.toThrow(/no empty value/);
  });
});

describe('one JSON file per profile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'm2-json-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const store = (): ProfileJsonStore<typeof Counter> => new ProfileJsonStore({ dir, schema: Counter, empty: () => ({ version: 1, count: 0, note: '' }), what: 'counters' });

  it('keeps each profile in its own file, and names the profile when its file is damaged', async () => {
    await store().update('home', (v) => void (v.count = 1));
    await store().update('cabin', (v) => void (v.count = 2));
    writeFileSync(path.join(dir, 'cabin.json'), 'garbage');
    await expect(store().read('home')).resolves.toMatchObject({ count: 1 });
    await expect(store().read('cabin')).rejects.toMatchObject({ userMessage: 'The saved counters of "cabin" are damaged.' });
  });

  it('refuses a profile id that could leave the folder', () => {
    for (const id of ['../escape', 'a/b', '', '$(id)']) expect(() => store().file(id)).toThrow();
  });
});
