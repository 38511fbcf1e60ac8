/**
 * One sign-in (issue #18, deliverable 1): what the configure steps need to hand Nextcloud and Jellyfin to Authentik,
 * read from the settings and the keychain. Nothing here talks to the server.
 */
import type { StackSettings } from '../../../contract/stack';
import { authentikSecrets } from '../modules/authentik';
import { nextcloudSecrets } from '../modules/nextcloud';
import type { ProfileSecrets } from '../secrets';
import { configureFailed } from './common';
import type { JellyfinLdap } from './jellyfin-ldap';
import { discoveryUri, type NextcloudOidc } from './nextcloud-oidc';

/** Nextcloud's provider registration while Authentik is on; undefined when it is off. */
export async function nextcloudSso(settings: StackSettings, secrets: ProfileSecrets): Promise<NextcloudOidc | undefined> {
  if (!settings.modules.authentik.enabled || !settings.modules.nextcloud.enabled) return undefined;
  const secret = await secrets.get(nextcloudSecrets.oidcSecret);
  if (!secret) {
    throw configureFailed(
      'nextcloud',
      'the keychain holds no single sign-on client secret (nextcloud.oidc-secret) for it.',
      'Apply the stack again: M2 Companion creates the secret and gives it to Authentik and Nextcloud together.',
    );
  }
  return { discoveryUri: discoveryUri(settings.hostnames.authentik), secret };
}

/** Jellyfin's LDAP plugin settings while Authentik is on; undefined when it is off. */
export async function jellyfinSso(settings: StackSettings, secrets: ProfileSecrets): Promise<JellyfinLdap | undefined> {
  if (!settings.modules.authentik.enabled || !settings.modules.jellyfin.enabled) return undefined;
  const bindPassword = await secrets.get(authentikSecrets.ldapBindPassword);
  if (!bindPassword) {
    throw configureFailed(
      'jellyfin',
      `the keychain holds no password for Authentik’s LDAP account (${authentikSecrets.ldapBindPassword}).`,
      'Apply the stack again: M2 Companion creates it and gives it to Authentik and Jellyfin together.',
    );
  }
  return { bindPassword };
}
