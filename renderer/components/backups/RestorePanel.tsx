import { useEffect, useState } from 'react';
import { RestoreFolderName, RestorePath, type BrowseResult, type RestoreResult, type SnapshotSummary } from '../../../electron/contract/backups';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { Field } from '../common/Field';
import { formatBytes, formatTime } from './format';
import { InPlaceRestore } from './InPlaceRestore';
import { ServiceRestorePanel } from './ServiceRestorePanel';

const parent = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const stamp = (): string => `restore-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}`;

/** Restore a file or folder of Nextcloud's data from one snapshot into a new folder under the data folder's restores. */
export function RestorePanel({ profileId, snapshots, restoreRoot }: { profileId: string; snapshots: readonly SnapshotSummary[]; restoreRoot: string }) {
  const [snapshotId, setSnapshotId] = useState(snapshots[0]?.id ?? '');
  const [folder, setFolder] = useState('');
  const [listing, setListing] = useState<BrowseResult>();
  const [listError, setListError] = useState<ErrorShape>();
  const [path, setPath] = useState('');
  const [into, setInto] = useState(stamp);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorShape>();
  const [result, setResult] = useState<RestoreResult>();

  useEffect(() => {
    if (!snapshotId) return;
    let live = true;
    call('backups:browse', { profileId, snapshotId, ...(folder ? { path: folder } : {}) }).then(
      (v) => live && (setListing(v), setListError(undefined)),
      (err: unknown) => live && (setListing(undefined), setListError(asShape(err))),
    );
    return () => {
      live = false;
    };
  }, [profileId, snapshotId, folder]);

  const restore = (): void => {
    const errs: Record<string, string[]> = {};
    const p = RestorePath.safeParse(path);
    if (!p.success) errs.path = p.error.issues.map((i) => i.message);
    const f = RestoreFolderName.safeParse(into);
    if (!f.success) errs.into = f.error.issues.map((i) => i.message);
    setFieldErrors(errs);
    setResult(undefined);
    setError(undefined);
    if (Object.keys(errs).length) return;
    setBusy(true);
    call('backups:restore', { profileId, snapshotId, path, into }).then(
      (r) => {
        setResult(r);
        setInto(stamp());
      },
      (err: unknown) => {
        const e = asShape(err);
        if (e.field === 'path' || e.field === 'into') setFieldErrors({ [e.field]: [e.userMessage] });
        setError(e);
      },
    ).finally(() => setBusy(false));
  };

  if (snapshots.length === 0) {
    return (
      <>
        <p className="muted">Once there is a snapshot, a file or folder of Nextcloud can be restored from it here.</p>
        <ServiceRestorePanel profileId={profileId} snapshots={snapshots} />
      </>
    );
  }
  return (
    <>
      <section className="card" aria-labelledby="restore-heading">
        <h2 id="restore-heading">Restore from Nextcloud’s data</h2>
        <p className="muted">The file or folder goes into a new folder under {restoreRoot} on the server; nothing that exists is written over.</p>
        <Field id="restore-snapshot" label="Snapshot" errors={undefined}>
          {(aria) => (
            <select
              {...aria}
              value={snapshotId}
              onChange={(e) => {
                setSnapshotId(e.target.value);
                setFolder('');
                setPath('');
              }}
            >
              {snapshots.map((s) => (
                <option key={s.id} value={s.id}>
                  {formatTime(s.time)} ({s.shortId})
                </option>
              ))}
            </select>
          )}
        </Field>
        <div aria-label="Files in the snapshot" role="group">
          <p>
            In the snapshot: <strong>/{folder}</strong>{' '}
            {folder ? (
              <button type="button" className="secondary" onClick={() => setFolder(parent(folder))}>
                Up one folder
              </button>
            ) : null}
          </p>
          {listError ? <ErrorNotice error={listError} /> : null}
          {listing ? (
            <ul className="snapshot-entries">
              {listing.entries.length === 0 ? <li className="muted">Empty folder.</li> : null}
              {listing.entries.map((e) => (
                <li key={e.path}>
                  {e.type === 'dir' ? (
                    <button type="button" className="link" onClick={() => setFolder(e.path)} aria-label={`Open folder ${e.name}`}>
                      {e.name}/
                    </button>
                  ) : (
                    <span>{e.name}</span>
                  )}{' '}
                  {e.size !== null ? <span className="muted">{formatBytes(e.size)}</span> : null}{' '}
                  <button type="button" className="secondary" onClick={() => setPath(e.path)} aria-label={`Choose ${e.name}`}>
                    Choose
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          {listing?.truncated ? <p className="muted">Only the first entries are listed; type a path below for the others.</p> : null}
        </div>
        <Field id="restore-path" label="What to restore" hint="A path inside Nextcloud’s data, like admin/files/Photos." errors={fieldErrors.path}>
          {(aria) => <input {...aria} type="text" value={path} onChange={(e) => setPath(e.target.value)} />}
        </Field>
        <Field id="restore-into" label="Restore into (new folder)" hint={`Created as ${restoreRoot}/<name>.`} errors={fieldErrors.into}>
          {(aria) => <input {...aria} type="text" value={into} onChange={(e) => setInto(e.target.value)} />}
        </Field>
        <button type="button" onClick={restore} disabled={busy}>
          {busy ? 'Restoring…' : 'Restore'}
        </button>
        <InPlaceRestore profileId={profileId} snapshotId={snapshotId} path={path} disabled={busy} />
        {error && !error.field ? <ErrorNotice error={error} /> : null}
        {result ? (
          <div role="status" className="notice notice-ok" aria-label="Restore result">
            <strong>
              Restored {result.filesRestored} of {result.filesExpected} files to {result.restoredPath}.
            </strong>
          </div>
        ) : null}
      </section>
      <ServiceRestorePanel profileId={profileId} snapshots={snapshots} />
    </>
  );
}
