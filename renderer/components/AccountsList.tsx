import { useEffect, useRef, useState } from 'react';
import type { Account, SignIn } from '../../electron/contract/accounts';
import type { ErrorShape } from '../../electron/contract/errors';
import { asShape } from '../hooks/use-call';
import { useProfileCall } from '../hooks/use-profile-call';
import { call } from '../m2';
import { ErrorNotice } from './ErrorNotice';

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
  const { state } = useProfileCall('accounts:list', profileId);
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
