import type { StackSettings, StackSettingsView } from '../../../electron/contract/stack';
import { moduleTitle } from '../../../electron/contract/stack-modules';

/** The pinned image table as rendered for these settings, with where to read what each version changes. */
export function PinnedImages({ images, settings }: { images: StackSettingsView['images']; settings: StackSettings }) {
  return (
    <table className="table" aria-label="Pinned images">
      <thead>
        <tr>
          <th scope="col">Module</th>
          <th scope="col">Image</th>
          <th scope="col">In use</th>
          <th scope="col">Release notes</th>
        </tr>
      </thead>
      <tbody>
        {images.map((i) => (
          <tr key={i.key}>
            <td>{moduleTitle(i.module)}</td>
            <th scope="row">
              <code>{i.ref}</code>
            </th>
            <td>{settings.modules[i.module].enabled ? 'Yes' : 'Module off'}</td>
            <td>
              <a href={i.releaseNotes} target="_blank" rel="noreferrer" aria-label={`Release notes for ${i.ref}`}>
                Release notes
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
