import type { Confirmation } from '../../contract/cloudflare';
import type { StepOutcome } from './run';

/**
 * The admin's answers for one publish about records the app did not make (an Access application, DNS records)
 * standing where it would write. The app takes one over only after a yes to exactly that record — the key names it
 * by id, so another record standing there since the question is asked about again.
 */
export class TakeOvers {
  /** What this run still has to ask, in the order it was found. */
  readonly asked: Confirmation[] = [];

  constructor(readonly confirmed: ReadonlySet<string>) {}

  /** Go ahead (null) when the admin said yes to this take-over; else ask, and the step waits for the answer. */
  ask(question: Confirmation, waiting: string): StepOutcome | null {
    if (this.confirmed.has(question.key)) return null;
    this.asked.push(question);
    return { status: 'needs-confirmation', detail: waiting };
  }
}
