import { describe, expect, it } from 'vitest';
import { signInGuide } from './sign-in';
import { StackSettings } from './stack';

describe('sign-in guide', () => {
  it('with Authentik: Nextcloud through “Log in with authentik”, Jellyfin with the Authentik account in every app, local admins kept for repairs', () => {
    const g = signInGuide(StackSettings.parse({ hostnames: { nextcloud: 'cloud.example.org', authentik: 'auth.example.org' } }));
    expect(g.map((x) => x.service)).toEqual(['authentik', 'nextcloud', 'jellyfin']);
    expect(g[0]?.how).toContain('https://auth.example.org/');
    expect(g[1]?.how).toMatch(/^On https:\/\/cloud\.example\.org\/ choose “Log in with authentik” and sign in with the Authentik account\. Nextcloud’s own administrator \(\S+\) keeps its password/);
    expect(g[0]?.how).toContain('That account signs in to Jellyfin and Nextcloud.');
    expect(g[2]?.how).toMatch(/^Sign in with the Authentik user name and password, on the web page and in the TV and phone apps/);
  });

  it('without Authentik: each service’s own administrator, no Authentik', () => {
    const g = signInGuide(StackSettings.parse({ modules: { authentik: { enabled: false } } }));
    expect(g.map((x) => x.service)).toEqual(['nextcloud', 'jellyfin']);
    expect(JSON.stringify(g)).not.toMatch(/authentik/i);
  });
});
