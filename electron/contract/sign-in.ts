/**
 * How the household signs in to each service of a stack, in the admin's words, for the recovery kit (the Done step
 * says the same in its own words, NextSteps.tsx). While Authentik runs, Nextcloud signs in through it ("Log in with authentik", user_oidc) and Jellyfin
 * asks it through its LDAP plugin and Authentik's LDAP outpost (every Jellyfin app, not only the web page); the local
 * administrators of Nextcloud and Jellyfin keep their own passwords for repairs. Printed in the recovery kit's
 * "Signing in" section, so each is one short sentence: the kit is one page of A4 and of Letter with every module on
 * (the accounts and their passwords' keychain entries are listed in the kit's own sections). Pure (no zod).
 */
import type { StackSettings } from './stack';

export interface SignInGuide {
  readonly service: 'authentik' | 'nextcloud' | 'jellyfin';
  readonly title: string;
  /** One short sentence: where and with which account (the kit has to stay one page). */
  readonly how: string;
}

export function signInGuide(settings: StackSettings): SignInGuide[] {
  const m = settings.modules;
  const sso = m.authentik.enabled;
  const out: SignInGuide[] = [];
  if (sso) {
    out.push({
      service: 'authentik',
      title: 'Authentik',
      how: `One account per person, made at https://${settings.hostnames.authentik}/ (administrator: akadmin); it signs in to ${m.nextcloud.enabled ? 'Nextcloud and Jellyfin' : 'Jellyfin'}.`,
    });
  }
  if (m.nextcloud.enabled) {
    out.push({
      service: 'nextcloud',
      title: 'Nextcloud',
      how: sso
        ? `“Log in with authentik” on https://${settings.hostnames.nextcloud}/ with the Authentik account; its own administrator (${m.nextcloud.adminUser}) still signs in there, for repairs or when Authentik is down.`
        : `Sign in at https://${settings.hostnames.nextcloud}/ as ${m.nextcloud.adminUser} and create an account there for each person.`,
    });
  }
  out.push({
    service: 'jellyfin',
    title: 'Jellyfin',
    how: sso
      ? 'The Authentik user name and password, on the web page and in the TV and phone apps (Authentik’s administrators are Jellyfin’s); its own administrator (admin) still signs in, for repairs or when Authentik is down.'
      : 'Jellyfin’s own accounts: its administrator is admin; create a Jellyfin user for each person at home.',
  });
  return out;
}
