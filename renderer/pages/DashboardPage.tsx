import { EmptyState } from '../components/EmptyState';

export function DashboardPage() {
  return (
    <>
      <h1>Dashboard</h1>
      <EmptyState title="Nothing to show yet">
        <p>Once your server is set up, this page shows at a glance:</p>
        <ul>
          <li>the Cloudflare tunnel: connections, edge locations, requests and errors;</li>
          <li>who is watching, and whether each stream is transcoded by the GPU, in software, or played directly;</li>
          <li>the last good backup, its age and size, and when the next one runs;</li>
          <li>every service's state, health and version, worst first.</li>
        </ul>
      </EmptyState>
    </>
  );
}
