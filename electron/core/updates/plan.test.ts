import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import { renderStack, requiredSecrets } from '../stack/render';
import { Secret } from '../secrets/secret';
import { imageRefFor } from './image-ref';
import { imagesInUse, imageUpdate, planUpdate, sameChanges } from './plan';

const settings = (patch: Partial<StackSettings> = {}): StackSettings => ({ ...StackSettings.parse({ modules: { mediaAutomation: { enabled: false }, wireguard: { enabled: false } } }), ...patch });

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? `${err.code}: ${err.userMessage}` : String(err);
  }
  return 'no error';
};

describe('update plan', () => {
  it('changes only the chosen tags, and says from what to what', () => {
    const s = settings();
    const p = planUpdate(s, [{ key: 'jellyfin', tag: '10.12.0' }]);
    expect(p.changes).toEqual([{ key: 'jellyfin', from: '10.11.11', to: '10.12.0', level: 'minor' }]);
    expect(p.settings.imageOverrides).toEqual({ jellyfin: '10.12.0' });
    expect({ ...p.settings, imageOverrides: {} }).toEqual({ ...s, imageOverrides: {} });
  });

  it('refuses by the policy, not-newer tags, unknown or unused images, and hostile tags — naming the image', () => {
    const s = settings();
    expect(code(() => planUpdate(s, [{ key: 'postgres', tag: '17-alpine' }]))).toBe('updates.invalid: Image postgres: 17-alpine is a major update and postgres takes patch updates only.');
    expect(code(() => planUpdate(s, [{ key: 'jellyfin', tag: '11.0.0' }]))).toMatch(/major update and jellyfin takes minor updates only/);
    expect(code(() => planUpdate(s, [{ key: 'jellyfin', tag: '10.11.10' }]))).toMatch(/10.11.10 is not a newer version of 10.11.11/);
    expect(code(() => planUpdate(s, [{ key: 'sonarr', tag: '4.0.16' }]))).toMatch(/"sonarr": the stack on this server does not run it/);
    expect(code(() => planUpdate(s, [{ key: 'nope', tag: '1.0' }]))).toMatch(/"nope"/);
    for (const tag of ['10.11.12; reboot', '$(reboot)', '10.11.12\n', 'x'.repeat(200), '10.11.12-é']) {
      expect(code(() => planUpdate(s, [{ key: 'jellyfin', tag }]))).toMatch(/^updates.invalid: Image jellyfin: /);
    }
    expect(code(() => planUpdate(s, [{ key: 'jellyfin', tag: '10.11.12' }, { key: 'jellyfin', tag: '10.11.13' }]))).toMatch(/chosen twice/);
  });

  it('a tag that already runs is no change', () => {
    expect(planUpdate(settings({ imageOverrides: { jellyfin: '10.11.12' } }), [{ key: 'jellyfin', tag: '10.11.12' }]).changes).toEqual([]);
  });

  it('renders the new tag from the image registry when one is set, and recreates only that image’s services', () => {
    const s = settings({ imageRegistry: '127.0.0.1:5055' });
    const secrets = new Map(requiredSecrets(s, { skip: ['cloudflared'] }).map((r) => [r.name, new Secret('x'.repeat(24))]));
    const before = renderStack(s, secrets, { m2Dir: '/home/a/m2', skip: ['cloudflared'] });
    const after = renderStack(planUpdate(s, [{ key: 'jellyfin', tag: '10.11.12' }]).settings, secrets, { m2Dir: '/home/a/m2', skip: ['cloudflared'] });
    expect(after.serviceImages.jellyfin).toBe('127.0.0.1:5055/jellyfin/jellyfin:10.11.12');
    expect(before.serviceImages['nextcloud-db']).toBe('127.0.0.1:5055/postgres:16-alpine');
    const changed = Object.keys(after.serviceImages).filter((k) => after.serviceImages[k] !== before.serviceImages[k]);
    expect(changed).toEqual(['jellyfin']);
  });

  it('the check row: candidates by policy, a major warned about, the services running the image', () => {
    const s = settings({ imageRegistry: '127.0.0.1:5055' });
    const running = [
      { service: 'jellyfin', image: imageRefFor(s, 'jellyfin') },
      { service: 'nextcloud', image: 'nextcloud:34.0.2-apache' },
    ];
    const row = imageUpdate(s, 'jellyfin', { tags: ['10.11.12', '11.0.0', 'latest'] }, running);
    expect(row).toMatchObject({ current: '10.11.11', candidates: [{ tag: '10.11.12', level: 'patch' }], services: ['jellyfin'], registry: '127.0.0.1:5055', warning: null, error: null });
    const cf = imageUpdate(s, 'cloudflared', { tags: ['2027.1.0'] }, running);
    expect(cf.warning).toMatch(/new major version/);
    expect(imageUpdate(s, 'redis', { error: 'The server could not reach the image registry 127.0.0.1:5055.' }, running).error).toMatch(/127.0.0.1:5055/);
  });

  it('images in use follow the enabled modules', () => {
    expect(imagesInUse(settings())).not.toContain('sonarr');
    expect(imagesInUse(settings())).toContain('jellyfin');
    expect(sameChanges([{ key: 'a', from: '1', to: '2', level: 'patch' }], [{ key: 'a', from: '1', to: '2', level: 'patch' }])).toBe(true);
    expect(sameChanges([{ key: 'a', from: '1', to: '2', level: 'patch' }], [{ key: 'a', from: '1', to: '3', level: 'patch' }])).toBe(false);
  });
});
