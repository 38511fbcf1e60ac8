import { useEffect, useState, type ComponentType } from 'react';
import { SetupPage } from './pages/SetupPage';
import { DashboardPage } from './pages/DashboardPage';
import { ServicesPage } from './pages/ServicesPage';
import { BackupsPage } from './pages/BackupsPage';
import { HouseholdPage } from './pages/HouseholdPage';
import { RemoteAccessPage } from './pages/RemoteAccessPage';
import { SettingsPage } from './pages/SettingsPage';
import { RecoveryKitPage } from './pages/RecoveryKitPage';
import { LogsPage } from './pages/LogsPage';
import { ChosenServerProvider } from './hooks/chosen-server';
import { PageErrorBoundary } from './components/common/PageErrorBoundary';

const PAGES = {
  setup: { label: 'Setup', Page: SetupPage },
  dashboard: { label: 'Dashboard', Page: DashboardPage },
  services: { label: 'Services', Page: ServicesPage },
  household: { label: 'Household', Page: HouseholdPage },
  backups: { label: 'Backups', Page: BackupsPage },
  remote: { label: 'Remote access', Page: RemoteAccessPage },
  settings: { label: 'Settings', Page: SettingsPage },
} as const;
/** Pages reached from another page, not from the navigation (shown with their parent marked current). */
const SUBPAGES = {
  'recovery-kit': { parent: 'settings', label: 'Recovery kit', Page: RecoveryKitPage },
  // `#/logs/<service>`: one service's logs, from the Dashboard's service list.
  logs: { parent: 'dashboard', label: 'Logs', Page: LogsPage },
} as const;
type PageKey = keyof typeof PAGES | keyof typeof SUBPAGES;
type NavKey = keyof typeof PAGES;

const fromHash = (): PageKey => {
  const key = location.hash.replace(/^#\/?/, '').split('/')[0] ?? '';
  return key in PAGES || key in SUBPAGES ? (key as PageKey) : 'setup';
};
const pageOf = (key: PageKey): { nav: NavKey; label: string; Page: ComponentType } =>
  key in SUBPAGES ? { nav: SUBPAGES[key as keyof typeof SUBPAGES].parent, ...SUBPAGES[key as keyof typeof SUBPAGES] } : { nav: key as NavKey, ...PAGES[key as NavKey] };

export function App() {
  const [page, setPage] = useState<PageKey>(fromHash);
  useEffect(() => {
    const onHash = () => setPage(fromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const { nav, label, Page } = pageOf(page);
  return (
    // One chosen server for every page: a choice made on one is what the next one shows.
    <ChosenServerProvider refreshOn={page}>
      <div className="shell">
        <nav aria-label="Main" className="nav">
          <div className="brand" aria-hidden="true">
            M2
          </div>
          <ul>
            {(Object.keys(PAGES) as NavKey[]).map((key) => (
              <li key={key}>
                <a href={`#/${key}`} aria-current={key === nav ? 'page' : undefined}>
                  {PAGES[key].label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main className="content">
          {/* A page that fails to render says so and how to report it; the navigation and other pages keep working. */}
          <PageErrorBoundary key={page} page={label}>
            <Page />
          </PageErrorBoundary>
        </main>
      </div>
    </ChosenServerProvider>
  );
}
