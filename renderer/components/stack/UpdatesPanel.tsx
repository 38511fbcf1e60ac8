import { useRef, useState } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import type { StackProgress } from '../../../electron/contract/stack';
import { moduleTitle } from '../../../electron/contract/stack-modules';
import type { ImageUpdate, UpdateApplyResult, UpdateCheck, UpdateLevel, UpdatesView } from '../../../electron/contract/updates';
import { asShape, useCall } from '../../hooks/use-call';
import { useEvent } from '../../hooks/use-event';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { ModalDialog } from '../common/ModalDialog';
import { PullProgress, type PullState } from './PullProgress';
import { RollbackReport } from './RollbackReport';

/** What a version step means for the admin, by how far it moves. */
export const LEVEL: Record<UpdateLevel, { text: string; tone: 'pass' | 'warn' | 'fail'; means: string }> = {
  patch: { text: 'patch', tone: 'pass', means: 'fixes only' },
  minor: { text: 'minor', tone: 'warn', means: 'new features; settings and data stay compatible' },
  major: { text: 'major', tone: 'fail', means: 'may change data or settings for good' },
};

export interface Chosen {
  readonly image: ImageUpdate;
  readonly tag: string;
}

/** The images with newer versions, each with what changes and where to read it; images whose registry failed say so. */
export function AvailableUpdates(props: { check: UpdateCheck; busy: boolean; onUpdate: (c: Chosen) => void }) {
  const [picked, setPicked] = useState<Record<string, string>>({});
  const withUpdates = props.check.images.filter((i) => i.candidates.length > 0);
  const failed = props.check.images.filter((i) => i.error !== null);
  return (
    <>
      <p className="muted">
        Checked {new Date(props.check.checkedAt).toLocaleString()}: {withUpdates.length === 0 ? 'every image is at the newest version its update policy allows.' : `${String(withUpdates.length)} of ${String(props.check.images.length)} images have a newer version.`}
      </p>
      {failed.length > 0 ? (
        <ul className="warnings" aria-label="Registries not reached">
          {[...new Set(failed.map((i) => i.error))].map((e) => (
            <li key={e}>
              {e} ({failed.filter((i) => i.error === e).map((i) => i.key).join(', ')})
            </li>
          ))}
        </ul>
      ) : null}
      {withUpdates.length > 0 ? (
        <table className="table" aria-label="Available updates">
          <thead>
            <tr>
              <th scope="col">Image</th>
              <th scope="col">Runs</th>
              <th scope="col">Update to</th>
              <th scope="col">What changes</th>
              <th scope="col">
                <span className="visually-hidden">Update</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {withUpdates.map((i) => {
              const tag = picked[i.key] ?? i.candidates[0]?.tag ?? '';
              const c = i.candidates.find((x) => x.tag === tag) ?? i.candidates[0];
              if (!c) return null;
              return (
                <tr key={i.key}>
                  <th scope="row">
                    {moduleTitle(i.module)}: <code>{i.repository}</code>
                    <div className="muted">
                      {i.policy === 'patch' ? 'Patch updates only' : i.policy === 'minor' ? 'Patch and minor updates' : 'Any update; major ones warned'} · used by {i.services.length > 0 ? i.services.join(', ') : 'no running service'}
                    </div>
                  </th>
                  <td>
                    <code>{i.current}</code>
                  </td>
                  <td>
                    {i.candidates.length === 1 ? (
                      <code>{c.tag}</code>
                    ) : (
                      <select aria-label={`Version for ${i.key}`} value={c.tag} onChange={(e) => setPicked({ ...picked, [i.key]: e.target.value })}>
                        {i.candidates.map((x) => (
                          <option key={x.tag} value={x.tag}>
                            {x.tag} ({LEVEL[x.level].text})
                          </option>
                        ))}
                      </select>
                    )}
                  </td>
                  <td>
                    <span className={`badge badge-${LEVEL[c.level].tone}`}>{LEVEL[c.level].text}</span> {LEVEL[c.level].means}.{' '}
                    <a href={i.releaseNotes} target="_blank" rel="noreferrer" aria-label={`Release notes for ${i.key}`}>
                      Release notes
                    </a>
                    {c.level === 'major' && i.warning ? <p className="warning">{i.warning}</p> : null}
                  </td>
                  <td>
                    <button type="button" disabled={props.busy} onClick={() => props.onUpdate({ image: i, tag: c.tag })}>
                      Update {i.key}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/** Nothing changes until the admin says so here; Escape or Cancel changes nothing. */
export function ConfirmUpdateDialog(props: { chosen: Chosen; backupOn: boolean; onConfirm: () => void; onCancel: () => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const { image, tag } = props.chosen;
  const level = image.candidates.find((c) => c.tag === tag)?.level ?? 'patch';
  return (
    <ModalDialog labelledBy="upd-title" describedBy="upd-desc" className={level === 'major' ? 'dialog dialog-danger' : 'dialog'} onCancel={props.onCancel} initialFocus={cancelRef}>
      <h2 id="upd-title">
        Update {image.key} {image.current} → {tag}?
      </h2>
      <div id="upd-desc">
        <ol>
          <li>{props.backupOn ? 'A backup is taken first.' : 'No backup is taken first: the backup module is off on this server.'}</li>
          <li>The new image is downloaded from {image.registry}; the services keep running meanwhile.</li>
          <li>
            Only {image.services.length > 0 ? image.services.join(', ') : 'the services using this image'} {image.services.length === 1 ? 'is' : 'are'} restarted with it; the other services are not touched.
          </li>
          <li>If a restarted service does not become healthy, the previous version is brought back by itself.</li>
        </ol>
        {level === 'major' && image.warning ? <p className="warning">{image.warning}</p> : null}
      </div>
      <div className="actions">
        <button type="button" onClick={props.onConfirm}>
          Update {image.key} to {tag}
        </button>
        <button type="button" className="secondary" ref={cancelRef} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}

/** How an update ended, in the admin's words. */
export function UpdateOutcome({ result }: { result: UpdateApplyResult }) {
  const backup = result.backup.snapshotId ? `Backup ${result.backup.snapshotId.slice(0, 8)}${result.backup.reused ? ' (from the first try)' : ''} was taken first.` : (result.backup.note ?? '');
  if (result.outcome === 'updated') {
    return (
      <div role="status" aria-label="Update result" className="notice notice-ok">
        <p>
          Updated: {result.record.message} {backup}
        </p>
      </div>
    );
  }
  return (
    <div role="alert" aria-label="Update result">
      {result.apply.kind === 'rolled-back' ? <RollbackReport report={result.apply.report} attemptedRelease={result.apply.attemptedRelease} warnings={result.apply.warnings} /> : null}
      <p>{backup}</p>
    </div>
  );
}

/** The versions table the app keeps for this server, and the last updates. */
export function VersionsTable({ view }: { view: UpdatesView }) {
  if (view.versions.length === 0 && view.history.length === 0) return <p className="muted">No update installed yet: every image runs its pinned version.</p>;
  return (
    <>
      {view.versions.length > 0 ? (
        <table className="table" aria-label="Versions on this server">
          <thead>
            <tr>
              <th scope="col">Image</th>
              <th scope="col">Version</th>
              <th scope="col">Since</th>
              <th scope="col">Before</th>
            </tr>
          </thead>
          <tbody>
            {view.versions.map((v) => (
              <tr key={v.key}>
                <th scope="row">{v.key}</th>
                <td>
                  <code>{v.tag}</code>
                </td>
                <td>{new Date(v.since).toLocaleString()}</td>
                <td>{v.from ? <code>{v.from}</code> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {view.history.length > 0 ? (
        <ul aria-label="Last updates" className="plain">
          {view.history
            .slice(-5)
            .reverse()
            .map((h) => (
              <li key={h.id}>
                <span className={`badge badge-${h.outcome === 'updated' ? 'pass' : 'fail'}`}>{h.outcome}</span> {new Date(h.at).toLocaleString()} — {h.message}
                {h.attempts > 1 ? ` (${String(h.attempts)} tries)` : ''}
              </li>
            ))}
        </ul>
      ) : null}
    </>
  );
}

/** Updates of one server's images: check, choose, confirm, follow the update, read how it ended. */
export function UpdatesPanel({ profileId, backupOn }: { profileId: string; backupOn: boolean }) {
  const view = useCall('updates:view', { profileId });
  const [check, setCheck] = useState<UpdateCheck | undefined>();
  const [checking, setChecking] = useState(false);
  const [chosen, setChosen] = useState<Chosen | undefined>();
  const [running, setRunning] = useState(false);
  const [steps, setSteps] = useState<string[]>([]);
  const [pulls, setPulls] = useState<PullState[]>([]);
  const [result, setResult] = useState<UpdateApplyResult | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const runningRef = useRef(false);

  // The update's own steps, and the install's pull bars and phases, for this server while this page runs an update.
  useEvent('updates:progress', (p) => {
    if (p.profileId === profileId && runningRef.current) setSteps((s) => [...s, p.text]);
  });
  useEvent('stack:progress', (p: StackProgress) => {
    if (p.profileId !== profileId || !runningRef.current) return;
    if (p.kind === 'pull') {
      const { kind: _k, profileId: _p, applyId: _a, ...pull } = p;
      setPulls((all) => [...all.filter((x) => x.image !== pull.image), pull]);
    } else if (p.kind === 'phase') setSteps((s) => [...s, p.message]);
  });

  const runCheck = async (): Promise<void> => {
    setChecking(true);
    setError(undefined);
    try {
      setCheck(await call('updates:check', { profileId }));
    } catch (err) {
      setError(asShape(err));
    } finally {
      setChecking(false);
    }
  };

  const update = async (c: Chosen): Promise<void> => {
    setChosen(undefined);
    runningRef.current = true;
    setRunning(true);
    setSteps([]);
    setPulls([]);
    setResult(undefined);
    setError(undefined);
    try {
      const r = await call('updates:apply', { profileId, updates: [{ key: c.image.key, tag: c.tag }] });
      setResult(r);
      if (r.outcome === 'updated') setCheck(undefined);
    } catch (err) {
      setError(asShape(err));
    } finally {
      runningRef.current = false;
      setRunning(false);
      view.refresh();
    }
  };

  return (
    <>
      <div className="row">
        <p className="muted">The registry the server pulls from is asked for newer versions of each image, within the image’s own update policy.</p>
        <button type="button" className="secondary" disabled={checking || running} onClick={() => void runCheck()}>
          {checking ? 'Checking…' : 'Check for updates'}
        </button>
      </div>
      {error ? <ErrorNotice error={error} /> : null}
      {check ? <AvailableUpdates check={check} busy={running} onUpdate={setChosen} /> : null}
      {chosen ? <ConfirmUpdateDialog chosen={chosen} backupOn={backupOn} onConfirm={() => void update(chosen)} onCancel={() => setChosen(undefined)} /> : null}
      {running || steps.length > 0 ? (
        <div aria-label="Update progress" aria-live="polite">
          <ol className="plain">
            {steps.map((s, i) => (
              <li key={`${String(i)}-${s}`}>{s}</li>
            ))}
          </ol>
          <PullProgress pulls={pulls} />
        </div>
      ) : null}
      {result ? <UpdateOutcome result={result} /> : null}
      {view.error ? <ErrorNotice error={view.error} /> : null}
      {view.value ? <VersionsTable view={view.value} /> : null}
    </>
  );
}
