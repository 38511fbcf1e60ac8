import { EmptyState } from '../components/EmptyState';

export function ServicesPage() {
  return (
    <>
      <h1>Services</h1>
      <EmptyState title="No services installed yet">
        <p>
          Here you will turn modules on and off — Jellyfin, Nextcloud, Authentik, cloudflared, backups, the WireGuard fallback — see their pinned
          versions and state, read what an update changes, and apply it with an automatic rollback if anything fails its health check.
        </p>
      </EmptyState>
    </>
  );
}
