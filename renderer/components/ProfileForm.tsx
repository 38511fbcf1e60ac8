import { useId, useState, type FormEvent } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ServerProfile } from '../../electron/contract/profiles';
import { call } from '../m2';
import { asShape } from '../hooks/use-call';
import { ErrorNotice } from './ErrorNotice';

type AuthKind = 'agent' | 'key' | 'password';

/** Add a server: name, address, port, user and how to sign in. Validation happens in main. */
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
      const auth = authKind === 'key' ? { kind: 'key' as const, keyPath } : { kind: authKind };
      const saved = await call('profiles:save', { name, host, port: Number(port), username, auth });
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

  const invalid = (field: string) => (error?.field === field ? true : undefined);

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Add a server">
      <h3>Add a server</h3>
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={invalid('name')} placeholder="Home server" />
      <label htmlFor={`${id}-host`}>Host</label>
      <input id={`${id}-host`} value={host} onChange={(e) => setHost(e.target.value)} aria-invalid={invalid('host')} placeholder="homeserver.local" autoCapitalize="off" spellCheck={false} />
      <label htmlFor={`${id}-port`}>Port</label>
      <input id={`${id}-port`} value={port} onChange={(e) => setPort(e.target.value)} aria-invalid={invalid('port')} inputMode="numeric" />
      <label htmlFor={`${id}-user`}>User</label>
      <input id={`${id}-user`} value={username} onChange={(e) => setUsername(e.target.value)} aria-invalid={invalid('username')} placeholder="admin" autoCapitalize="off" spellCheck={false} />
      <label htmlFor={`${id}-auth`}>Sign in with</label>
      <select id={`${id}-auth`} value={authKind} onChange={(e) => setAuthKind(e.target.value as AuthKind)}>
        <option value="agent">SSH agent</option>
        <option value="key">Key file</option>
        <option value="password">Password (first contact only)</option>
      </select>
      {authKind === 'key' ? (
        <>
          <label htmlFor={`${id}-key`}>Key file</label>
          <input id={`${id}-key`} value={keyPath} onChange={(e) => setKeyPath(e.target.value)} aria-invalid={invalid('auth.keyPath')} spellCheck={false} />
        </>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
      <button type="submit" disabled={busy}>
        Save server
      </button>
    </form>
  );
}
