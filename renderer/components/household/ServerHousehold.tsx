import { useRef, useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import { householdRoles, ROLE_INFO, type HouseholdMember, type HouseholdResult } from '../../../electron/contract/household';
import { useCall } from '../../hooks/use-call';
import { call, M2Error } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { ModalDialog } from '../common/ModalDialog';
import { AddMemberForm } from './AddMemberForm';
import { HouseholdResultNotice } from './HouseholdResultNotice';

const asShape = (err: unknown): ErrorShape => (err instanceof M2Error ? err.shape : { code: 'internal', userMessage: 'Something went wrong.', hint: 'Try again.' });

const stateWord: Record<HouseholdMember['state'], string> = { active: 'Has access', adding: 'Adding not finished', removing: 'Removal not finished' };

function ConfirmRemove(props: { member: HouseholdMember; onConfirm: () => void; onCancel: () => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <ModalDialog labelledBy="remove-member-title" describedBy="remove-member-desc" className="dialog dialog-danger" onCancel={props.onCancel} initialFocus={cancelRef}>
      <h2 id="remove-member-title">Remove {props.member.name}?</h2>
      <p id="remove-member-desc">
        Cloudflare Access stops letting {props.member.email} in at once, everywhere.{' '}
        {props.member.authentik === 'existing'
          ? 'Their Authentik account was made outside M2 Companion: it only leaves the household’s groups.'
          : 'Then their Authentik account is deleted.'}{' '}
        Their files in Nextcloud stay.
      </p>
      <div className="actions">
        <button type="button" onClick={props.onConfirm}>
          Remove {props.member.name}
        </button>
        <button type="button" className="secondary" ref={cancelRef} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}

/** The household of one server: the roles in words, the people, add and remove. */
export function ServerHousehold({ profileId }: { profileId: string }) {
  const view = useCall('household:view', { profileId });
  const [result, setResult] = useState<{ r: HouseholdResult; what: string } | undefined>();
  const [removing, setRemoving] = useState<HouseholdMember | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorShape | undefined>();
  const v = view.value;

  const remove = (m: HouseholdMember): void => {
    setRemoving(undefined);
    setBusy(true);
    setError(undefined);
    call('household:remove', { profileId, email: m.email })
      .then((r) => setResult({ r, what: `Removing ${m.name}` }), (err: unknown) => setError(asShape(err)))
      .finally(() => {
        setBusy(false);
        view.refresh();
      });
  };

  return (
    <>
      {view.error ? <ErrorNotice error={view.error} /> : null}
      <section className="card" aria-labelledby="roles-heading">
        <h2 id="roles-heading">Roles</h2>
        <p className="muted">Everyone signs in once, with Authentik. Cloudflare Access lets each person reach only what their role allows.</p>
        <dl>
          {householdRoles.map((r) => (
            <div key={r}>
              <dt>{ROLE_INFO[r].title}</dt>
              <dd>{ROLE_INFO[r].summary}</dd>
            </div>
          ))}
        </dl>
      </section>
      {v && !v.authentikEnabled ? (
        <div role="alert" className="notice notice-warn">
          People sign in through Authentik, which this server’s stack does not run. Turn it on in <a href="#/services">Services</a> and install first.
        </div>
      ) : null}
      {v && !v.cloudflareReady ? (
        <div role="note" className="notice notice-warn">
          Cloudflare is not set up for this server yet: people get their Authentik accounts now, and their roles take effect at Cloudflare when you publish.
        </div>
      ) : null}
      {v && (v.everywhere.emails.length > 0 || v.everywhere.domain) ? (
        <p className="muted">
          Cloudflare settings let in everywhere: {[...v.everywhere.emails, ...(v.everywhere.domain ? [`anyone @${v.everywhere.domain}`] : [])].join(', ')} (as admins).
        </p>
      ) : null}
      {result ? <HouseholdResultNotice result={result.r} what={result.what} onClose={() => setResult(undefined)} /> : null}
      {error ? <ErrorNotice error={error} /> : null}
      <section className="card" aria-labelledby="members-heading">
        <h2 id="members-heading">People</h2>
        {v && v.members.length === 0 ? <p className="muted">Nobody yet. Add the people of your household below.</p> : null}
        {v && v.members.length > 0 ? (
          <table className="table" aria-label="Household members">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {v.members.map((m) => (
                <tr key={m.email}>
                  <td>{m.name}</td>
                  <td>{m.email}</td>
                  <td>{ROLE_INFO[m.role].title}</td>
                  <td>
                    <span className={`badge ${m.state === 'active' ? 'badge-pass' : 'badge-warn'}`}>{stateWord[m.state]}</span>
                  </td>
                  <td>
                    <button type="button" className="secondary" disabled={busy} onClick={() => setRemoving(m)} aria-label={`Remove ${m.name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      <AddMemberForm
        profileId={profileId}
        disabled={busy || (v ? !v.authentikEnabled : true)}
        onDone={(r) => {
          setResult({ r, what: `Adding ${r.member?.name ?? 'the person'}` });
          view.refresh();
        }}
      />
      {removing ? <ConfirmRemove member={removing} onConfirm={() => remove(removing)} onCancel={() => setRemoving(undefined)} /> : null}
    </>
  );
}
