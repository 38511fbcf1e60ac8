import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { StackSettings } from '../../../electron/contract/stack';
import { NextSteps, nextSteps } from './NextSteps';

const settings = (modules: Record<string, unknown> = {}): StackSettings =>
  StackSettings.parse({ dataRoot: '/srv/m2', uid: 1000, gid: 1000, hostnames: { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' }, modules });
const ids = (s: StackSettings, published: string[] = []): string[] => nextSteps(s, published).map((x) => x.id);
const text = (s: StackSettings, published: string[] = []): string => renderToStaticMarkup(<NextSteps settings={s} published={published} />).replace(/<[^>]+>/g, ' ');

describe('what next, after the install', () => {
  it('fits the whole default stack: media, users, Nextcloud apps, Authentik members, publish, the first backup, no fallback yet, the kit', () => {
    expect(ids(settings())).toEqual(['media', 'jellyfin-users', 'nextcloud', 'authentik', 'publish', 'backup', 'fallback', 'kit']);
    const t = text(settings());
    expect(t).toContain('The first backup runs tonight at 03:30');
    expect(t).toContain('turn on the WireGuard fallback under Services');
    // One sign-in: Nextcloud through Authentik, its own administrator kept for repairs.
    expect(t).toMatch(/Sign in to Nextcloud with “Log in with authentik” and your Authentik account \(its own administrator, \S+, keeps its password for repairs\)/);
    expect(t).toContain('that one account signs them in to Jellyfin and Nextcloud');
    expect(t).toContain('Sign in to Jellyfin with your Authentik account');
    expect(text(settings({ authentik: { enabled: false } }))).toContain('Sign in to Nextcloud, then install');
  });

  it('leaves out what the stack does not run or what is already done', () => {
    const lean = settings({ jellyfin: { mediaPaths: ['/srv/media'] }, nextcloud: { enabled: false }, authentik: { enabled: false }, backup: { enabled: false }, wireguard: { enabled: true } });
    // Only Jellyfin is published here, and that is all this stack needs.
    expect(ids(lean, ['MEDIA.example.com'])).toEqual(['jellyfin-users', 'backup', 'fallback', 'kit']);
    const t = text(lean, ['media.example.com']);
    expect(t).toContain('Backups are off');
    expect(t).toContain('Add each phone and laptop for the outage fallback');
    // Nextcloud published but Jellyfin not yet: still a publish step.
    expect(ids(settings({ authentik: { enabled: false } }), ['cloud.example.com'])).toContain('publish');
  });

  it('links only within the app', () => {
    const html = renderToStaticMarkup(<NextSteps settings={settings()} published={[]} />);
    for (const href of html.match(/href="[^"]*"/g) ?? []) expect(href).toMatch(/^href="#\//);
  });
});
