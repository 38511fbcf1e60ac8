import type { HouseholdResult } from '../../../electron/contract/household';

const statusWord: Record<string, string> = { done: 'Done', unchanged: 'Already so', failed: 'Failed', skipped: 'Skipped', 'needs-confirmation': 'Waiting' };

/**
 * What a change did, step by step; the invite link is shown here once (main keeps it nowhere), to hand to the person.
 */
export function HouseholdResultNotice(props: { result: HouseholdResult; what: string; onClose: () => void }) {
  const r = props.result;
  const shown = r.steps.filter((s) => s.status !== 'unchanged' || !r.ok);
  return (
    <div role="status" aria-label={`${props.what} result`} className={`notice ${r.ok ? 'notice-ok' : 'notice-error'}`}>
      <strong>{r.ok ? `${props.what}: done.` : `${props.what}: not finished. Do it again to finish; nothing is done twice.`}</strong>
      {shown.length ? (
        <ul className="step-results">
          {shown.map((s) => (
            <li key={s.id} data-status={s.status}>
              <span className="step-status">{statusWord[s.status] ?? s.status}</span> — {s.title}: {s.detail}
              {s.error?.hint ? <span className="hint"> {s.error.hint}</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p>Nothing needed changing.</p>
      )}
      {r.invite?.kind === 'link' ? (
        <div>
          <p>
            Invite link for {r.member?.email} — give it to them yourself (it is shown only now): opening it lets them set their password. It works once.
          </p>
          <input aria-label="Invite link" readOnly value={r.invite.link} onFocus={(ev) => ev.currentTarget.select()} />
        </div>
      ) : null}
      {r.invite?.kind === 'none' ? <p>{r.invite.reason}</p> : null}
      <div className="actions">
        <button type="button" className="secondary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
