import { useId } from 'react';
import type { ServerProfile } from '../../../electron/contract/profiles';

/** The "Server" choice at the top of a per-server page. */
export function ProfilePicker({ profiles, value, onChange }: { profiles: readonly ServerProfile[]; value: string; onChange: (id: string) => void }) {
  const id = useId();
  return (
    <div className="form inline-form">
      <label htmlFor={`${id}-server`}>Server</label>
      <select id={`${id}-server`} value={value} onChange={(e) => onChange(e.target.value)}>
        {profiles.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} ({p.username}@{p.host})
          </option>
        ))}
      </select>
    </div>
  );
}
