import { useEffect, useRef, useState } from 'react';
import type { Account, RotationPlan, RotationResult, SignIn } from '../../../electron/contract/accounts';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape, useCall } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';

/** How long a password copied by this window stays on the clipboard (the desktop app's main process uses the same). */
const CLEAR_AFTER_MS = 30_000;

function SignInAt({ signIn }: { signIn: SignIn }) {
  switch (signIn.kind) {
    case 'published':
      return (
        <a href={signIn.url} target="_blank" rel="noreferrer">
          {signIn.url}
        </a>
      );
    case 'home':
      return (
        <>
          <a href={signIn.url} target="_blank" rel="noreferrer">
            {signIn.url}
          </a>{' '}
          <span className="muted">(at home)</span>
        </>
      );
    case 'not-published':
      return (
        <span className="muted">
          <code>https://{signIn.hostname}/</code> once the tunnel publishes it
        </span>
      );
    default: {
      const never: never = signIn;
      return never;
    }
  }
}

/**
 * Copy in a window without the app's clipboard (the web host): the value passes through this page once, and is
 * taken off the clipboard after a while if it is still there.
 */
async function copyInPage(profileId: string, accountId: string): Promise<void> {
  const { password } = await call('accounts:reveal', { profileId, accountId });
  await navigator.clipboard.writeText(password);
  setTimeout(() => {
    void navigator.clipboard.readText().then(
      (now) => (now === password ? navigator.clipboard.writeText('') : undefined),
      () => undefined,
    );
  }, CLEAR_AFTER_MS);
}

function AccountRow({ profileId, account }: { profileId: string; account: Account }) {
  const [shown, setShown] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  const who = `${account.title} ${account.username}`;
  const run = async (op: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setNote(undefined);
    try {
      await op();
    } catch (err) {
      if (live.current) setError(asShape(err));
    } finally {
      if (live.current) setBusy(false);
    }
  };
  const reveal = () =>
    run(async () => {
      const r = await call('accounts:reveal', { profileId, accountId: account.id });
      if (live.current) setShown(r.password);
    });
  const copy = () =>
    run(async () => {
      try {
        const r = await call('accounts:copy', { profileId, accountId: account.id });
        if (live.current) setNote(`Copied. The clipboard is cleared in ${r.clearsAfterSeconds} s.`);
      } catch (err) {
        if (asShape(err).code !== 'accounts.clipboard-unavailable') throw err;
        await copyInPage(profileId, account.id);
        if (live.current) setNote(`Copied. The clipboard is cleared in ${Math.round(CLEAR_AFTER_MS / 1000)} s if it still holds the password.`);
      }
    });

  return (
    <tr>
      <th scope="row">
        {account.title}
        <div className="muted">{account.role}</div>
      </th>
      <td>
        <code>{account.username}</code>
      </td>
      <td>
        <SignInAt signIn={account.signIn} />
      </td>
      <td>
        {account.passwordSet ? (
          <div className="secret-actions">
            {shown !== undefined ? (
              <code aria-label={`Password for ${who}`} className="secret-value">
                {shown}
              </code>
            ) : (
              <span className="muted">kept in the keychain</span>
            )}
            {shown !== undefined ? (
              <button type="button" aria-label={`Hide password for ${who}`} onClick={() => setShown(undefined)}>
                Hide
              </button>
            ) : (
              <button type="button" aria-label={`Reveal password for ${who}`} disabled={busy} onClick={() => void reveal()}>
                Reveal
              </button>
            )}
            <button type="button" aria-label={`Copy password for ${who}`} disabled={busy} onClick={() => void copy()}>
              Copy
            </button>
          </div>
        ) : (
          <span className="muted">{account.service === 'jellyfin' ? 'made when the install sets Jellyfin up' : 'made when you first review the install'}</span>
        )}
        {note ? (
          <p role="status" className="muted">
            {note}
          </p>
        ) : null}
        <div className="muted">
          Keychain: <code>{account.keychain.service}</code> · <code>{account.keychain.account}</code>
        </div>
        {error ? <ErrorNotice error={error} /> : null}
      </td>
    </tr>
  );
}

/**
 * The accounts the stack creates on a server, with their passwords on demand: the list never carries a value;
 * Reveal asks for one account's password, Copy has the app put it on the clipboard and clear it again.
 */
export function AccountsList({ profileId }: { profileId: string }) {
  const { state } = useCall('accounts:list', { profileId });
  if (state.kind === 'loading') return <p className="muted">Loading accounts…</p>;
  if (state.kind === 'failed') return <ErrorNotice error={state.error} />;
  if (state.value.length === 0) return <p className="muted">The stack creates no accounts with the modules chosen.</p>;
  return (
    <table className="table" aria-label="Accounts">
      <thead>
        <tr>
          <th scope="col">Service</th>
          <th scope="col">Username</th>
          <th scope="col">Signs in at</th>
          <th scope="col">Password</th>
        </tr>
      </thead>
      <tbody>
        {state.value.map((a) => (
          <AccountRow key={a.id} profileId={profileId} account={a} />
        ))}
      </tbody>
    </table>
  );
}

function RotationRow({ profileId, plan, onRotated }: { profileId: string; plan: RotationPlan; onRotated: (result: RotationResult) => void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorShape | undefined>();
  const [done, setDone] = useState<RotationResult | undefined>();
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  const rotate = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const r = await call('accounts:rotate', { profileId, secret: plan.secret });
      if (!live.current) return;
      setDone(r);
      setOpen(false);
      onRotated(r);
    } catch (err) {
      if (live.current) setError(asShape(err));
    } finally {
      if (live.current) setBusy(false);
    }
  };
  const restarts = plan.restarts.length > 0 ? plan.restarts.join(', ') : 'nothing';
  return (
    <tr>
      <th scope="row">
        {plan.title}
        <div className="muted">
          <code>{plan.secret}</code>
        </div>
      </th>
      <td>
        {!plan.rotatable ? (
          <span className="muted">{plan.reason}</span>
        ) : !plan.passwordSet && !plan.unfinished ? (
          <span className="muted">Not generated yet: it is made when you first review the install.</span>
        ) : (
          <>
            {plan.unfinished ? (
              <p role="status">An earlier rotation did not finish. Rotating again finishes it with the value it had already made.</p>
            ) : null}
            {open || busy ? (
              <div role="region" aria-label={`Rotate ${plan.title}`} className="rotation-plan">
                <p>
                  <strong>This restarts {restarts}.</strong> What happens, in order:
                </p>
                <ol>
                  {plan.steps.map((s) => (
                    <li key={s}>{s}</li>
                  ))}
                </ol>
                {busy ? (
                  <p role="status" className="muted">
                    Rotating… {restarts} restart{plan.restarts.length === 1 ? 's' : ''} with the new value.
                  </p>
                ) : (
                  <div className="secret-actions">
                    <button type="button" onClick={() => void rotate()}>
                      {plan.unfinished ? 'Finish the rotation' : 'Rotate now'}
                    </button>
                    <button type="button" onClick={() => setOpen(false)}>
                      Cancel
                    </button>
                  </div>
                )}
              </div>
            ) : (
              <button type="button" aria-label={`Rotate ${plan.title}…`} onClick={() => setOpen(true)}>
                Rotate…
              </button>
            )}
          </>
        )}
        {done ? (
          <p role="status" className="muted">
            {done.message}
          </p>
        ) : null}
        {error ? <ErrorNotice error={error} /> : null}
      </td>
    </tr>
  );
}

/**
 * Rotation of the secrets the app generated: each with what rotating it does on the server and what restarts, shown
 * before anything runs, or why it is not offered. The new value never reaches this window; reveal it above.
 */
export function SecretRotations({ profileId, onRotated }: { profileId: string; onRotated?: (result: RotationResult) => void }) {
  const [state, setState] = useState<{ kind: 'loading' } | { kind: 'ready'; plans: RotationPlan[] } | { kind: 'failed'; error: ErrorShape }>({ kind: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    call('accounts:rotations', { profileId }).then(
      (plans) => live && setState({ kind: 'ready', plans }),
      (err: unknown) => live && setState({ kind: 'failed', error: asShape(err) }),
    );
    return () => {
      live = false;
    };
  }, [profileId, generation]);
  if (state.kind === 'loading') return <p className="muted">Loading secrets…</p>;
  if (state.kind === 'failed') return <ErrorNotice error={state.error} />;
  if (state.plans.length === 0) return <p className="muted">The stack generates no secrets with the modules chosen.</p>;
  return (
    <table className="table" aria-label="Rotation">
      <thead>
        <tr>
          <th scope="col">Secret</th>
          <th scope="col">Rotation</th>
        </tr>
      </thead>
      <tbody>
        {state.plans.map((p) => (
          <RotationRow
            key={p.secret}
            profileId={profileId}
            plan={p}
            onRotated={(r) => {
              setGeneration((g) => g + 1);
              onRotated?.(r);
            }}
          />
        ))}
      </tbody>
    </table>
  );
}
