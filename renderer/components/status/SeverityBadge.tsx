import type { Severity } from '../../../electron/contract/status';
import { severityLook, type SeverityLook } from './format';

/** A state as a badge: an icon and a word, the colour only repeats them. */
export function Badge({ look }: { look: SeverityLook }) {
  return (
    <span className={`badge badge-${look.tone}`}>
      <span aria-hidden="true">{look.icon}</span> {look.text}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <Badge look={severityLook(severity)} />;
}
