/**
 * How the household signs in to each service of a stack, in the admin's words: one list for the Done step and the
 * recovery kit. While Authentik runs, Nextcloud signs in through it ("Log in with authentik", user_oidc) and Jellyfin
 * asks it through its LDAP plugin and Authentik's LDAP outpost (every Jellyfin app, not only the web page); the local
 * administrators of Nextcloud and Jellyfin keep their own passwords for repairs. Pure (no zod): the renderer and the
 * recovery kit both import it.
 */
import type { StackSettings } from './stack';

export interface SignInGuide {
  readonly service: 'authentik' | 'nextcloud' | 'jellyfin';
  readonly title: string;
  /** One or two sentences: where and with which account. */
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
      how: `One account per person, made at https://${settings.hostnames.authentik}/ (administrator: akadmin, its password under Accounts). That account signs in to ${m.nextcloud.enabled ? 'Jellyfin and Nextcloud' : 'Jellyfin'}.`,
    });
  }
  if (m.nextcloud.enabled) {
    out.push({
      service: 'nextcloud',
      title: 'Nextcloud',
      how: sso
        ? `On https://${settings.hostnames.nextcloud}/ choose “Log in with authentik” and sign in with the Authentik account. Nextcloud’s own administrator (${m.nextcloud.adminUser}) keeps its password (under Accounts) on the same page, for repairs or when Authentik is down.`
        : `Sign in at https://${settings.hostnames.nextcloud}/ as ${m.nextcloud.adminUser} (its password under Accounts), and create an account there for each person.`,
    });
  }
  out.push({
    service: 'jellyfin',
    title: 'Jellyfin',
    how: sso
      ? `Sign in with the Authentik user name and password, on the web page and in the TV and phone apps (Jellyfin asks Authentik; the account is made in Jellyfin at the first sign-in, Authentik’s administrators become Jellyfin administrators). Jellyfin’s own administrator (admin) keeps its password (under Accounts), for repairs or when Authentik is down.`
      : 'Jellyfin’s own accounts: its administrator is admin (password under Accounts); create a Jellyfin user for each person at home.',
  });
  return out;
}
