import { useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { SshConfigCandidate, SshConfigImport as ImportResult } from '../../../electron/contract/server';
import { call } from '../../m2';
import { asShape } from '../../hooks/use-call';
import { ErrorNotice } from '../common/ErrorNotice';

/** Offer the hosts of ~/.ssh/config as servers to add; what cannot be used is explained, never hidden. */
export function SshConfigImport() {
  const [result, setResult] = useState<ImportResult | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [added, setAdded] = useState<ReadonlySet<string>>(new Set());

  const load = async () => {
    setError(undefined);
    try {
      setResult(await call('profiles:import-ssh-config'));
    } catch (err) {
      setError(asShape(err));
    }
  };
  const add = async (c: SshConfigCandidate) => {
    setError(undefined);
    try {
      await call('profiles:save', { name: c.name, host: c.host, port: c.port, username: c.username, auth: c.auth });
      setAdded(new Set([...added, c.alias]));
    } catch (err) {
      setError(asShape(err));
    }
  };

  return (
    <section className="card" aria-labelledby="ssh-config-import">
      <div className="row">
        <h3 id="ssh-config-import">Already use SSH?</h3>
        <button type="button" className="secondary" onClick={() => void load()}>
          Import from SSH config
        </button>
      </div>
      {error ? <ErrorNotice error={error} /> : null}
      {result && result.candidates.length === 0 ? <p className="muted">No hosts found in ~/.ssh/config.</p> : null}
      {result ? (
        <ul className="profiles" aria-label="Hosts in SSH config">
          {result.candidates.map((c) => (
            <li key={c.alias} className="profile">
              <div>
                <strong>{c.alias}</strong>
                <div className="muted">
                  {c.username}@{c.host}:{c.port} · {c.auth.kind === 'key' ? `key ${c.auth.keyPath}` : 'SSH agent'}
                </div>
                {c.warnings.map((w) => (
                  <div key={w} className="muted">
                    ⚠ {w}
                  </div>
                ))}
              </div>
              <button type="button" onClick={() => void add(c)} disabled={added.has(c.alias)} aria-label={`Add ${c.alias}`}>
                {added.has(c.alias) ? 'Added' : 'Add'}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {result?.warnings.map((w) => (
        <p key={w} className="muted">
          ⚠ {w}
        </p>
      ))}
    </section>
  );
}
