import type { ReactNode } from 'react';

/** What a page says while it has nothing to show yet: what will appear here, and why. */
export function EmptyState({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="empty" aria-label={title}>
      <h2>{title}</h2>
      <div className="empty-body">{children}</div>
    </section>
  );
}
