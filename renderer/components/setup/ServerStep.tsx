import { useId, useState, useSyncExternalStore, type FormEvent } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { PreflightReport } from '../../../electron/contract/preflight';
import type { ServerProfile } from '../../../electron/contract/profiles';
import type { ConnectResult, ConnectionState, InstallKeyResult } from '../../../electron/contract/server';
import { call } from '../../m2';
import { asShape } from '../../hooks/use-call';
import { useConnection } from '../../hooks/use-connection';
import { ErrorNotice } from '../common/ErrorNotice';
import { HostKeyChangedDialog, HostKeyDialog } from './HostKeyDialog';
import { PreflightChecklist } from './PreflightChecklist';
import { stepHeading } from './setup-step-heading';

type Pending = Extract<ConnectResult, { kind: 'confirm-host-key' | 'host-key-changed' }>;

/**
 * What the admin typed for this one sign-in. It travels with the host-key question and is sent again
 * with the confirmed fingerprint (the server must see both on the same attempt), then forgotten.
 */
type Credential = { readonly kind: 'password'; readonly value: string } | { readonly kind: 'passphrase'; readonly value: string; readonly remember: boolean };
type SecretField = Credential['kind'];

/** The contract's limit on a typed password or passphrase. */
const MAX_SECRET = 1024;

/**
 * What this window learned about a server that must outlive the component: installing a key changes the
 * profile, and the step is drawn anew for the changed profile (often before the install call has even
 * answered), so the key just installed and the last preflight report are kept here, by profile.
 */
class Remembered<T> {
  readonly #values = new Map<string, T>();
  readonly #listeners = new Set<() => void>();
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
  get(id: string): T | undefined {
    return this.#values.get(id);
  }
  set(id: string, value: T): void {
    this.#values.set(id, value);
    for (const l of this.#listeners) l();
  }
}
const installedKeys = new Remembered<InstallKeyResult>();
const reports = new Remembered<PreflightReport>();
const useRemembered = <T,>(store: Remembered<T>, id: string): T | undefined => useSyncExternalStore(store.subscribe, () => store.get(id));

const stateLabel = (s: ConnectionState | undefined): string => {
  switch (s?.kind) {
    case undefined:
    case 'idle':
      return 'Not connected';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return `Connection lost — retrying (attempt ${s.attempt})`;
    case 'closed':
      return s.reason ? `Not connected — ${s.reason}` : 'Disconnected';
    default: {
      const never: never = s;
      return never;
    }
  }
};

const signInLabel = (profile: ServerProfile): string => {
  switch (profile.auth.kind) {
    case 'agent':
      return 'signs in with the SSH agent';
    case 'key':
      return `signs in with the key file ${profile.auth.keyPath}`;
    case 'password':
      return 'signs in with a password (first contact only)';
    default: {
      const never: never = profile.auth;
      return never;
    }
  }
};

const credentialFields = (c: Credential | undefined) =>
  c?.kind === 'password' ? { password: c.value } : c?.kind === 'passphrase' ? { passphrase: c.value, rememberPassphrase: c.remember } : {};

/** Connect to one saved server: credentials when needed, host-key confirmation, then the preflight. */
export function ServerStep({ profile, onRemove }: { profile: ServerProfile; onRemove: (id: string) => void }) {
  const uid = useId();
  // How the connection stands, followed from main (pushed changes, and asked once when the step opens).
  const { state } = useConnection(profile.id);
  const [pending, setPending] = useState<{ result: Pending; credential: Credential | undefined } | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  /** The secret the server asked for (a key passphrase only once it is needed; a password whenever not connected). */
  const [asked, setAsked] = useState<SecretField | undefined>();
  const [secret, setSecret] = useState('');
  const [remember, setRemember] = useState(false);
  const [dataPath, setDataPath] = useState(`/home/${profile.username}`);
  const report = useRemembered(reports, profile.id);
  const installed = useRemembered(installedKeys, profile.id);
  const setReport = (r: PreflightReport) => reports.set(profile.id, r);
  const setInstalled = (r: InstallKeyResult) => installedKeys.set(profile.id, r);

  const connected = state?.kind === 'connected';
  const secretField: SecretField | undefined = connected ? undefined : (asked ?? (profile.auth.kind === 'password' ? 'password' : undefined));
  const secretLabel = secretField === 'password' ? 'Password' : 'Key passphrase';
  /** An error about the typed secret or the data folder is shown beside that field; others above. */
  const errorAt: 'secret' | 'data' | 'general' | undefined = !error
    ? undefined
    : secretField && error.field === secretField
      ? 'secret'
      : error.field?.startsWith('dataPaths')
        ? 'data'
        : 'general';

  const preflight = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setReport(await call('preflight:run', { profileId: profile.id, dataPaths: [dataPath] }));
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  const installKey = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setInstalled(await call('server:install-key', { profileId: profile.id }));
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  const disconnect = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call('server:disconnect', { profileId: profile.id });
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  /** The secret as typed, or a message for the field when it cannot be sent as it is. */
  const typedCredential = (): Credential | ErrorShape | undefined => {
    if (!secretField || secret === '') return undefined;
    if (secret.length > MAX_SECRET) {
      return {
        code: 'ipc.invalid',
        userMessage: `${secretLabel}: at most ${MAX_SECRET} characters.`,
        hint: 'Check what was pasted into the field.',
        field: secretField,
      };
    }
    return secretField === 'password' ? { kind: 'password', value: secret } : { kind: 'passphrase', value: secret, remember };
  };

  const connect = async (opts: { acceptFingerprint?: string; credential?: Credential | undefined }) => {
    setBusy(true);
    setError(undefined);
    setPending(undefined);
    try {
      const result = await call('server:connect', {
        profileId: profile.id,
        ...(opts.acceptFingerprint ? { acceptFingerprint: opts.acceptFingerprint } : {}),
        ...credentialFields(opts.credential),
      });
      // The typed secret now travels only with the question below (or is no longer needed).
      setSecret('');
      if (result.kind === 'connected') {
        setAsked(undefined);
        setBusy(false);
        await preflight();
        return;
      }
      setPending({ result, credential: opts.credential });
    } catch (err) {
      const shape = asShape(err);
      if (shape.field === 'password' || shape.field === 'passphrase') {
        setAsked(shape.field);
        setSecret('');
      }
      setError(shape);
    } finally {
      setBusy(false);
    }
  };

  /** Connect with what is typed in the secret field, if anything. */
  const connectWithTyped = () => {
    const typed = typedCredential();
    if (typed && 'code' in typed) {
      setError(typed);
      return;
    }
    void connect({ credential: typed });
  };

  const signIn = (e: FormEvent) => {
    e.preventDefault();
    connectWithTyped();
  };

  const secretInputId = `${uid}-secret`;
  const secretErrorId = `${uid}-secret-error`;
  const dataErrorId = `${uid}-data-error`;

  return (
    <section className="card" aria-label={`Server ${profile.name}`}>
      <div className="row">
        <div>
          <strong>{profile.name}</strong>
          <div className="muted">
            {profile.username}@{profile.host}:{profile.port} · {signInLabel(profile)} · <span role="status">{stateLabel(state)}</span>
          </div>
        </div>
        <div className="actions-inline">
          <button type="button" onClick={connectWithTyped} disabled={busy} aria-label={`${connected ? 'Reconnect' : 'Connect'} to ${profile.name}`}>
            {connected ? 'Reconnect' : 'Connect'}
          </button>
          {connected ? (
            <button type="button" className="secondary" onClick={() => void disconnect()} disabled={busy} aria-label={`Disconnect from ${profile.name}`}>
              Disconnect
            </button>
          ) : null}
          <button type="button" className="secondary" onClick={() => onRemove(profile.id)} aria-label={`Remove ${profile.name}`}>
            Remove
          </button>
        </div>
      </div>
      {secretField && !pending ? (
        <form className="form inline-form" aria-label={`Sign in to ${profile.name}`} onSubmit={signIn}>
          <label htmlFor={secretInputId}>{secretLabel}</label>
          <input
            id={secretInputId}
            type="password"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            aria-invalid={errorAt === 'secret' ? true : undefined}
            aria-describedby={errorAt === 'secret' ? secretErrorId : undefined}
          />
          {errorAt === 'secret' && error ? (
            <div id={secretErrorId} className="field-error" role="alert">
              <strong>{error.userMessage}</strong>
              {error.hint ? <p>{error.hint}</p> : null}
            </div>
          ) : null}
          {secretField === 'passphrase' ? (
            <label className="check-label">
              <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember it in this computer’s keychain
            </label>
          ) : null}
          <button type="submit" disabled={busy || secret === ''}>
            Sign in
          </button>
        </form>
      ) : null}
      {errorAt === 'general' && error ? <ErrorNotice error={error} /> : null}
      {pending?.result.kind === 'confirm-host-key' ? (
        <HostKeyDialog
          host={pending.result.host}
          port={pending.result.port}
          fingerprint={pending.result.fingerprint}
          keyType={pending.result.keyType}
          onTrust={() => void connect({ acceptFingerprint: pending.result.fingerprint, credential: pending.credential })}
          onCancel={() => setPending(undefined)}
        />
      ) : null}
      {pending?.result.kind === 'host-key-changed' ? (
        <HostKeyChangedDialog
          host={pending.result.host}
          port={pending.result.port}
          fingerprint={pending.result.fingerprint}
          keyType={pending.result.keyType}
          expected={pending.result.expected}
          onClose={() => setPending(undefined)}
        />
      ) : null}
      {connected && profile.auth.kind === 'password' ? (
        <div className="notice notice-info" role="group" aria-label="Switch to a key">
          <p>
            You signed in with a password. Passwords are for the first contact only: M2 Companion can create a key for this server, install it in
            the server’s authorized_keys, and sign in with it from now on.
          </p>
          <button type="button" onClick={() => void installKey()} disabled={busy}>
            Create a key and use it
          </button>
        </div>
      ) : null}
      {installed && profile.auth.kind === 'key' && profile.auth.keyPath === installed.keyPath ? (
        <div className="notice notice-ok" role="status" aria-label="Key installed">
          <p>
            {installed.installed === 'added' ? 'Installed a new key on the server' : 'The server already had this key'} ({installed.fingerprint}). From
            now on M2 Companion signs in to {profile.name} with it, without the password. The private key stays on this computer in{' '}
            <code>{installed.keyPath}</code>.
          </p>
        </div>
      ) : null}
      {connected || report ? (
        <div className="preflight">
          <h3>{stepHeading('preflight')}</h3>
          <div className="form inline-form">
            <label htmlFor={`${uid}-data`}>Data folder on the server</label>
            <input
              id={`${uid}-data`}
              value={dataPath}
              onChange={(e) => setDataPath(e.target.value)}
              spellCheck={false}
              aria-invalid={errorAt === 'data' ? true : undefined}
              aria-describedby={errorAt === 'data' ? dataErrorId : undefined}
            />
            {errorAt === 'data' && error ? (
              <p id={dataErrorId} className="field-error" role="alert">
                {error.userMessage}
              </p>
            ) : null}
            <button type="button" className="secondary" onClick={() => void preflight()} disabled={busy || !connected}>
              Run checks again
            </button>
          </div>
          {busy && !report ? <p className="muted">Checking the server…</p> : null}
          {report ? <PreflightChecklist report={report} /> : null}
        </div>
      ) : null}
    </section>
  );
}
