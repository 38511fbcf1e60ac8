import { useCallback, useEffect, useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { PreflightReport } from '../../electron/contract/preflight';
import type { ServerProfile } from '../../electron/contract/profiles';
import type { ConnectResult, ConnectionState, ServerStateEvent } from '../../electron/contract/server';
import { call } from '../m2';
import { asShape, useEvent } from '../hooks/use-call';
import { ErrorNotice } from './ErrorNotice';
import { HostKeyChangedDialog, HostKeyDialog } from './HostKeyDialog';
import { PreflightChecklist } from './PreflightChecklist';

type Pending = Extract<ConnectResult, { kind: 'confirm-host-key' | 'host-key-changed' }>;

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
      return 'Disconnected';
    default: {
      const never: never = s;
      return never;
    }
  }
};

/** Connect to one saved server: host-key confirmation, credentials when needed, then the preflight. */
export function ServerStep({ profile, onRemove }: { profile: ServerProfile; onRemove: (id: string) => void }) {
  const [state, setState] = useState<ConnectionState | undefined>();
  const [pending, setPending] = useState<Pending | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState('');
  const [remember, setRemember] = useState(false);
  const [dataPath, setDataPath] = useState(`/home/${profile.username}`);
  const [report, setReport] = useState<PreflightReport | undefined>();

  useEffect(() => {
    let live = true;
    window.m2.invoke('server:state', { profileId: profile.id }).then((r) => live && r.ok && setState(r.value), () => undefined);
    return () => {
      live = false;
    };
  }, [profile.id]);

  useEvent(
    'server:state',
    useCallback((e: ServerStateEvent) => (e.profileId === profile.id ? setState(e.state) : undefined), [profile.id]),
  );

  const needsSecret = error?.field === 'password' || error?.field === 'passphrase' ? error.field : undefined;

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
      await call('server:install-key', { profileId: profile.id });
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  const connect = async (acceptFingerprint?: string) => {
    setBusy(true);
    setError(undefined);
    setPending(undefined);
    try {
      const result = await call('server:connect', {
        profileId: profile.id,
        ...(acceptFingerprint ? { acceptFingerprint } : {}),
        ...(needsSecret === 'password' && secret ? { password: secret } : {}),
        ...(needsSecret === 'passphrase' && secret ? { passphrase: secret, rememberPassphrase: remember } : {}),
      });
      setSecret('');
      if (result.kind === 'connected') {
        setBusy(false);
        await preflight();
        return;
      }
      setPending(result);
    } catch (err) {
      setError(asShape(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-label={`Server ${profile.name}`}>
      <div className="row">
        <div>
          <strong>{profile.name}</strong>
          <div className="muted">
            {profile.username}@{profile.host}:{profile.port} · <span role="status">{stateLabel(state)}</span>
          </div>
        </div>
        <div className="actions-inline">
          <button type="button" onClick={() => void connect()} disabled={busy} aria-label={`Connect to ${profile.name}`}>
            {state?.kind === 'connected' ? 'Reconnect' : 'Connect'}
          </button>
          <button type="button" className="secondary" onClick={() => onRemove(profile.id)} aria-label={`Remove ${profile.name}`}>
            Remove
          </button>
        </div>
      </div>
      {needsSecret ? (
        <div className="form inline-form">
          <label htmlFor={`${profile.id}-secret`}>{needsSecret === 'password' ? 'Password' : 'Key passphrase'}</label>
          <input id={`${profile.id}-secret`} type="password" value={secret} onChange={(e) => setSecret(e.target.value)} autoComplete="off" />
          {needsSecret === 'passphrase' ? (
            <label className="check-label">
              <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember it in this computer’s keychain
            </label>
          ) : null}
        </div>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
      {pending?.kind === 'confirm-host-key' ? (
        <HostKeyDialog
          host={pending.host}
          port={pending.port}
          fingerprint={pending.fingerprint}
          keyType={pending.keyType}
          onTrust={() => void connect(pending.fingerprint)}
          onCancel={() => setPending(undefined)}
        />
      ) : null}
      {pending?.kind === 'host-key-changed' ? (
        <HostKeyChangedDialog host={pending.host} port={pending.port} fingerprint={pending.fingerprint} expected={pending.expected} onClose={() => setPending(undefined)} />
      ) : null}
      {state?.kind === 'connected' && profile.auth.kind === 'password' ? (
        <div className="notice" role="group" aria-label="Switch to a key">
          <p>
            You signed in with a password. Passwords are for the first contact only: M2 Companion can create a key for this server, install it in
            the server’s authorized_keys, and sign in with it from now on.
          </p>
          <button type="button" onClick={() => void installKey()} disabled={busy}>
            Create a key and use it
          </button>
        </div>
      ) : null}
      {state?.kind === 'connected' || report ? (
        <div className="preflight">
          <h3>Preflight</h3>
          <div className="form inline-form">
            <label htmlFor={`${profile.id}-data`}>Data folder on the server</label>
            <input id={`${profile.id}-data`} value={dataPath} onChange={(e) => setDataPath(e.target.value)} spellCheck={false} />
            <button type="button" className="secondary" onClick={() => void preflight()} disabled={busy}>
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
