import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProfileStore, slugify } from './profile-store';
import { ProfileInput } from '../../contract/profiles';

describe('the profile store', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'm2-profiles-'));
    file = path.join(dir, 'profiles.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const input = (over: Record<string, unknown> = {}) => ProfileInput.parse({ name: 'Home server', host: 'homeserver.local', username: 'admin', ...over });

  it('starts empty, saves, lists and removes profiles, persisting them for a new store', async () => {
    const store = new ProfileStore(file, () => new Date('2026-11-25T10:00:00Z'));
    expect(await store.list()).toEqual([]);
    const saved = await store.save(input());
    expect(saved).toMatchObject({ id: 'home-server', port: 22, auth: { kind: 'agent' }, createdAt: '2026-11-25T10:00:00.000Z' });
    expect(await new ProfileStore(file).list()).toEqual([saved]);
    await store.remove('home-server');
    expect(await new ProfileStore(file).list()).toEqual([]);
  });

  it('gives two servers with the same name distinct ids and updates in place by id', async () => {
    const store = new ProfileStore(file);
    const a = await store.save(input());
    const b = await store.save(input());
    expect([a.id, b.id]).toEqual(['home-server', 'home-server-2']);
    const updated = await store.save(input({ id: a.id, port: 2222 }));
    expect(updated.createdAt).toBe(a.createdAt);
    expect((await store.list()).map((p) => [p.id, p.port])).toEqual([
      ['home-server', 2222],
      ['home-server-2', 22],
    ]);
  });

  it('keeps concurrent saves: none is lost', async () => {
    const store = new ProfileStore(file);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.save(input({ name: `Server ${i}` }))));
    expect(await store.list()).toHaveLength(10);
  });

  it('writes the file with mode 0600 and leaves no temp files behind', async () => {
    const store = new ProfileStore(file);
    await store.save(input());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['profiles.json']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1 });
  });

  it('refuses to remove an unknown profile with profile.not-found', async () => {
    await expect(new ProfileStore(file).remove('nope')).rejects.toMatchObject({ code: 'profile.not-found', field: 'id' });
  });

  it('reports a damaged file as storage.failed and does not overwrite it', async () => {
    writeFileSync(file, '{ not json');
    const store = new ProfileStore(file);
    await expect(store.list()).rejects.toMatchObject({ code: 'storage.failed' });
    await expect(store.save(input())).rejects.toMatchObject({ code: 'storage.failed' });
    expect(readFileSync(file, 'utf8')).toBe('{ not json');
  });

  it('turns names into safe ids', () => {
    expect(slugify('Zuhause – Keller ☃')).toBe('zuhause-keller');
    expect(slugify('$(rm -rf /)')).toBe('rm-rf');
    expect(slugify('☃')).toBe('server');
  });
});
