import { describe, expect, it } from 'vitest';
import { signInGuide } from './sign-in';
import { StackSettings } from './stack';

describe('sign-in guide', () => {
  it('with Authentik: Nextcloud through “Log in with authentik”, Jellyfin with the Authentik account in every app, local admins kept for repairs', () => {
    const g = signInGuide(StackSettings.parse({ hostnames: { nextcloud: 'cloud.example.org', authentik: 'auth.example.org' } }));
    expect(g.map((x) => x.service)).toEqual(['authentik', 'nextcloud', 'jellyfin']);
    expect(g[0]?.how).toContain('https://auth.example.org/');
    expect(g[1]?.how).toMatch(/^“Log in with authentik” on https:\/\/cloud\.example\.org\/ with the Authentik account; its own administrator \(\S+\) still signs in there, for repairs/);
    expect(g[0]?.how).toContain('(administrator: akadmin); it signs in to Nextcloud and Jellyfin.');
    expect(g[2]?.how).toMatch(/^The Authentik user name and password, on the web page and in the TV and phone apps .*its own administrator \(admin\) still signs in/);
  });

  it('without Authentik: each service’s own administrator, no Authentik', () => {
    const g = signInGuide(StackSettings.parse({ modules: { authentik: { enabled: false } } }));
    expect(g.map((x) => x.service)).toEqual(['nextcloud', 'jellyfin']);
    expect(JSON.stringify(g)).not.toMatch(/authentik/i);
  });
});
