import { useEffect, useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { ServerProfile } from '../../electron/contract/profiles';
import type { RecoveryKit, SavedKitPdf } from '../../electron/contract/recovery';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { RecoveryKitSheet } from '../components/recovery/RecoveryKitSheet';
import { asShape, useCall } from '../hooks/use-call';
import { call } from '../m2';

type Loaded = { readonly id: string; readonly kit: RecoveryKit } | { readonly id: string; readonly error: ErrorShape };

/**
 * Settings → Household recovery kit: the page the admin prints. In the browser host, Print opens the browser's print
 * dialog; in the desktop app, Save as PDF asks main to print this page to a PDF and save it where the admin chooses.
 * The controls and the app's navigation are left out of the printout (print styles in styles.css).
 */
export function RecoveryKitPage() {
  const profiles = useCall('profiles:list');
  const info = useCall('app:info');
  const [chosen, setChosen] = useState<string | undefined>();
  const list: readonly ServerProfile[] = profiles.state.kind === 'ready' ? profiles.state.value : [];
  const profile = list.find((p) => p.id === chosen) ?? list[0];
  const [loaded, setLoaded] = useState<Loaded | undefined>();
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<SavedKitPdf | ErrorShape | undefined>();

  useEffect(() => {
    if (!profile) return;
    let live = true;
    call('recovery:kit', { profileId: profile.id }).then(
      (kit) => live && setLoaded({ id: profile.id, kit }),
      (err: unknown) => live && setLoaded({ id: profile.id, error: asShape(err) }),
    );
    return () => {
      live = false;
    };
  }, [profile]);

  const current = loaded?.id === profile?.id ? loaded : undefined;
  const electron = info.state.kind === 'ready' && info.state.value.host === 'electron';

  const savePdf = async (): Promise<void> => {
    if (!profile) return;
    setSaving(true);
    setSaved(undefined);
    try {
      setSaved(await call('recovery:save-pdf', { profileId: profile.id }));
    } catch (err) {
      setSaved(asShape(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <>
      <div className="no-print">
        <h1>Household recovery kit</h1>
        <p className="muted">
          One page to print and keep with your papers: how to find and recognise the server, where each service answers, where every secret is kept (never the
          secret itself), how to restore from the backup and how the household gets in while Cloudflare is down. Make it again after you change the setup.
        </p>
        <p>
          <a href="#/settings">Back to Settings</a>
        </p>
        {profiles.state.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
        {profiles.state.kind === 'failed' ? <ErrorNotice error={profiles.state.error} /> : null}
        {profiles.state.kind === 'ready' && list.length === 0 ? (
          <p className="muted">
            No servers saved yet: add your home server in <a href="#/setup">Setup</a>.
          </p>
        ) : null}
        {profile ? <ProfilePicker profiles={list} value={profile.id} onChange={setChosen} /> : null}
        {current && 'kit' in current ? (
          <div className="actions">
            <button type="button" onClick={() => window.print()}>
              Print
            </button>
            {electron ? (
              <button type="button" className="secondary" disabled={saving} onClick={() => void savePdf()}>
                {saving ? 'Saving…' : 'Save as PDF'}
              </button>
            ) : null}
          </div>
        ) : null}
        {saved && 'kind' in saved ? (
          <p role="status">{saved.kind === 'saved' ? `Saved the kit as ${saved.path}.` : 'Not saved: the save was cancelled.'}</p>
        ) : null}
        {saved && 'userMessage' in saved ? <ErrorNotice error={saved} /> : null}
      </div>
      {profile && !current ? <p className="muted no-print">Making the kit…</p> : null}
      {current && 'error' in current ? <ErrorNotice error={current.error} /> : null}
      {current && 'kit' in current ? <RecoveryKitSheet kit={current.kit} /> : null}
    </>
  );
}
