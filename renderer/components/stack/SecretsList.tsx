import type { CallState } from '../../hooks/use-call';
import type { CallOutput } from '../../../electron/contract/contract';
import { ErrorNotice } from '../common/ErrorNotice';

/** The generated secrets of a server, by name; their values stay in the keychain and never reach this window. */
export function SecretsList({ state }: { state: CallState<CallOutput<'stack:secrets'>> }) {
  if (state.kind === 'loading') return <p className="muted">Loading…</p>;
  if (state.kind === 'failed') return <ErrorNotice error={state.error} />;
  if (state.value.length === 0) return <p className="muted">No secrets generated yet: they are created in the keychain when you first review or install the stack.</p>;
  return (
    <table className="table" aria-label="Generated secrets">
      <thead>
        <tr>
          <th scope="col">Secret</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {state.value.map((s) => (
          <tr key={s.name}>
            <th scope="row">
              <code>{s.name}</code>
            </th>
            <td>{s.set ? <span>{s.masked} <span className="muted">(kept in the keychain)</span></span> : <span className="muted">not generated yet</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
