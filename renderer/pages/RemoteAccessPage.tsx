import { EmptyState } from '../components/EmptyState';

export function RemoteAccessPage() {
  return (
    <>
      <h1>Remote access</h1>
      <EmptyState title="Not published yet">
        <p>
          Here you will see the Cloudflare Tunnel, the DNS names and the Access policies the app manages for you, and the WireGuard fallback: one
          switch that brings this laptop onto your server when Cloudflare is down, and QR codes for the household&apos;s phones.
        </p>
      </EmptyState>
    </>
  );
}
