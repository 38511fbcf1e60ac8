import { useEffect, useState } from 'react';
import { serviceAddresses, type ServiceAddress } from '../../../electron/contract/links';
import type { ServerProfile } from '../../../electron/contract/profiles';
import { call } from '../../m2';

/**
 * Where the household reaches each service of a server's stack: a link for every address that answers (published
 * through the tunnel, or Jellyfin at home), the host name as text until it is published. The same addresses are
 * the ones the app's link policy opens (contract/links.ts), so every link here opens.
 */
export function ServiceAddresses({ profile, label = 'Your services' }: { profile: ServerProfile; label?: string }) {
  const [addresses, setAddresses] = useState<{ id: string; list: ServiceAddress[] } | undefined>();
  useEffect(() => {
    let live = true;
    void Promise.all([call('stack:settings', { profileId: profile.id }), call('cloudflare:view', { profileId: profile.id })]).then(
      ([view, cf]) => {
        const published = cf.managed.filter((m) => m.kind === 'dns-record').map((m) => m.name);
        if (live && view.saved) setAddresses({ id: profile.id, list: serviceAddresses(view.settings, profile.host, published) });
      },
      // Without settings or Cloudflare's file there is nothing to link to yet; the pages say why elsewhere.
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [profile.id, profile.host]);
  if (addresses?.id !== profile.id || addresses.list.length === 0) return null;
  return (
    <ul className="plain" aria-label={label}>
      {addresses.list.map((a) => (
        <li key={a.service}>
          <strong>{a.title}</strong>:{' '}
          {a.url ? (
            <a href={a.url} target="_blank" rel="noreferrer" aria-label={`Open ${a.title} at ${a.hostname}`}>
              {a.url}
            </a>
          ) : (
            <>
              <code>https://{a.hostname}/</code> <span className="muted">(answers once the Cloudflare tunnel publishes it)</span>
            </>
          )}
          {a.home ? (
            <>
              {' '}
              · at home{' '}
              <a href={a.home} target="_blank" rel="noreferrer" aria-label={`Open ${a.title} at home`}>
                {a.home}
              </a>
            </>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
