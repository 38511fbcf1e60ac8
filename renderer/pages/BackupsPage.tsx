import { EmptyState } from '../components/EmptyState';

export function BackupsPage() {
  return (
    <>
      <h1>Backups</h1>
      <EmptyState title="No backups yet">
        <p>
          Once backups are on, this page lists restic snapshots of your Nextcloud data, databases and service settings: the last good snapshot, its
          age and size, the result of the last run, the next scheduled run, and a restore drill you can start on demand.
        </p>
      </EmptyState>
    </>
  );
}
