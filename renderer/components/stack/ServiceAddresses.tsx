import { serviceAddresses } from '../../../electron/contract/links';
import type { ServerProfile } from '../../../electron/contract/profiles';
import { useCall } from '../../hooks/use-call';

/**
 * Where the household reaches each service of a server's stack: a link for every address that answers (published
 * through the tunnel, or Jellyfin at home), the host name as text until it is published. The same addresses are
 * the ones the app's link policy opens (contract/links.ts), so every link here opens.
 */
export function ServiceAddresses({ profile, label = 'Your services' }: { profile: ServerProfile; label?: string }) {
  const settings = useCall('stack:settings', { profileId: profile.id });
  const cloudflare = useCall('cloudflare:view', { profileId: profile.id });
  // Without settings or Cloudflare's file there is nothing to link to yet; the pages say why elsewhere.
  if (settings.state.kind !== 'ready' || cloudflare.state.kind !== 'ready' || !settings.state.value.saved) return null;
  const published = cloudflare.state.value.managed.filter((m) => m.kind === 'dns-record').map((m) => m.name);
  const list = serviceAddresses(settings.state.value.settings, profile.host, published);
  if (list.length === 0) return null;
  return (
    <ul className="plain" aria-label={label}>
      {list.map((a) => (
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
