import { Component, type ErrorInfo, type ReactNode } from 'react';
import { DiagnosticsSection } from '../diagnostics/DiagnosticsSection';

interface Props {
  /** The page as the navigation names it ("Dashboard"). */
  readonly page: string;
  readonly children: ReactNode;
}

interface State {
  readonly error: Error | null;
  readonly componentStack: string;
}

/**
 * Around each page: a page that fails to render leaves the navigation and the other pages working, and says what
 * failed and how to report it (the diagnostics archive, right here, since the failing page may be Settings itself).
 * A new page (App keys this by page) starts clean; "Try again" renders the page once more.
 */
export class PageErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, componentStack: '' };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(_error: unknown, info: ErrorInfo): void {
    this.setState({ componentStack: info.componentStack ?? '' });
  }

  override render(): ReactNode {
    const { error, componentStack } = this.state;
    if (!error) return this.props.children;
    const details = [`${error.name}: ${error.message}`, error.stack ?? '', componentStack.trim() ? `Component stack:${componentStack}` : ''].filter(Boolean).join('\n\n');
    return (
      <>
        <h1>{this.props.page}</h1>
        <section className="card notice notice-error" role="alert" aria-labelledby="page-failed-title">
          <h2 id="page-failed-title">This page could not be shown</h2>
          <p>
            Something in the {this.props.page} page failed while it was being drawn: <strong data-testid="page-error-message">{error.message || error.name}</strong>.
            Nothing was changed on your server by this. The other pages still work.
          </p>
          <p>
            To report it: choose <strong>Export diagnostics…</strong> below (also in Settings → Diagnostics) and send the archive with a line about what you
            were doing. It holds the app&apos;s version and log, with passwords, keys and tokens removed.
          </p>
          <details>
            <summary>Technical details</summary>
            <pre className="code">{details}</pre>
          </details>
          <p className="actions">
            <button type="button" onClick={() => this.setState({ error: null, componentStack: '' })}>
              Try again
            </button>
          </p>
        </section>
        <DiagnosticsSection desktop={false} />
      </>
    );
  }
}
