import { useId } from 'react';
import type { AgentState, StatusCard, StatusSnapshot } from '../../../electron/contract/status';
import { formatDuration, overallText, severityLook } from './format';
import { SeverityBadge } from './SeverityBadge';

/** Why the numbers may be stale: the agent on the server is starting, restarting or stopped. */
export function AgentNotice({ agent }: { agent: AgentState }) {
  switch (agent.kind) {
    case 'running':
      return null;
    case 'starting':
      return (
        <p className="notice notice-info" role="status">
          Starting the status agent on the server…
        </p>
      );
    case 'restarting':
      return (
        <div className="notice notice-warn" role="status">
          <strong>Live status is reconnecting:</strong> {agent.reason.replace(/\.$/, '')}.{' '}
          {agent.retryInMs > 0 ? `Trying again in ${formatDuration(Math.ceil(agent.retryInMs / 1000))}; ` : ''}what is shown may be out of date.
        </div>
      );
    case 'stopped':
      return (
        <p className="notice notice-warn" role="status">
          The status agent has stopped; what is shown may be out of date.
        </p>
      );
    default: {
      const never: never = agent;
      return never;
    }
  }
}

/** The one line that says how the server is, worst card first, read out when it changes. */
export function OverallState({ snapshot }: { snapshot: StatusSnapshot }) {
  const worst = snapshot.cards[0];
  const look = severityLook(snapshot.overall);
  return (
    <section className={`overall overall-${look.tone}`} aria-label="Overall state">
      <p role="status" className="overall-text">
        <span aria-hidden="true" className="overall-icon">
          {look.icon}
        </span>{' '}
        <strong>
          {look.text}: {overallText(snapshot.overall)}.
        </strong>
        {worst && worst.severity !== 'ok' ? ` ${worst.title}: ${worst.reason}` : null}
      </p>
      {!snapshot.complete ? <p className="muted">Waiting for the first full reading from the server…</p> : null}
    </section>
  );
}

function Card({ card }: { card: StatusCard }) {
  const id = useId();
  return (
    <li className={`status-card status-card-${severityLook(card.severity).tone}`} aria-labelledby={id}>
      <div className="status-card-head">
        <h3 id={id}>{card.title}</h3>
        <SeverityBadge severity={card.severity} />
      </div>
      <p>{card.reason}</p>
    </li>
  );
}

/** The cards as main ordered them: worst first. */
export function StatusCards({ cards }: { cards: readonly StatusCard[] }) {
  return (
    <ul className="status-cards" aria-label="Status, worst first">
      {cards.map((c) => (
        <Card key={c.id} card={c} />
      ))}
    </ul>
  );
}
