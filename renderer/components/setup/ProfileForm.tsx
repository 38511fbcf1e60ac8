import { useId, useState, type FormEvent } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { ServerProfile } from '../../../electron/contract/profiles';
import { call } from '../../m2';
import { asShape } from '../../hooks/use-call';
import { ErrorNotice } from '../common/ErrorNotice';

type AuthKind = 'agent' | 'key' | 'password';

/** The form's fields by the name main's validation gives them (the error's `field`). */
const FIELDS = ['name', 'host', 'port', 'username', 'auth.keyPath'] as const;
type FieldName = (typeof FIELDS)[number];
const fieldOf = (error: ErrorShape | undefined): FieldName | undefined => FIELDS.find((f) => f === error?.field);

/** A port as typed: only a whole number from 1 to 65535 becomes a number; anything else is named before it is sent. */
const PORT_MESSAGE = 'Port: use a number from 1 to 65535 (SSH usually listens on 22).';
const parsePort = (typed: string): number | undefined => (/^\s*\d{1,5}\s*$/.test(typed) ? Number(typed) : undefined);

/** Add a server: name, address, port, user and how to sign in. Validation happens in main; its message appears beside the field. */
export function ProfileForm({ onSaved }: { onSaved: (p: ServerProfile) => void }) {
  const id = useId();
  const [name, setName] = useState('');
  const [host, setHost] = useState('');
  const [port, setPort] = useState('22');
  const [username, setUsername] = useState('');
  const [authKind, setAuthKind] = useState<AuthKind>('agent');
  const [keyPath, setKeyPath] = useState('~/.ssh/id_ed25519');
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const portNumber = parsePort(port);
      if (portNumber === undefined) {
        setError({ code: 'ipc.invalid', userMessage: PORT_MESSAGE, hint: 'Correct the highlighted field and try again. Nothing was changed.', field: 'port' });
        return;
      }
      const auth = authKind === 'key' ? { kind: 'key' as const, keyPath } : { kind: authKind };
      const saved = await call('profiles:save', { name, host, port: portNumber, username, auth });
      onSaved(saved);
      setName('');
      setHost('');
      setUsername('');
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  const at = fieldOf(error);
  const errorId = (field: FieldName) => `${id}-${field.replace('.', '-')}-error`;
  const aria = (field: FieldName) => (at === field ? { 'aria-invalid': true as const, 'aria-describedby': errorId(field) } : {});
  /** The message right under the field it is about, tied to it with aria-describedby. */
  const beside = (field: FieldName) =>
    at === field && error ? (
      <p id={errorId(field)} className="field-error" role="alert">
        {error.userMessage}
      </p>
    ) : null;

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Add a server">
      <h3>Add a server</h3>
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} {...aria('name')} placeholder="Home server" />
      {beside('name')}
      <label htmlFor={`${id}-host`}>Host</label>
      <input id={`${id}-host`} value={host} onChange={(e) => setHost(e.target.value)} {...aria('host')} placeholder="homeserver.local" autoCapitalize="off" spellCheck={false} />
      {beside('host')}
      <label htmlFor={`${id}-port`}>Port</label>
      <input id={`${id}-port`} value={port} onChange={(e) => setPort(e.target.value)} {...aria('port')} inputMode="numeric" />
      {beside('port')}
      <label htmlFor={`${id}-user`}>User</label>
      <input id={`${id}-user`} value={username} onChange={(e) => setUsername(e.target.value)} {...aria('username')} placeholder="admin" autoCapitalize="off" spellCheck={false} />
      {beside('username')}
      <label htmlFor={`${id}-auth`}>Sign in with</label>
      <select id={`${id}-auth`} value={authKind} onChange={(e) => setAuthKind(e.target.value as AuthKind)}>
        <option value="agent">SSH agent</option>
        <option value="key">Key file</option>
        <option value="password">Password (first contact only)</option>
      </select>
      {authKind === 'key' ? (
        <>
          <label htmlFor={`${id}-key`}>Key file</label>
          <input id={`${id}-key`} value={keyPath} onChange={(e) => setKeyPath(e.target.value)} {...aria('auth.keyPath')} spellCheck={false} />
          {beside('auth.keyPath')}
        </>
      ) : null}
      {error && !at ? <ErrorNotice error={error} /> : null}
      <button type="submit" disabled={busy}>
        Save server
      </button>
    </form>
  );
}
