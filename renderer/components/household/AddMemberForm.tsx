import { useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import { householdRoles, MemberEmail, MemberName, ROLE_INFO, type HouseholdResult, type HouseholdRole } from '../../../electron/contract/household';
import { call, M2Error } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { Field } from '../common/Field';

const asShape = (err: unknown): ErrorShape => (err instanceof M2Error ? err.shape : { code: 'internal', userMessage: 'Something went wrong.', hint: 'Try again.' });

/**
 * Name, email and one role; checked here with the contract's own rules (so a hostile name never leaves the page),
 * and again in main. What main refuses about a field is shown under that field.
 */
export function AddMemberForm(props: { profileId: string; disabled: boolean; onDone: (r: HouseholdResult) => void }) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<HouseholdRole>('media');
  const [errors, setErrors] = useState<{ name?: string[]; email?: string[] }>({});
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);

  const add = (): void => {
    const errs: { name?: string[]; email?: string[] } = {};
    const n = MemberName.safeParse(name);
    if (!n.success) errs.name = n.error.issues.slice(0, 1).map((i) => i.message);
    const e = MemberEmail.safeParse(email);
    if (!e.success) errs.email = e.error.issues.slice(0, 1).map((i) => i.message);
    setErrors(errs);
    setError(undefined);
    if (errs.name || errs.email) return;
    setBusy(true);
    call('household:add', { profileId: props.profileId, member: { name, email, role } })
      .then(
        (r) => {
          props.onDone(r);
          if (r.ok) {
            setName('');
            setEmail('');
          }
        },
        (err: unknown) => {
          const s = asShape(err);
          if (s.field === 'member.name') setErrors({ name: [s.userMessage] });
          else if (s.field === 'member.email') setErrors({ email: [s.userMessage] });
          else setError(s);
        },
      )
      .finally(() => setBusy(false));
  };

  return (
    <section className="card" aria-labelledby="add-member-heading">
      <h2 id="add-member-heading">Add a person</h2>
      <form
        noValidate
        onSubmit={(ev) => {
          ev.preventDefault();
          add();
        }}
      >
        <Field id="member-name" label="Name" errors={errors.name}>
          {(aria) => <input {...aria} value={name} autoComplete="off" onChange={(ev) => setName(ev.target.value)} />}
        </Field>
        <Field id="member-email" label="Email" hint="Their Authentik username, and the address Cloudflare Access lets in." errors={errors.email}>
          {(aria) => <input {...aria} type="email" value={email} autoComplete="off" onChange={(ev) => setEmail(ev.target.value)} />}
        </Field>
        <fieldset className="field">
          <legend>Role</legend>
          {householdRoles.map((r) => (
            <div key={r}>
              <label>
                <input type="radio" name="member-role" value={r} checked={role === r} onChange={() => setRole(r)} /> <strong>{ROLE_INFO[r].title}</strong> — {ROLE_INFO[r].summary}
              </label>
            </div>
          ))}
        </fieldset>
        <div className="actions">
          <button type="submit" disabled={busy || props.disabled}>
            {busy ? 'Adding…' : 'Add person'}
          </button>
        </div>
      </form>
      {error ? <ErrorNotice error={error} /> : null}
    </section>
  );
}
