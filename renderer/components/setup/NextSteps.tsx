import type { ReactNode } from 'react';
import type { StackSettings } from '../../../electron/contract/stack';

export interface NextStep {
  readonly id: string;
  readonly text: ReactNode;
}

/**
 * What a household admin does after the install, for the stack that was installed: only the modules that run, in
 * the order a first evening goes (sign in, add the household, reach it from outside, keep it safe). Pure: the Done
 * step draws it from the saved settings and what Cloudflare publishes.
 */
export function nextSteps(settings: StackSettings, published: readonly string[]): NextStep[] {
  const m = settings.modules;
  const isPublished = (host: string): boolean => published.some((p) => p.toLowerCase() === host.toLowerCase());
  const steps: NextStep[] = [];
  if (m.jellyfin.mediaPaths.length === 0) {
    steps.push({ id: 'media', text: <>Add your film, series and music folders to Jellyfin under Services → Jellyfin → Media folders, then install again.</> });
  }
  steps.push({
    id: 'jellyfin-users',
    text: m.authentik.enabled ? (
      <>Sign in to Jellyfin with your Authentik account (in the web page and the apps; its own administrator keeps its password for repairs); on the TV, install the Jellyfin app.</>
    ) : (
      <>Sign in to Jellyfin as its administrator (the password is under Accounts) and create a user for each person at home; on the TV, install the Jellyfin app.</>
    ),
  });
  if (m.nextcloud.enabled) {
    steps.push({
      id: 'nextcloud',
      text: m.authentik.enabled ? (
        <>
          Sign in to Nextcloud with “Log in with authentik” and your Authentik account (its own administrator, {m.nextcloud.adminUser}, keeps its password for repairs), then install its desktop and
          phone apps so files, calendars and contacts sync.
        </>
      ) : (
        <>Sign in to Nextcloud, then install its desktop and phone apps so files, calendars and contacts sync.</>
      ),
    });
  }
  if (m.authentik.enabled) {
    steps.push({
      id: 'authentik',
      text: m.nextcloud.enabled ? (
        <>Add each household member in Authentik: that one account signs them in to Jellyfin and Nextcloud.</>
      ) : (
        <>Add each household member in Authentik: that one account signs them in to Jellyfin.</>
      ),
    });
  }
  const wanted = [settings.hostnames.jellyfin, ...(m.nextcloud.enabled ? [settings.hostnames.nextcloud] : []), ...(m.authentik.enabled ? [settings.hostnames.authentik] : [])];
  if (!m.cloudflared.enabled || !wanted.every(isPublished)) {
    steps.push({
      id: 'publish',
      text: (
        <>
          Publish through Cloudflare on <a href="#/remote">Remote access</a>, so the household reaches the services away from home, behind Cloudflare Access.
        </>
      ),
    });
  }
  steps.push(
    m.backup.enabled
      ? { id: 'backup', text: <>The first backup runs tonight at {m.backup.time} (server time): check it on the <a href="#/dashboard">Dashboard</a> tomorrow.</> }
      : { id: 'backup', text: <>Backups are off: turn them on under Services → Backups, ideally to another disk.</> },
  );
  steps.push(
    m.wireguard.enabled
      ? {
          id: 'fallback',
          text: (
            <>
              Add each phone and laptop for the outage fallback on <a href="#/remote">Remote access</a> (Household devices), before Cloudflare is ever down.
            </>
          ),
        }
      : { id: 'fallback', text: <>For a way home when Cloudflare is down, turn on the WireGuard fallback under Services.</> },
  );
  steps.push({
    id: 'kit',
    text: (
      <>
        Print the <a href="#/recovery-kit">household recovery kit</a> and keep it with your papers.
      </>
    ),
  });
  return steps;
}

export function NextSteps({ settings, published }: { settings: StackSettings; published: readonly string[] }) {
  return (
    <ol aria-label="What next">
      {nextSteps(settings, published).map((s) => (
        <li key={s.id}>{s.text}</li>
      ))}
    </ol>
  );
}
