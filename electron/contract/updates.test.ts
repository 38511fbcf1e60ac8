import { describe, expect, it } from 'vitest';
import { StackSettings } from './stack';
import { UpdateApplyRequest } from './updates';

const messages = (r: { success: boolean; error?: { issues: ReadonlyArray<{ message: string }> } }): string[] => (r.success ? [] : (r.error?.issues.map((i) => i.message) ?? []));

describe('update inputs refuse hostile values, naming the field', () => {
  it('image registry: host[:port] only', () => {
    for (const ok of ['127.0.0.1:5055', 'registry.example.com', 'mirror.lan:5000', 'LOCALHOST:5000']) expect(StackSettings.safeParse({ imageRegistry: ok }).success, ok).toBe(true);
    expect(StackSettings.parse({ imageRegistry: ' Mirror.LAN:5000 ' }).imageRegistry).toBe('mirror.lan:5000');
    expect(StackSettings.parse({}).imageRegistry).toBeNull();
    for (const bad of ['https://registry.example.com', 'registry.example.com/path', 'host:0', 'host:65536', 'a b', 'host;reboot', '$(reboot)', 'ho\nst', '-host', 'höst.example', `${'a'.repeat(64)}.com`, 'x'.repeat(300), '\u202eexample.com']) {
      const got = messages(StackSettings.safeParse({ imageRegistry: bad }));
      expect(got.length, bad).toBeGreaterThan(0);
      for (const m of got) expect(m.startsWith('Image registry: '), `${bad}: ${m}`).toBe(true);
    }
  });

  it('an update request: image keys and tags as Docker allows, at least one', () => {
    expect(UpdateApplyRequest.safeParse({ profileId: 'home', updates: [{ key: 'jellyfin', tag: '10.11.12' }] }).success).toBe(true);
    expect(messages(UpdateApplyRequest.safeParse({ profileId: 'home', updates: [] }))).toEqual(['Updates: choose at least one image to update.']);
    for (const tag of ['10.11.12; reboot', '$(reboot)', '-1', '.1', 'a'.repeat(129), '10.11.12\n', '１０']) {
      expect(messages(UpdateApplyRequest.safeParse({ profileId: 'home', updates: [{ key: 'jellyfin', tag }] }))[0], tag).toMatch(/^Image tag: /);
    }
    for (const key of ['../x', 'Jellyfin', 'a b', '']) expect(messages(UpdateApplyRequest.safeParse({ profileId: 'home', updates: [{ key, tag: '1.0' }] }))[0], key).toMatch(/^Image: /);
  });
});
