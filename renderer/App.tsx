import { useEffect, useState } from 'react';
import { SetupPage } from './pages/SetupPage';
import { DashboardPage } from './pages/DashboardPage';
import { ServicesPage } from './pages/ServicesPage';
import { BackupsPage } from './pages/BackupsPage';
import { RemoteAccessPage } from './pages/RemoteAccessPage';
import { SettingsPage } from './pages/SettingsPage';

const PAGES = {
  setup: { label: 'Setup', Page: SetupPage },
  dashboard: { label: 'Dashboard', Page: DashboardPage },
  services: { label: 'Services', Page: ServicesPage },
  backups: { label: 'Backups', Page: BackupsPage },
  remote: { label: 'Remote access', Page: RemoteAccessPage },
  settings: { label: 'Settings', Page: SettingsPage },
} as const;
type PageKey = keyof typeof PAGES;

const fromHash = (): PageKey => {
  const key = location.hash.replace(/^#\/?/, '');
  return key in PAGES ? (key as PageKey) : 'setup';
};

export function App() {
  const [page, setPage] = useState<PageKey>(fromHash);
  useEffect(() => {
    const onHash = () => setPage(fromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const { Page } = PAGES[page];
  return (
    <div className="shell">
      <nav aria-label="Main" className="nav">
        <div className="brand" aria-hidden="true">
          M2
        </div>
        <ul>
          {(Object.keys(PAGES) as PageKey[]).map((key) => (
            <li key={key}>
              <a href={`#/${key}`} aria-current={key === page ? 'page' : undefined}>
                {PAGES[key].label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        <Page />
      </main>
    </div>
  );
}
