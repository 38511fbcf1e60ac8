import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChosenServerStore } from './chosen-server';

describe('ChosenServerStore', () => {
  let dir: string;
  let saved: Set<string>;
  const store = (): ChosenServerStore => new ChosenServerStore({ file: path.join(dir, 'chosen-server.json'), exists: async (id) => saved.has(id) });

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-chosen-'));
    saved = new Set(['first', 'second']);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the chosen server in the data folder, so a new store (a restarted app) reads the same one', async () => {
    await expect(store().get()).resolves.toBeNull();
    await store().choose('second');
    await expect(store().get()).resolves.toBe('second');
    expect(statSync(path.join(dir, 'chosen-server.json')).mode & 0o777).toBe(0o600);
  });

  it('refuses a server that is not saved, and keeps the earlier choice', async () => {
    await store().choose('first');
    await expect(store().choose('nope')).rejects.toMatchObject({ code: 'profile.not-found', userMessage: expect.stringMatching(/^Server:/) });
    await expect(store().get()).resolves.toBe('first');
  });

  it('a removed server is no longer chosen; forgetting another leaves the choice alone', async () => {
    const s = store();
    await s.choose('second');
    await expect(s.forget('first')).resolves.toBe(false);
    await expect(s.get()).resolves.toBe('second');
    saved.delete('second');
    await expect(s.get()).resolves.toBeNull();
    await expect(s.forget('second')).resolves.toBe(true);
  });

  it('a damaged file reads as no choice (it is a preference) and the next choice replaces it', async () => {
    writeFileSync(path.join(dir, 'chosen-server.json'), '{"version":1,"profileId":"$(rm -rf /)"}');
    await expect(store().get()).resolves.toBeNull();
    await store().choose('first');
    expect(JSON.parse(readFileSync(path.join(dir, 'chosen-server.json'), 'utf8'))).toEqual({ version: 1, profileId: 'first' });
  });
});
