import { useState } from 'react';
import { RestorePath } from '../../../electron/contract/backups';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { InPlaceResult } from '../../../electron/contract/restores';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';

/**
 * "Restore in place": the chosen file or folder of a user's Nextcloud files back where it was, after the admin
 * confirms what happens (Nextcloud paused in maintenance mode, what is there now kept beside it, a rescan after).
 */
export function InPlaceRestore({ profileId, snapshotId, path, disabled }: { profileId: string; snapshotId: string; path: string; disabled: boolean }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorShape>();
  const [result, setResult] = useState<InPlaceResult>();
  const [invalid, setInvalid] = useState<string>();

  const ask = (): void => {
    setResult(undefined);
    setError(undefined);
    const p = RestorePath.safeParse(path);
    if (!p.success) {
      setInvalid(p.error.issues.map((i) => i.message).join(' '));
      return;
    }
    setInvalid(undefined);
    setConfirming(true);
  };
  const run = (): void => {
    setConfirming(false);
    setBusy(true);
    call('backups:restore-in-place', { profileId, snapshotId, path }).then(setResult, (e: unknown) => setError(asShape(e))).finally(() => setBusy(false));
  };

  return (
    <div aria-label="Restore in place" role="group" className="in-place">
      <button type="button" className="secondary" onClick={ask} disabled={disabled || busy || confirming}>
        {busy ? 'Restoring in place…' : 'Restore in place'}
      </button>
      {invalid ? (
        <p className="field-error" role="alert">
          {invalid}
        </p>
      ) : null}
      {confirming ? (
        <div role="alertdialog" aria-label="Confirm restore in place" className="notice notice-warn">
          <p>
            <strong>Put {path} back where it was, from snapshot {snapshotId.slice(0, 8)}?</strong>
          </p>
          <ul>
            <li>Nextcloud goes into maintenance mode while it moves (its users see a maintenance page for that time).</li>
            <li>What is there now is not deleted: it is kept beside it as “… (before restore &lt;date&gt;)”.</li>
            <li>Nextcloud then rescans that folder so its users see the file again.</li>
          </ul>
          <button type="button" onClick={run}>
            Restore in place now
          </button>{' '}
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : null}
      {error ? <ErrorNotice error={error} /> : null}
      {result ? (
        <div role="status" className="notice notice-ok" aria-label="Restore in place result">
          <strong>
            {result.filesRestored} of {result.filesExpected} files are back at {result.restoredPath}.
          </strong>
          {result.keptAs ? <p>What was there is kept as {result.keptAs}.</p> : null}
          <p>
            Nextcloud rescanned {result.scan.path}
            {result.scan.files !== null ? ` (${result.scan.files} ${result.scan.files === 1 ? 'file' : 'files'})` : ''}.
          </p>
        </div>
      ) : null}
    </div>
  );
}
