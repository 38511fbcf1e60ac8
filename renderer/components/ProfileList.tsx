import type { ServerProfile } from '../../electron/contract/profiles';

const authLabel = (p: ServerProfile): string => {
  switch (p.auth.kind) {
    case 'agent':
      return 'SSH agent';
    case 'key':
      return `key ${p.auth.keyPath}`;
    case 'password':
      return 'password';
    default: {
      const never: never = p.auth;
      return never;
    }
  }
};

export function ProfileList({ profiles, onRemove }: { profiles: readonly ServerProfile[]; onRemove: (id: string) => void }) {
  if (profiles.length === 0) return <p className="muted">No servers saved yet. Add your home server below.</p>;
  return (
    <ul className="profiles" aria-label="Saved servers">
      {profiles.map((p) => (
        <li key={p.id} className="card profile">
          <div>
            <strong>{p.name}</strong>
            <div className="muted">
              {p.username}@{p.host}:{p.port} · {authLabel(p)}
            </div>
          </div>
          <button type="button" className="secondary" onClick={() => onRemove(p.id)} aria-label={`Remove ${p.name}`}>
            Remove
          </button>
        </li>
      ))}
    </ul>
  );
}
