import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../../electron/contract/stack';
import { collect, fieldOf, fromDraft, labelOf, toDraft } from './stack-settings-draft';

const custom = StackSettings.parse({
  dataRoot: '/data/m2',
  uid: 1001,
  hostnames: { nextcloud: 'files.home.example' },
  modules: {
    jellyfin: { hwAccel: 'vaapi', renderGid: 105, lanPort: 8097, mediaPaths: ['/srv/films', '/srv/$(x) séries'] },
    nextcloud: { enabled: false, adminUser: 'root.admin' },
    cloudflared: { replicas: 2 },
    backup: { keepDaily: 3, time: '04:15' },
    wireguard: { enabled: true, port: 51821 },
    mediaAutomation: { enabled: true },
  },
  imageOverrides: { jellyfin: '10.11.10' },
  imageRegistry: '127.0.0.1:5055',
});

describe('the settings form draft, derived from the module declarations', () => {
  it('gives back the same settings it was made from, for the defaults and for changed ones', () => {
    for (const s of [StackSettings.parse({}), custom]) expect(StackSettings.parse(fromDraft(toDraft(s)))).toEqual(s);
  });

  it('holds numbers as the text the admin types, and a render group left empty as none', () => {
    const d = toDraft(custom);
    expect(d.values['modules.jellyfin.lanPort']).toBe('8097');
    expect(d.values['modules.cloudflared.replicas']).toBe('2');
    expect(d.values['modules.nextcloud.enabled']).toBe(false);
    const cleared = { ...d, values: { ...d.values, 'modules.jellyfin.renderGid': ' ', 'modules.jellyfin.lanPort': '0x50', 'modules.backup.keepDaily': '1e3' } };
    const out = fromDraft(cleared) as { modules: { jellyfin: { renderGid: unknown; lanPort: unknown }; backup: { keepDaily: unknown } } };
    expect(out.modules.jellyfin.renderGid).toBeNull();
    expect(out.modules.jellyfin.lanPort).toBeNaN();
    expect(out.modules.backup.keepDaily).toBeNaN();
    expect(d.values.imageRegistry).toBe('127.0.0.1:5055');
    expect((fromDraft({ ...d, values: { ...d.values, imageRegistry: '  ' } }) as { imageRegistry: unknown }).imageRegistry).toBeNull();
    expect(labelOf('imageRegistry')).toBe('Image registry');
  });

  it('names each refused field with its label, a media folder by its row, and shows list issues per row', () => {
    const d = toDraft(custom);
    const bad = { ...d, values: { ...d.values, 'modules.jellyfin.lanPort': '', 'modules.jellyfin.mediaPaths': ['/ok', 'relative'], 'modules.backup.keepWeekly': 'x' } };
    const r = StackSettings.safeParse(fromDraft(bad));
    expect(r.success).toBe(false);
    const issues = collect(r.error?.issues ?? []);
    expect([...issues.keys()].sort()).toEqual(['modules.backup.keepWeekly', 'modules.jellyfin.lanPort', 'modules.jellyfin.mediaPaths.1']);
    expect(issues.get('modules.jellyfin.mediaPaths.1')?.[0]).toMatch(/^Media folder 2: /);
    expect(issues.get('modules.jellyfin.lanPort')?.[0]).toMatch(/^Jellyfin port: /);
    expect(labelOf('modules.nextcloud.lanPort')).toBe('Nextcloud port (fallback)');
    expect(labelOf('hostnames.authentik')).toBe('Authentik host name');
    expect(fieldOf(['settings', 'modules', 'jellyfin', 'mediaPaths', 3, 'x'])).toBe('modules.jellyfin.mediaPaths.3');
    expect(fieldOf(['imageOverrides', 'jellyfin'])).toBe('imageOverrides');
  });
});
